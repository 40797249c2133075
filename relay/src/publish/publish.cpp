#include "relay/publish/publish.hpp"

#include "relay/event/timestamp.hpp"
#include "relay/kafka/error.hpp"

#include <openssl/rand.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace relay::publish {

namespace {

using event::errc;
using event::invalid_event;

invalid_event fail(errc code, std::string reason)
{
    return invalid_event{code, std::move(reason)};
}

std::string_view trim(std::string_view s) noexcept
{
    constexpr std::string_view ws = " \t\r\n";
    const auto first = s.find_first_not_of(ws);
    if (first == std::string_view::npos) {
        return {};
    }
    return s.substr(first, s.find_last_not_of(ws) - first + 1);
}

// What a SAX pass over a JSON text found: the kind of the root, and for an object root whether it has a
// top-level member named "n". Builds nothing, so any size and depth costs no call stack.
struct shape_handler : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, shape_handler>
{
    unsigned max_depth = 64;
    unsigned depth = 0;
    bool too_deep = false;
    bool started = false;
    bool root_is_object = false;
    bool has_n = false;

    bool Default()
    {
        started = true;
        return true;
    }
    bool Key(const char* s, rapidjson::SizeType n, bool)
    {
        if (depth == 1 && std::string_view(s, n) == "n") {
            has_n = true;
        }
        return true;
    }
    bool StartObject()
    {
        if (!started) {
            root_is_object = true;
        }
        started = true;
        return enter();
    }
    bool StartArray()
    {
        started = true;
        return enter();
    }
    bool EndObject(rapidjson::SizeType)
    {
        --depth;
        return true;
    }
    bool EndArray(rapidjson::SizeType)
    {
        --depth;
        return true;
    }
    bool enter() noexcept
    {
        if (++depth > max_depth) {
            too_deep = true;
            return false;
        }
        return true;
    }
};

// Checks that `text` is exactly one JSON text nested at most `max_depth` deep; `what` names it in errors.
std::optional<invalid_event>
check_json(std::string_view text, unsigned max_depth, std::string_view what, shape_handler& shape)
{
    constexpr unsigned flags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
    rapidjson::MemoryStream ms(text.data(), text.size());
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> is(ms);
    rapidjson::Reader reader;
    shape.max_depth = max_depth;
    const auto result = reader.Parse<flags>(is, shape);
    if (result.IsError()) {
        if (shape.too_deep) {
            return fail(
                errc::too_deep, std::string(what) + " is nested deeper than " + std::to_string(max_depth)
            );
        }
        const auto at = std::to_string(result.Offset());
        if (result.Code() == rapidjson::kParseErrorStringInvalidEncoding) {
            return fail(
                errc::invalid_utf8, std::string(what) + " has invalid UTF-8 in a string at offset " + at
            );
        }
        return fail(
            errc::invalid_json,
            std::string(what) + " is not valid JSON (offset " + at + ": " +
                rapidjson::GetParseError_En(result.Code()) + ")"
        );
    }
    // The stream reports end of input at a NUL byte, so "{...}\0junk" would otherwise pass.
    if (is.Tell() != text.size()) {
        return fail(
            errc::invalid_json,
            std::string(what) + " is not valid JSON (offset " + std::to_string(is.Tell()) + ": NUL byte)"
        );
    }
    return std::nullopt;
}

boost::system::result<prepared_event, invalid_event>
validate(std::string value, std::optional<std::string> key, const event::envelope_options& limits)
{
    event::record_view record;
    record.value = value;
    if (key) {
        record.key = *key;
    }
    auto parsed = event::parse_event(record, limits);
    if (!parsed) {
        return parsed.error();
    }
    prepared_event out;
    // The id parse_event derived from the placeholder coordinates is meaningless here: the real one comes
    // from where Kafka puts the record.
    if (!parsed->id_derived()) {
        out.id = std::string(parsed->id());
    }
    out.type = std::string(parsed->type());
    out.value = std::move(value);
    out.key = std::move(key);
    return out;
}

boost::system::result<prepared_event, invalid_event>
build(const built_event& in, const event::envelope_options& limits, std::chrono::system_clock::time_point now)
{
    const auto data = trim(in.data);
    if (data.empty()) {
        return fail(
            errc::invalid_json, "data is empty (give a JSON value, e.g. {} or {\"order_id\":\"o-1\"})"
        );
    }
    shape_handler shape;
    // The envelope adds one level, which parse_event checks again below.
    if (auto err = check_json(data, limits.max_depth, "data", shape)) {
        return *err;
    }
    const std::string id = in.id ? *in.id : generate_event_id();
    const std::string timestamp = event::format_rfc3339(now);

    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartObject();
    w.Key("id");
    w.String(id.data(), static_cast<rapidjson::SizeType>(id.size()));
    w.Key("type");
    w.String(in.type.data(), static_cast<rapidjson::SizeType>(in.type.size()));
    w.Key("timestamp");
    w.String(timestamp.data(), static_cast<rapidjson::SizeType>(timestamp.size()));
    w.Key("data");
    // Kept as written (already checked to be exactly one JSON value), so numbers and member order survive.
    w.RawValue(data.data(), data.size(), rapidjson::kObjectType);
    w.EndObject();

    auto out = validate(std::string(buf.GetString(), buf.GetSize()), in.key, limits);
    if (!out) {
        return out.error();
    }
    out->id = id;
    return out;
}

struct batch_state
{
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<publish_result> results;
    std::size_t pending = 0;  // produced and not yet reported
    std::size_t reported = 0; // reports so far (wakes a producer waiting out a full queue)
};

} // namespace

