#pragma once

#include "relay/kafka/admin.hpp"
#include "relay/kafka/handles.hpp"

#include <boost/system/error_code.hpp>
#include <librdkafka/rdkafka_mock.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace relay::kafka {

/// Owns a librdkafka mock cluster.
using mock_cluster_ptr = std::unique_ptr<rd_kafka_mock_cluster_t, c_deleter<&rd_kafka_mock_cluster_destroy>>;

/// Kafka protocol API keys, for fault injection (the mock's request error stacks are per API).
enum class api_key : std::int16_t
{
    produce = 0,
    fetch = 1,
    list_offsets = 2,
    metadata = 3,
    offset_commit = 8,
    offset_fetch = 9,
    find_coordinator = 10,
    join_group = 11,
    heartbeat = 12,
    leave_group = 13,
    sync_group = 14,
    init_producer_id = 22,
};

/// An in-process Kafka cluster (librdkafka's mock brokers on 127.0.0.1 ephemeral ports), for `relay dev` and
/// integration tests. Clients connect to bootstrap_servers() as to a real cluster.
///
/// What librdkafka 2.0.2's mock supports: produce (incl. idempotent), fetch, consumer groups with offset
/// commits and both eager and cooperative assignors (the assignors run in the client), metadata with topic
/// auto-creation. It has no CreateTopics, DescribeConfigs or topic configs: create topics with create_topic()
/// before clients use them (ensure_topics() then finds them and creates nothing).
///
/// Thread-safety: all members may be called from any thread. Clients should be destroyed before the cluster.
class mock_cluster
{
public:
    /// Starts `brokers` brokers (ids 1..brokers). Throws std::runtime_error when librdkafka cannot.
    explicit mock_cluster(int brokers = 1);

    /// "127.0.0.1:port,..." for bootstrap.servers.
    std::string bootstrap_servers() const;

    /// Creates a topic (replication_factor <= broker count). Errors: kafka_category codes.
    boost::system::error_code create_topic(std::string_view name, int partitions, int replication_factor = 1);

    /// Creates every topic of `specs` (partitions -1 becomes 1, replication -1 becomes 1; configs are
    /// ignored: the mock has none); existing topics are left as they are. Throws topic_error naming the
    /// topics that failed.
    void create_topics(const std::vector<topic_spec>& specs);

    /// Takes a broker down (connections closed, new ones refused) or brings it back.
    boost::system::error_code set_broker_down(std::int32_t broker_id);
    boost::system::error_code set_broker_up(std::int32_t broker_id);

    /// Makes the next `errors.size()` requests of `api` (on any broker) fail with these errors, in order.
    void push_request_errors(api_key api, const std::vector<rd_kafka_resp_err_t>& errors);

    /// The raw cluster for fault injection (rd_kafka_mock_push_request_errors, ...).
    rd_kafka_mock_cluster_t* native_handle() const noexcept { return cluster_.get(); }

private:
    handle_ptr handle_; // first: the cluster must be destroyed before the handle it was created on
    mock_cluster_ptr cluster_;
};

} // namespace relay::kafka
