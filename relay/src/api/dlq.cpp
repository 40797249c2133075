#include "relay/api/dlq.hpp"

#include "relay/api/auth.hpp"
#include "relay/api/subscriptions.hpp"
#include "relay/event/duration.hpp"
#include "relay/event/timestamp.hpp"
#include "relay/http/problem.hpp"
#include "relay/log/log.hpp"
#include "relay/subscription/subscription.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>
#include <utility>
#include <variant>

namespace relay::api {

namespace bhttp = boost::beast::http;
namespace asio = boost::asio;

// ---------------------------------------------------------------------------------------------------------
// Options and request parsing

dlq_options dlq_options::from_config(const config::config& cfg)
{
    dlq_options o;
    o.tokens = cfg.api.tokens;
    o.max_json_depth = cfg.api.max_json_depth;
    o.kafka_timeout = std::max<std::chrono::milliseconds>(
        cfg.api.request_timeout - std::chrono::seconds(1), std::chrono::seconds(1)
    );
    return o;
}

namespace {

constexpr std::array all_reasons{
    delivery::dlq_reason::invalid_event,
    delivery::dlq_reason::permanent_status,
    delivery::dlq_reason::permanent_error,
    delivery::dlq_reason::gone,
    delivery::dlq_reason::exhausted,
    delivery::dlq_reason::disabled,
    delivery::dlq_reason::invalid_retry_record,
};

std::string reason_list()
{
    std::string out;
    for (const auto r : all_reasons) {
        out += out.empty() ? "" : ", ";
        out += delivery::to_string(r);
    }
    return out;
}

// At most 64 bytes of untrusted input, for messages.
std::string excerpt(std::string_view s)
{
    return std::string(s.substr(0, 64)) + (s.size() > 64 ? "..." : "");
}

dlq_request_error param_error(std::string_view name, std::string detail)
{
    return dlq_request_error{std::string(name), std::move(detail)};
}

// The filter conditions shared by the query and the body, checked the same way; `what` is "query parameter"
// or "member". Each returns an error message, or "" when the value was taken.
std::string take_subscription(std::string_view value, delivery::dlq_filter& f, std::string_view what)
{
    if (!subscription::is_valid_id(value)) {
        return std::string("the ") + std::string(what) +
               " \"subscription\" must be a subscription id (1 to 128 characters of A-Z, a-z, 0-9, '_' and "
               "'-')";
    }
    f.subscription_id = std::string(value);
    return {};
}

std::string take_reason(std::string_view value, delivery::dlq_filter& f, std::string_view what)
{
    f.reason = delivery::parse_dlq_reason(value);
    if (!f.reason) {
        return std::string("the ") + std::string(what) + " \"reason\" '" + excerpt(value) +
               "' is not a DLQ reason; one of: " + reason_list();
    }
    return {};
}

std::string take_time(
    std::string_view name,
    std::string_view value,
    std::optional<std::int64_t>& target,
    std::chrono::system_clock::time_point now,
    std::string_view what
)
{
    target = parse_dlq_time(value, now);
    if (!target) {
        return std::string("the ") + std::string(what) + " \"" + std::string(name) + "\" '" + excerpt(value) +
               "' is neither an RFC 3339 time (2026-01-02T03:04:05Z) nor a duration ago (30m, 2h, 1d)";
    }
    return {};
}

std::string limit_message(std::string_view what, std::size_t max_limit)
{
    return std::string("the ") + std::string(what) + " \"limit\" must be a whole number from 1 to " +
           std::to_string(max_limit);
}

std::optional<dlq_request_error> check_range(const delivery::dlq_filter& f, std::string_view what)
{
    if (f.since_ms && f.until_ms && *f.since_ms >= *f.until_ms) {
        return param_error(
            "since",
            std::string("the ") + std::string(what) +
                " \"since\" must be before \"until\" (since is inclusive, "
                "until exclusive)"
        );
    }
    return std::nullopt;
}

} // namespace

std::optional<std::int64_t> parse_dlq_time(std::string_view text, std::chrono::system_clock::time_point now)
{
    if (const auto t = event::parse_rfc3339(text)) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
    }
    if (const auto d = event::parse_duration(text); d && d->count() >= 0) {
        return std::chrono::duration_cast<std::chrono::milliseconds>((now - *d).time_since_epoch()).count();
    }
    return std::nullopt;
}

