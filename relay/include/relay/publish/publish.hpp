#pragma once

#include "relay/event/envelope.hpp"
#include "relay/kafka/config.hpp"
#include "relay/kafka/producer.hpp"

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

/// @file
/// Publishing events to Kafka the way a producer of Relay events should: every event validated with the
/// same parser the workers use (so nothing invalid is written), an idempotent producer with acks=all, and
/// a wait for each acknowledgement. Used by `relay publish` and `relay dev`.
namespace relay::publish {

/// An event given as its complete JSON value (a Relay envelope or a structured CloudEvent); published byte
/// for byte when valid.
struct raw_event
{
    std::string value;              ///< the record value
    std::optional<std::string> key; ///< the record key (ordering key); nullopt for a null key
};

/// An event built from parts into a Relay envelope:
/// `{"id":"<id>","type":"<type>","timestamp":"<now, RFC 3339 UTC>","data":<data>}`.
struct built_event
{
    std::string type;        ///< the event type, e.g. "order.created"
    std::string data = "{}"; ///< the `data` member: any JSON text (kept as written, outer whitespace trimmed)
    std::optional<std::string> key; ///< the record key; nullopt for a null key
    std::optional<std::string> id;  ///< the event id; generate_event_id() when nullopt
};

/// One event to publish.
using event_input = std::variant<raw_event, built_event>;

/// A validated event, ready to produce.
struct prepared_event
{
    std::string value;              ///< the exact record value
    std::optional<std::string> key; ///< the record key
    std::string id;   ///< the event's id; empty when the value has none (see publish_result::id)
    std::string type; ///< the event's type
};

/// The outcome of publishing one event.
struct publish_result
{
    /// The event id: the value's own, or (for a raw event without one) the id Relay derives from the
    /// topic, partition and offset, which is the webhook-id it will be delivered with. Empty when the event
    /// was invalid or not acknowledged and has no id of its own.
    std::string id;
    std::string type;                ///< the event type; empty when the event was invalid
    std::optional<std::string> key;  ///< the record key
    std::string topic;               ///< the topic it was published to
    std::int32_t partition = -1;     ///< where it landed; -1 on error
    std::int64_t offset = -1;        ///< where it landed; -1 on error
    boost::system::error_code error; ///< relay.event errc (invalid event) or kafka_category code
    std::string reason;              ///< on error: what is wrong, for people

    /// True when Kafka acknowledged the event.
    bool ok() const noexcept { return !error; }
};

/// How publish_events() and publisher behave.
struct publish_options
{
    /// The topic every event goes to.
    std::string topic;
    /// Limits every event is checked against (as the workers do: set them from the config's
    /// delivery.max_event_bytes and delivery.max_json_depth).
    event::envelope_options limits{};
    /// How long to wait for acknowledgements after the last event was enqueued; events still unacknowledged
    /// then are reported with `_TIMED_OUT`. The publisher sets librdkafka's message.timeout.ms to this value
    /// unless the properties set it, and otherwise raises it to that property plus 5 s.
    std::chrono::milliseconds timeout = std::chrono::seconds(30);
};

/// A new event id: "evt_" + 32 lowercase hex digits from the OS CSPRNG (the same shape as derived ids).
/// Throws std::runtime_error only when OpenSSL cannot provide random bytes.
std::string generate_event_id();

/// Validates `input` with relay::event::parse_event (as the workers will parse it), building the Relay
/// envelope first for a built_event (timestamp `now`). Errors (invalid_event, nothing to publish): a raw
/// value that is not a valid event; a built event whose data is not one JSON text (errc::invalid_json, with
/// the offset), or whose type or id break the envelope's rules. Pure apart from generating ids; thread-safe.
boost::system::result<prepared_event, event::invalid_event> prepare(
    const event_input& input,
    const event::envelope_options& limits = {},
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now()
);

/// `data` (a JSON object) with a member `"n": <n>` inserted first, the rest kept as written; used to tell
/// events of one `relay publish --count` apart. Errors (invalid_event): `data` is not valid JSON
/// (invalid_json), not an object (not_an_object), or already has a member "n" (duplicate_field).
boost::system::result<std::string, event::invalid_event> numbered_data(std::string_view data, std::int64_t n);

/// Producer properties for publishing: `base` plus `acks=all` and `enable.idempotence=true` (Relay's
/// guarantee: an acknowledged event is durable and not duplicated by producer retries), and
/// message.timeout.ms = `delivery_timeout` when `base` does not set it.
kafka::properties producer_properties(
    kafka::properties base, std::chrono::milliseconds delivery_timeout = std::chrono::seconds(30)
);

/// Validates every event, produces the valid ones in order on `producer` (a full local queue is waited
/// out, not failed), and waits for every acknowledgement. Returns one result per input, in input order;
/// invalid events are never produced. Never throws on event or Kafka errors (they are results); throws
/// std::bad_alloc. Blocks until done: call it on a thread that is not an io_context thread or the
/// producer's poll thread. Thread-safe with respect to other users of the producer.
std::vector<publish_result> publish_events(
    kafka::producer& producer, std::span<const event_input> events, const publish_options& options
);

/// A producer configured for publishing (producer_properties) plus publish_events() on one topic.
/// Thread-safety: publish() may be called from several threads at once; the destructor waits up to
/// `options.timeout` for outstanding events and belongs on a thread that is not an io_context thread.
class publisher
{
public:
    /// Creates the producer from `properties` (bootstrap.servers, security settings, ...; see
    /// producer_properties). Throws kafka::config_error when librdkafka rejects a property, and
    /// std::invalid_argument when `options.topic` is empty.
    publisher(kafka::properties properties, publish_options options);

    /// Publishes `events` (see publish_events). Blocks until every event is acknowledged or failed.
    std::vector<publish_result> publish(std::span<const event_input> events);

    /// Publishes one event. Blocks until it is acknowledged or failed.
    publish_result publish(const event_input& event);

    /// The options in use.
    const publish_options& options() const noexcept { return options_; }

    /// The underlying producer.
    kafka::producer& kafka_producer() noexcept { return producer_; }

private:
    publish_options options_;
    kafka::producer producer_;
};

} // namespace relay::publish
