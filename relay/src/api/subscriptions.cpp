#include "relay/api/subscriptions.hpp"

#include "relay/api/auth.hpp"
#include "relay/http/problem.hpp"
#include "relay/kafka/error.hpp"
#include "relay/log/log.hpp"
#include "relay/publish/publish.hpp"
#include "relay/subscription/time.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <utility>

namespace relay::api {

namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
namespace sub = relay::subscription;

// ---------------------------------------------------------------------------------------------------------
// Options and pure helpers

subscriptions_options subscriptions_options::from_config(const config::config& cfg)
{
    subscriptions_options o;
    o.tokens = cfg.api.tokens;
    o.events_topic = cfg.topics.events;
    o.parse.allow_http = cfg.delivery.allow_http;
    o.address_policy.allow_loopback = cfg.delivery.allow_loopback;
    o.address_policy.allow_private = cfg.delivery.allow_private_networks;
    for (const auto& n : cfg.delivery.allowed_networks) {
        auto c = net::parse_cidr(n);
        if (!c) {
            throw std::invalid_argument("delivery.allowed_networks: invalid network '" + n + "'");
        }
        o.address_policy.allow.push_back(*c);
    }
    o.request_timeout = cfg.api.request_timeout;
    o.secret_rotation_overlap = cfg.api.secret_rotation_overlap;
    o.max_json_depth = cfg.api.max_json_depth;
    o.parse.max_depth = std::min(o.parse.max_depth, cfg.api.max_json_depth);
    return o;
}

namespace {

bool is_valid_tenant(std::string_view t) noexcept
{
    return !t.empty() && t.size() <= 128 && std::all_of(t.begin(), t.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
               c == '-' || c == '.';
    });
}

} // namespace

boost::system::result<list_query, std::string>
parse_list_query(std::string_view query, std::size_t default_limit, std::size_t max_limit)
{
    list_query q;
    q.limit = default_limit;
    bool seen_limit = false;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto part = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (part.empty()) {
            continue;
        }
        const auto eq = part.find('=');
        auto name = http::percent_decode(part.substr(0, eq));
        auto value =
            http::percent_decode(eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1));
        if (!name || !value) {
            return std::string("the query string has an invalid percent-encoding");
        }
        if (*name == "limit") {
            if (seen_limit) {
                return std::string("the query parameter \"limit\" appears twice");
            }
            seen_limit = true;
            std::size_t n = 0;
            const auto* first = value->data();
            const auto* last = first + value->size();
            const auto [ptr, ec] = std::from_chars(first, last, n);
            if (value->empty() || ec != std::errc{} || ptr != last || n < 1 || n > max_limit) {
                return "the query parameter \"limit\" must be a whole number from 1 to " +
                       std::to_string(max_limit);
            }
            q.limit = n;
        } else if (*name == "after") {
            if (q.after) {
                return std::string("the query parameter \"after\" appears twice");
            }
            if (!sub::is_valid_id(*value)) {
                return std::string("the query parameter \"after\" is not a cursor returned as \"next\" by a "
                                   "previous page");
            }
            q.after = std::move(*value);
        } else if (*name == "tenant") {
            if (q.tenant) {
                return std::string("the query parameter \"tenant\" appears twice");
            }
            if (!is_valid_tenant(*value)) {
                return std::string("the query parameter \"tenant\" must be 1 to 128 characters of A-Z, a-z, "
                                   "0-9, '_', '-' and '.'");
            }
            q.tenant = std::move(*value);
        } else {
            return "unknown query parameter \"" + name->substr(0, 64) +
                   "\"; the listing accepts limit, after and tenant";
        }
    }
    return q;
}

void merge_patch(
    rapidjson::Value& target, const rapidjson::Value& patch, rapidjson::Document::AllocatorType& allocator
)
{
    if (!patch.IsObject()) {
        target.CopyFrom(patch, allocator);
        return;
    }
    if (!target.IsObject()) {
        target.SetObject();
    }
    for (auto m = patch.MemberBegin(); m != patch.MemberEnd(); ++m) {
        const auto it = target.FindMember(m->name);
        if (m->value.IsNull()) {
            if (it != target.MemberEnd()) {
                target.EraseMember(it);
            }
            continue;
        }
        if (it != target.MemberEnd()) {
            merge_patch(it->value, m->value, allocator);
            continue;
        }
        rapidjson::Value name(m->name, allocator);
        rapidjson::Value value;
        merge_patch(value, m->value, allocator);
        target.AddMember(name, value, allocator);
    }
}

bool json_depth_within(std::string_view json, std::size_t max_depth) noexcept
{
    std::size_t depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (const char c : json) {
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max_depth) {
                return false;
            }
        } else if ((c == '}' || c == ']') && depth > 0) {
            --depth;
        }
    }
    return true;
}