boost::system::result<delivery::dlq_filter, dlq_request_error> parse_dlq_query(
    std::string_view query,
    std::chrono::system_clock::time_point now,
    std::size_t default_limit,
    std::size_t max_limit
)
{
    constexpr std::string_view what = "query parameter";
    delivery::dlq_filter f;
    std::set<std::string> seen;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto part = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (part.empty()) {
            continue;
        }
        const auto eq = part.find('=');
        const auto name = http::percent_decode(part.substr(0, eq));
        const auto value =
            http::percent_decode(eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1));
        if (!name) {
            return param_error("", "the query string has an invalid percent-encoding");
        }
        if (!value) {
            return param_error(
                *name, "the query parameter \"" + excerpt(*name) + "\" has an invalid percent-encoding"
            );
        }
        static constexpr std::array known{
            std::string_view("subscription"),
            std::string_view("reason"),
            std::string_view("since"),
            std::string_view("until"),
            std::string_view("limit"),
        };
        if (std::find(known.begin(), known.end(), *name) == known.end()) {
            return param_error(
                excerpt(*name),
                "unknown query parameter \"" + excerpt(*name) +
                    "\"; the listing accepts subscription, reason, since, until and limit"
            );
        }
        if (!seen.insert(*name).second) {
            return param_error(*name, "the query parameter \"" + *name + "\" appears twice");
        }
        std::string problem;
        if (*name == "subscription") {
            problem = take_subscription(*value, f, what);
        } else if (*name == "reason") {
            problem = take_reason(*value, f, what);
        } else if (*name == "since") {
            problem = take_time("since", *value, f.since_ms, now, what);
        } else if (*name == "until") {
            problem = take_time("until", *value, f.until_ms, now, what);
        } else {
            std::size_t n = 0;
            const auto* first = value->data();
            const auto* last = first + value->size();
            const auto [ptr, ec] = std::from_chars(first, last, n);
            if (value->empty() || ec != std::errc{} || ptr != last || n < 1 || n > max_limit) {
                problem = limit_message(what, max_limit);
            } else {
                f.limit = n;
            }
        }
        if (!problem.empty()) {
            return param_error(*name, std::move(problem));
        }
    }
    if (auto bad = check_range(f, what)) {
        return std::move(*bad);
    }
    if (!f.limit) {
        f.limit = default_limit;
    }
    return f;
}