std::string generate_event_id()
{
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
        throw std::runtime_error("OpenSSL could not provide random bytes for an event id");
    }
    static constexpr char hex[] = "0123456789abcdef";
    std::string id = "evt_";
    id.reserve(4 + 2 * sizeof(bytes));
    for (const unsigned char b : bytes) {
        id.push_back(hex[b >> 4]);
        id.push_back(hex[b & 0x0F]);
    }
    return id;
}

boost::system::result<prepared_event, invalid_event> prepare(
    const event_input& input, const event::envelope_options& limits, std::chrono::system_clock::time_point now
)
{
    if (const auto* raw = std::get_if<raw_event>(&input)) {
        return validate(raw->value, raw->key, limits);
    }
    return build(std::get<built_event>(input), limits, now);
}

boost::system::result<std::string, invalid_event> numbered_data(std::string_view data, std::int64_t n)
{
    const auto text = trim(data);
    shape_handler shape;
    if (auto err = check_json(text, 1000, "data", shape)) {
        return *err;
    }
    if (!shape.root_is_object) {
        return fail(
            errc::not_an_object, "data must be a JSON object to number events (it gets a member \"n\")"
        );
    }
    if (shape.has_n) {
        return fail(
            errc::duplicate_field, "data already has a member \"n\", which numbering events would add"
        );
    }
    // text starts with '{' (trimmed object); what follows is either optional whitespace and '}' or members.
    auto rest = text.substr(1);
    const bool empty_object = trim(rest) == "}";
    std::string out = "{\"n\":" + std::to_string(n);
    if (!empty_object) {
        out.push_back(',');
    }
    out.append(rest);
    return out;
}

kafka::properties producer_properties(kafka::properties base, std::chrono::milliseconds delivery_timeout)
{
    base["acks"] = "all";
    base["enable.idempotence"] = "true";
    if (!base.contains("message.timeout.ms") && !base.contains("delivery.timeout.ms")) {
        base["message.timeout.ms"] = std::to_string(delivery_timeout.count());
    }
    return base;
}

