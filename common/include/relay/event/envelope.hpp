#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <rapidjson/document.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace relay::event {

/// One Kafka record header. A header whose value is null (librdkafka returns a null pointer) has an empty
/// value.
struct record_header
{
    std::string_view name;
    std::string_view value;
};

/// A Kafka record as the envelope parser sees it. Everything is borrowed: the bytes must outlive the call,
/// and `value` and `key` must outlive the resulting event (it keeps views of them).
///
/// For records read back from a retry or DLQ topic, pass the ORIGIN topic, partition and offset (from the
/// retry headers), not the retry topic's: an id derived from them must be identical on every attempt.
struct record_view
{
    std::string_view topic;
    std::int32_t partition = 0;
    std::int64_t offset = 0;
    std::optional<std::string_view> key; ///< nullopt for a null key
    std::string_view value;              ///< the event bytes; empty for a null value (tombstone)
    std::span<const record_header> headers;
    std::int64_t timestamp_ms = -1; ///< Kafka timestamp, unix milliseconds; -1 when unknown (librdkafka)
};

/// Limits applied to every record. Defaults match design.md section 4.
struct envelope_options
{
    std::size_t max_event_bytes = 1024 * 1024; ///< larger values are rejected before parsing
    unsigned max_depth = 64;                   ///< deepest nesting of objects and arrays accepted
};

/// How the record encodes the event.
enum class envelope_format
{
    relay,                  ///< Relay's own envelope: {"type", "id"?, "timestamp"?, "data"?}
    cloudevents_structured, ///< CloudEvents 1.0 JSON: {"specversion":"1.0", "id", "type", "source", ...}
    cloudevents_binary,     ///< CloudEvents 1.0 Kafka binary mode: `ce_*` headers, the value is the data
};

/// "relay", "cloudevents_structured", "cloudevents_binary".
std::string_view to_string(envelope_format f) noexcept;

/// Why a record is not a valid event: the class, for bounded metric labels and tests. The `reason` of
/// invalid_event says exactly what is wrong, for the DLQ header and logs.
enum class errc
{
    empty = 1,                ///< null or zero-length value
    too_large,                ///< value above envelope_options::max_event_bytes
    invalid_json,             ///< not one JSON text (syntax error, trailing data, NUL byte)
    invalid_utf8,             ///< a string is not valid UTF-8
    too_deep,                 ///< nesting above envelope_options::max_depth
    not_an_object,            ///< the top level is not an object (Relay and structured CloudEvents)
    missing_field,            ///< a required field or header is absent
    invalid_field,            ///< a field or header has the wrong type, length, characters or format
    duplicate_field,          ///< an envelope field appears twice in the top-level object
    unsupported_specversion,  ///< CloudEvents specversion other than "1.0"
    unsupported_content_type, ///< binary mode content-type that is not JSON, or batch mode
};

/// The error category of errc, named "relay.event".
const boost::system::error_category& event_category() noexcept;
inline boost::system::error_code make_error_code(errc e) noexcept
{
    return {static_cast<int>(e), event_category()};
}

/// A short snake_case name of the class ("too_deep", "missing_field", ...), for metric labels.
std::string_view to_string(errc e) noexcept;

/// A rejected record: the class and a human-readable reason suitable for a DLQ header, such as
/// "invalid JSON at offset 12: Missing a comma or '}' after an object member.", "missing required field
/// 'type'", "nesting deeper than 64" or "event is 10485760 bytes, limit 1048576". Reasons quote producer data
/// only in truncated, printable-ASCII form.
struct invalid_event
{
    errc code;
    std::string reason;
};

/// Lets boost::system::result<event, invalid_event>::value() throw: std::invalid_argument with the reason.
[[noreturn]] void throw_exception_from_error(const invalid_event& e, const boost::source_location& loc);

/// A parsed, validated event (design.md section 4). Move-only.
///
/// The event keeps views of the record's `value` and `key` bytes: the record (e.g. the rd_kafka_message_t)
/// must outlive it. Everything else (the JSON document, id, type, trace context) is owned. Thread-safety:
/// immutable after parsing; const access from several threads is safe.
class event
{
public:
    event(event&&) noexcept = default;
    event& operator=(event&&) noexcept = default;
    event(const event&) = delete;
    event& operator=(const event&) = delete;
    ~event() = default;

    /// The event id: the producer's (`id`, CloudEvents `id` or `ce_id`), or "evt_" + 32 lowercase hex digits
    /// of SHA-256("<topic>/<partition>/<offset>") when the producer gave none. 1..256 visible ASCII, no '.'.
    /// Used as `webhook-id`, identical on every attempt.
    std::string_view id() const noexcept { return id_; }

    /// True when id() was derived from the record's coordinates.
    bool id_derived() const noexcept { return id_derived_; }

    /// The event type (`type` or `ce_type`): 1..256 visible ASCII characters, no whitespace.
    std::string_view type() const noexcept { return type_; }

    /// How the record was encoded.
    envelope_format format() const noexcept { return format_; }

    /// CloudEvents `source` (structured or binary mode); empty for Relay envelopes.
    std::string_view source() const noexcept { return source_; }

    /// The producer's timestamp (`timestamp`, CloudEvents `time` or `ce_time`), if given.
    std::optional<std::chrono::system_clock::time_point> time() const noexcept { return time_; }

    /// The Kafka record timestamp, if known.
    std::optional<std::chrono::system_clock::time_point> kafka_time() const noexcept { return kafka_time_; }

