#pragma once

#include "relay/config/config.hpp"
#include "relay/delivery/parking.hpp"

#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

/// @file
/// Dead-letter topic inspection and redrive (design.md section 7): `relay dlq list|redrive` and the API's DLQ
/// endpoints. A scan reads the DLQ topic from the beginning of every partition up to the high watermarks
/// taken when it starts, with manually assigned partitions: it joins no consumer group and commits nothing,
/// so it never disturbs the workers and can run any number of times. Redrive turns selected DLQ records back
/// into fresh deliveries on the first retry tier. The DLQ itself is never modified (Kafka topics are
/// append-only): redriving twice delivers twice, with the same webhook-id.
namespace relay::delivery {

/// Which DLQ records a list or a redrive selects. Every condition that is set must hold.
struct dlq_filter
{
    /// Only deliveries of this subscription (records without a subscription id never match).
    std::optional<std::string> subscription_id{};
    /// Only records dead-lettered for this reason.
    std::optional<dlq_reason> reason{};
    /// Only records whose relay-failed-at (unix ms) is at or after this instant (inclusive).
    std::optional<std::int64_t> since_ms{};
    /// Only records whose relay-failed-at (unix ms) is before this instant (exclusive).
    std::optional<std::int64_t> until_ms{};
    /// Stop after this many matching records (0 matches none).
    std::optional<std::size_t> limit{};
};

/// One record of the DLQ topic as a scan reports it.
struct dlq_entry
{
    std::int32_t partition = 0;
    std::int64_t offset = 0;
    std::int64_t timestamp_ms = -1; ///< the Kafka timestamp, -1 when none
    std::optional<std::string> key{};
    /// The original value; nullopt for a null value (always so when the value was omitted, see
    /// dlq_record::details.omitted_value_size). Never print it unless asked to: it is the customer's data.
    std::optional<std::string> value{};
    std::size_t value_size = 0; ///< bytes of `value` (0 when null)
    /// The original event's headers (traceparent, ce_*, ...): every header but Relay's own `relay-*` ones.
    std::vector<std::pair<std::string, std::string>> headers{};
    /// Relay's headers read back; nullopt when the record is not a valid DLQ record (see `problem`).
    std::optional<dlq_record> record{};
    /// Why `record` is empty (the message of parse_dlq_record()); empty otherwise.
    std::string problem{};
};

/// True when `entry` passes every condition of `filter` except `limit` (which the scan applies). A record
/// that is not a valid DLQ record matches only a filter without subscription, reason and time conditions.
/// Pure.
bool matches(const dlq_filter& filter, const dlq_entry& entry) noexcept;

/// `entry` as one line of JSON (no newline): partition, offset, timestamp, key, value_bytes, value_omitted,
/// subscription_id, event_id, reason, error, last_status, last_error, attempts, first_attempt and failed_at
/// (RFC 3339, plus *_ms), origin {topic, partition, offset}, and `problem` for invalid records. The value is
/// included (as a JSON string) only when `include_value` is true. Invalid UTF-8 bytes are escaped as \u00XX.
std::string to_json(const dlq_entry& entry, bool include_value = false);

/// Why a scan or a redrive could not run.
enum class dlq_errc
{
    invalid_config,    ///< librdkafka rejected the client properties
    topic_not_found,   ///< the DLQ topic or the first retry tier topic does not exist
    kafka_unavailable, ///< the cluster did not answer (or a scan made no progress) within the timeout
    kafka_error,       ///< another Kafka error (assigning partitions, ...)
    no_retry_tiers,    ///< redrive: the configured retry schedule is empty, so there is no tier to redrive to
};

/// An error of scan_dlq() or redrive_dlq(): what kind, and a message for people naming the topic and cause.
struct dlq_error
{
    dlq_errc code = dlq_errc::kafka_error;
    std::string message{};
};

/// How a scan reads the topic.
struct scan_options
{
    /// Bound of each metadata and watermark request, and of any stretch without progress while reading
    /// (the scan fails with kafka_unavailable after it).
    std::chrono::milliseconds timeout{30'000};
    /// librdkafka refuses to assign partitions to a consumer without group.id, although the scan never joins
    /// the group nor commits. "" (default) uses "relay-dlq-<random>"; set it when broker ACLs restrict group
    /// names (the scan needs Read and Describe on the DLQ topic).
    std::string group_id{};
};

/// What a scan read.
struct scan_summary
{
    std::uint64_t scanned = 0; ///< records read (below the high watermarks of the start)
    std::uint64_t matched = 0; ///< records that matched the filter and were passed to the callback
    std::uint64_t invalid = 0; ///< records read that are not valid DLQ records
    bool complete = false;     ///< true when the whole topic was read (not stopped by limit or the callback)
};

/// Called for each matching record, in partition order per partition, on the thread that called scan_dlq().
/// Return false to stop the scan.
using dlq_callback = std::function<bool(const dlq_entry&)>;

/// Reads the DLQ topic (cfg.topics.dlq) from the beginning of every partition to its high watermark as of the
/// start (so the scan ends even while records keep arriving) and calls `on_entry` for every record that
/// matches `filter`, stopping after `filter.limit` matches. Client properties: config::client_properties(cfg,
/// consumer), with enable.auto.commit=false and a throwaway group id. Memory is bounded: reading pauses while
/// the callback lags behind. Blocks; may be called from several threads at once (each call has its own
/// consumer). Errors: invalid_config, topic_not_found, kafka_unavailable (no answer or no progress within
/// options.timeout), kafka_error. Exceptions thrown by `on_entry` propagate (after the consumer is closed).
boost::system::result<scan_summary, dlq_error> scan_dlq(
    const config::config& cfg,
    const dlq_filter& filter,
    const dlq_callback& on_entry,
    const scan_options& options = {}
);

/// How a redrive runs.
struct redrive_options
{
    /// Decide and count, but produce nothing.
    bool dry_run = false;
    /// Most records produced per second (paced evenly, sleeping in between); 0 = unlimited.
    double rate = 0;
    /// Bound of the Kafka requests (see scan_options::timeout) and of the wait for acknowledgements.
    std::chrono::milliseconds timeout{30'000};
    /// See scan_options::group_id.
    std::string group_id{};
    /// Called for every matching record, on the calling thread, before it is produced: `skip_reason` is empty
    /// when the record is redriven (or would be, in a dry run), otherwise why it is not (see
    /// redrive_result::skipped_by_reason). Optional.
    std::function<void(const dlq_entry& entry, std::string_view skip_reason)> on_entry{};
};

/// What a redrive did.
struct redrive_result
{
    bool dry_run = false;
    std::string retry_topic{};  ///< the first retry tier topic, where redriven records go
    std::uint64_t matched = 0;  ///< records that matched the filter (at most filter.limit)
    std::uint64_t redriven = 0; ///< produced and acknowledged (in a dry run: would have been produced)
    std::uint64_t skipped = 0;  ///< matched but not redrivable; the sum of skipped_by_reason
    /// Why records were skipped, and how many: "no_subscription" (invalid_event and invalid_retry_record
    /// records belong to no subscription), "no_event_id", "value_omitted" (the value was too large and is not
    /// in the DLQ), "no_value" (a null value), "invalid_record" (not a valid DLQ record).
    std::map<std::string, std::uint64_t> skipped_by_reason{};
    std::uint64_t failed = 0;    ///< produced but not acknowledged (or not enqueued); see first_failure
    std::string first_failure{}; ///< the first produce error, for people; empty when failed == 0
    bool complete = false;       ///< the scan read the whole topic (see scan_summary::complete)
    /// Set when reading the DLQ failed after some records were already produced: the counts say what was
    /// done until then (a failure before anything was produced is redrive_dlq()'s error instead).
    std::optional<dlq_error> error{};
};

/// The retry record that redrives `entry`: the original key, value and headers on `retry_topic`, with the
/// same subscription and event ids (so the webhook-id is kept) and origin, attempts 0 (relay-attempt 1: a
/// fresh first attempt), first attempt and not-before = `now_ms`. nullopt, with `skip_reason` set, when the
/// entry cannot be redriven (see redrive_result::skipped_by_reason). Pure.
std::optional<kafka::record> make_redrive_record(
    const dlq_entry& entry, const std::string& retry_topic, std::int64_t now_ms, std::string& skip_reason
);

/// Redrives the DLQ records matching `filter`: each becomes make_redrive_record() on the first retry tier of
/// cfg.delivery.retry_schedule (topics.retry_prefix + its delay, e.g. relay.retry.5s), produced with an
/// idempotent acks=all producer (config::client_properties(cfg, producer)), paced at `options.rate`; the
/// worker consuming that tier attempts each at once, for its subscription only. Waits until every produced
/// record is acknowledged (or failed) before returning. Records that cannot be redriven are skipped and
/// counted. Blocks; thread-safe as scan_dlq(). Errors: no_retry_tiers, and those of scan_dlq() (including
/// topic_not_found for the retry topic, checked before anything is read), unless records were produced
/// already (see redrive_result::error). Produce failures are not errors: they are counted in the result.
boost::system::result<redrive_result, dlq_error>
redrive_dlq(const config::config& cfg, const dlq_filter& filter, const redrive_options& options = {});

} // namespace relay::delivery
