#pragma once

#include "relay/event/envelope.hpp"
#include "relay/kafka/message.hpp"

#include <boost/system/result.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

/// @file
/// The records a worker parks deliveries in: retry records (one topic per delay tier) and dead-letter records
/// (design.md section 7). Both carry the original key and value and the original headers (so CloudEvents
/// binary `ce_*` headers and `traceparent` survive), plus Relay's own `relay-*` headers below. Pure
/// functions; thread-safe.
namespace relay::delivery {

/// Names of the headers Relay adds to retry and DLQ records.
namespace header {
inline constexpr std::string_view subscription_id = "relay-subscription-id"; ///< the subscription
inline constexpr std::string_view event_id = "relay-event-id"; ///< the event id = webhook-id on every attempt
/// Retry records: the number of the attempt to make (2 = the first retry; 1 = a first attempt that was
/// parked without being made: circuit open, endpoint stalled, or a DLQ redrive). DLQ records: attempts made.
inline constexpr std::string_view attempt = "relay-attempt";
inline constexpr std::string_view not_before = "relay-not-before";       ///< unix ms; retry records only
inline constexpr std::string_view first_attempt = "relay-first-attempt"; ///< unix ms of attempt 1
inline constexpr std::string_view last_status = "relay-last-status";     ///< HTTP status of the last attempt
inline constexpr std::string_view last_error = "relay-last-error";       ///< why the last attempt failed
inline constexpr std::string_view origin_topic = "relay-origin-topic";   ///< where the event was read
inline constexpr std::string_view origin_partition = "relay-origin-partition"; ///< ...its partition
inline constexpr std::string_view origin_offset = "relay-origin-offset";       ///< ...its offset
inline constexpr std::string_view reason = "relay-reason";                     ///< DLQ only: see dlq_reason
inline constexpr std::string_view error = "relay-error";         ///< DLQ only: the cause, for people
inline constexpr std::string_view failed_at = "relay-failed-at"; ///< DLQ only: unix ms
/// Input records only: deliver this record to the subscription with this id alone, whatever its event types
/// (the API's test event uses it).
inline constexpr std::string_view target_subscription = "relay-target-subscription";
/// DLQ only: present (the original size in bytes) when the value was left out because it was larger than
/// the event size limit; the original stays at its origin coordinates until the input topic's retention.
inline constexpr std::string_view value_omitted = "relay-value-omitted";
/// The prefix of every Relay header; original headers with it are dropped when a record is re-parked.
inline constexpr std::string_view prefix = "relay-";
} // namespace header

/// Why a delivery (or a record) went to the DLQ.
enum class dlq_reason
{
    invalid_event,    ///< the record is not a valid event (design.md section 4)
    permanent_status, ///< the endpoint answered a status that retrying cannot fix (3xx, 4xx but 408/425/429)
    permanent_error,  ///< a failure that retrying cannot fix without an answer (address blocked, bad URL)
    gone,             ///< 410 Gone: the subscription was disabled
    exhausted,        ///< every attempt of the retry schedule failed
    disabled,         ///< the subscription was disabled or deleted while the delivery waited for a retry
    invalid_retry_record, ///< a record on a retry topic without Relay's headers (not written by Relay)
};

/// "invalid_event", "permanent_status", "permanent_error", "gone", "exhausted", "disabled",
/// "invalid_retry_record".
std::string_view to_string(dlq_reason r) noexcept;

/// Where an event was first read: the coordinates its derived id and DLQ origin refer to.
struct origin
{
    std::string topic;
    std::int32_t partition = 0;
    std::int64_t offset = 0;
};

/// A delivery between attempts: what a retry record stores and a DLQ record reports.
struct delivery_state
{
    std::string subscription_id;
    std::string event_id;
    std::uint32_t attempts = 0;        ///< attempts made so far
    std::int64_t first_attempt_ms = 0; ///< unix ms of the first attempt
    unsigned last_status = 0;          ///< 0 when the last attempt got no HTTP status
    std::string last_error;            ///< short reason of the last failure ("server_error", "timeout", ...)
    delivery::origin origin;
};

/// The bytes being parked: the original record's key, value and headers (Relay's own are skipped).
struct parked_payload
{
    std::optional<std::string_view> key;
    std::optional<std::string_view> value;
    std::span<const event::record_header> headers;
};

/// A retry record for `topic` (a retry tier): attempt number state.attempts + 1 becomes due at
/// `not_before_ms`.
kafka::record make_retry_record(
    std::string topic, const parked_payload& payload, const delivery_state& state, std::int64_t not_before_ms
);

/// What a DLQ record says besides the delivery state.
struct dlq_details
{
    dlq_reason reason = dlq_reason::exhausted;
    std::string error; ///< human-readable cause
    std::int64_t failed_at_ms = 0;
    /// When set, the value is left out and relay-value-omitted carries this size (bytes).
    std::optional<std::size_t> omitted_value_size;
};

/// A dead-letter record for `topic`. Subscription and event ids are written only when not empty (an invalid
/// event has neither).
kafka::record make_dlq_record(
    std::string topic, const parked_payload& payload, const delivery_state& state, const dlq_details& details
);

/// A retry record read back: the delivery state, when it is due, and the headers to keep.
struct retry_record
{
    delivery_state state; ///< attempts = the attempts already made (relay-attempt - 1)
    std::int64_t not_before_ms = 0;
};

/// Reads Relay's headers of a retry record. Errors (a message naming the missing or malformed header) mean
/// the record was not written by Relay: the caller dead-letters it as invalid_retry_record.
boost::system::result<retry_record, std::string>
parse_retry_record(std::span<const event::record_header> headers);

/// The dlq_reason spelled as to_string() spells it; nullopt for any other text.
std::optional<dlq_reason> parse_dlq_reason(std::string_view text) noexcept;

/// A DLQ record read back: the delivery state (subscription and event ids empty when the record has none, as
/// for invalid_event) and the details (reason, error, failed-at time, omitted value size).
struct dlq_record
{
    delivery_state state;
    dlq_details details;
};

/// Reads Relay's headers of a DLQ record (the last occurrence of a header wins). relay-reason (a known
/// reason), relay-attempt and relay-failed-at are required; the other headers make_dlq_record() writes are
/// optional but must be well-formed when present. Errors: a message naming the missing or malformed header.
boost::system::result<dlq_record, std::string> parse_dlq_record(std::span<const event::record_header> headers
);

} // namespace relay::delivery
