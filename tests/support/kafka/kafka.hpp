#pragma once

#include "relay/kafka/consumer.hpp"
#include "relay/kafka/mock_cluster.hpp"
#include "relay/kafka/producer.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relay::test {

/// How long test helpers wait for Kafka by default: generous, because group joins on the mock take seconds.
inline constexpr std::chrono::seconds kafka_wait{30};

/// The real broker's bootstrap address, read from the file named by RELAY_TEST_KAFKA_FILE (written by the
/// `kafka` CTest fixture, i.e. scripts/kafka-broker). Throws std::runtime_error with a message saying how to
/// get one when the variable or the file is missing, which fails the calling test.
std::string real_broker_bootstrap();

/// A topic name unique to this test and process: "relay-test.<suite>.<test>.<pid>.<n>[.<suffix>]", limited to
/// the characters Kafka allows.
std::string unique_topic(std::string_view suffix = {});

/// A unique consumer group id, built like unique_topic.
std::string unique_group(std::string_view suffix = {});

/// Produces `count` records to `topic` ("key-<i>" / "value-<i>", partition per `partition`) and waits until
/// all are acknowledged. Returns false (with a gtest failure naming the first error) when any failed or the
/// wait timed out.
bool produce_records(
    relay::kafka::producer& p,
    const std::string& topic,
    int count,
    std::int32_t partition = RD_KAFKA_PARTITION_UA,
    std::chrono::milliseconds timeout = kafka_wait
);

/// Producer properties for tests against `bootstrap` (plus `extra`, which wins).
relay::kafka::properties
producer_config(const std::string& bootstrap, const relay::kafka::properties& extra = {});

/// Consumer properties for tests against `bootstrap` in `group`: fast heartbeats, earliest offsets (plus
/// `extra`, which wins).
relay::kafka::properties consumer_config(
    const std::string& bootstrap, const std::string& group, const relay::kafka::properties& extra = {}
);

/// A consumed message copied out of librdkafka.
struct consumed
{
    std::string topic;
    std::int32_t partition = 0;
    std::int64_t offset = 0;
    std::optional<std::string> key;
    std::optional<std::string> value;
    std::vector<std::pair<std::string, std::string>> headers;
};

/// A consumer_handler that records everything and lets the test wait for conditions. Optionally stores the
/// offset after each message (as an application marking it done).
/// Thread-safety: callbacks come on the poll thread; accessors and waits from the test thread.
class recording_handler : public relay::kafka::consumer_handler
{
public:
    explicit recording_handler(bool store_offsets = false)
        : store_offsets_(store_offsets)
    {}

    /// The consumer whose store_offset is called when store_offsets is on; set before subscribing.
    void attach(relay::kafka::consumer* c) { consumer_ = c; }

    /// Runs on the poll thread for each batch, before it is recorded (e.g. to pause from the handler).
    std::function<void(const std::vector<relay::kafka::message_ptr>&)> on_batch;

    void on_assigned(const std::vector<relay::kafka::topic_partition>& partitions) override;
    void on_revoked(const std::vector<relay::kafka::topic_partition>& partitions, bool lost) override;
    void on_messages(std::vector<relay::kafka::message_ptr> batch) override;
    void on_error(boost::system::error_code ec, std::string_view reason) override;

    /// Waits until `pred` (called under the handler's lock) is true; false on timeout.
    bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout = kafka_wait);

    /// Waits until at least `n` messages were received.
    bool wait_for_messages(std::size_t n, std::chrono::milliseconds timeout = kafka_wait);

    /// Waits until the current assignment (assigned minus revoked) is non-empty.
    bool wait_for_assignment(std::chrono::milliseconds timeout = kafka_wait);

    std::vector<consumed> messages() const;
    std::size_t message_count() const;
    std::vector<relay::kafka::topic_partition> assigned() const; ///< current assignment
    int assign_events() const;
    int revoke_events() const;
    int lost_events() const;
    std::vector<boost::system::error_code> errors() const;

    /// Unguarded members, for use inside a wait_for predicate only (the lock is held there).
    const std::vector<consumed>& messages_locked() const { return messages_; }
    const std::vector<relay::kafka::topic_partition>& assigned_locked() const { return assigned_; }
    int revoke_events_locked() const { return revokes_; }

private:
    bool store_offsets_;
    relay::kafka::consumer* consumer_ = nullptr;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<consumed> messages_;
    std::vector<relay::kafka::topic_partition> assigned_;
    int assigns_ = 0;
    int revokes_ = 0;
    int lost_ = 0;
    std::vector<boost::system::error_code> errors_;
};

/// A gtest fixture with a fresh one-broker mock cluster per test.
class mock_kafka_test : public ::testing::Test
{
protected:
    /// bootstrap.servers of the cluster.
    std::string bootstrap() const { return cluster_.bootstrap_servers(); }

    /// Creates a unique topic with `partitions` partitions and returns its name.
    std::string make_topic(int partitions = 1, std::string_view suffix = {});

    /// Producer properties for this cluster (plus `extra`).
    relay::kafka::properties producer_props(const relay::kafka::properties& extra = {}) const
    {
        return producer_config(bootstrap(), extra);
    }

    /// Consumer properties for this cluster and `group` (plus `extra`).
    relay::kafka::properties
    consumer_props(const std::string& group, const relay::kafka::properties& extra = {}) const
    {
        return consumer_config(bootstrap(), group, extra);
    }

    relay::kafka::mock_cluster cluster_{1};
};

} // namespace relay::test