    /// Start of the end-to-end latency: the producer's timestamp, else the Kafka timestamp, else nullopt.
    std::optional<std::chrono::system_clock::time_point> origin_time() const noexcept
    {
        return time_ ? time_ : kafka_time_;
    }

    /// The exact value bytes: the delivered body, byte for byte. Borrowed from the record.
    std::string_view body() const noexcept { return body_; }

    /// The record key (borrowed), nullopt for a null key.
    std::optional<std::string_view> key() const noexcept { return key_; }

    /// The parsed value. For Relay and structured CloudEvents it is the envelope object; for binary
    /// CloudEvents it is the data (any JSON type). Nesting is at most envelope_options::max_depth deep, so
    /// recursive walks over it are safe.
    const rapidjson::Document& document() const noexcept { return document_; }

    /// A valid W3C `traceparent` header of the record, else empty.
    std::string_view traceparent() const noexcept { return traceparent_; }

    /// The record's `tracestate`, kept only with a valid traceparent and when well-formed; else empty.
    std::string_view tracestate() const noexcept { return tracestate_; }

    /// Coordinates of the record the event came from (as given in record_view).
    std::string_view topic() const noexcept { return topic_; }
    std::int32_t partition() const noexcept { return partition_; }
    std::int64_t offset() const noexcept { return offset_; }

private:
    friend boost::system::result<event, invalid_event>
    parse_event(const record_view&, const envelope_options&);
    explicit event(std::size_t pool_chunk_bytes);

    // The document allocates from allocator_, so allocator_ must be declared (constructed) first.
    std::unique_ptr<rapidjson::MemoryPoolAllocator<>> allocator_;
    rapidjson::Document document_;
    std::string_view body_;
    std::optional<std::string_view> key_;
    std::string id_;
    std::string type_;
    std::string source_;
    std::string traceparent_;
    std::string tracestate_;
    std::string topic_;
    std::optional<std::chrono::system_clock::time_point> time_;
    std::optional<std::chrono::system_clock::time_point> kafka_time_;
    std::int64_t offset_ = 0;
    std::int32_t partition_ = 0;
    envelope_format format_ = envelope_format::relay;
    bool id_derived_ = false;
};

/// Parses and validates one record (design.md section 4). Rules, in order:
/// - the value is 1..max_event_bytes bytes;
/// - it is one JSON text (explicit length, no NUL bytes, strings valid UTF-8) nested at most max_depth deep;
///   parsing is iterative, so any depth is rejected quickly without using the call stack;
/// - CloudEvents structured mode (content-type `application/cloudevents+json`, or a top-level `specversion`
///   member): `specversion` "1.0", `id`, `type`, `source` required, `time` optional;
/// - CloudEvents binary mode (a `ce_specversion` header): headers `ce_specversion` "1.0", `ce_id`, `ce_type`,
///   `ce_source` required, `ce_time` optional, `content-type` absent or JSON (`application/json`, `*+json`);
///   the value is the data and may be any JSON type;
/// - otherwise Relay's envelope: a top-level object, `type` required, `id` and `timestamp` optional;
/// - optional fields that are JSON null count as absent; `id`, `type`, `specversion`, `source`, `time` and
///   `timestamp` must not appear twice in the top-level object (receivers disagree on which one wins);
/// - `type`: a string of 1..256 visible ASCII characters (0x21-0x7E);
/// - `id`: a string of 1..256 visible ASCII characters other than '.' (the id is signed and sent in a header,
///   so it must survive any receiver's header decoding); when absent Relay derives one (see event::id);
/// - `timestamp`/`time`/`ce_time`: RFC 3339 (see parse_rfc3339); `source`: 1..2048 visible ASCII;
/// - `traceparent` and `tracestate` headers (names case-insensitive, the last one wins) are kept when valid
///   and silently dropped otherwise.
/// Errors: an invalid_event with the class and reason. Throws only std::bad_alloc, and std::runtime_error
/// when OpenSSL cannot compute SHA-256 for a derived id (a broken installation).
boost::system::result<event, invalid_event>
parse_event(const record_view& record, const envelope_options& options = {});

/// True when `value` is a W3C Trace Context `traceparent`: version-traceid-parentid-flags in lowercase hex,
/// version not "ff", trace and parent ids not all zero; version 00 is exactly 55 characters, later versions
/// may append "-..." fields.
bool is_valid_traceparent(std::string_view value) noexcept;

/// True when `value` is an acceptable W3C `tracestate`: at most 512 characters, printable ASCII,
/// comma-separated `key=value` members (empty members allowed), at most 32 members.
bool is_valid_tracestate(std::string_view value) noexcept;

/// The W3C trace context a record carries, as parse_event keeps it (views into the header values).
struct trace_context
{
    std::string_view traceparent; ///< empty unless valid
    std::string_view tracestate;  ///< empty unless well-formed and traceparent is valid
};

/// Reads `traceparent` and `tracestate` from record headers: names case-insensitive, the last one wins,
/// invalid values dropped (see is_valid_traceparent and is_valid_tracestate). Used for records whose value is
/// not parsed again (retry records). Pure; thread-safe.
trace_context read_trace_context(std::span<const record_header> headers) noexcept;

/// The id Relay derives for an event without one: "evt_" + the first 16 bytes of
/// SHA-256("<topic>/<partition>/<offset>") in lowercase hex. Stable across processes and versions.
std::string derive_event_id(std::string_view topic, std::int32_t partition, std::int64_t offset);

} // namespace relay::event

template <>
struct boost::system::is_error_code_enum<relay::event::errc> : std::true_type
{};
