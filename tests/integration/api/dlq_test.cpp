// The DLQ endpoints over real HTTP on loopback against the mock cluster: GET /v1/dlq returns exactly the
// records each filter selects (records written with make_dlq_record for 2 subscriptions and 2 reasons),
// POST /v1/dlq:redrive produces nothing in a dry run and exactly the matched records as fresh first attempts
// otherwise; bad parameters get 400/422 naming them, no token 401, an unreachable Kafka 503, a full pool 429.
#include "relay/api/dlq.hpp"
#include "relay/event/timestamp.hpp"
#include "relay/http/server.hpp"

#include "dlq_fixture.hpp"
#include "support/http/connection.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <future>
#include <optional>
#include <thread>

namespace relay::test {
namespace {

namespace bhttp = boost::beast::http;
namespace header = delivery::header;

constexpr const char* token = "dlq-token-1";

// A server with the DLQ routes only, for `cfg`.
class dlq_api
{
public:
    dlq_api(const config::config& cfg, api::dlq_options options, prometheus::Registry* registry = nullptr)
        : service_(ioc_.get_executor(), cfg, std::move(options), registry)
    {
        http::router routes;
        service_.add_routes(routes);
        http::server_options so;
        so.address = "127.0.0.1";
        so.port = 0;
        so.name = "api";
        server_.emplace(ioc_.get_executor(), std::move(routes), so);
        server_->start();
        thread_ = std::thread([this] { ioc_.run(); });
    }

    ~dlq_api()
    {
        std::promise<void> stopped;
        boost::asio::post(ioc_, [&] {
            server_->stop(std::chrono::seconds(1), [&] { stopped.set_value(); });
        });
        stopped.get_future().wait_for(std::chrono::seconds(10));
        work_.reset();
        ioc_.stop();
        thread_.join();
    }

    std::uint16_t port() const { return server_->local_endpoint().port(); }
    const api::dlq_service& service() const { return service_; }

    http::response get(std::string target, std::optional<std::string> auth = std::string("Bearer ") + token)
    {
        http::request req{bhttp::verb::get, target, 11};
        if (auth)
            req.set(bhttp::field::authorization, *auth);
        return roundtrip(std::move(req));
    }

    http::response redrive(
        std::string body,
        std::optional<std::string> auth = std::string("Bearer ") + token,
        std::string content_type = "application/json"
    )
    {
        http::request req{bhttp::verb::post, "/v1/dlq:redrive", 11};
        if (auth)
            req.set(bhttp::field::authorization, *auth);
        if (!content_type.empty())
            req.set(bhttp::field::content_type, content_type);
        req.body() = std::move(body);
        return roundtrip(std::move(req));
    }

private:
    http::response roundtrip(http::request req)
    {
        http_connection c(port(), std::chrono::seconds(60));
        auto res = c.roundtrip(std::move(req));
        EXPECT_TRUE(res.has_value()) << (res.has_value() ? "" : res.error().message());
        return res.has_value() ? std::move(*res) : http::response{};
    }