std::vector<sub::secret_entry> rotate_secrets(
    const std::vector<sub::secret_entry>& current,
    webhook::secret fresh,
    sub::timestamp now,
    std::chrono::milliseconds overlap,
    std::size_t max_secrets
)
{
    std::vector<sub::secret_entry> out;
    out.push_back(sub::secret_entry{std::move(fresh), std::nullopt});
    const auto until = now + overlap;
    for (const auto& e : current) {
        if (!e.active_at(now) || e.secret.text == out.front().secret.text) {
            continue;
        }
        auto expires = e.expires_at && *e.expires_at < until ? *e.expires_at : until;
        if (expires <= now) {
            continue;
        }
        out.push_back(sub::secret_entry{e.secret, expires});
    }
    // Over the cap: the previous secrets that expire soonest go first (receivers have moved on from them).
    while (out.size() > std::max<std::size_t>(max_secrets, 1)) {
        auto soonest = std::min_element(out.begin() + 1, out.end(), [](const auto& a, const auto& b) {
            return *a.expires_at < *b.expires_at;
        });
        out.erase(soonest);
    }
    return out;
}

std::optional<sub::problem> check_url_policy(const sub::subscription& s, const net::address_policy& policy)
{
    const auto& host = s.endpoint.host;
    if (s.endpoint.host_is_literal) {
        const auto addr = net::parse_ip_literal(host);
        if (!addr) {
            return sub::problem{"/url", "the host is not a valid IP address"};
        }
        if (const auto ec = policy.check(*addr)) {
            return sub::problem{
                "/url",
                ec.message() + " (delivery.allow_loopback, delivery.allow_private_networks and "
                               "delivery.allowed_networks open destinations)"};
        }
        return std::nullopt;
    }
    if ((host == "localhost" || host.ends_with(".localhost")) && !policy.allow_loopback) {
        return sub::problem{
            "/url",
            "destination host localhost is loopback, not allowed by the address policy "
            "(delivery.allow_loopback)"};
    }
    return std::nullopt;
}

// ---------------------------------------------------------------------------------------------------------
// The service

