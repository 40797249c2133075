// The ingest API over real HTTP on loopback against the mock cluster: 202 only after Kafka acknowledged,
// records byte for byte, idempotent retries, auth, input limits, and 503 (nothing written) when Kafka fails.
#include "relay/api/ingest.hpp"
#include "relay/http/server.hpp"
#include "relay/kafka/consumer.hpp"
#include "relay/publish/publish.hpp"

#include "support/http/connection.hpp"
#include "support/kafka/kafka.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <future>
#include <thread>

namespace {

namespace bhttp = boost::beast::http;
using relay::test::consumed;

constexpr const char* token = "test-token-1";

class ingest_test : public relay::test::mock_kafka_test
{
protected:
    void start(
        const relay::kafka::properties& extra = {},
        std::size_t body_limit = 64 * 1024,
        std::size_t max_event_bytes = 8 * 1024,
        std::size_t max_pending = 1024
    )
    {
        topic_ = make_topic(3);
        producer_.emplace(relay::kafka::client_options{
            .config = relay::publish::producer_properties(producer_props(extra), std::chrono::seconds(10))});
        relay::api::ingest_options o;
        o.topic = topic_;
        o.limits.max_event_bytes = max_event_bytes;
        o.limits.max_depth = 64;
        o.max_batch = 5;
        o.max_pending_requests = max_pending;
        o.tokens = {"other-token", token};
        service_.emplace(ioc_.get_executor(), o, *producer_, &registry_);
        relay::http::server_options so;
        so.address = "127.0.0.1";
        so.port = 0;
        so.body_limit = body_limit;
        so.name = "api";
        server_.emplace(ioc_.get_executor(), relay::api::make_api_router(*service_), so);
        server_->start();
        thread_ = std::thread([this] { ioc_.run(); });
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
        producer_.reset();
    }

    relay::http::response post(
        std::string_view target,
        std::string body,
        std::vector<std::pair<std::string, std::string>> headers = {},
        std::optional<std::string> auth = std::string("Bearer ") + token,
        std::string content_type = "application/json"
    )
    {
        relay::test::http_connection c(server_->local_endpoint().port());
        relay::http::request req{bhttp::verb::post, target, 11};
        if (auth) {
            req.set(bhttp::field::authorization, *auth);
        }
        if (!content_type.empty()) {
            req.set(bhttp::field::content_type, content_type);
        }
        for (const auto& [k, v] : headers) {
            req.set(k, v);
        }
        req.body() = std::move(body);
        auto res = c.roundtrip(std::move(req));
        EXPECT_TRUE(res.has_value()) << (res.has_value() ? "" : res.error().message());
        return res.has_value() ? std::move(*res) : relay::http::response{};
    }

    std::vector<consumed> read_back(std::size_t n)
    {
        relay::test::recording_handler h;
        relay::kafka::consumer c({.client = {.config = consumer_props(relay::test::unique_group())}}, h);
        std::vector<relay::kafka::topic_partition> tps;
        for (int p = 0; p < 3; ++p) {
            tps.push_back({topic_, p, RD_KAFKA_OFFSET_BEGINNING});
        }
        EXPECT_FALSE(c.assign(tps));
        EXPECT_TRUE(h.wait_for_messages(n)) << "only " << h.message_count() << " of " << n << " records";
        c.close();
        return h.messages();
    }