boost::system::result<dlq_redrive_request, dlq_request_error> parse_redrive_request(
    std::string_view body, std::chrono::system_clock::time_point now, const dlq_options& options
)
{
    constexpr std::string_view what = "member";
    if (!json_depth_within(body, options.max_json_depth)) {
        return param_error(
            "",
            "the body is nested deeper than " + std::to_string(options.max_json_depth) +
                " levels (api.max_json_depth)"
        );
    }
    rapidjson::Document doc;
    constexpr unsigned flags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
    doc.Parse<flags>(body.data(), body.size());
    if (doc.HasParseError()) {
        return param_error(
            "",
            "the body is not valid JSON (offset " + std::to_string(doc.GetErrorOffset()) + ": " +
                rapidjson::GetParseError_En(doc.GetParseError()) + "); send a JSON object, {} for no filter"
        );
    }
    if (!doc.IsObject()) {
        return param_error("", "the body must be a JSON object, {} for no filter");
    }
    dlq_redrive_request out;
    std::set<std::string> seen;
    for (const auto& m : doc.GetObject()) {
        const std::string name(m.name.GetString(), m.name.GetStringLength());
        const auto& v = m.value;
        if (!seen.insert(name).second) {
            return param_error(excerpt(name), "the member \"" + excerpt(name) + "\" appears twice");
        }
        const auto string_value = [&]() { return std::string_view(v.GetString(), v.GetStringLength()); };
        const auto not_string = [&]() { return "the member \"" + name + "\" must be a string"; };
        std::string problem;
        if (name == "subscription") {
            problem = v.IsString() ? take_subscription(string_value(), out.filter, what) : not_string();
        } else if (name == "reason") {
            problem = v.IsString() ? take_reason(string_value(), out.filter, what) : not_string();
        } else if (name == "since") {
            problem = v.IsString() ? take_time("since", string_value(), out.filter.since_ms, now, what)
                                   : not_string();
        } else if (name == "until") {
            problem = v.IsString() ? take_time("until", string_value(), out.filter.until_ms, now, what)
                                   : not_string();
        } else if (name == "limit") {
            // JSON Schema's "integer" admits 5.0 as well as 5.
            const bool whole = v.IsUint64() || (v.IsDouble() && std::isfinite(v.GetDouble()) &&
                                                std::floor(v.GetDouble()) == v.GetDouble());
            const double n =
                v.IsUint64() ? static_cast<double>(v.GetUint64()) : (v.IsNumber() ? v.GetDouble() : 0);
            if (!whole || n < 1 || n > static_cast<double>(options.max_redrive_limit)) {
                problem = limit_message(what, options.max_redrive_limit);
            } else {
                out.filter.limit = static_cast<std::size_t>(n);
            }
        } else if (name == "dry_run") {
            if (!v.IsBool()) {
                problem = "the member \"dry_run\" must be true or false";
            } else {
                out.dry_run = v.GetBool();
            }
        } else if (name == "rate") {
            if (!v.IsNumber() || !std::isfinite(v.GetDouble()) || v.GetDouble() < 0) {
                problem = "the member \"rate\" must be a number of records per second, 0 for unlimited";
            } else {
                out.rate = v.GetDouble();
            }
        } else {
            return param_error(
                excerpt(name),
                "unknown member \"" + excerpt(name) +
                    "\"; a redrive accepts subscription, reason, since, until, limit, dry_run and rate"
            );
        }
        if (!problem.empty()) {
            return param_error(name, std::move(problem));
        }
    }
    if (auto bad = check_range(out.filter, what)) {
        return std::move(*bad);
    }
    if (!out.filter.limit) {
        out.filter.limit = options.default_redrive_limit;
    }
    const auto budget = static_cast<double>(options.max_redrive_duration.count());
    if (out.rate > 0 && static_cast<double>(*out.filter.limit) / out.rate > budget) {
        return param_error(
            "rate",
            "the member \"rate\" paces " + std::to_string(*out.filter.limit) +
                " records (limit) over more than " + std::to_string(options.max_redrive_duration.count()) +
                " s; raise rate, lower limit, or use `relay dlq redrive` for long paced redrives"
        );
    }
    return out;
}

std::string to_json(const delivery::redrive_result& r)
{
    std::string j = "{\"dry_run\":";
    j += r.dry_run ? "true" : "false";
    j += ",\"retry_topic\":\"";
    log::append_json_escaped(j, r.retry_topic);
    j += "\",\"matched\":" + std::to_string(r.matched) + ",\"redriven\":" + std::to_string(r.redriven) +
         ",\"skipped\":" + std::to_string(r.skipped) + ",\"skipped_by_reason\":{";
    bool first = true;
    for (const auto& [why, n] : r.skipped_by_reason) {
        j += first ? "\"" : ",\"";
        first = false;
        log::append_json_escaped(j, why);
        j += "\":" + std::to_string(n);
    }
    j += "},\"failed\":" + std::to_string(r.failed);
    if (!r.first_failure.empty()) {
        j += ",\"first_failure\":\"";
        log::append_json_escaped(j, r.first_failure);
        j += '"';
    }
    j += ",\"complete\":";
    j += r.complete ? "true" : "false";
    if (r.error) {
        j += ",\"error\":\"";
        log::append_json_escaped(j, r.error->message);
        j += '"';
    }
    j += '}';
    return j;
}

// ---------------------------------------------------------------------------------------------------------
// Running blocking Kafka work off the HTTP threads

