#pragma once

#include "relay/kafka/config.hpp"

#include <boost/system/result.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace prometheus {
class Registry;
} // namespace prometheus

/// @file
/// librdkafka's statistics (STATISTICS.md, emitted every `statistics.interval.ms`) parsed into the figures
/// Relay exports, and their Prometheus metrics.
namespace relay::kafka {

/// One broker connection of a client (bootstrap entries, node id -1, are left out).
struct broker_statistics
{
    std::string name;               ///< "host:port/nodeid" as librdkafka names it
    std::int32_t node_id = -1;      ///< the broker's node id
    bool up = false;                ///< state "UP"
    double rtt_avg_seconds = 0;     ///< average request round trip of the last window
    double rtt_p99_seconds = 0;     ///< 99th percentile request round trip of the last window
    std::int64_t outbuf_cnt = 0;    ///< requests waiting to be sent
    std::int64_t waitresp_cnt = 0;  ///< requests sent and awaiting a response
    std::uint64_t tx_errors = 0;    ///< send errors since the client started
    std::uint64_t rx_errors = 0;    ///< receive errors since the client started
    std::uint64_t req_timeouts = 0; ///< requests timed out since the client started
    std::uint64_t disconnects = 0;  ///< connections lost since the client started
};

/// One partition a client fetches or produces to (the internal "-1" partitions are left out).
struct partition_statistics
{
    std::string topic;
    std::int32_t partition = 0;
    /// Consumer lag in records behind the stored (done) offset, else behind the fetch position; -1 unknown.
    std::int64_t consumer_lag = -1;
    std::int64_t hi_offset = -1; ///< the partition's high watermark; -1 unknown
};

/// The figures Relay uses from one statistics document.
struct client_statistics
{
    std::string name;              ///< client instance name (rd_kafka_name)
    std::string type;              ///< "producer" or "consumer"
    std::int64_t time_seconds = 0; ///< when librdkafka emitted it (unix seconds)
    std::int64_t replyq = 0;       ///< operations (callbacks, events) waiting in the application queue
    std::int64_t msg_cnt = 0;      ///< messages in the producer queues
    std::int64_t msg_size = 0;     ///< bytes of messages in the producer queues
    std::vector<broker_statistics> brokers;
    std::vector<partition_statistics> partitions;
};

/// Parses one statistics JSON document. Fields Relay does not use are ignored; missing optional fields keep
/// their defaults. Errors (as text): not JSON, not an object, or a known field of the wrong type.
/// Thread-safe (no shared state).
boost::system::result<client_statistics, std::string> parse_statistics(std::string_view json);

/// Prometheus metrics of Kafka clients fed from their statistics, labelled by `client` (a role chosen by the
/// application: "worker_consumer", "ingest_producer", ...; bounded) and, for broker figures, `broker` (the
/// broker's node id; bounded by the cluster's size). Error counters are librdkafka's cumulative totals turned
/// into Prometheus counters (increments between documents).
///
/// Thread-safety: every member function may be called from any thread (the poll threads of several clients
/// call handler()'s functions concurrently).
class statistics_metrics
{
public:
    /// Registers the families on `registry`, which must outlive this object.
    explicit statistics_metrics(prometheus::Registry& registry);
    ~statistics_metrics();

    statistics_metrics(const statistics_metrics&) = delete;
    statistics_metrics& operator=(const statistics_metrics&) = delete;

    /// Updates the metrics of client `role` from one parsed document.
    void record(const std::string& role, const client_statistics& stats);

    /// A statistics_handler for client_options::on_statistics: parses each document (a parse failure is
    /// logged at warning, once per client), calls record(role, ...) and then `also` (optional) with the
    /// parsed figures, on the client's poll thread. The returned handler refers to this object, which must
    /// outlive the client.
    statistics_handler handler(std::string role, std::function<void(const client_statistics&)> also = {});

    /// The statistics.interval.ms Relay sets on its clients when none is configured.
    static constexpr int default_interval_ms = 5000;

    struct impl;

private:
    std::unique_ptr<impl> impl_;
};

/// `props` with statistics.interval.ms set to statistics_metrics::default_interval_ms unless it is set.
properties with_statistics_interval(properties props);

} // namespace relay::kafka
