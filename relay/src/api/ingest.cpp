#include "relay/api/ingest.hpp"

#include "relay/config/kafka_clients.hpp"
#include "relay/http/problem.hpp"
#include "relay/kafka/error.hpp"
#include "relay/log/log.hpp"
#include "relay/publish/publish.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <functional>
#include <map>
#include <stdexcept>

namespace relay::api {

namespace bhttp = boost::beast::http;
namespace asio = boost::asio;

// ---------------------------------------------------------------------------------------------------------
// Options and helpers

ingest_options ingest_options::from_config(const config::config& cfg)
{
    ingest_options o;
    o.topic = cfg.topics.events;
    o.limits.max_event_bytes = cfg.delivery.max_event_bytes;
    o.limits.max_depth = static_cast<unsigned>(std::min(cfg.api.max_json_depth, cfg.delivery.max_json_depth));
    o.max_batch = cfg.api.max_batch;
    o.idempotency_window = cfg.api.idempotency_window;
    o.tokens = cfg.api.tokens;
    return o;
}

kafka::properties ingest_producer_properties(const config::config& cfg)
{
    kafka::properties props = config::client_properties(cfg, config::client_kind::producer);
    const auto budget = std::max<std::chrono::milliseconds>(
        cfg.api.request_timeout - std::chrono::seconds(1), std::chrono::seconds(1)
    );
    props.erase("delivery.timeout.ms");
    if (const auto it = props.find("message.timeout.ms"); it != props.end()) {
        // A longer timeout would let a request answer 503 for an event Kafka acknowledges later.
        long long configured = 0;
        try {
            configured = std::stoll(it->second);
        } catch (const std::exception&) {
            configured = 0;
        }
        if (configured <= 0 || configured > budget.count()) {
            it->second = std::to_string(budget.count());
        }
    }
    // librdkafka times out queued messages from the broker thread, which sleeps up to
    // reconnect.backoff.max.ms (default 10 s) while the broker is down: a verdict within the budget needs
    // a shorter backoff (unless configured).
    if (!props.contains("reconnect.backoff.ms") && !props.contains("reconnect.backoff.max.ms")) {
        props["reconnect.backoff.max.ms"] =
            std::to_string(std::min<std::chrono::milliseconds::rep>(budget.count(), 1000));
    }
    return publish::producer_properties(std::move(props), budget);
}

http::server_options api_server_options(const config::config& cfg)
{
    http::server_options o;
    o.address = cfg.api.address;
    o.port = cfg.api.port;
    o.body_limit = cfg.api.max_body_bytes;
    o.header_limit = static_cast<std::uint32_t>(std::min<std::size_t>(cfg.api.max_header_bytes, UINT32_MAX));
    o.read_timeout = cfg.api.request_timeout;
    o.write_timeout = cfg.api.request_timeout;
    o.name = "api";
    return o;
}

std::string insert_event_id(std::string_view value, std::string_view id)
{
    const auto brace = value.find('{');
    std::string out;
    out.reserve(value.size() + id.size() + 8);
    out.append(value.substr(0, brace + 1));
    out.append("\"id\":\"").append(id).append("\",");
    out.append(value.substr(brace + 1));
    return out;
}

// ---------------------------------------------------------------------------------------------------------
// Batch parsing

namespace {

enum class slot
{
    none,
    events,    // the value of the root's "events"
    item_key,  // the value of an item's "key"
    item_event // the value of an item's "event"
};

template <class Stream>
struct batch_handler : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, batch_handler<Stream>>
{
    Stream* stream = nullptr;
    std::string_view body;
    std::size_t max_batch = 0;
    unsigned max_depth = 0;
    unsigned depth = 0;
    slot expect = slot::none;
    bool seen_events = false;
    bool item_has_event = false;
    bool item_has_key = false;
    std::size_t event_start = 0;
    std::vector<batch_item> items;
    std::optional<batch_error> error;

    bool fail(std::optional<std::size_t> index, std::string detail)
    {
        error = batch_error{index, std::move(detail)};
        return false;
    }
    std::size_t index() const { return items.size() - 1; }

