// The subscriptions API over real HTTP on loopback against the mock cluster: CRUD, listing pages, merge
// patches, secret rotation, enable/disable, test events, masking, static subscriptions, and bad input that
// gets an exact 4xx with nothing written.
#include "relay/api/subscriptions.hpp"
#include "relay/http/server.hpp"
#include "relay/kafka/consumer.hpp"
#include "relay/publish/publish.hpp"
#include "relay/subscription/store.hpp"
#include "relay/webhook/secret.hpp"

#include "support/http/connection.hpp"
#include "support/kafka/kafka.hpp"
#include "support/subscription/subscriptions.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <rapidjson/document.h>

#include <future>
#include <thread>

namespace {

namespace bhttp = boost::beast::http;
namespace sub = relay::subscription;
using namespace std::chrono_literals;

constexpr const char* token = "test-token-1";
// 2024-05-01T12:00:00Z: the fixed clock of the service.
const sub::timestamp fixed_now = sub::parse_timestamp("2024-05-01T12:00:00Z").value();

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = relay::test::kafka_wait)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

class subscriptions_api : public relay::test::mock_kafka_test
{
protected:
    void start(std::vector<sub::subscription> statics = {}, const relay::kafka::properties& extra = {})
    {
        subs_topic_ = make_topic(1, "subscriptions");
        events_topic_ = make_topic(2, "events");
        producer_.emplace(relay::kafka::client_options{
            .config = relay::publish::producer_properties(producer_props(extra), std::chrono::seconds(10))});
        writer_.emplace(*producer_, subs_topic_);
        follower_ = make_follower(table_, statics);
        worker_view_ = make_follower(worker_table_, statics);
        relay::api::subscriptions_options o;
        o.tokens = {"other-token", token};
        o.events_topic = events_topic_;
        o.request_timeout = 5s;
        o.secret_rotation_overlap = 1h;
        o.clock = [] { return fixed_now; };
        service_.emplace(ioc_.get_executor(), o, *writer_, *follower_, *producer_, &registry_);
        relay::http::router routes;
        service_->add_routes(routes);
        relay::http::server_options so;
        so.address = "127.0.0.1";
        so.port = 0;
        so.name = "api";
        server_.emplace(ioc_.get_executor(), std::move(routes), so);
        server_->start();
        thread_ = std::thread([this] { ioc_.run(); });
    }

    std::unique_ptr<sub::follower>
    make_follower(sub::atomic_routing_table& table, const std::vector<sub::subscription>& statics)
    {
        sub::follower_options o;
        o.kafka = {{"bootstrap.servers", bootstrap()}, {"fetch.wait.max.ms", "50"}};
        o.topic = subs_topic_;
        o.static_subscriptions = statics;
        o.start_timeout = 10s;
        auto f = std::make_unique<sub::follower>(o, table);
        f->start();
        EXPECT_TRUE(f->wait_until_loaded(relay::test::kafka_wait));
        return f;
    }

    void TearDown() override
    {
        if (server_) {
            std::promise<void> stopped;
            server_->stop(std::chrono::seconds(1), [&] { stopped.set_value(); });
            stopped.get_future().wait_for(std::chrono::seconds(10));
        }
        work_.reset();
        ioc_.stop();
        if (thread_.joinable()) {
            thread_.join();
        }
        server_.reset();
        service_.reset();
        if (follower_) {
            follower_->stop();
        }
        if (worker_view_) {
            worker_view_->stop();
        }
        writer_.reset();
        producer_.reset();
    }

    relay::http::response call(
        bhttp::verb method,
        std::string_view target,
        std::string body = {},
        std::optional<std::string> auth = std::string("Bearer ") + token,
        std::string content_type = "application/json"
    )
    {
        relay::test::http_connection c(server_->local_endpoint().port());
        relay::http::request req{method, target, 11};
        if (auth) {
            req.set(bhttp::field::authorization, *auth);
        }
        if (!body.empty() && !content_type.empty()) {
            req.set(bhttp::field::content_type, content_type);
        }
        req.body() = std::move(body);
        auto res = c.roundtrip(std::move(req));
        EXPECT_TRUE(res.has_value()) << (res.has_value() ? "" : res.error().message());
        return res.has_value() ? std::move(*res) : relay::http::response{};
    }