    std::int64_t record_count()
    {
        relay::kafka::producer p({.config = producer_props()});
        std::int64_t total = 0;
        for (int part = 0; part < 3; ++part) {
            std::int64_t low = 0;
            std::int64_t high = 0;
            const auto err =
                rd_kafka_query_watermark_offsets(p.native_handle(), topic_.c_str(), part, &low, &high, 10000);
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

    static void
    expect_problem(const relay::http::response& res, unsigned status, std::string_view detail_part)
    {
        EXPECT_EQ(res.result_int(), status) << res.body();
        EXPECT_EQ(res[bhttp::field::content_type], "application/problem+json");
        const auto d = json(res);
        ASSERT_TRUE(d.IsObject() && d.HasMember("detail") && d["detail"].IsString()) << res.body();
        EXPECT_NE(std::string_view(d["detail"].GetString()).find(detail_part), std::string_view::npos)
            << d["detail"].GetString() << " / wanted: " << detail_part;
    }

    boost::asio::io_context ioc_;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
        ioc_.get_executor()};
    prometheus::Registry registry_;
    std::string topic_;
    std::optional<relay::kafka::producer> producer_;
    std::optional<relay::api::ingest_service> service_;
    std::optional<relay::http::server> server_;
    std::thread thread_;
};

const consumed* find(const std::vector<consumed>& records, std::int64_t partition, std::int64_t offset)
{
    const auto it = std::find_if(records.begin(), records.end(), [&](const consumed& c) {
        return c.partition == partition && c.offset == offset;
    });
    return it == records.end() ? nullptr : &*it;
}

TEST_F(ingest_test, single_event_is_acknowledged_and_reads_back_byte_for_byte)
{
    start();
    const std::string body = R"({ "id": "ord-1", "type":"order.created",  "data": {"total": 9.50} })";
    const auto res = post("/v1/events", body, {{"Relay-Key", "order-1"}});
    ASSERT_EQ(res.result_int(), 202u) << res.body();
    EXPECT_EQ(res[bhttp::field::content_type], "application/json");
    const auto d = json(res);
    EXPECT_STREQ(d["id"].GetString(), "ord-1");
    const auto records = read_back(1);
    ASSERT_EQ(records.size(), 1u);
    const auto* r = find(records, d["partition"].GetInt(), d["offset"].GetInt64());
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->value, body);
    EXPECT_EQ(r->key, std::optional<std::string>("order-1"));
}

TEST_F(ingest_test, event_without_id_gets_a_generated_one_inserted)
{
    start();
    const std::string body = R"({"type":"order.created","data":{}})";
    const auto res = post("/v1/events", body);
    ASSERT_EQ(res.result_int(), 202u) << res.body();
    const auto d = json(res);
    const std::string id = d["id"].GetString();
    EXPECT_EQ(id.rfind("evt_", 0), 0u);
    EXPECT_EQ(id.size(), 36u);
    const auto records = read_back(1);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].value, relay::api::insert_event_id(body, id));
    EXPECT_EQ(records[0].key, std::nullopt);
}

TEST_F(ingest_test, structured_cloudevent_is_accepted)
{
    start();
    const std::string body =
        R"({"specversion":"1.0","id":"ce-1","type":"com.example.x","source":"/s","data":{"a":1}})";
    const auto res =
        post("/v1/events", body, {}, std::string("Bearer ") + token, "application/cloudevents+json");
    ASSERT_EQ(res.result_int(), 202u) << res.body();
    EXPECT_STREQ(json(res)["id"].GetString(), "ce-1");
}

TEST_F(ingest_test, batch_is_acknowledged_in_order)
{
    start();
    const std::string e0 = R"({"id":"b-0","type":"t.a","data":[1,2]})";
    const std::string e1 = R"({"type":"t.b"})";
    const std::string e2 = R"({"id":"b-2", "type":"t.c"})";
    const auto body = R"({"events":[{"key":"k0","event":)" + e0 + R"(},{"event":)" + e1 +
                      R"(},{"key":"k2","event":)" + e2 + "}]}";
    const auto res = post("/v1/events:batch", body);
    ASSERT_EQ(res.result_int(), 202u) << res.body();
    const auto d = json(res);
    ASSERT_TRUE(d["events"].IsArray());
    ASSERT_EQ(d["events"].Size(), 3u);
    const auto records = read_back(3);
    ASSERT_EQ(records.size(), 3u);
    const std::vector<std::pair<std::string, std::optional<std::string>>> want{
        {e0, "k0"}, {"", std::nullopt}, {e2, "k2"}};
    for (rapidjson::SizeType i = 0; i < 3; ++i) {
        const auto& ev = d["events"][i];
        const auto* r = find(records, ev["partition"].GetInt(), ev["offset"].GetInt64());
        ASSERT_NE(r, nullptr) << i;
        const auto expected = i == 1 ? relay::api::insert_event_id(e1, ev["id"].GetString()) : want[i].first;
        EXPECT_EQ(r->value, expected);
        EXPECT_EQ(r->key, want[i].second);
    }
    EXPECT_STREQ(d["events"][0]["id"].GetString(), "b-0");
    EXPECT_STREQ(d["events"][2]["id"].GetString(), "b-2");
}

