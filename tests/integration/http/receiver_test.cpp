// The loopback test receiver: what it records and how it answers as programmed.
#include "support/http/connection.hpp"
#include "support/http/receiver.hpp"

#include <gtest/gtest.h>

#include <future>
#include <set>

namespace relay::test {
namespace {

namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;

http::request webhook(std::string_view target, std::string body, std::string_view id)
{
    http::request req{bhttp::verb::post, boost::beast::string_view(target.data(), target.size()), 11};
    req.set(bhttp::field::content_type, "application/json");
    req.set("webhook-id", boost::beast::string_view(id.data(), id.size()));
    req.body() = std::move(body);
    return req;
}

TEST(receiver, url_points_at_its_loopback_port)
{
    receiver r;
    EXPECT_NE(r.port(), 0);
    EXPECT_EQ(r.url("/hooks/a"), "http://127.0.0.1:" + std::to_string(r.port()) + "/hooks/a");
}

TEST(receiver, records_method_target_headers_body_connection_and_time)
{
    receiver r;
    const auto before = std::chrono::system_clock::now();
    http_connection c(r.port());
    const auto res = c.roundtrip(webhook("/hooks/a?x=1", R"({"type":"order.created"})", "evt_1"));
    ASSERT_TRUE(res.has_value()) << res.error().message();
    EXPECT_EQ(res->result_int(), 200u);

    ASSERT_TRUE(r.wait_for_requests(1, 5s));
    const auto rec = r.request(0);
    EXPECT_EQ(rec.index, 0u);
    EXPECT_EQ(rec.method, "POST");
    EXPECT_EQ(rec.target, "/hooks/a?x=1");
    EXPECT_EQ(rec.header("Webhook-Id"), "evt_1");
    EXPECT_EQ(rec.header("content-type"), "application/json");
    EXPECT_FALSE(rec.has_header("webhook-signature"));
    EXPECT_EQ(rec.body, R"({"type":"order.created"})");
    EXPECT_NE(rec.connection_id, 0u);
    EXPECT_GE(rec.received_system, before - 1s);
    EXPECT_LE(rec.received_system, std::chrono::system_clock::now() + 1s);
}

TEST(receiver, requests_on_one_connection_share_its_id)
{
    receiver r;
    http_connection a(r.port());
    http_connection b(r.port());
    ASSERT_TRUE(a.post("/", "1").has_value());
    ASSERT_TRUE(a.post("/", "2").has_value());
    ASSERT_TRUE(b.post("/", "3").has_value());
    const auto recs = r.requests();
    ASSERT_EQ(recs.size(), 3u);
    EXPECT_EQ(recs[0].connection_id, recs[1].connection_id);
    EXPECT_NE(recs[0].connection_id, recs[2].connection_id);
}

TEST(receiver, queued_replies_apply_in_order_then_the_default)
{
    receiver r;
    r.enqueue({reply::with_status(503).header("Retry-After", "7"), reply::with_status(410)});
    r.set_default_reply(reply::with_status(202).with_body("accepted"));
    http_connection c(r.port());

    auto res = c.post("/", "{}");
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->result_int(), 503u);
    EXPECT_EQ(res->at(bhttp::field::retry_after), "7");
    res = c.post("/", "{}");
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->result_int(), 410u);
    res = c.post("/", "{}");
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->result_int(), 202u);
    EXPECT_EQ(res->body(), "accepted");
}

TEST(receiver, responder_decides_per_request)
{
    receiver r;
    r.set_responder([](const recorded_request& req) {
        return req.header("webhook-id") == "fail" ? reply::with_status(500) : reply::with_status(204);
    });
    http_connection c(r.port());
    auto res = c.roundtrip(webhook("/", "{}", "fail"));
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->result_int(), 500u);
    res = c.roundtrip(webhook("/", "{}", "ok"));
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->result_int(), 204u);
}

TEST(receiver, delayed_reply_arrives_after_the_delay)
{
    receiver r;
    r.enqueue(reply::with_status(200).delayed(300ms));
    http_connection c(r.port());
    const auto begin = std::chrono::steady_clock::now();
    const auto res = c.post("/", "{}");
    ASSERT_TRUE(res.has_value());
    EXPECT_GE(std::chrono::steady_clock::now() - begin, 300ms);
    // The request is recorded on arrival, not when the answer goes out.
    EXPECT_LT(r.request(0).received_steady - begin, 300ms);
}

TEST(receiver, dropped_reply_closes_the_connection_without_answer)
{
    receiver r;
    r.enqueue(reply::dropped());
    http_connection c(r.port());
    const auto res = c.post("/", "{}");
    EXPECT_FALSE(res.has_value());
    EXPECT_EQ(r.request_count(), 1u);
}