    relay::http::response post(std::string_view target, std::string body = {})
    {
        return call(bhttp::verb::post, target, std::move(body));
    }
    relay::http::response get(std::string_view target) { return call(bhttp::verb::get, target); }

    std::int64_t high_watermark(const std::string& topic, int partitions)
    {
        relay::kafka::producer p({.config = producer_props()});
        std::int64_t total = 0;
        for (int part = 0; part < partitions; ++part) {
            std::int64_t low = 0;
            std::int64_t high = 0;
            const auto err =
                rd_kafka_query_watermark_offsets(p.native_handle(), topic.c_str(), part, &low, &high, 10000);
            EXPECT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(err);
            total += high;
        }
        return total;
    }

    static rapidjson::Document json(const relay::http::response& res)
    {
        rapidjson::Document d;
        d.Parse(res.body().c_str());
        EXPECT_FALSE(d.HasParseError()) << res.body();
        return d;
    }

    static void expect_problem(
        const relay::http::response& res,
        unsigned status,
        std::string_view detail_part,
        std::string_view pointer = {}
    )
    {
        EXPECT_EQ(res.result_int(), status) << res.body();
        EXPECT_EQ(res[bhttp::field::content_type], "application/problem+json");
        const auto d = json(res);
        ASSERT_TRUE(d.IsObject() && d.HasMember("detail") && d["detail"].IsString()) << res.body();
        EXPECT_NE(std::string_view(d["detail"].GetString()).find(detail_part), std::string_view::npos)
            << d["detail"].GetString() << " / wanted: " << detail_part;
        if (!pointer.empty()) {
            ASSERT_TRUE(d.HasMember("errors") && d["errors"].IsArray()) << res.body();
            bool found = false;
            for (const auto& e : d["errors"].GetArray()) {
                found |= e["pointer"].GetString() == pointer;
            }
            EXPECT_TRUE(found) << "no error at " << pointer << " in " << res.body();
        }
    }

    // A subscription as the API accepts it (no secret: generated).
    static std::string create_body(const std::string& id, const std::string& extra = "")
    {
        return R"({"id":")" + id + R"(","url":"https://hooks.example.com/)" + id +
               R"(","event_types":["order.*"])" + extra + "}";
    }

    // The secret texts of a subscription's JSON.
    static std::vector<std::string> secret_texts(const rapidjson::Value& s)
    {
        std::vector<std::string> out;
        for (const auto& e : s["secrets"].GetArray()) {
            out.emplace_back(e["secret"].GetString());
        }
        return out;
    }

    boost::asio::io_context ioc_;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
        ioc_.get_executor()};
    prometheus::Registry registry_;
    std::string subs_topic_;
    std::string events_topic_;
    std::optional<relay::kafka::producer> producer_;
    std::optional<sub::writer> writer_;
    sub::atomic_routing_table table_;
    sub::atomic_routing_table worker_table_;
    std::unique_ptr<sub::follower> follower_;
    std::unique_ptr<sub::follower> worker_view_; ///< a second reader, as a worker follows the topic
    std::optional<relay::api::subscriptions_service> service_;
    std::optional<relay::http::server> server_;
    std::thread thread_;
};