    // A scalar (or the start of a container, `container` = true) in the current position.
    bool value(bool container, const char* what)
    {
        if (depth == 0) {
            return fail(
                std::nullopt, std::string("the body must be a JSON object {\"events\":[...]}, not ") + what
            );
        }
        if (depth == 1) {
            if (expect == slot::events) {
                return fail(std::nullopt, std::string("\"events\" must be an array, not ") + what);
            }
        }
        if (depth == 2) {
            return fail(
                items.size(),
                std::string("events[") + std::to_string(items.size()) +
                    "] must be an object {\"key\":...,\"event\":{...}}, not " + what
            );
        }
        if (depth == 3) {
            if (expect == slot::item_event) {
                return fail(
                    index(),
                    "events[" + std::to_string(index()) + "].event must be a JSON object, not " + what
                );
            }
            if (expect == slot::item_key && container) {
                return fail(index(), "events[" + std::to_string(index()) + "].key must be a string or null");
            }
        }
        expect = slot::none;
        return true;
    }

    bool Null()
    {
        if (depth == 3 && expect == slot::item_key) {
            expect = slot::none;
            return true;
        }
        return value(false, "null");
    }
    bool Bool(bool) { return key_scalar("a boolean"); }
    bool Int(int) { return key_scalar("a number"); }
    bool Uint(unsigned) { return key_scalar("a number"); }
    bool Int64(std::int64_t) { return key_scalar("a number"); }
    bool Uint64(std::uint64_t) { return key_scalar("a number"); }
    bool Double(double) { return key_scalar("a number"); }
    bool RawNumber(const char*, rapidjson::SizeType, bool) { return key_scalar("a number"); }
    bool key_scalar(const char* what)
    {
        if (depth == 3 && expect == slot::item_key) {
            return fail(
                index(), "events[" + std::to_string(index()) + "].key must be a string or null, not " + what
            );
        }
        return value(false, what);
    }
    bool String(const char* s, rapidjson::SizeType n, bool)
    {
        if (depth == 3 && expect == slot::item_key) {
            items.back().key = std::string(s, n);
            expect = slot::none;
            return true;
        }
        return value(false, "a string");
    }
    bool Key(const char* s, rapidjson::SizeType n, bool)
    {
        const std::string_view k(s, n);
        if (depth == 1) {
            if (k != "events") {
                return fail(
                    std::nullopt,
                    "unknown member \"" + std::string(k.substr(0, 64)) +
                        "\" in the body; it holds only \"events\""
                );
            }
            if (seen_events) {
                return fail(std::nullopt, "\"events\" appears twice");
            }
            seen_events = true;
            expect = slot::events;
        } else if (depth == 3) {
            const auto at = "events[" + std::to_string(index()) + "]";
            if (k == "key") {
                if (item_has_key) {
                    return fail(index(), at + " has \"key\" twice");
                }
                item_has_key = true;
                expect = slot::item_key;
            } else if (k == "event") {
                if (item_has_event) {
                    return fail(index(), at + " has \"event\" twice");
                }
                item_has_event = true;
                expect = slot::item_event;
            } else {
                return fail(
                    index(),
                    at + " has unknown member \"" + std::string(k.substr(0, 64)) +
                        "\"; an item holds \"key\" and \"event\""
                );
            }
        }
        return true;
    }
    bool StartObject()
    {
        if (depth == 0) {
            return enter();
        }
        if (depth == 2) {
            if (items.size() >= max_batch) {
                return fail(
                    std::nullopt,
                    "more than " + std::to_string(max_batch) +
                        " events in one batch (api.max_batch); split the batch"
                );
            }
            items.emplace_back();
            item_has_event = false;
            item_has_key = false;
            return enter();
        }
        if (depth == 3 && expect == slot::item_event) {
            // The iterative parser calls the handler before consuming the brace: Tell() is at the '{'.
            event_start = stream->Tell();
            expect = slot::none;
            return enter();
        }
        if (depth >= 4) {
            return enter();
        }
        return value(true, "an object");
    }
    bool StartArray()
    {
        if (depth == 1 && expect == slot::events) {
            expect = slot::none;
            return enter();
        }
        if (depth >= 4) {
            return enter();
        }
        return value(true, "an array");
    }
    bool EndObject(rapidjson::SizeType)
    {
        --depth;
        if (depth == 3) {
            // Tell() is at the closing '}', not consumed yet.
            const auto end = stream->Tell() + 1;
            items.back().value = std::string(body.substr(event_start, end - event_start));
        } else if (depth == 2 && !item_has_event) {
            return fail(index(), "events[" + std::to_string(index()) + "] has no \"event\"");
        }
        return true;
    }
    bool EndArray(rapidjson::SizeType)
    {
        --depth;
        return true;
    }
    bool enter()
    {
        if (++depth > max_depth) {
            if (depth > 4 && !items.empty()) {
                return fail(
                    index(),
                    "events[" + std::to_string(index()) + "].event is nested deeper than " +
                        std::to_string(max_depth - 3)
                );
            }
            return fail(std::nullopt, "the body is nested too deeply");
        }
        return true;
    }
};

} // namespace

boost::system::result<std::vector<batch_item>, batch_error>
parse_batch(std::string_view body, std::size_t max_batch, unsigned max_event_depth)
{
    using stream_type = rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream>;
    constexpr unsigned flags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
    rapidjson::MemoryStream ms(body.data(), body.size());
    stream_type is(ms);
    batch_handler<stream_type> h;
    h.stream = &is;
    h.max_batch = max_batch;
    h.body = body;
    h.max_depth = max_event_depth + 3;
    rapidjson::Reader reader;
    const auto result = reader.Parse<flags>(is, h);
    if (h.error) {
        return *h.error;
    }
    if (result.IsError()) {
        return batch_error{
            std::nullopt,
            "the body is not valid JSON (offset " + std::to_string(result.Offset()) + ": " +
                rapidjson::GetParseError_En(result.Code()) + ")"};
    }
    if (is.Tell() != body.size()) {
        return batch_error{
            std::nullopt,
            "the body is not valid JSON (NUL byte at offset " + std::to_string(is.Tell()) + ")"};
    }
    if (!h.seen_events) {
        return batch_error{std::nullopt, "the body has no \"events\" array"};
    }
    if (h.items.empty()) {
        return batch_error{
            std::nullopt, "\"events\" is empty; send 1 to " + std::to_string(max_batch) + " events"};
    }
    return std::move(h.items);
}

} // namespace relay::api