std::vector<publish_result>
publish_events(kafka::producer& producer, std::span<const event_input> events, const publish_options& options)
{
    // Shared with the delivery callbacks, which may outlive this call when a report comes after the wait.
    auto state = std::make_shared<batch_state>();
    state->results.resize(events.size());
    const auto now = std::chrono::system_clock::now();

    for (std::size_t i = 0; i < events.size(); ++i) {
        auto prepared = prepare(events[i], options.limits, now);
        {
            std::lock_guard lock(state->mutex);
            auto& r = state->results[i];
            r.topic = options.topic;
            if (!prepared) {
                r.error = make_error_code(prepared.error().code);
                r.reason = prepared.error().reason;
                if (const auto* built = std::get_if<built_event>(&events[i])) {
                    r.id = built->id.value_or("");
                    r.type = built->type;
                    r.key = built->key;
                }
                continue;
            }
            r.id = prepared->id;
            r.type = prepared->type;
            r.key = prepared->key;
        }

        kafka::record rec;
        rec.topic = options.topic;
        rec.key = std::move(prepared->key);
        rec.value = std::move(prepared->value);
        const bool derive_id = prepared->id.empty();
        const auto on_delivery =
            [state, i, derive_id](boost::system::error_code ec, kafka::delivery_info info) {
                std::lock_guard lock(state->mutex);
                auto& r = state->results[i];
                if (ec) {
                    r.error = ec;
                    r.reason = ec.message();
                } else {
                    r.partition = info.partition;
                    r.offset = info.offset;
                    if (derive_id) {
                        r.id = event::derive_event_id(r.topic, info.partition, info.offset);
                    }
                }
                --state->pending;
                ++state->reported;
                state->cv.notify_all();
            };

        for (;;) {
            std::unique_lock lock(state->mutex);
            ++state->pending;
            const auto seen = state->reported;
            lock.unlock();
            const auto ec = producer.produce(rec, on_delivery);
            if (!ec) {
                break;
            }
            lock.lock();
            --state->pending;
            if (ec == kafka::make_error_code(RD_KAFKA_RESP_ERR__QUEUE_FULL)) {
                // The local queue drains as acknowledgements arrive; wait for one (bounded) and try again.
                if (state->cv.wait_for(lock, options.timeout, [&] { return state->reported != seen; })) {
                    continue;
                }
            }
            auto& r = state->results[i];
            r.error = ec;
            r.reason = ec.message();
            break;
        }
    }

    std::unique_lock lock(state->mutex);
    state->cv.wait_for(lock, options.timeout, [&] { return state->pending == 0; });
    std::vector<publish_result> out = state->results;
    for (auto& r : out) {
        if (!r.error && r.offset < 0) {
            // Still with librdkafka: its own report may come later, but this call promised to return.
            r.error = kafka::make_error_code(RD_KAFKA_RESP_ERR__TIMED_OUT);
            r.reason = "no acknowledgement within " + std::to_string(options.timeout.count()) + " ms";
        }
    }
    return out;
}

namespace {

// The options with the topic checked and the wait at least as long as librdkafka's own delivery timeout
// (plus slack) when the properties set one, so no event is reported timed out while librdkafka still tries.
publish_options checked(publish_options options, const kafka::properties& properties)
{
    if (options.topic.empty()) {
        throw std::invalid_argument("publisher: the topic is empty");
    }
    for (const char* name : {"message.timeout.ms", "delivery.timeout.ms"}) {
        const auto it = properties.find(name);
        if (it == properties.end()) {
            continue;
        }
        std::int64_t ms = 0;
        const auto& v = it->second;
        const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
        if (ec == std::errc{} && end == v.data() + v.size() && ms > 0) {
            options.timeout =
                std::max(options.timeout, std::chrono::milliseconds(ms) + std::chrono::seconds(5));
        }
    }
    return options;
}

} // namespace

publisher::publisher(kafka::properties properties, publish_options options)
    : options_(checked(std::move(options), properties))
    , producer_(kafka::client_options{.config = producer_properties(std::move(properties), options_.timeout)})
{}

std::vector<publish_result> publisher::publish(std::span<const event_input> events)
{
    return publish_events(producer_, events, options_);
}

publish_result publisher::publish(const event_input& event)
{
    return std::move(publish_events(producer_, std::span<const event_input>(&event, 1), options_).front());
}

} // namespace relay::publish