TEST_F(ingest_test, invalid_batch_names_the_index_and_produces_nothing)
{
    start();
    const auto res =
        post("/v1/events:batch", R"({"events":[{"event":{"type":"ok"}},{"event":{"data":{}}}]})");
    expect_problem(res, 400, "events[1]");
    expect_problem(res, 400, "type");
    const auto too_many = post(
        "/v1/events:batch",
        R"({"events":[{"event":{"type":"a"}},{"event":{"type":"a"}},{"event":{"type":"a"}},)"
        R"({"event":{"type":"a"}},{"event":{"type":"a"}},{"event":{"type":"a"}}]})"
    );
    expect_problem(too_many, 400, "more than 5 events");
    EXPECT_EQ(record_count(), 0);
}

// The rest of the bad-input matrix (issue 5) for the ingest routes: hostile nesting inside a batch, unknown
// members, malformed JSON and a header value with CR/LF get a precise 4xx and produce nothing.
TEST_F(ingest_test, hostile_batches_and_headers_get_a_precise_4xx_and_produce_nothing)
{
    start({}, 1024 * 1024, 1024 * 1024);
    std::string deep = R"({"events":[{"event":{"type":"a","data":)";
    deep.append(100000, '[');
    deep.append(100000, ']');
    deep += "}}]}";
    const auto nested = post("/v1/events:batch", deep);
    expect_problem(nested, 400, "events[0].event is nested deeper than 64");
    expect_problem(
        post("/v1/events:batch", std::string(100000, '[') + std::string(100000, ']')),
        400,
        "must be a JSON object"
    );
    expect_problem(
        post("/v1/events:batch", R"({"events":[{"event":{"type":"a"},"colour":1}]})"),
        400,
        "unknown member \"colour\""
    );
    expect_problem(post("/v1/events:batch", R"({"events":[],"extra":1})"), 400, "unknown member \"extra\"");
    expect_problem(post("/v1/events:batch", R"({"events":[{"event":{"type":"a"}})"), 400, "not valid JSON");
    expect_problem(post("/v1/events:batch", R"({"events":[{"event":{"data":1}}]})"), 400, "type");

    // A CR inside a header value is refused by the HTTP parser before any handler runs.
    relay::test::http_connection c(server_->local_endpoint().port());
    ASSERT_FALSE(c.write_raw(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + std::string(token) +
        "\r\nContent-Type: application/json\r\nRelay-Key: a\rb\r\nContent-Length: 12\r\n\r\n"
        "{\"type\":\"a\"}"
    ));
    const auto res = c.read_response();
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->result_int(), 400u);
    EXPECT_EQ((*res)[bhttp::field::content_type], "application/problem+json");
    EXPECT_EQ(record_count(), 0);
}

TEST_F(ingest_test, idempotency_key_replays_the_original_answer_and_produces_once)
{
    start();
    const std::string body = R"({"type":"order.created"})";
    const auto first = post("/v1/events", body, {{"Idempotency-Key", "req-1"}});
    ASSERT_EQ(first.result_int(), 202u) << first.body();
    const auto again = post("/v1/events", body, {{"Idempotency-Key", "req-1"}});
    ASSERT_EQ(again.result_int(), 202u) << again.body();
    EXPECT_EQ(again.body(), first.body());
    EXPECT_EQ(again["Idempotent-Replayed"], "true");
    const auto other = post("/v1/events", R"({"type":"order.paid"})", {{"Idempotency-Key", "req-1"}});
    expect_problem(other, 422, "different request");
    EXPECT_EQ(record_count(), 1);
}