    boost::asio::io_context ioc_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{ioc_.get_executor()};
    api::dlq_service service_;
    std::optional<http::server> server_;
    std::thread thread_;
};

rapidjson::Document json(const http::response& res)
{
    rapidjson::Document d;
    d.Parse(res.body().c_str());
    EXPECT_FALSE(d.HasParseError()) << res.body();
    return d;
}

// A problem+json answer with `status` whose detail mentions `part`.
void expect_problem(const http::response& res, unsigned status, std::string_view part)
{
    EXPECT_EQ(res.result_int(), status) << res.body();
    EXPECT_EQ(res[bhttp::field::content_type], "application/problem+json");
    const auto d = json(res);
    ASSERT_TRUE(d.IsObject() && d.HasMember("detail") && d["detail"].IsString()) << res.body();
    EXPECT_NE(std::string_view(d["detail"].GetString()).find(part), std::string_view::npos)
        << "detail does not mention " << part << ": " << d["detail"].GetString();
}

std::string rfc3339(std::int64_t ms)
{
    return event::format_rfc3339(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

class dlq_api_test : public dlq_kafka_test
{
protected:
    void SetUp() override
    {
        dlq_kafka_test::SetUp();
        seed();
        api::dlq_options o;
        o.tokens = {"other-token", token};
        o.kafka_timeout = std::chrono::seconds(10);
        // Durations ago count back from 10 s after the first seeded failure.
        o.clock = [] {
            return std::chrono::system_clock::time_point(std::chrono::milliseconds(base_ms + 10'000));
        };
        api_.emplace(cfg_, std::move(o), &registry_);
    }

    void TearDown() override { api_.reset(); }

    /// The ids a listing returns (event ids, or "key:<key>" for records without one), sorted; checks the
    /// envelope of the answer and that no value is included.
    std::vector<std::string>
    list(const std::string& query, std::int64_t* scanned = nullptr, bool* complete = nullptr)
    {
        const auto res = api_->get("/v1/dlq" + (query.empty() ? "" : "?" + query));
        EXPECT_EQ(res.result_int(), 200u) << res.body();
        EXPECT_EQ(res[bhttp::field::content_type], "application/json");
        const auto d = json(res);
        std::vector<std::string> ids;
        if (!d.IsObject() || !d.HasMember("data") || !d["data"].IsArray()) {
            ADD_FAILURE() << res.body();
            return ids;
        }
        EXPECT_TRUE(d["scanned"].IsInt64());
        EXPECT_TRUE(d["complete"].IsBool());
        if (scanned != nullptr)
            *scanned = d["scanned"].GetInt64();
        if (complete != nullptr)
            *complete = d["complete"].GetBool();
        for (const auto& e : d["data"].GetArray()) {
            EXPECT_FALSE(e.HasMember("value")) << "values are never listed";
            if (e.HasMember("event_id"))
                ids.emplace_back(e["event_id"].GetString());
            else
                ids.push_back(std::string("key:") + (e["key"].IsString() ? e["key"].GetString() : ""));
        }
        std::sort(ids.begin(), ids.end());
        return ids;
    }

    prometheus::Registry registry_;
    std::optional<dlq_api> api_;
};

using ids = std::vector<std::string>;

TEST_F(dlq_api_test, ListsEveryRecordWithoutFilter)
{
    std::int64_t scanned = 0;
    bool complete = false;
    EXPECT_EQ(
        list("", &scanned, &complete),
        (ids{"evt_0", "evt_1", "evt_2", "evt_3", "evt_4", "key:foreign", "key:key-5"})
    );
    EXPECT_EQ(scanned, 7);
    EXPECT_TRUE(complete);
}

TEST_F(dlq_api_test, EntriesCarryTheRecordAsWrittenWithoutTheValue)
{
    const auto res = api_->get("/v1/dlq?subscription=sub_b&reason=permanent_status");
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    const auto d = json(res);
    ASSERT_EQ(d["data"].Size(), 1u) << res.body();
    const auto& e = d["data"][0];
    EXPECT_EQ(e["partition"].GetInt(), 1);
    EXPECT_STREQ(e["key"].GetString(), "key-3");
    EXPECT_STREQ(e["event_id"].GetString(), "evt_3");
    EXPECT_STREQ(e["subscription_id"].GetString(), "sub_b");
    EXPECT_STREQ(e["reason"].GetString(), "permanent_status");
    EXPECT_STREQ(e["error"].GetString(), "failure 3");
    EXPECT_EQ(e["last_status"].GetInt(), 500);
    EXPECT_EQ(e["attempts"].GetInt(), 1);
    EXPECT_EQ(e["failed_at_ms"].GetInt64(), base_ms + 3000);
    EXPECT_EQ(e["value_bytes"].GetInt64(), static_cast<std::int64_t>(seeds()[3].value.size()));
    EXPECT_FALSE(e.HasMember("value"));
    EXPECT_EQ(e["origin"]["offset"].GetInt64(), 103);
}

TEST_F(dlq_api_test, FiltersBySubscription)
{
    EXPECT_EQ(list("subscription=sub_a"), (ids{"evt_0", "evt_1", "evt_4"}));
    EXPECT_EQ(list("subscription=sub_b"), (ids{"evt_2", "evt_3"}));
    EXPECT_EQ(list("subscription=sub_c"), ids{});
}

TEST_F(dlq_api_test, FiltersByReason)
{
    EXPECT_EQ(list("reason=exhausted"), (ids{"evt_0", "evt_2", "evt_4"}));
    EXPECT_EQ(list("reason=permanent_status"), (ids{"evt_1", "evt_3"}));
    EXPECT_EQ(list("reason=invalid_event"), (ids{"key:key-5"}));
    EXPECT_EQ(list("reason=gone"), ids{});
}

TEST_F(dlq_api_test, FiltersByTimeAsRfc3339OrDurationAgo)
{
    // since inclusive, until exclusive.
    EXPECT_EQ(
        list("since=" + rfc3339(base_ms + 1000) + "&until=" + rfc3339(base_ms + 4000)),
        (ids{"evt_1", "evt_2", "evt_3"})
    );
    EXPECT_EQ(list("until=" + rfc3339(base_ms + 1000)), (ids{"evt_0"}));
    // The clock is base + 10 s: 6s ago = base + 4 s.
    EXPECT_EQ(list("since=6s"), (ids{"evt_4", "key:key-5"}));
    EXPECT_EQ(list("since=10s&until=8s"), (ids{"evt_0", "evt_1"}));
}

TEST_F(dlq_api_test, CombinesFiltersAndStopsAtTheLimit)
{
    EXPECT_EQ(list("subscription=sub_a&reason=exhausted"), (ids{"evt_0", "evt_4"}));
    bool complete = true;
    EXPECT_EQ(list("subscription=sub_a&limit=2", nullptr, &complete).size(), 2u);
    EXPECT_FALSE(complete);
}

TEST_F(dlq_api_test, BadQueryParametersAre400NamingThem)
{
    expect_problem(api_->get("/v1/dlq?reason=nope"), 400, "\"reason\"");
    expect_problem(api_->get("/v1/dlq?since=yesterday"), 400, "\"since\"");
    expect_problem(api_->get("/v1/dlq?until=2026-13-45T00:00:00Z"), 400, "\"until\"");
    expect_problem(api_->get("/v1/dlq?since=1h&until=2h"), 400, "\"since\" must be before \"until\"");
    expect_problem(api_->get("/v1/dlq?limit=0"), 400, "\"limit\"");
    expect_problem(api_->get("/v1/dlq?limit=1001"), 400, "\"limit\"");
    expect_problem(api_->get("/v1/dlq?limit=ten"), 400, "\"limit\"");
    expect_problem(api_->get("/v1/dlq?subscription=a%20b"), 400, "\"subscription\"");
    expect_problem(api_->get("/v1/dlq?subscription=sub_a&subscription=sub_b"), 400, "appears twice");
    expect_problem(api_->get("/v1/dlq?values=true"), 400, "\"values\"");
    expect_problem(api_->get("/v1/dlq?since=%zz"), 400, "percent-encoding");
}

TEST_F(dlq_api_test, WithoutAValidTokenIs401)
{
    for (const auto& auth : {std::optional<std::string>{}, std::optional<std::string>("Bearer wrong")}) {
        const auto listed = api_->get("/v1/dlq", auth);
        EXPECT_EQ(listed.result_int(), 401u);
        EXPECT_EQ(listed[bhttp::field::content_type], "application/problem+json");
        EXPECT_FALSE(listed[bhttp::field::www_authenticate].empty());
        const auto redrive = api_->redrive("{}", auth);
        EXPECT_EQ(redrive.result_int(), 401u);
    }
    EXPECT_EQ(record_count(retry_topic_), 0);
}

TEST_F(dlq_api_test, RedriveDryRunCountsAndProducesNothing)
{
    const auto res = api_->redrive(R"({"subscription":"sub_a","dry_run":true})");
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    const auto d = json(res);
    EXPECT_TRUE(d["dry_run"].GetBool());
    EXPECT_STREQ(d["retry_topic"].GetString(), retry_topic_.c_str());
    EXPECT_EQ(d["matched"].GetInt(), 3);
    EXPECT_EQ(d["redriven"].GetInt(), 3);
    EXPECT_EQ(d["skipped"].GetInt(), 0);
    EXPECT_EQ(d["failed"].GetInt(), 0);
    EXPECT_TRUE(d["complete"].GetBool());
    EXPECT_EQ(record_count(retry_topic_), 0);
}

TEST_F(dlq_api_test, RedriveProducesExactlyTheMatchedOnesAsFreshFirstAttempts)
{
    const auto res = api_->redrive(R"({"subscription":"sub_a","reason":"exhausted","rate":100})");
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    const auto d = json(res);
    EXPECT_FALSE(d["dry_run"].GetBool());
    EXPECT_EQ(d["matched"].GetInt(), 2);
    EXPECT_EQ(d["redriven"].GetInt(), 2);
    EXPECT_EQ(d["failed"].GetInt(), 0);
    EXPECT_EQ(record_count(retry_topic_), 2);

    const auto got = read_all(retry_topic_, 2);
    ASSERT_EQ(got.size(), 2u);
    const auto all = seeds();
    for (std::size_t i = 0; i < 2; ++i) {
        const auto& m = got[i];
        const auto& s = all[i == 0 ? 0 : 4];
        SCOPED_TRACE(s.event);
        EXPECT_EQ(m.topic, retry_topic_);
        EXPECT_EQ(m.key, s.key);
        EXPECT_EQ(m.value, s.value);
        EXPECT_EQ(header_of(m, header::attempt), "1");
        EXPECT_EQ(header_of(m, header::event_id), s.event);
        EXPECT_EQ(header_of(m, header::subscription_id), "sub_a");
        EXPECT_FALSE(header_of(m, header::reason));
    }
}

TEST_F(dlq_api_test, RedriveSkipsWhatCannotBeRedrivenAndHonoursTheLimit)
{
    auto res = api_->redrive(R"({"reason":"invalid_event"})");
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    auto d = json(res);
    EXPECT_EQ(d["matched"].GetInt(), 1);
    EXPECT_EQ(d["redriven"].GetInt(), 0);
    EXPECT_EQ(d["skipped_by_reason"]["no_subscription"].GetInt(), 1);

    res = api_->redrive(R"({"reason":"exhausted","limit":1})");
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    d = json(res);
    EXPECT_EQ(d["matched"].GetInt(), 1);
    EXPECT_EQ(d["redriven"].GetInt(), 1);
    EXPECT_FALSE(d["complete"].GetBool());
    EXPECT_EQ(record_count(retry_topic_), 1);
}

TEST_F(dlq_api_test, BadRedriveBodiesAreRefusedNamingTheMember)
{
    expect_problem(api_->redrive(R"({"reason":"nope"})"), 422, "\"reason\"");
    expect_problem(api_->redrive(R"({"subscription":7})"), 422, "\"subscription\"");
    expect_problem(api_->redrive(R"({"since":"soon"})"), 422, "\"since\"");
    expect_problem(api_->redrive(R"({"since":"1h","until":"2h"})"), 422, "\"since\"");
    expect_problem(api_->redrive(R"({"limit":0})"), 422, "\"limit\"");
    expect_problem(api_->redrive(R"({"limit":1.5})"), 422, "\"limit\"");
    expect_problem(api_->redrive(R"({"dry_run":"yes"})"), 422, "\"dry_run\"");
    expect_problem(api_->redrive(R"({"rate":-1})"), 422, "\"rate\"");
    expect_problem(api_->redrive(R"({"rate":0.001,"limit":10})"), 422, "\"rate\"");
    expect_problem(api_->redrive(R"({"dryrun":true})"), 422, "unknown member \"dryrun\"");
    expect_problem(api_->redrive(R"({"limit":1,"limit":2})"), 422, "twice");
    expect_problem(api_->redrive("not json"), 400, "not valid JSON");
    expect_problem(api_->redrive("[]"), 400, "JSON object");
    expect_problem(api_->redrive(""), 400, "not valid JSON");
    expect_problem(
        api_->redrive("{}", std::string("Bearer ") + token, "text/plain"), 415, "application/json"
    );
    const auto d = json(api_->redrive(R"({"reason":"nope"})"));
    ASSERT_TRUE(d.HasMember("errors")) << "422 names the member by JSON Pointer";
    EXPECT_STREQ(d["errors"][0]["pointer"].GetString(), "/reason");
    EXPECT_EQ(record_count(retry_topic_), 0);
}

TEST_F(dlq_api_test, RequestsAreCountedPerRouteAndCode)
{
    list("");
    api_->get("/v1/dlq", std::nullopt);
    api_->redrive(R"({"dry_run":true})");
    const auto text = prometheus::TextSerializer().Serialize(registry_.Collect());
    EXPECT_NE(text.find(R"(relay_ingest_requests_total{code="200",route="dlq_list"} 1)"), std::string::npos);
    EXPECT_NE(text.find(R"(relay_ingest_requests_total{code="401",route="dlq_list"} 1)"), std::string::npos);
    EXPECT_NE(
        text.find(R"(relay_ingest_requests_total{code="200",route="dlq_redrive"} 1)"), std::string::npos
    );
}

// An unreachable cluster: the DLQ endpoints answer 503 with Retry-After within the Kafka timeout, and a
// request beyond the concurrency cap gets 429 at once.
TEST(dlq_api_unavailable, KafkaUnreachableIs503AndAFullPoolIs429)
{
    config::config cfg;
    cfg.kafka.brokers = "127.0.0.1:1";
    cfg.topics.dlq = "relay.dlq";
    api::dlq_options o;
    o.tokens = {token};
    o.kafka_timeout = std::chrono::seconds(2);
    o.max_concurrent = 1;
    dlq_api api(cfg, o);

    auto start = std::chrono::steady_clock::now();
    auto res = api.get("/v1/dlq");
    EXPECT_EQ(res.result_int(), 503u) << res.body();
    EXPECT_EQ(res[bhttp::field::retry_after], "5");
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(8));

    start = std::chrono::steady_clock::now();
    res = api.redrive("{}");
    EXPECT_EQ(res.result_int(), 503u) << res.body();
    EXPECT_FALSE(res[bhttp::field::retry_after].empty());
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(8));

    // One listing holds the only slot (it waits for the unreachable cluster); the next one is refused.
    auto first = std::async(std::launch::async, [&] { return api.get("/v1/dlq"); });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (api.service().running() == 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_EQ(api.service().running(), 1u);
    res = api.get("/v1/dlq");
    EXPECT_EQ(res.result_int(), 429u) << res.body();
    EXPECT_EQ(res[bhttp::field::retry_after], "1");
    EXPECT_EQ(first.get().result_int(), 503u);
}

} // namespace
} // namespace relay::test