namespace {

// Runs `fn` (blocking) on `pool` and completes on the awaiting handler's executor. `fn` should capture only
// pointers and references (to the awaiting coroutine's frame, alive while it is suspended): GCC 12 destroys
// non-trivial temporaries of a co_await expression twice in some cases.
template <class Fn, class CompletionToken>
auto async_run_blocking(asio::thread_pool& pool, Fn fn, CompletionToken&& token)
{
    return asio::async_initiate<CompletionToken, void()>(
        [&pool](auto handler, Fn f) {
            auto work = asio::prefer(
                asio::get_associated_executor(handler), asio::execution::outstanding_work.tracked
            );
            asio::post(pool, [h = std::move(handler), f, work = std::move(work)]() mutable {
                f();
                asio::post(work, std::move(h));
            });
        },
        token,
        fn
    );
}

constexpr std::string_view list_path = "/v1/dlq";
constexpr std::string_view redrive_path = "/v1/dlq:redrive";

enum class route
{
    list,
    redrive,
};
constexpr std::array route_names{std::string_view("dlq_list"), std::string_view("dlq_redrive")};

http::response json_response(std::string body, unsigned version)
{
    http::response res{bhttp::status::ok, version};
    res.set(bhttp::field::content_type, "application/json");
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

http::response with_retry_after(http::response res, std::string_view seconds)
{
    res.set(bhttp::field::retry_after, seconds);
    return res;
}

http::response refused(const dlq_request_error& e, bhttp::status status, bool body_member, unsigned version)
{
    http::problem_details p;
    p.status = static_cast<unsigned>(status);
    p.detail = e.detail;
    if (body_member && !e.parameter.empty()) {
        p.errors.push_back({"/" + e.parameter, e.detail});
    }
    return http::make_problem_response(p, version);
}

// The answer to a scan or redrive that could not run.
http::response kafka_problem(const delivery::dlq_error& e, unsigned version)
{
    using delivery::dlq_errc;
    switch (e.code) {
    case dlq_errc::no_retry_tiers:
        return http::make_problem_response(
            bhttp::status::conflict,
            e.message + " (delivery.retry_schedule is empty, so there is no retry tier to redrive to)",
            version
        );
    case dlq_errc::invalid_config:
        return http::make_problem_response(
            bhttp::status::internal_server_error, "Relay's Kafka client configuration was refused", version
        );
    case dlq_errc::topic_not_found:
        return with_retry_after(
            http::make_problem_response(bhttp::status::service_unavailable, e.message, version), "30"
        );
    case dlq_errc::kafka_unavailable:
    case dlq_errc::kafka_error:
        break;
    }
    return with_retry_after(
        http::make_problem_response(
            bhttp::status::service_unavailable, "Kafka is unavailable: " + e.message, version
        ),
        "5"
    );
}

struct list_outcome
{
    boost::system::result<delivery::scan_summary, delivery::dlq_error> summary{delivery::scan_summary{}};
    std::string data; // the entries, comma-separated
    std::string exception;
};

struct redrive_outcome
{
    boost::system::result<delivery::redrive_result, delivery::dlq_error> result{delivery::redrive_result{}};
    std::string exception;
};

} // namespace

// ---------------------------------------------------------------------------------------------------------
// The service

struct dlq_service::impl
{
    impl(asio::any_io_executor ex, const config::config& c, dlq_options o, prometheus::Registry* registry)
        : executor(std::move(ex))
        , cfg(c)
        , options(std::move(o))
        , auth(options.tokens)
        , pool(std::max<std::size_t>(options.max_concurrent, 1))
    {
        if (options.default_list_limit == 0 || options.max_list_limit == 0 ||
            options.default_list_limit > options.max_list_limit || options.default_redrive_limit == 0 ||
            options.max_redrive_limit == 0 || options.default_redrive_limit > options.max_redrive_limit ||
            options.max_concurrent == 0) {
            throw std::invalid_argument("the DLQ API's limits and concurrency must be positive");
        }
        if (registry != nullptr) {
            // The API's families (same names, help and labels as ingest and subscriptions): merged.
            auto& requests = prometheus::BuildCounter()
                                 .Name("relay_ingest_requests_total")
                                 .Help("Ingest API requests by route and HTTP status code.")
                                 .Register(*registry);
            auto& durations = prometheus::BuildHistogram()
                                  .Name("relay_ingest_request_duration_seconds")
                                  .Help("Time from request to answer of the ingest API, Kafka wait included.")
                                  .Register(*registry);
            const prometheus::Histogram::BucketBoundaries buckets{
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
            for (std::size_t i = 0; i < route_names.size(); ++i) {
                const std::string name(route_names[i]);
                auto& m = metrics[i];
                for (const unsigned code : {200u, 400u, 401u, 409u, 413u, 415u, 422u, 429u, 500u, 503u}) {
                    m.requests[code] = &requests.Add({{"route", name}, {"code", std::to_string(code)}});
                }
                m.other = &requests.Add({{"route", name}, {"code", "other"}});
                m.duration = &durations.Add({{"route", name}}, buckets);
            }
        }
    }

    struct route_metrics
    {
        std::map<unsigned, prometheus::Counter*> requests;
        prometheus::Counter* other = nullptr;
        prometheus::Histogram* duration = nullptr;
    };

    void observe(route r, const http::response& res, std::chrono::steady_clock::time_point start)
    {
        auto& m = metrics[static_cast<std::size_t>(r)];
        if (m.other == nullptr) {
            return;
        }
        const auto c = m.requests.find(res.result_int());
        (c == m.requests.end() ? m.other : c->second)->Increment();
        m.duration->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }

    std::chrono::system_clock::time_point now() const
    {
        return options.clock ? options.clock() : std::chrono::system_clock::now();
    }

    // Takes one of the max_concurrent slots; false when all are taken.
    bool try_begin()
    {
        auto n = active.load(std::memory_order_relaxed);
        do {
            if (n >= options.max_concurrent) {
                return false;
            }
        } while (!active.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel));
        return true;
    }