TEST_F(ingest_test, event_id_deduplicates_without_a_header_and_concurrent_repeats_wait)
{
    start();
    const std::string body = R"({"id":"dup-1","type":"order.created"})";
    std::vector<std::future<relay::http::response>> answers;
    for (int i = 0; i < 4; ++i) {
        answers.push_back(std::async(std::launch::async, [&] { return post("/v1/events", body); }));
    }
    std::vector<std::string> bodies;
    for (auto& a : answers) {
        const auto res = a.get();
        ASSERT_EQ(res.result_int(), 202u) << res.body();
        bodies.push_back(res.body());
    }
    for (const auto& b : bodies) {
        EXPECT_EQ(b, bodies.front());
    }
    EXPECT_EQ(record_count(), 1);
}

TEST_F(ingest_test, missing_or_wrong_token_is_401)
{
    start();
    const auto none = post("/v1/events", R"({"type":"a"})", {}, std::nullopt);
    expect_problem(none, 401, "Authorization: Bearer");
    EXPECT_EQ(none[bhttp::field::www_authenticate].substr(0, 6), "Bearer");
    const auto wrong = post("/v1/events", R"({"type":"a"})", {}, std::string("Bearer nope"));
    expect_problem(wrong, 401, "not accepted");
    const auto batch = post("/v1/events:batch", R"({"events":[{"event":{"type":"a"}}]})", {}, std::nullopt);
    expect_problem(batch, 401, "Bearer");
    EXPECT_EQ(record_count(), 0);
}

TEST_F(ingest_test, bad_events_are_400_with_the_reason)
{
    start({}, 1024 * 1024, 1024 * 1024);
    expect_problem(post("/v1/events", R"({"type":"a",)"), 400, "invalid JSON");
    expect_problem(post("/v1/events", R"({"data":{}})"), 400, "'type'");
    expect_problem(post("/v1/events", R"({"type":"a","id":null})"), 400, "\"id\" is null");
    expect_problem(post("/v1/events", ""), 400, "empty");
    std::string deep = R"({"type":"a","data":)";
    deep.append(100000, '[');
    deep.append(100000, ']');
    deep += "}";
    expect_problem(post("/v1/events", deep), 400, "deeper than 64");
    EXPECT_EQ(record_count(), 0);
}

TEST_F(ingest_test, too_large_is_413_and_wrong_media_type_415_and_wrong_method_405)
{
    start({}, 16 * 1024);
    std::string big_event = R"({"type":"a","data":")" + std::string(9000, 'x') + R"("})";
    expect_problem(post("/v1/events", big_event), 413, "limit 8192");
    std::string big_body = R"({"type":"a","data":")" + std::string(20000, 'x') + R"("})";
    expect_problem(post("/v1/events", big_body), 413, "exceeds the limit");
    expect_problem(
        post("/v1/events", R"({"type":"a"})", {}, std::string("Bearer ") + token, "text/plain"),
        415,
        "Content-Type: application/json"
    );
    expect_problem(
        post("/v1/events", R"({"type":"a"})", {}, std::string("Bearer ") + token, ""), 415, "Content-Type"
    );

    relay::test::http_connection c(server_->local_endpoint().port());
    const auto get = c.get("/v1/events");
    ASSERT_TRUE(get.has_value());
    EXPECT_EQ(get->result_int(), 405u);
    EXPECT_EQ((*get)[bhttp::field::allow], "POST");
    EXPECT_EQ(record_count(), 0);
}

