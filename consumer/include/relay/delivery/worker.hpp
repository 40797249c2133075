#pragma once

#include "relay/config/config.hpp"
#include "relay/kafka/admin.hpp"
#include "relay/subscription/routing_table.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace prometheus {
class Registry;
} // namespace prometheus

namespace relay::delivery {

/// The topics a worker reads and writes, as Relay creates them when `kafka.create_topics` is on: the input
/// topics and the DLQ with `kafka.partitions`, one topic per retry tier (retention at least a week and at
/// least three times the tier's delay, so parked records outlive their wait), the DLQ with
/// `kafka.dlq_retention`; retry and DLQ topics accept records of `delivery.max_event_bytes` plus headers.
std::vector<kafka::topic_spec> worker_topics(const config::config& cfg);

/// Creates the missing topics of `specs` (when `cfg.kafka.create_topics`) or checks that they all exist.
/// Throws std::runtime_error naming every missing topic and why (a start-up error).
void prepare_topics(const config::config& cfg, const std::vector<kafka::topic_spec>& specs);

/// The largest Kafka record a worker parks: the event size limit plus room for headers.
std::size_t max_parked_record_bytes(const config::config& cfg);

/// Counters of a worker since it started, for logs, tests and `relay dev` (Prometheus has the full set).
struct worker_stats
{
    std::uint64_t records = 0;       ///< input and retry records consumed
    std::uint64_t attempts = 0;      ///< HTTP attempts finished (any outcome)
    std::uint64_t delivered = 0;     ///< deliveries answered 2xx
    std::uint64_t retries = 0;       ///< deliveries parked on a retry topic (acknowledged)
    std::uint64_t dead_lettered = 0; ///< records written to the DLQ (acknowledged)
    std::uint64_t in_flight = 0;     ///< deliveries and parks not finished yet
};

/// Hooks and shared objects a worker is built with.
struct worker_options
{
    /// The configuration (delivery, topics, kafka sections).
    config::config cfg;
    /// Where the worker finds subscriptions; whoever loads them (static config, the subscriptions topic)
    /// stores new tables here and the worker sees them at its next batch.
    std::shared_ptr<subscription::atomic_routing_table> routes;
    /// Metrics are registered here when set.
    std::shared_ptr<prometheus::Registry> registry;
    /// Called once when a Kafka client reports a fatal error: the process should exit (and be restarted).
    std::function<void(std::string_view reason)> on_fatal;
    /// Called (on an I/O thread, once per subscription version) when the worker disables a subscription: the
    /// endpoint answered 410 (`gone`) or every delivery failed for delivery.auto_disable_after (`failing`).
    /// The worker stops delivering to that version at once; this hook persists the change (relay deliver
    /// writes it to the subscriptions topic) so that every worker and the API see it.
    std::function<void(
        const subscription::subscription& sub, subscription::disable_reason reason, const std::string& detail
    )>
        on_disable;
};

/// The delivery worker behind `relay deliver` (design.md sections 4 to 8): consumes the input topics and the
/// retry tiers as one consumer group, matches each event against the routing table, delivers it to every
/// matching subscription as a signed HTTP POST, parks retryable failures on the retry tier of their next
/// attempt and permanent ones on the DLQ, and marks an input offset done only when every delivery of its
/// record has succeeded or been durably parked, committing the lowest contiguous done offset per partition.
///
/// Threads: the consumer's poll thread (parsing, routing, flow control), the producer's poll thread (park
/// acknowledgements), one timer thread, and `delivery.threads` I/O threads each with its own HTTP client.
/// Deliveries are asynchronous: thousands are in flight on a handful of threads.
///
/// Thread-safety: start() and stop() from one controlling thread (not an I/O thread of the worker);
/// stats() and ready() from any thread.
class worker
{
public:
    /// Builds the clients (no network yet). Throws std::runtime_error / config_error on a bad configuration.
    explicit worker(worker_options options);
    ~worker();

    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;

    /// The topics the worker needs: inputs, every retry tier, the DLQ (for ensure_topics at start-up).
    std::vector<std::string> topics() const;

    /// The retry tier topics of the configured schedule, shortest delay first.
    std::vector<std::string> retry_topics() const;

    /// Joins the consumer group and starts delivering. Throws std::runtime_error when subscribing fails.
    void start();

    /// Graceful stop (design.md section 8): stops fetching, lets in-flight deliveries finish or park for up
    /// to `delivery.drain_timeout`, commits the done offsets, leaves the group, flushes the producer. What
    /// is still unfinished then is redelivered by the partition's next owner (at least once). Blocks;
    /// idempotent.
    void stop();

    /// True once start() subscribed and until stop() begins.
    bool ready() const noexcept;

    /// A snapshot of the counters.
    worker_stats stats() const;

    struct impl;

private:
    std::unique_ptr<impl> impl_;
};

} // namespace relay::delivery