namespace relay::api {

// ---------------------------------------------------------------------------------------------------------
// Producing a group of records and waiting for every acknowledgement

namespace {

struct produce_outcome
{
    boost::system::error_code ec;
    kafka::delivery_info info;
};

using gather_signature = void(std::vector<produce_outcome>);

template <class Handler>
struct gather_state
{
    std::vector<produce_outcome> out;
    std::atomic<std::size_t> remaining{0};
    std::optional<Handler> handler;
    asio::any_io_executor work; ///< the handler's executor, with outstanding work tracked

    void finish_one()
    {
        if (remaining.fetch_sub(1, std::memory_order_acq_rel) != 1) {
            return;
        }
        auto ex = std::move(work);
        asio::post(ex, [h = std::move(*handler), out = std::move(out), ex]() mutable {
            std::move(h)(std::move(out));
        });
    }
};

// Enqueues every record (stopping at the first that cannot be enqueued: the rest are reported as not
// attempted) and completes once each enqueued one is acknowledged or failed.
template <class CompletionToken>
auto async_produce_all(kafka::producer& producer, std::vector<kafka::record> records, CompletionToken&& token)
{
    return asio::async_initiate<CompletionToken, gather_signature>(
        [&producer](auto handler, std::vector<kafka::record> recs) {
            auto state = std::make_shared<gather_state<decltype(handler)>>();
            auto ex = asio::get_associated_executor(handler);
            state->work = asio::prefer(ex, asio::execution::outstanding_work.tracked);
            state->handler.emplace(std::move(handler));
            state->out.resize(recs.size());
            // One extra count held by this function, so no completion can run before every record is seen.
            state->remaining.store(recs.size() + 1, std::memory_order_relaxed);
            bool stop = false;
            for (std::size_t i = 0; i < recs.size(); ++i) {
                if (stop) {
                    state->out[i].ec = asio::error::operation_aborted;
                    state->finish_one();
                    continue;
                }
                const auto ec = producer.produce(
                    recs[i],
                    [state, i](boost::system::error_code dec, kafka::delivery_info info) {
                        state->out[i] = {dec, info};
                        state->finish_one();
                    }
                );
                if (ec) {
                    state->out[i].ec = ec;
                    stop = true;
                    state->finish_one();
                }
            }
            state->finish_one();
        },
        token,
        std::move(records)
    );
}

constexpr std::string_view route_single = "events";
constexpr std::string_view route_batch = "events_batch";

std::string_view trim(std::string_view s) noexcept
{
    constexpr std::string_view ws = " \t";
    const auto first = s.find_first_not_of(ws);
    if (first == std::string_view::npos) {
        return {};
    }
    return s.substr(first, s.find_last_not_of(ws) - first + 1);
}

bool json_content_type(const http::request& req, bool allow_cloudevents)
{
    const auto it = req.find(bhttp::field::content_type);
    if (it == req.end()) {
        return false;
    }
    const std::string_view value = it->value();
    const auto media = trim(value.substr(0, value.find(';')));
    return boost::beast::iequals(media, "application/json") ||
           (allow_cloudevents && boost::beast::iequals(media, "application/cloudevents+json"));
}

std::uint64_t fingerprint(std::string_view body, const std::optional<std::string>& key)
{
    const auto h1 = std::hash<std::string_view>{}(body);
    const auto h2 = key ? std::hash<std::string_view>{}(*key) : 0x9e3779b97f4a7c15ULL;
    return static_cast<std::uint64_t>(h1) * 31 + static_cast<std::uint64_t>(h2) + (key ? 1 : 0);
}

void write_delivery(
    rapidjson::Writer<rapidjson::StringBuffer>& w, const std::string& id, const produce_outcome& o
)
{
    w.StartObject();
    w.Key("id");
    w.String(id.data(), static_cast<rapidjson::SizeType>(id.size()));
    w.Key("partition");
    w.Int(o.info.partition);
    w.Key("offset");
    w.Int64(o.info.offset);
    w.EndObject();
}

http::response json_response(unsigned status, std::string body, unsigned version)
{
    http::response res{static_cast<bhttp::status>(status), version};
    res.set(bhttp::field::content_type, "application/json");
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

http::response problem(bhttp::status status, std::string detail, unsigned version)
{
    return http::make_problem_response(status, detail, version);
}

http::response unavailable(std::string detail, std::string_view retry_after, unsigned version)
{
    auto res = problem(bhttp::status::service_unavailable, std::move(detail), version);
    res.set(bhttp::field::retry_after, retry_after);
    return res;
}

// A prepared event ready to produce.
struct ready_event
{
    std::string id;
    std::string value;
    std::optional<std::string> key;
    bool generated = false; ///< true when Relay generated the id
};

// Validates one event as the workers will parse it and gives it an id when it has none.
boost::system::result<ready_event, event::invalid_event>
ready(std::string value, std::optional<std::string> key, const event::envelope_options& limits)
{
    auto prepared = publish::prepare(publish::raw_event{std::move(value), std::move(key)}, limits);
    if (!prepared) {
        return prepared.error();
    }
    if (!prepared->id.empty()) {
        return ready_event{
            std::move(prepared->id), std::move(prepared->value), std::move(prepared->key), false};
    }
    auto id = publish::generate_event_id();
    auto rewritten = publish::prepare(
        publish::raw_event{insert_event_id(prepared->value, id), std::move(prepared->key)}, limits
    );
    if (!rewritten) {
        if (rewritten.error().code == event::errc::duplicate_field) {
            return event::invalid_event{
                event::errc::invalid_field,
                "\"id\" is null; omit it (Relay then generates one) or give a string"};
        }
        return rewritten.error();
    }
    return ready_event{std::move(id), std::move(rewritten->value), std::move(rewritten->key), true};
}

bhttp::status status_for(const event::invalid_event& e)
{
    return e.code == event::errc::too_large ? bhttp::status::payload_too_large : bhttp::status::bad_request;
}

} // namespace

// ---------------------------------------------------------------------------------------------------------
// The service

struct ingest_service::impl
{
    impl(asio::any_io_executor ex, ingest_options o, kafka::producer& p, prometheus::Registry* registry)
        : executor(std::move(ex))
        , options(std::move(o))
        , producer(p)
        , auth(options.tokens)
        , cache(options.idempotency_capacity, options.idempotency_window)
    {
        if (options.topic.empty()) {
            throw std::invalid_argument("the ingest topic (topics.events) is empty");
        }
        if (options.max_batch == 0 || options.max_pending_requests == 0) {
            throw std::invalid_argument("api.max_batch and the pending-request cap must be positive");
        }
        if (registry != nullptr) {
            auto& requests = prometheus::BuildCounter()
                                 .Name("relay_ingest_requests_total")
                                 .Help("Ingest API requests by route and HTTP status code.")
                                 .Register(*registry);
            auto& events = prometheus::BuildCounter()
                               .Name("relay_ingest_events_total")
                               .Help("Events acknowledged by Kafka through the ingest API.")
                               .Register(*registry);
            auto& durations = prometheus::BuildHistogram()
                                  .Name("relay_ingest_request_duration_seconds")
                                  .Help("Time from request to answer of the ingest API, Kafka wait included.")
                                  .Register(*registry);
            const prometheus::Histogram::BucketBoundaries buckets{
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
            for (const auto route : {route_single, route_batch}) {
                auto& m = metrics[std::string(route)];
                for (const unsigned code : {202u, 400u, 401u, 413u, 415u, 422u, 500u, 503u}) {
                    m.requests[code] =
                        &requests.Add({{"route", std::string(route)}, {"code", std::to_string(code)}});
                }
                m.other = &requests.Add({{"route", std::string(route)}, {"code", "other"}});
                m.events = &events.Add({{"route", std::string(route)}});
                m.duration = &durations.Add({{"route", std::string(route)}}, buckets);
            }
        }
    }

    struct route_metrics
    {
        std::map<unsigned, prometheus::Counter*> requests;
        prometheus::Counter* other = nullptr;
        prometheus::Counter* events = nullptr;
        prometheus::Histogram* duration = nullptr;
    };

    void observe(
        std::string_view route,
        const http::response& res,
        std::size_t events,
        std::chrono::steady_clock::time_point start
    )
    {
        const auto it = metrics.find(std::string(route));
        if (it == metrics.end()) {
            return;
        }
        auto& m = it->second;
        const auto c = m.requests.find(res.result_int());
        (c == m.requests.end() ? m.other : c->second)->Increment();
        if (res.result_int() == 202) {
            m.events->Increment(static_cast<double>(events));
        }
        m.duration->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }

    // Counts a request waiting for acknowledgements; false when the cap is reached.
    bool try_begin_pending()
    {
        auto n = pending.load(std::memory_order_relaxed);
        do {
            if (n >= options.max_pending_requests) {
                return false;
            }
        } while (!pending.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel));
        return true;
    }