TEST_F(ingest_test, kafka_failure_is_503_with_retry_after_and_nothing_written)
{
    // The reconnect backoff the product sets (ingest_producer_properties): librdkafka's default grows to
    // 10 s, longer than the message timeout, so a retry right after the broker returns could still time out.
    start({{"message.timeout.ms", "1500"}, {"reconnect.backoff.max.ms", "1000"}});
    ASSERT_FALSE(cluster_.set_broker_down(1));
    const auto res = post("/v1/events", R"({"id":"down-1","type":"a"})", {{"Idempotency-Key", "k-down"}});
    expect_problem(res, 503, "Kafka did not acknowledge");
    EXPECT_FALSE(res[bhttp::field::retry_after].empty());
    const auto batch =
        post("/v1/events:batch", R"({"events":[{"event":{"type":"a"}},{"event":{"type":"b"}}]})");
    expect_problem(batch, 503, "Kafka did not acknowledge");
    ASSERT_FALSE(cluster_.set_broker_up(1));
    EXPECT_EQ(record_count(), 0);
    // The failure was not remembered: a client retrying as told (Retry-After) gets its event produced once
    // the producer has reconnected, and the retries that still failed wrote nothing.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    relay::http::response retry;
    int attempts = 0;
    for (;;) {
        retry = post("/v1/events", R"({"id":"down-1","type":"a"})", {{"Idempotency-Key", "k-down"}});
        ++attempts;
        if (retry.result_int() != 503u || std::chrono::steady_clock::now() > deadline) {
            break;
        }
        expect_problem(retry, 503, "Kafka did not acknowledge");
        std::this_thread::sleep_for(
            std::chrono::seconds(std::stoi(std::string(retry[bhttp::field::retry_after])))
        );
    }
    EXPECT_EQ(retry.result_int(), 202u) << retry.body() << " after " << attempts << " attempts";
    EXPECT_EQ(record_count(), 1);
}

TEST_F(ingest_test, full_producer_queue_is_503_retry_after_1)
{
    start({{"message.timeout.ms", "3000"}, {"queue.buffering.max.messages", "1"}});
    ASSERT_FALSE(cluster_.set_broker_down(1));
    auto first = std::async(std::launch::async, [&] { return post("/v1/events", R"({"type":"a"})"); });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (service_->pending_requests() == 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ(service_->pending_requests(), 1u);
    const auto second = post("/v1/events", R"({"type":"b"})");
    expect_problem(second, 503, "queue is full");
    EXPECT_EQ(second[bhttp::field::retry_after], "1");
    expect_problem(first.get(), 503, "Kafka did not acknowledge");
    ASSERT_FALSE(cluster_.set_broker_up(1));
    EXPECT_EQ(record_count(), 0);
}

TEST_F(ingest_test, too_many_pending_requests_is_503_retry_after_1)
{
    start({{"message.timeout.ms", "3000"}}, 64 * 1024, 8 * 1024, 1);
    ASSERT_FALSE(cluster_.set_broker_down(1));
    auto first = std::async(std::launch::async, [&] { return post("/v1/events", R"({"type":"a"})"); });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (service_->pending_requests() == 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ(service_->pending_requests(), 1u);
    const auto second = post("/v1/events", R"({"type":"b"})");
    expect_problem(second, 503, "too many requests");
    EXPECT_EQ(second[bhttp::field::retry_after], "1");
    expect_problem(first.get(), 503, "Kafka did not acknowledge");
    ASSERT_FALSE(cluster_.set_broker_up(1));
}

TEST_F(ingest_test, metrics_count_requests_by_route_and_code)
{
    start();
    ASSERT_EQ(post("/v1/events", R"({"type":"a"})").result_int(), 202u);
    post("/v1/events", R"({"type":"a"})", {}, std::nullopt);
    const auto text = prometheus::TextSerializer().Serialize(registry_.Collect());
    EXPECT_NE(text.find(R"(relay_ingest_requests_total{code="202",route="events"} 1)"), std::string::npos)
        << text;
    EXPECT_NE(text.find(R"(relay_ingest_requests_total{code="401",route="events"} 1)"), std::string::npos);
    EXPECT_NE(
        text.find("relay_ingest_request_duration_seconds_count{route=\"events\"} 2"), std::string::npos
    );
}

} // namespace