TEST(receiver, close_reply_answers_then_closes)
{
    receiver r;
    r.enqueue(reply::with_status(200).closing());
    http_connection c(r.port());
    const auto res = c.post("/", "{}");
    ASSERT_TRUE(res.has_value());
    EXPECT_FALSE(res->keep_alive());
    EXPECT_TRUE(c.wait_closed(5s));
}

TEST(receiver, wait_for_requests_returns_false_when_they_do_not_come)
{
    receiver r;
    http_connection c(r.port());
    ASSERT_TRUE(c.post("/", "{}").has_value());
    EXPECT_TRUE(r.wait_for_requests(1, 1s));
    const auto begin = std::chrono::steady_clock::now();
    EXPECT_FALSE(r.wait_for_requests(2, 200ms));
    EXPECT_GE(std::chrono::steady_clock::now() - begin, 200ms);
}

TEST(receiver, wait_for_requests_wakes_on_arrival_from_another_thread)
{
    receiver r;
    auto sender = std::async(std::launch::async, [&] {
        http_connection c(r.port());
        for (int i = 0; i < 5; ++i) {
            (void)c.post("/", std::to_string(i));
        }
    });
    EXPECT_TRUE(r.wait_for_requests(5, 10s));
    sender.get();
}

TEST(receiver, clear_forgets_requests_but_indexes_keep_counting)
{
    receiver r;
    http_connection c(r.port());
    ASSERT_TRUE(c.post("/", "a").has_value());
    r.clear();
    EXPECT_EQ(r.request_count(), 0u);
    ASSERT_TRUE(c.post("/", "b").has_value());
    ASSERT_EQ(r.request_count(), 1u);
    EXPECT_EQ(r.request(0).body, "b");
    EXPECT_EQ(r.request(0).index, 1u);
    EXPECT_THROW(r.request(1), std::out_of_range);
}

TEST(receiver, stop_refuses_connections_and_start_listens_again_on_the_same_port)
{
    receiver r;
    const auto port = r.port();
    http_connection before(port);
    ASSERT_TRUE(before.post("/", "1").has_value());

    r.stop();
    EXPECT_FALSE(r.running());
    EXPECT_TRUE(before.wait_closed(5s));
    EXPECT_TRUE(try_connect(port));

    r.start();
    EXPECT_TRUE(r.running());
    EXPECT_EQ(r.port(), port);
    http_connection after(port);
    ASSERT_TRUE(after.post("/", "2").has_value());
    const auto recs = r.requests();
    ASSERT_EQ(recs.size(), 2u);
    EXPECT_NE(recs[0].connection_id, recs[1].connection_id);
}

TEST(receiver, stop_cuts_replies_being_delayed)
{
    receiver r;
    r.set_default_reply(reply::with_status(200).delayed(60s));
    http_connection c(r.port());
    auto pending = std::async(std::launch::async, [&] { return c.post("/", "{}"); });
    ASSERT_TRUE(r.wait_for_requests(1, 5s));
    const auto begin = std::chrono::steady_clock::now();
    r.stop();
    EXPECT_FALSE(pending.get().has_value());
    EXPECT_LT(std::chrono::steady_clock::now() - begin, 10s);
}

// Sends `per_client` webhooks on each of `clients` keep-alive connections and checks every one was recorded
// once, with one connection id per client.
void push_concurrently(receiver& r, int clients, int per_client)
{
    std::vector<std::future<int>> results;
    for (int i = 0; i < clients; ++i) {
        results.push_back(std::async(std::launch::async, [&r, i, per_client] {
            http_connection c(r.port());
            int ok = 0;
            for (int j = 0; j < per_client; ++j) {
                const auto res = c.roundtrip(webhook("/", "{}", std::to_string(i) + "-" + std::to_string(j)));
                ok += res.has_value() && res->result_int() == 200 ? 1 : 0;
            }
            return ok;
        }));
    }
    int total = 0;
    for (auto& f : results) {
        total += f.get();
    }
    EXPECT_EQ(total, clients * per_client);
    ASSERT_TRUE(r.wait_for_requests(static_cast<std::size_t>(clients * per_client), 10s));
    std::set<std::string> ids;
    std::set<std::uint64_t> connections;
    for (const auto& rec : r.requests()) {
        ids.insert(rec.header("webhook-id"));
        connections.insert(rec.connection_id);
    }
    EXPECT_EQ(ids.size(), static_cast<std::size_t>(clients * per_client));
    EXPECT_EQ(connections.size(), static_cast<std::size_t>(clients));
}

TEST(receiver, handles_many_concurrent_keep_alive_connections)
{
    receiver r;
    push_concurrently(r, 32, 100);
}

TEST(receiver, runs_on_several_threads)
{
    receiver_options opts;
    opts.threads = 2;
    receiver r(opts);
    push_concurrently(r, 8, 100);
}

} // namespace
} // namespace relay::test