namespace {

constexpr std::string_view collection_path = "/v1/subscriptions";
constexpr std::string_view item_pattern = "/v1/subscriptions/{id}";

// Route labels of the request metrics: one per endpoint (bounded).
constexpr std::array route_names{
    std::string_view("subscriptions_create"),
    std::string_view("subscriptions_list"),
    std::string_view("subscriptions_get"),
    std::string_view("subscriptions_patch"),
    std::string_view("subscriptions_delete"),
    std::string_view("subscriptions_rotate_secret"),
    std::string_view("subscriptions_enable"),
    std::string_view("subscriptions_disable"),
    std::string_view("subscriptions_test"),
    std::string_view("subscriptions_unknown_action"),
};

enum class route
{
    create,
    list,
    get,
    patch,
    remove,
    rotate_secret,
    enable,
    disable,
    test,
    unknown_action,
};

// The `:action` suffixes of POST /v1/subscriptions/{id}:<action>: dispatch and the registered operations.
constexpr std::array<std::pair<std::string_view, route>, 4> actions{{
    {"rotate-secret", route::rotate_secret},
    {"enable", route::enable},
    {"disable", route::disable},
    {"test", route::test},
}};

std::string_view trim(std::string_view s) noexcept
{
    constexpr std::string_view ws = " \t";
    const auto first = s.find_first_not_of(ws);
    if (first == std::string_view::npos) {
        return {};
    }
    return s.substr(first, s.find_last_not_of(ws) - first + 1);
}

// True when the Content-Type is one of `accepted` (parameters ignored).
bool content_type_is(const http::request& req, std::initializer_list<std::string_view> accepted)
{
    const auto it = req.find(bhttp::field::content_type);
    if (it == req.end()) {
        return false;
    }
    const std::string_view value = it->value();
    const auto media = trim(value.substr(0, value.find(';')));
    return std::any_of(accepted.begin(), accepted.end(), [&](std::string_view a) {
        return boost::beast::iequals(media, a);
    });
}

http::response json_response(unsigned status, std::string body, unsigned version)
{
    http::response res{static_cast<bhttp::status>(status), version};
    res.set(bhttp::field::content_type, "application/json");
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

http::response problem(bhttp::status status, std::string_view detail, unsigned version)
{
    return http::make_problem_response(status, detail, version);
}

http::response invalid(const sub::problem_list& problems, std::string_view what, unsigned version)
{
    http::problem_details p;
    p.status = 422;
    p.detail = std::string(what);
    for (std::size_t i = 0; i < problems.size() && i < 5; ++i) {
        p.detail += i == 0 ? ": " : "; ";
        p.detail += problems[i].to_string();
    }
    if (problems.size() > 5) {
        p.detail += "; and " + std::to_string(problems.size() - 5) + " more (see errors)";
    }
    for (const auto& pr : problems) {
        p.errors.push_back({pr.pointer, pr.message});
    }
    return http::make_problem_response(p, version);
}

http::response invalid(const sub::problem& pr, std::string_view what, unsigned version)
{
    return invalid(sub::problem_list{pr}, what, version);
}

http::response unavailable(std::string_view detail, std::string_view retry_after, unsigned version)
{
    auto res = problem(bhttp::status::service_unavailable, detail, version);
    res.set(bhttp::field::retry_after, retry_after);
    return res;
}

// Parses an untrusted request body: nesting bounded before the (iterative) parser runs.
std::optional<http::response>
parse_body(std::string_view body, std::size_t max_depth, rapidjson::Document& doc, unsigned version)
{
    if (!json_depth_within(body, max_depth)) {
        return problem(
            bhttp::status::bad_request,
            "the body is nested deeper than " + std::to_string(max_depth) + " levels (api.max_json_depth)",
            version
        );
    }
    constexpr unsigned flags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
    doc.Parse<flags>(body.data(), body.size());
    if (doc.HasParseError()) {
        return problem(
            bhttp::status::bad_request,
            "the body is not valid JSON (offset " + std::to_string(doc.GetErrorOffset()) + ": " +
                rapidjson::GetParseError_En(doc.GetParseError()) + ")",
            version
        );
    }
    if (!doc.IsObject()) {
        return problem(bhttp::status::bad_request, "the body must be a JSON object", version);
    }
    return std::nullopt;
}

std::string_view view(const rapidjson::Value& v)
{
    return {v.GetString(), v.GetStringLength()};
}

// The masked JSON of `s` with its secrets in full: the answer of create and rotate (header values and the
// signing key stay masked; they are not needed again by the caller).
std::string revealed_json(const sub::subscription& s)
{
    rapidjson::Document doc;
    const auto masked = sub::to_json(s, sub::secret_mode::masked);
    doc.Parse(masked.data(), masked.size());
    auto& a = doc.GetAllocator();
    rapidjson::Value secrets(rapidjson::kArrayType);
    for (const auto& e : s.secrets) {
        rapidjson::Value item(rapidjson::kObjectType);
        item.AddMember(
            "secret",
            rapidjson::Value(e.secret.text.data(), static_cast<rapidjson::SizeType>(e.secret.text.size()), a),
            a
        );
        if (e.expires_at) {
            const auto t = sub::format_timestamp(*e.expires_at);
            item.AddMember(
                "expires_at", rapidjson::Value(t.data(), static_cast<rapidjson::SizeType>(t.size()), a), a
            );
        }
        secrets.PushBack(item, a);
    }
    if (auto it = doc.FindMember("secrets"); it != doc.MemberEnd()) {
        it->value = secrets;
    } else {
        doc.AddMember("secrets", secrets, a);
    }
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    doc.Accept(w);
    return std::string(buf.GetString(), buf.GetSize());
}

} // namespace

struct subscriptions_service::impl
{
    impl(
        asio::any_io_executor ex,
        subscriptions_options o,
        sub::writer& w,
        sub::follower& f,
        kafka::producer& p,
        prometheus::Registry* registry
    )
        : executor(std::move(ex))
        , options(std::move(o))
        , writer(w)
        , follower(f)
        , producer(p)
        , auth(options.tokens)
    {
        if (options.events_topic.empty()) {
            throw std::invalid_argument("the events topic (topics.events) is empty");
        }
        if (options.default_page_size == 0 || options.max_page_size == 0 ||
            options.default_page_size > options.max_page_size) {
            throw std::invalid_argument("the page sizes of subscription listings must be positive");
        }
        if (registry != nullptr) {
            // The ingest API's families (same names, help and labels): the registry merges them.
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
                for (const unsigned code :
                     {200u,
                      201u,
                      202u,
                      204u,
                      400u,
                      401u,
                      404u,
                      405u,
                      409u,
                      413u,
                      415u,
                      422u,
                      500u,
                      503u,
                      504u}) {
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

    sub::timestamp now() const
    {
        if (options.clock) {
            return options.clock();
        }
        return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
    }

    // Parse options of API requests: ids and secrets generated, server fields refused.
    sub::parse_options request_parse_options() const
    {
        auto o = options.parse;
        o.id = sub::when_missing::generate;
        o.secrets = sub::when_missing::generate;
        o.accept_server_fields = false;
        return o;
    }

    // Marks `id` as being changed by this request; released by the guard. One change per id at a time, so a
    // read-modify-write (patch, rotate) cannot lose a concurrent one made through this service.
    class id_claim
    {
    public:
        id_claim(impl& self, std::string id)
            : self_(&self)
            , id_(std::move(id))
        {
            std::lock_guard lock(self_->claims_mutex);
            owned_ = self_->claims.insert(id_).second;
        }
        ~id_claim()
        {
            if (owned_) {
                std::lock_guard lock(self_->claims_mutex);
                self_->claims.erase(id_);
            }
        }
        id_claim(const id_claim&) = delete;
        id_claim& operator=(const id_claim&) = delete;
        bool owned() const noexcept { return owned_; }

    private:
        impl* self_;
        std::string id_;
        bool owned_ = false;
    };

    static http::response busy(std::string_view id, unsigned version)
    {
        return problem(
            bhttp::status::conflict,
            "another change to subscription " + std::string(id) +
                " is in progress; retry when it has completed",
            version
        );
    }

    static http::response not_found(std::string_view id, unsigned version)
    {
        return problem(
            bhttp::status::not_found,
            sub::is_valid_id(id)
                ? "no subscription with id " + std::string(id)
                : std::string("no such subscription (ids are 1 to 128 characters of A-Z, a-z, "
                              "0-9, '_' and '-')"),
            version
        );
    }

    static http::response read_only(std::string_view id, unsigned version)
    {
        return problem(
            bhttp::status::conflict,
            "subscription " + std::string(id) +
                " comes from the configuration file (static) and is read-only through the API; change it "
                "in the config (or Helm values) and restart",
            version
        );
    }

    // Stores `s` (or deletes `id` when `s` is empty), then waits until the follower has applied the change.
    // nullopt on success; otherwise the error answer.
    asio::awaitable<std::optional<http::response>> commit(
        const sub::subscription* s,
        std::string_view id,
        std::chrono::steady_clock::time_point deadline,
        unsigned version
    )
    {
        boost::system::error_code ec;
        kafka::delivery_info info;
        if (s != nullptr) {
            std::tie(ec, info) = co_await writer.async_put(*s, asio::as_tuple(asio::use_awaitable));
        } else {
            std::tie(ec, info) = co_await writer.async_remove(id, asio::as_tuple(asio::use_awaitable));
        }
        if (ec) {
            log::warn(
                "subscription write failed",
                {{"subscription", std::string(id)}, {"topic", writer.topic()}, {"error", ec.message()}}
            );
            if (ec == asio::error::invalid_argument) {
                co_return problem(
                    bhttp::status::internal_server_error, "the subscription could not be stored", version
                );
            }
            const bool queue_full = ec == kafka::make_error_code(RD_KAFKA_RESP_ERR__QUEUE_FULL);
            co_return unavailable(
                "Kafka did not acknowledge the change (" + ec.message() +
                    "); nothing was changed, retry after the Retry-After delay",
                queue_full ? "1" : "5",
                version
            );
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now()
        );
        const auto [wec] = co_await follower.async_wait_applied(
            info.partition,
            info.offset,
            std::max(left, std::chrono::milliseconds(100)),
            asio::as_tuple(asio::use_awaitable)
        );
        if (wec) {
            log::warn(
                "subscription change not read back in time",
                {{"subscription", std::string(id)},
                 {"partition", info.partition},
                 {"offset", info.offset},
                 {"error", wec.message()}}
            );
            co_return problem(
                bhttp::status::gateway_timeout,
                "the change was acknowledged by Kafka (so it is stored and takes effect) but this server did "
                "not read it back within the request timeout; check it with GET /v1/subscriptions/" +
                    std::string(id),
                version
            );
        }
        log::info(
            s != nullptr ? "subscription stored" : "subscription deleted",
            {{"subscription", std::string(id)}, {"partition", info.partition}, {"offset", info.offset}}
        );
        co_return std::nullopt;
    }

    std::chrono::steady_clock::time_point deadline() const
    {
        return std::chrono::steady_clock::now() + options.request_timeout;
    }

    // POST /v1/subscriptions
    asio::awaitable<http::response> create(http::request_context& ctx)
    {
        auto& req = ctx.req;
        const unsigned version = req.version();
        if (!content_type_is(req, {"application/json"})) {
            co_return problem(
                bhttp::status::unsupported_media_type,
                "send the subscription with Content-Type: application/json",
                version
            );
        }
        if (req.body().size() > options.parse.max_bytes) {
            co_return problem(
                bhttp::status::payload_too_large,
                "a subscription is at most " + std::to_string(options.parse.max_bytes) + " bytes of JSON",
                version
            );
        }
        rapidjson::Document doc;
        if (auto bad = parse_body(req.body(), options.max_json_depth, doc, version)) {
            co_return std::move(*bad);
        }
        auto parsed = sub::parse_subscription(doc, request_parse_options());
        if (!parsed) {
            co_return invalid(parsed.error(), "invalid subscription", version);
        }
        auto s = std::move(*parsed);
        if (auto refused = check_url_policy(s, options.address_policy)) {
            co_return invalid(*refused, "invalid subscription", version);
        }
        const auto t = now();
        s.created_at = t;
        s.updated_at = t;
        if (!s.enabled) {
            s.disabled_reason = sub::disable_reason::manual;
        }
        id_claim claim(*this, s.id);
        if (!claim.owned()) {
            co_return busy(s.id, version);
        }
        if (follower.find(s.id)) {
            co_return problem(
                bhttp::status::conflict,
                "a subscription with id " + s.id +
                    " already exists; choose another id, omit it to get a generated one, or change the "
                    "existing one with PATCH",
                version
            );
        }
        if (auto failed = co_await commit(&s, s.id, deadline(), version)) {
            co_return std::move(*failed);
        }
        auto res = json_response(201, revealed_json(s), version);
        res.set(bhttp::field::location, std::string(collection_path) + "/" + s.id);
        co_return res;
    }

    // GET /v1/subscriptions
    http::response list(http::request_context& ctx) const
    {
        const unsigned version = ctx.req.version();
        auto q = parse_list_query(ctx.query, options.default_page_size, options.max_page_size);
        if (!q) {
            return problem(bhttp::status::bad_request, q.error(), version);
        }
        const auto all = follower.snapshot();
        rapidjson::StringBuffer buf;
        rapidjson::Writer<rapidjson::StringBuffer> w(buf);
        w.StartObject();
        w.Key("data");
        w.StartArray();
        std::size_t n = 0;
        const sub::subscription* last = nullptr;
        bool more = false;
        for (const auto& s : all) {
            if (q->after && s->id <= *q->after) {
                continue;
            }
            if (q->tenant && s->tenant != q->tenant) {
                continue;
            }
            if (n == q->limit) {
                more = true;
                break;
            }
            sub::write_json(w, *s, sub::secret_mode::masked);
            last = s.get();
            ++n;
        }
        w.EndArray();
        w.Key("next");
        if (more && last != nullptr) {
            w.String(last->id.data(), static_cast<rapidjson::SizeType>(last->id.size()));
        } else {
            w.Null();
        }
        w.EndObject();
        return json_response(200, std::string(buf.GetString(), buf.GetSize()), version);
    }

    // GET /v1/subscriptions/{id}
    http::response get(http::request_context& ctx) const
    {
        const unsigned version = ctx.req.version();
        const auto id = ctx.params["id"];
        const auto s = sub::is_valid_id(id) ? follower.find(id) : nullptr;
        if (!s) {
            return not_found(id, version);
        }
        return json_response(200, sub::to_json(*s, sub::secret_mode::masked), version);
    }

    // The current subscription for a change: null with `refusal` set when absent, static or busy.
    sub::subscription_ptr
    changeable(std::string_view id, unsigned version, std::optional<http::response>& refusal) const
    {
        const auto s = sub::is_valid_id(id) ? follower.find(id) : nullptr;
        if (!s) {
            refusal = not_found(id, version);
            return nullptr;
        }
        if (follower.is_static(id)) {
            refusal = read_only(id, version);
            return nullptr;
        }
        return s;
    }

    // PATCH /v1/subscriptions/{id}
    asio::awaitable<http::response> patch(http::request_context& ctx)
    {
        auto& req = ctx.req;
        const unsigned version = req.version();
        const std::string id(ctx.params["id"]);
        std::optional<http::response> refusal;
        if (!changeable(id, version, refusal)) {
            co_return std::move(*refusal);
        }
        if (!content_type_is(req, {"application/merge-patch+json", "application/json"})) {
            co_return problem(
                bhttp::status::unsupported_media_type,
                "send a JSON merge patch (RFC 7396) with Content-Type: application/merge-patch+json (or "
                "application/json)",
                version
            );
        }
        if (req.body().size() > options.parse.max_bytes) {
            co_return problem(
                bhttp::status::payload_too_large,
                "a patch is at most " + std::to_string(options.parse.max_bytes) + " bytes of JSON",
                version
            );
        }
        rapidjson::Document patch_doc;
        if (auto bad = parse_body(req.body(), options.max_json_depth, patch_doc, version)) {
            co_return std::move(*bad);
        }
        sub::problem_list problems;
        std::set<std::string_view> names;
        std::optional<bool> enabled;
        for (auto m = patch_doc.MemberBegin(); m != patch_doc.MemberEnd(); ++m) {
            const auto name = view(m->name);
            const auto ptr = "/" + std::string(name.substr(0, 64));
            if (!names.insert(name).second) {
                problems.push_back({ptr, "duplicate field"});
            } else if (name == "id") {
                if (!m->value.IsString() || view(m->value) != id) {
                    problems.push_back({ptr, "is immutable; create a new subscription for another id"});
                }
            } else if (name == "secret" || name == "secrets" || name == "signing_key") {
                problems.push_back(
                    {ptr,
                     "cannot be patched; rotate secrets with POST /v1/subscriptions/" + id + ":rotate-secret"}
                );
            } else if (name == "created_at" || name == "updated_at" || name == "disabled_reason") {
                problems.push_back({ptr, "is read-only (maintained by Relay)"});
            } else if (name == "enabled" && m->value.IsBool()) {
                enabled = m->value.GetBool();
            }
        }
        if (!problems.empty()) {
            co_return invalid(problems, "invalid patch", version);
        }
        id_claim claim(*this, id);
        if (!claim.owned()) {
            co_return busy(id, version);
        }
        // Read again under the claim: the follower has applied every change made through this service.
        const auto current = changeable(id, version, refusal);
        if (!current) {
            co_return std::move(*refusal);
        }
        rapidjson::Document target;
        const auto stored = sub::to_json(*current, sub::secret_mode::full);
        target.Parse(stored.data(), stored.size());
        merge_patch(target, patch_doc, target.GetAllocator());
        auto& a = target.GetAllocator();
        if (enabled) {
            target.RemoveMember("disabled_reason");
            if (!*enabled) {
                const auto reason = current->disabled_reason.value_or(sub::disable_reason::manual);
                const auto text = sub::to_string(current->enabled ? sub::disable_reason::manual : reason);
                target.AddMember(
                    "disabled_reason",
                    rapidjson::Value(text.data(), static_cast<rapidjson::SizeType>(text.size()), a),
                    a
                );
            }
        }
        auto parsed = sub::parse_subscription(target, sub::stored_parse_options(options.parse));
        if (!parsed) {
            co_return invalid(parsed.error(), "invalid subscription after the patch", version);
        }
        auto s = std::move(*parsed);
        if (auto bad_url = check_url_policy(s, options.address_policy)) {
            co_return invalid(*bad_url, "invalid subscription after the patch", version);
        }
        s.updated_at = now();
        if (auto failed = co_await commit(&s, id, deadline(), version)) {
            co_return std::move(*failed);
        }
        co_return json_response(200, sub::to_json(s, sub::secret_mode::masked), version);
    }

    // DELETE /v1/subscriptions/{id}
    asio::awaitable<http::response> remove(http::request_context& ctx)
    {
        const unsigned version = ctx.req.version();
        const std::string id(ctx.params["id"]);
        std::optional<http::response> refusal;
        if (!changeable(id, version, refusal)) {
            co_return std::move(*refusal);
        }
        id_claim claim(*this, id);
        if (!claim.owned()) {
            co_return busy(id, version);
        }
        if (auto failed = co_await commit(nullptr, id, deadline(), version)) {
            co_return std::move(*failed);
        }
        http::response res{bhttp::status::no_content, version};
        co_return res;
    }

    // POST /v1/subscriptions/{id}:rotate-secret
    asio::awaitable<http::response> rotate(http::request_context& ctx, const std::string& id)
    {
        auto& req = ctx.req;
        const unsigned version = req.version();
        std::optional<http::response> refusal;
        if (!changeable(id, version, refusal)) {
            co_return std::move(*refusal);
        }
        std::optional<webhook::secret> fresh;
        auto overlap = options.secret_rotation_overlap;
        if (!trim(req.body()).empty()) {
            if (!content_type_is(req, {"application/json"})) {
                co_return problem(
                    bhttp::status::unsupported_media_type,
                    "send the rotation options with Content-Type: application/json",
                    version
                );
            }
            rapidjson::Document doc;
            if (auto bad = parse_body(req.body(), options.max_json_depth, doc, version)) {
                co_return std::move(*bad);
            }
            sub::problem_list problems;
            for (auto m = doc.MemberBegin(); m != doc.MemberEnd(); ++m) {
                const auto name = view(m->name);
                if (name == "secret") {
                    if (!m->value.IsString()) {
                        problems.push_back({"/secret", "must be a secret \"whsec_...\""});
                    } else if (auto parsed = webhook::parse_secret(view(m->value))) {
                        fresh = std::move(*parsed);
                    } else {
                        problems.push_back({"/secret", parsed.error().message()});
                    }
                } else if (name == "overlap") {
                    const auto d = m->value.IsString() ? sub::parse_duration(view(m->value)) : std::nullopt;
                    if (!d || *d > options.max_rotation_overlap) {
                        problems.push_back(
                            {"/overlap",
                             "must be a duration from \"0s\" to \"" +
                                 sub::format_duration(options.max_rotation_overlap) +
                                 "\" such as \"1h\" (how long the previous secrets keep signing)"}
                        );
                    } else {
                        overlap = *d;
                    }
                } else {
                    problems.push_back(
                        {"/" + std::string(name.substr(0, 64)),
                         "unknown field; the body may hold \"secret\" and \"overlap\""}
                    );
                }
            }
            if (!problems.empty()) {
                co_return invalid(problems, "invalid rotation request", version);
            }
        }
        if (!fresh) {
            fresh = webhook::generate_secret();
        }
        id_claim claim(*this, id);
        if (!claim.owned()) {
            co_return busy(id, version);
        }
        const auto current = changeable(id, version, refusal);
        if (!current) {
            co_return std::move(*refusal);
        }
        const auto t = now();
        if (std::any_of(current->secrets.begin(), current->secrets.end(), [&](const auto& e) {
                return e.active_at(t) && e.secret.text == fresh->text;
            })) {
            co_return invalid(
                sub::problem{"/secret", "is already a secret of this subscription; give a new one"},
                "invalid rotation request",
                version
            );
        }
        auto s = *current;
        s.secrets =
            rotate_secrets(current->secrets, std::move(*fresh), t, overlap, options.parse.max_secrets);
        s.updated_at = t;
        if (auto failed = co_await commit(&s, id, deadline(), version)) {
            co_return std::move(*failed);
        }
        co_return json_response(200, revealed_json(s), version);
    }

    // POST /v1/subscriptions/{id}:enable and :disable
    asio::awaitable<http::response>
    set_enabled(http::request_context& ctx, const std::string& id, bool enable)
    {
        const unsigned version = ctx.req.version();
        std::optional<http::response> refusal;
        if (!changeable(id, version, refusal)) {
            co_return std::move(*refusal);
        }
        id_claim claim(*this, id);
        if (!claim.owned()) {
            co_return busy(id, version);
        }
        const auto current = changeable(id, version, refusal);
        if (!current) {
            co_return std::move(*refusal);
        }
        if (current->enabled == enable) {
            co_return json_response(200, sub::to_json(*current, sub::secret_mode::masked), version);
        }
        auto s = *current;
        s.enabled = enable;
        s.disabled_reason = enable ? std::nullopt : std::optional(sub::disable_reason::manual);
        s.updated_at = now();
        if (auto failed = co_await commit(&s, id, deadline(), version)) {
            co_return std::move(*failed);
        }
        co_return json_response(200, sub::to_json(s, sub::secret_mode::masked), version);
    }

    // POST /v1/subscriptions/{id}:test
    asio::awaitable<http::response> test(http::request_context& ctx, const std::string& id)
    {
        const unsigned version = ctx.req.version();
        const auto s = sub::is_valid_id(id) ? follower.find(id) : nullptr;
        if (!s) {
            co_return not_found(id, version);
        }
        if (!s->enabled) {
            co_return problem(
                bhttp::status::conflict,
                "subscription " + id + " is disabled; enable it (POST /v1/subscriptions/" + id +
                    ":enable) before sending a test event",
                version
            );
        }
        const auto event_id = "evt_test_" + publish::generate_event_id().substr(4);
        const auto ts = sub::format_timestamp(now());
        rapidjson::StringBuffer buf;
        rapidjson::Writer<rapidjson::StringBuffer> w(buf);
        w.StartObject();
        w.Key("id");
        w.String(event_id.data(), static_cast<rapidjson::SizeType>(event_id.size()));
        w.Key("type");
        w.String("relay.test");
        w.Key("timestamp");
        w.String(ts.data(), static_cast<rapidjson::SizeType>(ts.size()));
        w.Key("data");
        w.StartObject();
        w.Key("subscription_id");
        w.String(id.data(), static_cast<rapidjson::SizeType>(id.size()));
        w.EndObject();
        w.EndObject();
        kafka::record rec;
        rec.topic = options.events_topic;
        rec.key = id;
        rec.value = std::string(buf.GetString(), buf.GetSize());
        rec.headers.emplace_back(std::string(target_subscription_header), id);
        const auto [ec, info] =
            co_await producer.async_produce(std::move(rec), asio::as_tuple(asio::use_awaitable));
        if (ec) {
            log::warn(
                "test event not produced",
                {{"subscription", id}, {"topic", options.events_topic}, {"error", ec.message()}}
            );
            co_return unavailable(
                "Kafka did not acknowledge the test event (" + ec.message() + "); retry later", "5", version
            );
        }
        log::info(
            "test event produced",
            {{"subscription", id},
             {"event", event_id},
             {"partition", info.partition},
             {"offset", info.offset}}
        );
        rapidjson::StringBuffer out;
        rapidjson::Writer<rapidjson::StringBuffer> ow(out);
        ow.StartObject();
        ow.Key("event_id");
        ow.String(event_id.data(), static_cast<rapidjson::SizeType>(event_id.size()));
        ow.EndObject();
        co_return json_response(202, std::string(out.GetString(), out.GetSize()), version);
    }

    // Which endpoint a POST /v1/subscriptions/{id}:action is, and the id.
    static route action_of(std::string_view target, std::string& id)
    {
        const auto colon = target.find(':');
        id = std::string(target.substr(0, colon));
        if (colon == std::string_view::npos) {
            return route::unknown_action;
        }
        const auto action = target.substr(colon + 1);
        for (const auto& [name, r] : actions) {
            if (action == name) {
                return r;
            }
        }
        return route::unknown_action;
    }

    asio::awaitable<http::response> action(http::request_context& ctx, route r, const std::string& id)
    {
        switch (r) {
        case route::rotate_secret:
            co_return co_await rotate(ctx, id);
        case route::enable:
            co_return co_await set_enabled(ctx, id, true);
        case route::disable:
            co_return co_await set_enabled(ctx, id, false);
        case route::test:
            co_return co_await test(ctx, id);
        default:
            break;
        }
        co_return problem(
            bhttp::status::not_found,
            "unknown action; POST /v1/subscriptions/{id}:rotate-secret, :enable, :disable or :test",
            ctx.req.version()
        );
    }

    asio::any_io_executor executor;
    subscriptions_options options;
    sub::writer& writer;
    sub::follower& follower;
    kafka::producer& producer;
    bearer_auth auth;
    std::array<route_metrics, route_names.size()> metrics{};
    std::mutex claims_mutex;
    std::set<std::string, std::less<>> claims;
};

subscriptions_service::subscriptions_service(
    asio::any_io_executor executor,
    subscriptions_options options,
    sub::writer& writer,
    sub::follower& follower,
    kafka::producer& producer,
    prometheus::Registry* registry
)
    : impl_(std::make_shared<impl>(
          std::move(executor), std::move(options), writer, follower, producer, registry
      ))
{}

subscriptions_service::subscriptions_service(
    asio::any_io_executor executor,
    const config::config& cfg,
    sub::writer& writer,
    sub::follower& follower,
    kafka::producer& producer,
    prometheus::Registry* registry
)
    : subscriptions_service(
          std::move(executor), subscriptions_options::from_config(cfg), writer, follower, producer, registry
      )
{}

subscriptions_service::~subscriptions_service() = default;

const subscriptions_options& subscriptions_service::options() const noexcept
{
    return impl_->options;
}

void subscriptions_service::add_routes(http::router& routes, std::vector<route_entry>* registered)
{
    auto self = impl_;
    if (registered != nullptr) {
        const std::string item(item_pattern);
        registered->push_back({bhttp::verb::post, std::string(collection_path)});
        registered->push_back({bhttp::verb::get, std::string(collection_path)});
        registered->push_back({bhttp::verb::get, item});
        registered->push_back({bhttp::verb::patch, item});
        registered->push_back({bhttp::verb::delete_, item});
        for (const auto& [name, r] : actions) {
            registered->push_back({bhttp::verb::post, item + ":" + std::string(name)});
        }
    }
    // Wraps a handler with auth and metrics.
    auto guarded = [self](route r, auto&& body) {
        return http::async_handler(
            [self, r, body = std::forward<decltype(body)>(body)](http::request_context& ctx
            ) -> asio::awaitable<http::response> {
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
    routes.add(bhttp::verb::post, collection_path, guarded(route::create, [self](http::request_context& ctx) {
                   return self->create(ctx);
               }));
    routes.add(
        bhttp::verb::get,
        collection_path,
        guarded(
            route::list,
            [self](http::request_context& ctx) -> asio::awaitable<http::response> {
                co_return self->list(ctx);
            }
        )
    );
    routes.add(
        bhttp::verb::get,
        item_pattern,
        guarded(
            route::get,
            [self](http::request_context& ctx) -> asio::awaitable<http::response> {
                co_return self->get(ctx);
            }
        )
    );
    routes.add(bhttp::verb::patch, item_pattern, guarded(route::patch, [self](http::request_context& ctx) {
                   return self->patch(ctx);
               }));
    routes.add(bhttp::verb::delete_, item_pattern, guarded(route::remove, [self](http::request_context& ctx) {
                   return self->remove(ctx);
               }));
    // One pattern for every action: the `:action` suffix is part of the last segment.
    routes.add(
        bhttp::verb::post,
        item_pattern,
        http::async_handler([self](http::request_context& ctx) -> asio::awaitable<http::response> {
            const auto start = std::chrono::steady_clock::now();
            std::string id;
            const auto r = impl::action_of(ctx.params["id"], id);
            http::response res;
            if (!self->auth.check(ctx.req)) {
                res = self->auth.unauthorized(ctx.req);
            } else {
                res = co_await self->action(ctx, r, id);
            }
            self->observe(r, res, start);
            co_return res;
        })
    );
}

http::router make_api_router(
    ingest_service& ingest,
    subscriptions_service& subscriptions,
    dlq_service& dlq,
    std::vector<route_entry>* registered
)
{
    http::router routes;
    ingest.add_routes(routes, registered);
    subscriptions.add_routes(routes, registered);
    dlq.add_routes(routes, registered);
    add_openapi_route(routes, registered);
    return routes;
}

} // namespace relay::api