    // Refusals common to both routes: auth, content type, backpressure.
    std::optional<http::response> precheck(const http::request& req, bool allow_cloudevents) const
    {
        if (!auth.check(req)) {
            return auth.unauthorized(req);
        }
        if (!json_content_type(req, allow_cloudevents)) {
            return problem(
                bhttp::status::unsupported_media_type,
                allow_cloudevents ? "send the event with Content-Type: application/json (or "
                                    "application/cloudevents+json for a structured CloudEvent)"
                                  : "send the batch with Content-Type: application/json",
                req.version()
            );
        }
        return std::nullopt;
    }

    // Produces `events` and builds the answer: 202 with every delivery, or 503 when any failed.
    asio::awaitable<http::response> produce(std::vector<ready_event>& events, bool batch, unsigned version)
    {
        std::vector<kafka::record> records;
        records.reserve(events.size());
        for (auto& e : events) {
            kafka::record r;
            r.topic = options.topic;
            r.key = e.key;
            r.value = e.value;
            records.push_back(std::move(r));
        }
        auto outcomes = co_await async_produce_all(producer, std::move(records), asio::use_awaitable);
        std::size_t acked = 0;
        boost::system::error_code first_error;
        for (const auto& o : outcomes) {
            if (!o.ec) {
                ++acked;
            } else if (!first_error && o.ec != asio::error::operation_aborted) {
                first_error = o.ec;
            } else if (!first_error) {
                first_error = o.ec;
            }
        }
        if (acked != outcomes.size()) {
            const bool queue_full = first_error == kafka::make_error_code(RD_KAFKA_RESP_ERR__QUEUE_FULL);
            log::warn(
                "ingest produce failed",
                {{"topic", options.topic},
                 {"events", outcomes.size()},
                 {"acknowledged", acked},
                 {"error", first_error.message()}}
            );
            std::string detail;
            if (queue_full) {
                detail = "Relay's Kafka producer queue is full; retry after the Retry-After delay";
            } else {
                detail = "Kafka did not acknowledge the event";
                detail += batch ? "s" : "";
                detail += " (" + first_error.message() + ")";
                if (batch) {
                    detail += "; " + std::to_string(acked) + " of " + std::to_string(outcomes.size()) +
                              " were acknowledged: retry the batch (events with their own ids are delivered "
                              "with the same webhook-id, so receivers can deduplicate)";
                } else {
                    detail += "; the event was not accepted, retry later";
                }
            }
            co_return unavailable(std::move(detail), queue_full ? "1" : "5", version);
        }
        rapidjson::StringBuffer buf;
        rapidjson::Writer<rapidjson::StringBuffer> w(buf);
        if (batch) {
            w.StartObject();
            w.Key("events");
            w.StartArray();
            for (std::size_t i = 0; i < events.size(); ++i) {
                write_delivery(w, events[i].id, outcomes[i]);
            }
            w.EndArray();
            w.EndObject();
        } else {
            write_delivery(w, events.front().id, outcomes.front());
        }
        co_return json_response(202, std::string(buf.GetString(), buf.GetSize()), version);
    }