TEST_F(subscriptions_api, create_get_list_patch_rotate_disable_enable_delete)
{
    start();
    // Create: 201, Location, the generated secret in full.
    auto created =
        post("/v1/subscriptions", create_body("sub-a", R"(,"headers":{"X-Api-Key":"hdr-secret-1"})"));
    ASSERT_EQ(created.result_int(), 201u) << created.body();
    EXPECT_EQ(created[bhttp::field::location], "/v1/subscriptions/sub-a");
    auto cd = json(created);
    const auto first_secret = secret_texts(cd).at(0);
    EXPECT_EQ(first_secret.rfind("whsec_", 0), 0u);
    EXPECT_TRUE(relay::webhook::parse_secret(first_secret).has_value());
    EXPECT_STREQ(cd["created_at"].GetString(), "2024-05-01T12:00:00Z");
    EXPECT_EQ(created.body().find("hdr-secret-1"), std::string::npos) << "header values stay masked";
    // Read-your-writes on this service, and the second follower sees it too.
    auto got = get("/v1/subscriptions/sub-a");
    ASSERT_EQ(got.result_int(), 200u) << got.body();
    EXPECT_EQ(got.body().find(first_secret), std::string::npos) << got.body();
    EXPECT_EQ(got.body().find(first_secret.substr(6)), std::string::npos) << "the key itself never appears";
    EXPECT_EQ(got.body().find("hdr-secret-1"), std::string::npos);
    EXPECT_NE(got.body().find("whsec_"), std::string::npos);
    ASSERT_TRUE(eventually([&] { return worker_view_->find("sub-a") != nullptr; }));
    EXPECT_EQ(worker_view_->find("sub-a")->secrets.at(0).secret.text, first_secret);

    // Listing: pages ordered by id, masked.
    ASSERT_EQ(post("/v1/subscriptions", create_body("sub-b", R"(,"tenant":"t1")")).result_int(), 201u);
    ASSERT_EQ(post("/v1/subscriptions", create_body("sub-c", R"(,"tenant":"t1")")).result_int(), 201u);
    auto page1 = get("/v1/subscriptions?limit=2");
    ASSERT_EQ(page1.result_int(), 200u) << page1.body();
    auto p1 = json(page1);
    ASSERT_EQ(p1["data"].Size(), 2u);
    EXPECT_STREQ(p1["data"][0]["id"].GetString(), "sub-a");
    EXPECT_STREQ(p1["data"][1]["id"].GetString(), "sub-b");
    ASSERT_TRUE(p1["next"].IsString());
    EXPECT_EQ(page1.body().find(first_secret), std::string::npos);
    auto page2 = get("/v1/subscriptions?limit=2&after=" + std::string(p1["next"].GetString()));
    auto p2 = json(page2);
    ASSERT_EQ(p2["data"].Size(), 1u) << page2.body();
    EXPECT_STREQ(p2["data"][0]["id"].GetString(), "sub-c");
    EXPECT_TRUE(p2["next"].IsNull());
    auto tenant = json(get("/v1/subscriptions?tenant=t1"));
    ASSERT_EQ(tenant["data"].Size(), 2u);
    EXPECT_STREQ(tenant["data"][0]["id"].GetString(), "sub-b");

    // Patch: merge over the stored form; headers kept (the masked form is never written back).
    auto patched = call(
        bhttp::verb::patch,
        "/v1/subscriptions/sub-a",
        R"({"event_types":["payment.*"],"timeout":"5s","tenant":"t2"})",
        std::string("Bearer ") + token,
        "application/merge-patch+json"
    );
    ASSERT_EQ(patched.result_int(), 200u) << patched.body();
    auto pd = json(patched);
    EXPECT_STREQ(pd["event_types"][0].GetString(), "payment.*");
    EXPECT_EQ(patched.body().find(first_secret), std::string::npos);
    const auto after_patch = follower_->find("sub-a");
    ASSERT_TRUE(after_patch);
    EXPECT_EQ(after_patch->event_types, std::vector<std::string>{"payment.*"});
    EXPECT_EQ(after_patch->timeout, 5s);
    ASSERT_EQ(after_patch->headers.size(), 1u);
    EXPECT_EQ(after_patch->headers[0].second, "hdr-secret-1");
    ASSERT_TRUE(eventually([&] {
        auto s = worker_view_->find("sub-a");
        return s && s->tenant == std::optional<std::string>("t2");
    }));
    // Null removes a member (merge patch).
    ASSERT_EQ(call(bhttp::verb::patch, "/v1/subscriptions/sub-a", R"({"tenant":null})").result_int(), 200u);
    EXPECT_FALSE(follower_->find("sub-a")->tenant);

    // Rotate: the new secret first and in full; the old one expires after the overlap.
    auto rotated = post("/v1/subscriptions/sub-a:rotate-secret", R"({"overlap":"2h"})");
    ASSERT_EQ(rotated.result_int(), 200u) << rotated.body();
    auto rd = json(rotated);
    const auto secrets = secret_texts(rd);
    ASSERT_EQ(secrets.size(), 2u);
    EXPECT_NE(secrets[0], first_secret);
    EXPECT_EQ(secrets[1], first_secret);
    EXPECT_FALSE(rd["secrets"][0].HasMember("expires_at"));
    EXPECT_STREQ(rd["secrets"][1]["expires_at"].GetString(), "2024-05-01T14:00:00Z");
    auto masked = get("/v1/subscriptions/sub-a");
    for (const auto& s : secrets) {
        EXPECT_EQ(masked.body().find(s), std::string::npos) << masked.body();
    }
    ASSERT_TRUE(eventually([&] {
        auto s = worker_view_->find("sub-a");
        return s && s->secrets.size() == 2 && s->secrets[0].secret.text == secrets[0];
    }));
    // A given secret with the default overlap (1h): both previous secrets now expire at 13:00 (the one that
    // expired at 14:00 is brought forward: the earlier expiry wins).
    const std::string given = "whsec_" + std::string("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=");
    auto rotated2 = post("/v1/subscriptions/sub-a:rotate-secret", R"({"secret":")" + given + R"("})");
    ASSERT_EQ(rotated2.result_int(), 200u) << rotated2.body();
    auto r2 = json(rotated2);
    ASSERT_EQ(r2["secrets"].Size(), 3u);
    EXPECT_EQ(secret_texts(r2)[0], given);
    EXPECT_STREQ(r2["secrets"][1]["expires_at"].GetString(), "2024-05-01T13:00:00Z");
    EXPECT_STREQ(r2["secrets"][2]["expires_at"].GetString(), "2024-05-01T13:00:00Z");

    // Disable / enable.
    auto disabled = post("/v1/subscriptions/sub-a:disable");
    ASSERT_EQ(disabled.result_int(), 200u) << disabled.body();
    EXPECT_FALSE(json(disabled)["enabled"].GetBool());
    EXPECT_STREQ(json(disabled)["disabled_reason"].GetString(), "manual");
    EXPECT_EQ(follower_->find("sub-a")->disabled_reason, sub::disable_reason::manual);
    ASSERT_TRUE(eventually([&] { return worker_table_.load()->find("sub-a") == nullptr; }));
    auto enabled = post("/v1/subscriptions/sub-a:enable");
    ASSERT_EQ(enabled.result_int(), 200u) << enabled.body();
    EXPECT_TRUE(json(enabled)["enabled"].GetBool());
    EXPECT_FALSE(json(enabled).HasMember("disabled_reason"));
    ASSERT_TRUE(eventually([&] { return worker_table_.load()->find("sub-a") != nullptr; }));

    // Delete: 204, then 404 everywhere.
    auto deleted = call(bhttp::verb::delete_, "/v1/subscriptions/sub-a");
    EXPECT_EQ(deleted.result_int(), 204u) << deleted.body();
    expect_problem(get("/v1/subscriptions/sub-a"), 404, "no subscription with id sub-a");
    expect_problem(call(bhttp::verb::delete_, "/v1/subscriptions/sub-a"), 404, "sub-a");
    ASSERT_TRUE(eventually([&] { return worker_view_->find("sub-a") == nullptr; }));

    // The request metrics have one route label per endpoint.
    prometheus::TextSerializer ser;
    const auto text = ser.Serialize(registry_.Collect());
    EXPECT_NE(
        text.find(R"(relay_ingest_requests_total{code="201",route="subscriptions_create"} 3)"),
        std::string::npos
    ) << text;
    EXPECT_NE(
        text.find(R"(relay_ingest_requests_total{code="204",route="subscriptions_delete"} 1)"),
        std::string::npos
    );
}