    struct slot_guard
    {
        std::atomic<std::size_t>& n;
        ~slot_guard() { n.fetch_sub(1, std::memory_order_acq_rel); }
    };

    http::response busy(unsigned version) const
    {
        return with_retry_after(
            http::make_problem_response(
                bhttp::status::too_many_requests,
                std::to_string(options.max_concurrent) +
                    " DLQ scans or redrives are running; retry after the Retry-After delay",
                version
            ),
            "1"
        );
    }

    // GET /v1/dlq
    asio::awaitable<http::response> list(http::request_context& ctx)
    {
        const unsigned version = ctx.req.version();
        auto filter = parse_dlq_query(ctx.query, now(), options.default_list_limit, options.max_list_limit);
        if (!filter) {
            co_return refused(filter.error(), bhttp::status::bad_request, false, version);
        }
        if (!try_begin()) {
            co_return busy(version);
        }
        slot_guard guard{active};
        const auto f = std::move(*filter);
        list_outcome outcome;
        const auto job = [this, &f, &outcome]() {
            try {
                bool first = true;
                outcome.summary = delivery::scan_dlq(
                    cfg,
                    f,
                    [&](const delivery::dlq_entry& e) {
                        if (stopping.load(std::memory_order_relaxed)) {
                            return false;
                        }
                        outcome.data += first ? "" : ",";
                        first = false;
                        outcome.data += delivery::to_json(e, false);
                        return true;
                    },
                    delivery::scan_options{options.kafka_timeout, {}}
                );
            } catch (const std::exception& e) {
                outcome.exception = e.what();
            }
        };
        co_await async_run_blocking(pool, job, asio::use_awaitable);
        if (!outcome.exception.empty()) {
            log::error("dlq listing failed", {{"error", outcome.exception}});
            co_return http::make_problem_response(
                bhttp::status::internal_server_error, "the DLQ listing failed", version
            );
        }
        if (!outcome.summary) {
            log::warn(
                "dlq listing failed", {{"topic", cfg.topics.dlq}, {"error", outcome.summary.error().message}}
            );
            co_return kafka_problem(outcome.summary.error(), version);
        }
        std::string body = "{\"data\":[";
        body += outcome.data;
        body += "],\"scanned\":" + std::to_string(outcome.summary->scanned) + ",\"complete\":";
        body += outcome.summary->complete ? "true" : "false";
        body += '}';
        co_return json_response(std::move(body), version);
    }

