#pragma once

#include "support/http/receiver.hpp"
#include "support/kafka/kafka.hpp"
#include "support/process/process.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

/// @file
/// What the `relay deliver` system tests share: a generated event workload, the worker's config file,
/// running worker processes, tracking which (event, subscription) pairs arrived at the receivers, checking
/// the recorded requests, verifying their signatures with the official library, and reading Kafka topics.
namespace relay::test::deliver {

/// One generated event.
struct event_record
{
    std::string id;
    std::string type;
    std::string key;
    std::string value;    ///< the Kafka record value: what each delivery's body must equal byte for byte
    std::string trace_id; ///< 32 hex digits; the record's traceparent carries it
    int seq = 0;          ///< position among the events of the same key, from 0
    int amount = 0;       ///< data.amount, 0..999
    std::string region;   ///< data.region: "eu", "us" or "apac"
};

/// Events with Relay envelopes over `keys` keys, types order.created / order.updated / payment.captured /
/// invoice.paid, in a reproducible order for `seed`. Ids are "evt_<tag>_<i>".
struct workload
{
    std::vector<event_record> events;
    std::unordered_map<std::string_view, std::size_t> by_body; ///< value -> index in `events`

    static workload make(std::size_t count, std::size_t keys, std::uint32_t seed, std::string_view tag);
};

/// Produces every event to `topic` (key = event key, header traceparent) with an idempotent producer and
/// waits for all acknowledgements. False (with a gtest failure) on any error.
bool produce_workload(
    const std::string& bootstrap,
    const std::string& topic,
    const workload& w,
    std::chrono::milliseconds timeout
);

/// A subscription under test with its own receiver.
struct subscription_under_test
{
    std::string id;
    std::string secret;                               ///< "whsec_..."
    std::string extra_json;                           ///< more members of the JSON object, "" or ",..."
    std::function<bool(const event_record&)> expects; ///< does the event match it?
    bool key_ordering = false;                        ///< ordering: key
    std::unique_ptr<relay::test::receiver> rx;
};

/// Topic names and group of one test's deployment.
struct deployment
{
    std::string bootstrap;
    std::string events_topic;
    std::string subscriptions_topic;
    std::string retry_prefix;
    std::string dlq_topic;
    std::string group;
};

/// Unique topic names (events, subscriptions, retry prefix, DLQ) and group of one test on the real broker
/// (bootstrap from RELAY_TEST_KAFKA_FILE).
deployment make_deployment();

/// deliver-logs/<current test name> under the working directory, emptied and created; printed.
std::filesystem::path fresh_log_dir();

/// Writes the worker's config file (JSON, which is YAML) for `d` and `subs`, optionally with a static member
/// id and more members of the `delivery` object (`extra_delivery`: "" or `"key": value, ...`). The retry
/// schedule is 1s, 2s, 4s unless `extra_delivery` sets `retry_schedule`; `extra_consumer_properties` ("" or
/// `"name": "value", ...`) are added to kafka.consumer_properties. Returns its path.
std::filesystem::path write_worker_config(
    const std::filesystem::path& path,
    const deployment& d,
    const std::vector<subscription_under_test>& subs,
    const std::string& instance_id = {},
    const std::string& extra_delivery = {},
    const std::string& extra_consumer_properties = {}
);

/// Starts `relay deliver -c <config>` with stdout and stderr appended to `log`.
relay::test::process start_worker(const std::filesystem::path& config, const std::filesystem::path& log);

/// Waits until the worker logs "worker ready" (after `from`), or fails: false when it exited or the time ran
/// out, with a gtest failure quoting the log's tail.
bool wait_ready(
    relay::test::process& worker,
    std::chrono::milliseconds timeout = std::chrono::seconds(60),
    std::uintmax_t from = 0
);

/// Counts which expected (subscription, event) pairs arrived; fed by the receivers' responders (any thread).
/// The workload must outlive it.
class delivery_tracker
{
public:
    /// `expected[s][e]`: subscription s should get event e.
    delivery_tracker(const workload& w, std::vector<std::vector<bool>> expected);

    /// Records one request of subscription `sub`. Thread-safe.
    void record(std::size_t sub, std::string_view body);

    /// Waits until at least `n` distinct expected pairs arrived or `deadline` passed, calling `tick` (on this
    /// thread, without the lock) about once a second; a false `tick` stops the wait. True when reached.
    bool wait_for_distinct(
        std::size_t n, std::chrono::steady_clock::time_point deadline, const std::function<bool()>& tick
    );