TEST_F(subscriptions_api, generated_id_and_secret_and_409_on_an_existing_id)
{
    start();
    auto res = post("/v1/subscriptions", R"({"url":"https://a.example.com/","event_types":["*"]})");
    ASSERT_EQ(res.result_int(), 201u) << res.body();
    auto d = json(res);
    const std::string id = d["id"].GetString();
    EXPECT_EQ(id.rfind("sub_", 0), 0u);
    EXPECT_EQ(res[bhttp::field::location], "/v1/subscriptions/" + id);
    const auto before = high_watermark(subs_topic_, 1);
    auto again = post(
        "/v1/subscriptions", R"({"id":")" + id + R"(","url":"https://b.example.com/","event_types":["*"]})"
    );
    expect_problem(again, 409, "already exists");
    EXPECT_EQ(high_watermark(subs_topic_, 1), before);
    // A given secret is kept as given.
    auto given = post(
        "/v1/subscriptions",
        create_body("sub-given", std::string(R"(,"secret":")") + relay::test::subscription_secret + "\"")
    );
    ASSERT_EQ(given.result_int(), 201u) << given.body();
    EXPECT_EQ(secret_texts(json(given)).at(0), relay::test::subscription_secret);
}

TEST_F(subscriptions_api, bad_input_gets_an_exact_4xx_and_nothing_is_written)
{
    start();
    ASSERT_EQ(post("/v1/subscriptions", create_body("keep")).result_int(), 201u);
    const auto before = high_watermark(subs_topic_, 1);
    const auto snapshot = relay::test::ids(follower_->snapshot());

    expect_problem(post("/v1/subscriptions", R"({"id":"x","url":)"), 400, "not valid JSON");
    expect_problem(
        post("/v1/subscriptions", create_body("x", R"(,"colour":"red")")), 422, "/colour", "/colour"
    );
    expect_problem(
        post("/v1/subscriptions", R"({"id":"x","url":"http://169.254.169.254/latest","event_types":["*"]})"),
        422,
        "/url",
        "/url"
    );
    expect_problem(
        post("/v1/subscriptions", R"({"id":"x","url":"https://169.254.169.254/latest","event_types":["*"]})"),
        422,
        "cloud metadata",
        "/url"
    );
    expect_problem(
        post("/v1/subscriptions", R"({"id":"x","url":"https://127.0.0.1/","event_types":["*"]})"),
        422,
        "loopback",
        "/url"
    );
    expect_problem(
        post("/v1/subscriptions", create_body("x", R"(,"headers":{"X-A":"a\r\nb"})")), 422, "/headers/X-A"
    );
    expect_problem(
        post("/v1/subscriptions", create_body("x", R"(,"headers":{"Host":"evil"})")), 422, "/headers/Host"
    );
    expect_problem(
        post("/v1/subscriptions", create_body("x", R"(,"created_at":"2024-01-01T00:00:00Z")")),
        422,
        "read-only"
    );
    expect_problem(post("/v1/subscriptions", "[1,2]"), 400, "JSON object");
    expect_problem(
        post("/v1/subscriptions", std::string(100, '[') + std::string(100, ']')), 400, "nested deeper"
    );
    expect_problem(
        call(bhttp::verb::post, "/v1/subscriptions", create_body("x"), std::nullopt),
        401,
        "authentication required"
    );
    expect_problem(
        call(bhttp::verb::post, "/v1/subscriptions", create_body("x"), "Bearer wrong"), 401, "not accepted"
    );
    expect_problem(
        call(bhttp::verb::get, "/v1/subscriptions/keep", "", std::nullopt), 401, "authentication required"
    );
    expect_problem(
        call(
            bhttp::verb::post,
            "/v1/subscriptions",
            create_body("x"),
            std::string("Bearer ") + token,
            "text/plain"
        ),
        415,
        "application/json"
    );
    // Patches.
    expect_problem(
        call(bhttp::verb::patch, "/v1/subscriptions/keep", R"({"id":"other"})"), 422, "immutable", "/id"
    );
    expect_problem(
        call(bhttp::verb::patch, "/v1/subscriptions/keep", R"({"secret":"whsec_x"})"),
        422,
        "rotate-secret",
        "/secret"
    );
    expect_problem(
        call(bhttp::verb::patch, "/v1/subscriptions/keep", R"({"secrets":null})"),
        422,
        "rotate-secret",
        "/secrets"
    );
    expect_problem(
        call(bhttp::verb::patch, "/v1/subscriptions/keep", R"({"colour":1})"), 422, "unknown field", "/colour"
    );
    expect_problem(
        call(bhttp::verb::patch, "/v1/subscriptions/keep", R"({"url":"https://10.0.0.1/"})"),
        422,
        "private",
        "/url"
    );
    expect_problem(
        call(bhttp::verb::patch, "/v1/subscriptions/keep", R"({"url":null})"), 422, "/url", "/url"
    );
    expect_problem(
        call(bhttp::verb::patch, "/v1/subscriptions/keep", R"({"headers":{"A":"x\ny"}})"), 422, "/headers/A"
    );
    expect_problem(call(bhttp::verb::patch, "/v1/subscriptions/keep", "{"), 400, "not valid JSON");
    expect_problem(call(bhttp::verb::patch, "/v1/subscriptions/nope", R"({"enabled":false})"), 404, "nope");
    // Rotation and listing input.
    expect_problem(
        post("/v1/subscriptions/keep:rotate-secret", R"({"overlap":"forever"})"), 422, "/overlap", "/overlap"
    );
    expect_problem(
        post("/v1/subscriptions/keep:rotate-secret", R"({"secret":"nope"})"), 422, "/secret", "/secret"
    );
    expect_problem(
        post("/v1/subscriptions/keep:rotate-secret", R"({"what":1})"), 422, "unknown field", "/what"
    );
    expect_problem(post("/v1/subscriptions/keep:explode"), 404, "unknown action");
    expect_problem(post("/v1/subscriptions/nope:test"), 404, "nope");
    expect_problem(get("/v1/subscriptions?limit=0"), 400, "limit");
    expect_problem(get("/v1/subscriptions?limit=501"), 400, "limit");
    expect_problem(get("/v1/subscriptions?color=red"), 400, "unknown query parameter \"color\"");
    expect_problem(get("/v1/subscriptions?after=a%20b"), 400, "after");

    EXPECT_EQ(high_watermark(subs_topic_, 1), before);
    EXPECT_EQ(high_watermark(events_topic_, 2), 0);
    EXPECT_EQ(relay::test::ids(follower_->snapshot()), snapshot);
    EXPECT_EQ(relay::test::ids(worker_view_->snapshot()), snapshot);
}

// The rest of the bad-input matrix (issue 5): 100,000-deep nesting on every route with a body, bodies over
// the subscription limit and over the server's limit, a missing required field, and a header value with CR/LF
// in the HTTP request itself: each a precise 4xx problem+json, nothing written.
TEST_F(subscriptions_api, hostile_input_matrix_gets_a_precise_4xx_and_nothing_is_written)
{
    start();
    ASSERT_EQ(post("/v1/subscriptions", create_body("keep")).result_int(), 201u);
    const auto before = high_watermark(subs_topic_, 1);
    const auto snapshot = relay::test::ids(follower_->snapshot());

    // 100,000 levels (200 KB) exceed the 64 KiB of a subscription before the depth is looked at; 30,000
    // levels (60 KB) fit and are refused for their depth. Rotation bodies have no size limit of their own.
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    const auto with_filter = [](std::size_t levels) {
        return R"({"id":"x","url":"https://h.example.com/","event_types":["*"],"filter":)" +
               std::string(levels, '{') + std::string(levels, '}') + "}";
    };
    expect_problem(post("/v1/subscriptions", deep), 413, "at most 65536 bytes");
    expect_problem(post("/v1/subscriptions", with_filter(100000)), 413, "at most 65536 bytes");
    expect_problem(
        call(bhttp::verb::patch, "/v1/subscriptions/keep", with_filter(100000)), 413, "at most 65536"
    );
    expect_problem(post("/v1/subscriptions", with_filter(30000)), 400, "nested deeper than 64");
    expect_problem(
        call(bhttp::verb::patch, "/v1/subscriptions/keep", with_filter(30000)), 400, "nested deeper"
    );
    expect_problem(post("/v1/subscriptions/keep:rotate-secret", deep), 400, "nested deeper");
    expect_problem(
        post("/v1/subscriptions", create_body("x", R"(,"tenant":")" + std::string(70000, 't') + "\"")),
        413,
        "at most 65536 bytes"
    );
    expect_problem(
        call(
            bhttp::verb::patch, "/v1/subscriptions/keep", R"({"tenant":")" + std::string(70000, 't') + "\"}"
        ),
        413,
        "at most 65536 bytes"
    );
    expect_problem(
        post("/v1/subscriptions", R"({"id":"x","url":"https://h.example.com/"})"),
        422,
        "/event_types",
        "/event_types"
    );
    expect_problem(post("/v1/subscriptions", " "), 400, "not valid JSON");

    // Over the server's body limit (1 MiB by default): refused from the Content-Length, before any handler.
    {
        relay::test::http_connection big(server_->local_endpoint().port());
        ASSERT_FALSE(big.write_raw(
            "POST /v1/subscriptions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + std::string(token) +
            "\r\nContent-Type: application/json\r\nContent-Length: 2097152\r\n\r\n{"
        ));
        const auto res = big.read_response();
        ASSERT_TRUE(res.has_value());
        expect_problem(*res, 413, "exceeds the limit of 1048576 bytes");
    }
    // A CR/LF inside a request header value: the HTTP parser refuses the request.
    relay::test::http_connection c(server_->local_endpoint().port());
    const std::string body = create_body("x");
    ASSERT_FALSE(c.write_raw(
        "POST /v1/subscriptions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + std::string(token) +
        "\r\nX-Evil: a\rb\r\nContent-Type: application/json\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body
    ));
    const auto res = c.read_response();
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->result_int(), 400u);
    EXPECT_EQ((*res)[bhttp::field::content_type], "application/problem+json");

    EXPECT_EQ(high_watermark(subs_topic_, 1), before);
    EXPECT_EQ(high_watermark(events_topic_, 2), 0);
    EXPECT_EQ(relay::test::ids(follower_->snapshot()), snapshot);
    EXPECT_EQ(relay::test::ids(worker_view_->snapshot()), snapshot);
}

TEST_F(subscriptions_api, static_subscriptions_are_read_only)
{
    start({relay::test::parse_stored(relay::test::sub_json("from-config"))});
    const auto before = high_watermark(subs_topic_, 1);
    auto got = get("/v1/subscriptions/from-config");
    ASSERT_EQ(got.result_int(), 200u) << got.body();
    EXPECT_EQ(got.body().find(relay::test::subscription_secret), std::string::npos);
    expect_problem(
        call(bhttp::verb::patch, "/v1/subscriptions/from-config", R"({"enabled":false})"),
        409,
        "configuration file"
    );
    expect_problem(call(bhttp::verb::delete_, "/v1/subscriptions/from-config"), 409, "configuration file");
    expect_problem(post("/v1/subscriptions/from-config:rotate-secret"), 409, "configuration file");
    expect_problem(post("/v1/subscriptions/from-config:disable"), 409, "configuration file");
    expect_problem(post("/v1/subscriptions", create_body("from-config")), 409, "already exists");
    EXPECT_EQ(high_watermark(subs_topic_, 1), before);
}

TEST_F(subscriptions_api, test_event_targets_one_subscription)
{
    start();
    ASSERT_EQ(post("/v1/subscriptions", create_body("sub-t")).result_int(), 201u);
    auto res = post("/v1/subscriptions/sub-t:test");
    ASSERT_EQ(res.result_int(), 202u) << res.body();
    const std::string event_id = json(res)["event_id"].GetString();
    EXPECT_EQ(event_id.rfind("evt_test_", 0), 0u);

    relay::test::recording_handler h;
    relay::kafka::consumer c({.client = {.config = consumer_props(relay::test::unique_group())}}, h);
    ASSERT_FALSE(c.assign(
        {{events_topic_, 0, RD_KAFKA_OFFSET_BEGINNING}, {events_topic_, 1, RD_KAFKA_OFFSET_BEGINNING}}
    ));
    ASSERT_TRUE(h.wait_for_messages(1));
    c.close();
    const auto records = h.messages();
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].key, std::optional<std::string>("sub-t"));
    const std::vector<std::pair<std::string, std::string>> headers{{"relay-target-subscription", "sub-t"}};
    EXPECT_EQ(records[0].headers, headers);
    rapidjson::Document ev;
    ev.Parse(records[0].value->c_str());
    ASSERT_TRUE(ev.IsObject()) << *records[0].value;
    EXPECT_EQ(std::string(ev["id"].GetString()), event_id);
    EXPECT_STREQ(ev["type"].GetString(), "relay.test");
    EXPECT_STREQ(ev["timestamp"].GetString(), "2024-05-01T12:00:00Z");
    EXPECT_STREQ(ev["data"]["subscription_id"].GetString(), "sub-t");

    ASSERT_EQ(post("/v1/subscriptions/sub-t:disable").result_int(), 200u);
    expect_problem(post("/v1/subscriptions/sub-t:test"), 409, "disabled");
}

TEST_F(subscriptions_api, kafka_down_is_503_with_retry_after_and_nothing_changes)
{
    start({}, {{"message.timeout.ms", "1500"}});
    ASSERT_EQ(post("/v1/subscriptions", create_body("sub-k")).result_int(), 201u);
    ASSERT_FALSE(cluster_.set_broker_down(1));
    auto res = post("/v1/subscriptions", create_body("sub-down"));
    expect_problem(res, 503, "Kafka did not acknowledge");
    EXPECT_FALSE(res[bhttp::field::retry_after].empty());
    ASSERT_FALSE(cluster_.set_broker_up(1));
    EXPECT_FALSE(follower_->find("sub-down"));
    // The second reader follows on its own schedule (its fetch may have waited for the broker): await it.
    EXPECT_TRUE(eventually([&] {
        return relay::test::ids(worker_view_->snapshot()) == std::vector<std::string>{"sub-k"};
    })) << "the worker view never showed exactly sub-k";
    // Once Kafka is back (the idempotent producer may need a few seconds to recover its producer id), a retry
    // is stored.
    ASSERT_TRUE(eventually(
        [&] {
            relay::test::http_connection c(server_->local_endpoint().port(), 20s);
            relay::http::request req{bhttp::verb::post, "/v1/subscriptions", 11};
            req.set(bhttp::field::authorization, std::string("Bearer ") + token);
            req.set(bhttp::field::content_type, "application/json");
            req.body() = create_body("sub-down");
            const auto r = c.roundtrip(std::move(req));
            return r && (r->result_int() == 201 || r->result_int() == 409);
        },
        60s
    ));
    EXPECT_TRUE(follower_->find("sub-down"));
}

} // namespace