    // POST /v1/dlq:redrive
    asio::awaitable<http::response> redrive(http::request_context& ctx)
    {
        auto& req = ctx.req;
        const unsigned version = req.version();
        const auto ct = req.find(bhttp::field::content_type);
        const std::string_view media = ct == req.end()
                                           ? std::string_view{}
                                           : std::string_view(ct->value()).substr(0, ct->value().find(';'));
        if (!boost::beast::iequals(media.substr(0, media.find_last_not_of(" \t") + 1), "application/json")) {
            co_return http::make_problem_response(
                bhttp::status::unsupported_media_type,
                "send the redrive request with Content-Type: application/json ({} for no filter)",
                version
            );
        }
        auto request = parse_redrive_request(req.body(), now(), options);
        if (!request) {
            const bool member = !request.error().parameter.empty();
            co_return refused(
                request.error(),
                member ? bhttp::status::unprocessable_entity : bhttp::status::bad_request,
                member,
                version
            );
        }
        if (!try_begin()) {
            co_return busy(version);
        }
        slot_guard guard{active};
        const auto r = std::move(*request);
        redrive_outcome outcome;
        const auto job = [this, &r, &outcome]() {
            try {
                delivery::redrive_options o;
                o.dry_run = r.dry_run;
                o.rate = r.rate;
                o.timeout = options.kafka_timeout;
                outcome.result = delivery::redrive_dlq(cfg, r.filter, o);
            } catch (const std::exception& e) {
                outcome.exception = e.what();
            }
        };
        co_await async_run_blocking(pool, job, asio::use_awaitable);
        if (!outcome.exception.empty()) {
            log::error("dlq redrive failed", {{"error", outcome.exception}});
            co_return http::make_problem_response(
                bhttp::status::internal_server_error, "the DLQ redrive failed", version
            );
        }
        if (!outcome.result) {
            log::warn(
                "dlq redrive failed", {{"topic", cfg.topics.dlq}, {"error", outcome.result.error().message}}
            );
            co_return kafka_problem(outcome.result.error(), version);
        }
        const auto& result = *outcome.result;
        log::info(
            "dlq redrive",
            {{"dry_run", result.dry_run},
             {"retry_topic", result.retry_topic},
             {"matched", result.matched},
             {"redriven", result.redriven},
             {"skipped", result.skipped},
             {"failed", result.failed},
             {"complete", result.complete}}
        );
        co_return json_response(to_json(result), version);
    }

    asio::any_io_executor executor;
    config::config cfg;
    dlq_options options;
    bearer_auth auth;
    asio::thread_pool pool;
    std::atomic<std::size_t> active{0};
    std::atomic<bool> stopping{false};
    std::array<route_metrics, route_names.size()> metrics{};
};

dlq_service::dlq_service(
    asio::any_io_executor executor,
    const config::config& cfg,
    dlq_options options,
    prometheus::Registry* registry
)
    : impl_(std::make_shared<impl>(std::move(executor), cfg, std::move(options), registry))
{}

dlq_service::dlq_service(
    asio::any_io_executor executor, const config::config& cfg, prometheus::Registry* registry
)
    : dlq_service(std::move(executor), cfg, dlq_options::from_config(cfg), registry)
{}

dlq_service::~dlq_service()
{
    impl_->stopping.store(true, std::memory_order_relaxed);
    // Listings stop at their next record; redrives in progress finish (bounded by max_redrive_duration and
    // the Kafka timeout).
    impl_->pool.join();
}

void dlq_service::add_routes(http::router& routes, std::vector<route_entry>* registered)
{
    auto self = impl_;
    if (registered != nullptr) {
        registered->push_back({bhttp::verb::get, std::string(list_path)});
        registered->push_back({bhttp::verb::post, std::string(redrive_path)});
    }
    auto guarded = [self](route r, auto body) {
        return http::async_handler(
            [self, r, body = std::move(body)](http::request_context& ctx) -> asio::awaitable<http::response> {
                const auto start = std::chrono::steady_clock::now();
                http::response res;
                if (!self->auth.check(ctx.req)) {
                    res = self->auth.unauthorized(ctx.req);
                } else {
                    res = co_await body(ctx);
                }
                self->observe(r, res, start);
                co_return res;
            }
        );
    };
    routes.add(bhttp::verb::get, list_path, guarded(route::list, [self](http::request_context& ctx) {
                   return self->list(ctx);
               }));
    routes.add(bhttp::verb::post, redrive_path, guarded(route::redrive, [self](http::request_context& ctx) {
                   return self->redrive(ctx);
               }));
}

std::size_t dlq_service::running() const noexcept
{
    return impl_->active.load(std::memory_order_relaxed);
}

const dlq_options& dlq_service::options() const noexcept
{
    return impl_->options;
}

} // namespace relay::api