    /// Number of expected pairs.
    std::size_t expected_total() const noexcept { return expected_total_; }
    /// Expected pairs that arrived at least once so far. Thread-safe.
    std::size_t distinct() const;
    /// Requests recorded so far, duplicates and unknown bodies included. Thread-safe.
    std::size_t requests() const;

private:
    const workload& w_;
    std::vector<std::vector<bool>> expected_;
    std::size_t expected_total_ = 0;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<std::vector<std::uint32_t>> counts_;
    std::size_t distinct_ = 0;
    std::size_t requests_ = 0;
};

/// What the recorded requests show.
struct analysis
{
    std::size_t requests = 0;
    std::size_t distinct = 0;
    std::size_t missing = 0;          ///< expected pairs that never arrived
    std::size_t duplicates = 0;       ///< requests beyond the first of a pair
    std::size_t unexpected = 0;       ///< requests for a pair that should not have been delivered
    std::size_t unknown_body = 0;     ///< bodies that are no produced value byte for byte
    std::size_t wrong_webhook_id = 0; ///< webhook-id other than the event id
    std::size_t bad_headers = 0;      ///< method, content-type, user-agent, traceparent, signature headers
    std::size_t order_violations = 0; ///< key-ordered subscriptions: first arrivals out of per-key order
    std::map<std::string, std::size_t> duplicates_by_subscription;
    std::vector<std::string> examples; ///< the first problems, described
};

/// Checks every request of every subscription against the workload (see `analysis`).
analysis analyze(
    const workload& w,
    const std::vector<subscription_under_test>& subs,
    const std::vector<std::vector<relay::test::recorded_request>>& requests
);

/// Result of verifying signatures with the official Standard Webhooks library.
struct verify_result
{
    std::size_t lines = 0;
    std::size_t ok = 0;
    std::optional<relay::test::exit_status> status;
    std::vector<std::string> failures; ///< the first "FAIL ..." lines
};

/// Runs tests/support/standardwebhooks/verify.mjs with node over every request (each against its
/// subscription's secret). Files go to `dir`. Throws std::runtime_error when node is not found.
verify_result verify_signatures(
    const std::filesystem::path& dir,
    const std::vector<subscription_under_test>& subs,
    const std::vector<std::vector<relay::test::recorded_request>>& requests
);

/// The value of the last header `name` of a consumed record.
std::optional<std::string> header_of(const relay::test::consumed& c, std::string_view name);

/// Reads every record of `topic` (all partitions, from the beginning up to the high watermarks seen now).
/// Returns nullopt (with a gtest failure) when they did not all arrive within `timeout`.
std::optional<std::vector<relay::test::consumed>>
read_topic(const std::string& bootstrap, const std::string& topic, std::chrono::milliseconds timeout);

/// One member of a consumer group as the broker describes it.
struct group_member
{
    std::string instance_id;            ///< group.instance.id ("" for dynamic members)
    std::string member_id;              ///< the broker's member id
    std::size_t partitions = 0;         ///< partitions assigned, all topics
    std::vector<std::int32_t> of_topic; ///< partitions of the topic asked about
};

/// A consumer group's state (DescribeConsumerGroups).
struct group_description
{
    bool stable = false;
    std::vector<group_member> members;
};

/// Describes `group`, listing each member's partitions of `topic`. nullopt when the broker did not answer.
std::optional<group_description>
describe_group(const std::string& bootstrap, const std::string& group, const std::string& topic);

/// Waits until `group` is stable with `members` members that each hold at least one partition and together
/// hold all `partitions` partitions of `topic`. The last description, or nullopt (with a gtest failure) on
/// timeout.
std::optional<group_description> wait_for_balanced_group(
    const std::string& bootstrap,
    const std::string& group,
    const std::string& topic,
    std::size_t members,
    std::size_t partitions,
    std::chrono::milliseconds timeout
);

/// How many records `topic` holds now (sum over partitions of high minus low watermark); nullopt (with a
/// gtest failure) when the metadata or watermarks cannot be read.
std::optional<std::size_t> topic_size(const std::string& bootstrap, const std::string& topic);

/// The offset `group` committed for partition `partition` of `topic` (RD_KAFKA_OFFSET_INVALID when none).
std::int64_t committed_offset(
    const std::string& bootstrap, const std::string& group, const std::string& topic, std::int32_t partition
);

/// The repository root (RELAY_TEST_SOURCE_DIR, set by ctest). Throws std::runtime_error when unset.
std::filesystem::path source_dir();

/// A broker of the test's own (tests that stop it cannot use the shared fixture): runs
/// `scripts/kafka-broker <command> <dir>` (start, restart, stop) with its output appended to `log` and waits
/// for it. True when it exited 0; otherwise false with a gtest failure quoting the log's tail.
bool kafka_broker(
    const std::string& command, const std::filesystem::path& dir, const std::filesystem::path& log
);

/// Stops the broker of `dir` (its whole process group, SIGTERM then SIGKILL after 60 s) but keeps its data,
/// so `kafka_broker("restart", dir, ...)` brings the same broker back on the same ports. True when it ended.
bool stop_broker_process(const std::filesystem::path& dir);

/// Waits until `relay serve` logs "api listening" and returns the API port it logged; 0, with a gtest failure
/// quoting the log's tail, when it exited or did not listen within `timeout`.
std::uint16_t
wait_api_port(relay::test::process& serve, std::chrono::milliseconds timeout = std::chrono::seconds(120));

/// The first line of a text file ("" when it cannot be read), e.g. a broker directory's `bootstrap`.
std::string read_first_line(const std::filesystem::path& path);

} // namespace relay::test::deliver