    // Runs `produce` once per idempotency key: the owner produces and stores, repeats replay.
    asio::awaitable<http::response> once(
        std::optional<std::string> idem_key,
        std::uint64_t print,
        std::vector<ready_event>& events,
        bool batch,
        unsigned version
    )
    {
        if (!try_begin_pending()) {
            co_return unavailable(
                "too many requests are waiting for Kafka acknowledgements; retry after the Retry-After delay",
                "1",
                version
            );
        }
        struct pending_guard
        {
            std::atomic<std::size_t>& n;
            ~pending_guard() { n.fetch_sub(1, std::memory_order_acq_rel); }
        } guard{pending};

        if (!idem_key) {
            co_return co_await produce(events, batch, version);
        }
        auto claimed = cache.claim(*idem_key, print);
        if (!claimed.owner) {
            if (claimed.e->fingerprint != print) {
                co_return problem(
                    bhttp::status::unprocessable_entity,
                    "this idempotency key (the Idempotency-Key header, or the event id) was already used for "
                    "a "
                    "different request within the idempotency window; use a new key for a new request",
                    version
                );
            }
            auto stored = co_await cache.async_wait(claimed.e, asio::use_awaitable);
            if (stored.status == 202) {
                auto res = json_response(202, std::move(stored.body), version);
                res.set("Idempotent-Replayed", "true");
                co_return res;
            }
            co_return unavailable(
                "an identical request failed while this one waited for it: " + stored.body, "1", version
            );
        }
        http::response res;
        try {
            res = co_await produce(events, batch, version);
        } catch (...) {
            cache.complete(claimed.e, stored_response{500, "the server failed"}, false);
            throw;
        }
        const bool ok = res.result_int() == 202;
        // Failures are forgotten (a retry produces again); waiters get the problem detail.
        cache.complete(
            claimed.e, stored_response{res.result_int(), ok ? res.body() : std::string("Kafka failure")}, ok
        );
        co_return res;
    }

