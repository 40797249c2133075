#pragma once

#include "relay/kafka/config.hpp"
#include "relay/kafka/handles.hpp"

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace relay::kafka {

/// A topic Relay needs.
struct topic_spec
{
    std::string name{};
    /// Partition count; -1 for the broker default (num.partitions).
    int partitions = 1;
    /// -1 for the broker default (default.replication.factor).
    int replication_factor = -1;
    /// Topic configs, e.g. {"cleanup.policy", "compact"}.
    std::map<std::string, std::string> configs{};
};

/// Why one topic could not be created.
struct topic_failure
{
    std::string topic{};
    boost::system::error_code code{};
    std::string reason{};
};

/// Thrown by ensure_topics when some topics are missing and could not be created; what() names each one and
/// why ("cannot create Kafka topics: relay.dlq: INVALID_REPLICATION_FACTOR: ...; ...").
class topic_error : public std::runtime_error
{
public:
    explicit topic_error(std::vector<topic_failure> failures);
    const std::vector<topic_failure>& failures() const noexcept { return failures_; }

private:
    std::vector<topic_failure> failures_;
};

/// Creates the topics of `specs` that do not exist yet (existing ones are left as they are, whatever their
/// settings) and waits until they are visible in metadata. Returns the names it created (a topic created
/// concurrently by someone else counts as existing). Uses any client handle (e.g. producer::native_handle()).
/// Throws topic_error naming every topic that is missing and could not be created (including when the cluster
/// cannot be reached within `timeout`). Blocks up to about twice `timeout`.
std::vector<std::string>
ensure_topics(rd_kafka_t* rk, const std::vector<topic_spec>& specs, std::chrono::milliseconds timeout);

/// The partition count of `topic` from cluster metadata. Errors: UNKNOWN_TOPIC_OR_PART when it does not
/// exist,
/// `_TIMED_OUT` / `_TRANSPORT` when the cluster cannot be reached. Never creates the topic.
boost::system::result<int>
partition_count(rd_kafka_t* rk, std::string_view topic, std::chrono::milliseconds timeout);

/// The topic's effective configs (DescribeConfigs), name -> value; entries with a null value are left out.
/// Errors: kafka_category codes (UNKNOWN_TOPIC_OR_PART, `_TIMED_OUT`, ...).
boost::system::result<std::map<std::string, std::string>>
describe_topic_configs(rd_kafka_t* rk, std::string_view topic, std::chrono::milliseconds timeout);

/// A client used only for admin operations and metadata. Its logs go to relay::log; it runs no poll thread
/// (admin results come on private queues). Thread-safety: all members may be called from any thread.
class admin
{
public:
    /// Throws config_error when librdkafka rejects the configuration.
    explicit admin(const client_options& options);

    /// See the free function.
    std::vector<std::string>
    ensure_topics(const std::vector<topic_spec>& specs, std::chrono::milliseconds timeout);

    /// See the free function.
    boost::system::result<int> partition_count(std::string_view topic, std::chrono::milliseconds timeout);

    /// See the free function.
    boost::system::result<std::map<std::string, std::string>>
    describe_topic_configs(std::string_view topic, std::chrono::milliseconds timeout);

    /// The underlying handle; owned by this object.
    rd_kafka_t* native_handle() const noexcept { return handle_.get(); }

private:
    handle_ptr handle_;
};

} // namespace relay::kafka