    asio::awaitable<http::response> handle_single(http::request_context& ctx)
    {
        auto& req = ctx.req;
        const unsigned version = req.version();
        if (auto refused = precheck(req, true)) {
            co_return std::move(*refused);
        }
        std::optional<std::string> key;
        if (const auto it = req.find("Relay-Key"); it != req.end()) {
            key = std::string(it->value());
        }
        const auto print = fingerprint(req.body(), key);
        std::optional<std::string> idem_key;
        if (const auto it = req.find("Idempotency-Key"); it != req.end()) {
            if (it->value().empty() || it->value().size() > 255) {
                co_return problem(
                    bhttp::status::bad_request, "Idempotency-Key must be 1 to 255 characters", version
                );
            }
            idem_key = "key:" + std::string(it->value());
        }
        if (req.body().empty()) {
            co_return problem(
                bhttp::status::bad_request,
                "the request body is empty; send the event as a JSON object",
                version
            );
        }
        auto r = ready(std::move(req.body()), std::move(key), options.limits);
        if (!r) {
            co_return problem(status_for(r.error()), "invalid event: " + r.error().reason, version);
        }
        if (!idem_key && !r->generated) {
            idem_key = "id:" + r->id;
        }
        std::vector<ready_event> events;
        events.push_back(std::move(*r));
        co_return co_await once(std::move(idem_key), print, events, false, version);
    }

    // `count` receives the number of events in a valid batch.
    asio::awaitable<http::response> handle_batch(http::request_context& ctx, std::size_t& count)
    {
        auto& req = ctx.req;
        const unsigned version = req.version();
        if (auto refused = precheck(req, false)) {
            co_return std::move(*refused);
        }
        std::optional<std::string> idem_key;
        if (const auto it = req.find("Idempotency-Key"); it != req.end()) {
            if (it->value().empty() || it->value().size() > 255) {
                co_return problem(
                    bhttp::status::bad_request, "Idempotency-Key must be 1 to 255 characters", version
                );
            }
            idem_key = "batch:" + std::string(it->value());
        }
        auto items = parse_batch(req.body(), options.max_batch, options.limits.max_depth);
        if (!items) {
            http::problem_details p;
            p.status = 400;
            p.detail = "invalid batch: " + items.error().detail;
            if (items.error().index) {
                p.errors.push_back({"/events/" + std::to_string(*items.error().index), items.error().detail});
            }
            co_return http::make_problem_response(p, version);
        }
        std::vector<ready_event> events;
        events.reserve(items->size());
        for (std::size_t i = 0; i < items->size(); ++i) {
            auto& item = (*items)[i];
            auto r = ready(std::move(item.value), std::move(item.key), options.limits);
            if (!r) {
                http::problem_details p;
                p.status = static_cast<unsigned>(status_for(r.error()));
                p.detail = "invalid batch: events[" + std::to_string(i) + "].event: " + r.error().reason +
                           "; nothing was produced";
                p.errors.push_back({"/events/" + std::to_string(i) + "/event", r.error().reason});
                co_return http::make_problem_response(p, version);
            }
            events.push_back(std::move(*r));
        }
        const auto print = fingerprint(req.body(), std::nullopt);
        count = events.size();
        co_return co_await once(std::move(idem_key), print, events, true, version);
    }

    asio::any_io_executor executor;
    ingest_options options;
    kafka::producer& producer;
    bearer_auth auth;
    idempotency_cache cache;
    std::atomic<std::size_t> pending{0};
    std::map<std::string, route_metrics> metrics;
};

ingest_service::ingest_service(
    asio::any_io_executor executor,
    const config::config& cfg,
    kafka::producer& producer,
    prometheus::Registry* registry
)
    : ingest_service(std::move(executor), ingest_options::from_config(cfg), producer, registry)
{}

ingest_service::ingest_service(
    asio::any_io_executor executor,
    ingest_options options,
    kafka::producer& producer,
    prometheus::Registry* registry
)
    : impl_(std::make_shared<impl>(std::move(executor), std::move(options), producer, registry))
{}

ingest_service::~ingest_service() = default;

void ingest_service::add_routes(http::router& routes, std::vector<route_entry>* registered)
{
    auto self = impl_;
    if (registered != nullptr) {
        registered->push_back({bhttp::verb::post, "/v1/events"});
        registered->push_back({bhttp::verb::post, "/v1/events:batch"});
    }
    routes.add(
        bhttp::verb::post,
        "/v1/events",
        http::async_handler([self](http::request_context& ctx) -> asio::awaitable<http::response> {
            const auto start = std::chrono::steady_clock::now();
            auto res = co_await self->handle_single(ctx);
            self->observe(route_single, res, 1, start);
            co_return res;
        })
    );
    routes.add(
        bhttp::verb::post,
        "/v1/events:batch",
        http::async_handler([self](http::request_context& ctx) -> asio::awaitable<http::response> {
            const auto start = std::chrono::steady_clock::now();
            std::size_t events = 0;
            auto res = co_await self->handle_batch(ctx, events);
            self->observe(route_batch, res, events, start);
            co_return res;
        })
    );
}

std::size_t ingest_service::pending_requests() const noexcept
{
    return impl_->pending.load(std::memory_order_relaxed);
}

const ingest_options& ingest_service::options() const noexcept
{
    return impl_->options;
}

http::router make_api_router(ingest_service& ingest)
{
    http::router routes;
    ingest.add_routes(routes);
    return routes;
}

} // namespace relay::api
