// The demo receiver of `relay dev` on loopback: what it prints for signed, tampered and unsigned webhooks,
// and how its paths answer.
#include "relay/dev/demo_receiver.hpp"
#include "relay/webhook/signing.hpp"

#include "support/http/connection.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <regex>
#include <thread>

namespace {

namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;
using relay::dev::demo_receiver;
using relay::dev::demo_receiver_options;

const relay::webhook::secret& test_secret()
{
    static const auto s = relay::webhook::parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").value();
    return s;
}

/// A demo receiver on its own io_context thread, with its lines captured.
class demo : public ::testing::Test
{
protected:
    void start(demo_receiver_options opts = {})
    {
        if (opts.secrets.empty() && !no_secret_) {
            opts.secrets.push_back(test_secret());
        }
        opts.output = [this](std::string_view line) {
            std::lock_guard lock(mutex_);
            lines_.emplace_back(line);
        };
        receiver_ = std::make_unique<demo_receiver>(io_.get_executor(), std::move(opts));
        receiver_->start();
        // Two threads, so concurrent requests really run handlers in parallel.
        for (int i = 0; i < 2; ++i) {
            threads_.emplace_back([this] { io_.run(); });
        }
    }

    void TearDown() override
    {
        if (receiver_) {
            std::promise<void> stopped;
            receiver_->stop(0s, [&] { stopped.set_value(); });
            EXPECT_EQ(stopped.get_future().wait_for(10s), std::future_status::ready);
        }
        work_.reset();
        io_.stop();
        for (auto& t : threads_) {
            t.join();
        }
    }

    std::vector<std::string> lines() const
    {
        std::lock_guard lock(mutex_);
        return lines_;
    }

    /// A webhook request as Relay sends it, signed with `secret` over `signed_body`; the body sent is `body`.
    static relay::http::request webhook(
        std::string_view target,
        const std::string& id,
        const std::string& body,
        std::optional<std::string> signed_body = std::nullopt,
        std::int64_t timestamp = relay::webhook::unix_now()
    )
    {
        relay::http::request req{bhttp::verb::post, std::string(target), 11};
        req.set(bhttp::field::content_type, "application/json");
        req.set("webhook-id", id);
        req.set("webhook-timestamp", std::to_string(timestamp));
        const std::span<const relay::webhook::secret> secrets(&test_secret(), 1);
        req.set(
            "webhook-signature",
            relay::webhook::signature_header(secrets, id, timestamp, signed_body.value_or(body))
        );
        req.body() = body;
        return req;
    }

    relay::http::response send(relay::http::request req)
    {
        relay::test::http_connection c(receiver_->port());
        auto res = c.roundtrip(std::move(req));
        EXPECT_TRUE(res.has_value()) << res.error().message();
        return res.has_value() ? std::move(*res) : relay::http::response{};
    }

    bool no_secret_ = false;
    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
    std::unique_ptr<demo_receiver> receiver_;
    std::vector<std::thread> threads_;
    mutable std::mutex mutex_;
    std::vector<std::string> lines_;
};

const std::string order_body = R"({"id":"evt_1","type":"order.created","data":{"order_id":"o-1"}})";

TEST_F(demo, binds_a_loopback_port)
{
    start();
    EXPECT_NE(receiver_->port(), 0);
    EXPECT_TRUE(receiver_->local_endpoint().address().is_loopback());
    EXPECT_EQ(receiver_->url("/orders"), "http://127.0.0.1:" + std::to_string(receiver_->port()) + "/orders");
}

TEST_F(demo, signed_webhook_prints_a_verified_line_and_answers_200)
{
    start();
    const auto res = send(webhook("/orders", "evt_1", order_body));
    EXPECT_EQ(res.result_int(), 200u);
    EXPECT_EQ(res.count(bhttp::field::retry_after), 0u);

    const auto l = lines();
    ASSERT_EQ(l.size(), 1u);
    EXPECT_TRUE(std::regex_match(
        l[0],
        std::regex(R"(\d\d:\d\d:\d\d  POST /orders  order\.created  id=evt_1  signature verified \(v1\)  )"
                   R"(attempt 1  -> 200  \{"id":"evt_1",.*\})")
    )) << l[0];
    EXPECT_EQ(l[0].find('\x1b'), std::string::npos) << "colour is off by default";

    const auto c = receiver_->counts();
    EXPECT_EQ(c.received, 1u);
    EXPECT_EQ(c.verified, 1u);
    EXPECT_EQ(c.invalid, 0u);
}

TEST_F(demo, tampered_body_prints_invalid)
{
    start();
    const std::string tampered = R"({"id":"evt_1","type":"order.created","data":{"order_id":"o-2"}})";
    const auto res = send(webhook("/orders", "evt_1", tampered, order_body));
    EXPECT_EQ(res.result_int(), 200u);

    const auto l = lines();
    ASSERT_EQ(l.size(), 1u);
    EXPECT_NE(l[0].find("signature INVALID: no matching signature found"), std::string::npos) << l[0];
    EXPECT_EQ(l[0].find("verified"), std::string::npos) << l[0];
    const auto c = receiver_->counts();
    EXPECT_EQ(c.received, 1u);
    EXPECT_EQ(c.verified, 0u);
    EXPECT_EQ(c.invalid, 1u);
}

TEST_F(demo, wrong_secret_stale_timestamp_and_missing_headers_are_invalid)
{
    demo_receiver_options opts;
    opts.secrets.push_back(relay::webhook::generate_secret());
    start(opts);
    send(webhook("/a", "evt_1", order_body));
    send(webhook("/a", "evt_2", order_body, std::nullopt, relay::webhook::unix_now() - 3600));
    relay::http::request bare{bhttp::verb::post, "/a", 11};
    bare.body() = "{}";
    bare.set("webhook-id", "evt_3");
    send(std::move(bare));

    const auto l = lines();
    ASSERT_EQ(l.size(), 3u);
    EXPECT_NE(l[0].find("signature INVALID: no matching signature found"), std::string::npos) << l[0];
    EXPECT_NE(l[1].find("signature INVALID: webhook-timestamp is too old ("), std::string::npos) << l[1];
    EXPECT_NE(
        l[2].find("signature INVALID: missing webhook-timestamp, webhook-signature headers"),
        std::string::npos
    ) << l[2];
    EXPECT_EQ(receiver_->counts().invalid, 3u);
}

TEST_F(demo, reject_invalid_answers_401)
{
    demo_receiver_options opts;
    opts.reject_invalid = true;
    start(opts);
    EXPECT_EQ(send(webhook("/a", "evt_1", "{}", std::string("{ }"))).result_int(), 401u);
    EXPECT_EQ(send(webhook("/a", "evt_2", "{}")).result_int(), 200u);
    const auto l = lines();
    ASSERT_EQ(l.size(), 2u);
    EXPECT_NE(l[0].find("-> 401"), std::string::npos) << l[0];
}

TEST_F(demo, redeliveries_of_one_id_count_attempts_per_path)
{
    start();
    send(webhook("/status/503", "evt_9", order_body));
    send(webhook("/status/503", "evt_9", order_body));
    send(webhook("/orders", "evt_9", order_body));
    send(webhook("/orders", "evt_10", order_body));
    const auto l = lines();
    ASSERT_EQ(l.size(), 4u);
    EXPECT_NE(l[0].find("attempt 1  -> 503"), std::string::npos) << l[0];
    EXPECT_NE(l[1].find("attempt 2  -> 503"), std::string::npos) << l[1];
    // Another path is another subscription: its own first attempt.
    EXPECT_NE(l[2].find("attempt 1  -> 200"), std::string::npos) << l[2];
    EXPECT_NE(l[3].find("id=evt_10  signature verified (v1)  attempt 1"), std::string::npos) << l[3];
}

TEST_F(demo, status_paths_answer_their_code)
{
    start();
    for (const unsigned code : {503u, 400u, 410u, 500u, 204u}) {
        const auto res = send(webhook("/status/" + std::to_string(code), "evt_1", order_body));
        EXPECT_EQ(res.result_int(), code);
        EXPECT_EQ(res.count(bhttp::field::retry_after), 0u) << code;
    }
    EXPECT_EQ(receiver_->counts().verified, 5u);
}

TEST_F(demo, retry_after_only_when_asked)
{
    start();
    auto res = send(webhook("/status/429?retry_after=2", "evt_1", order_body));
    EXPECT_EQ(res.result_int(), 429u);
    EXPECT_EQ(res[bhttp::field::retry_after], "2");
    res = send(webhook("/status/503/orders?retry_after=120", "evt_2", order_body));
    EXPECT_EQ(res.result_int(), 503u);
    EXPECT_EQ(res[bhttp::field::retry_after], "120");
    res = send(webhook("/status/429?retry_after=soon", "evt_3", order_body));
    EXPECT_EQ(res.result_int(), 429u);
    EXPECT_EQ(res.count(bhttp::field::retry_after), 0u);
}

TEST_F(demo, bad_status_path_answers_404_problem)
{
    start();
    const auto res = send(webhook("/status/999", "evt_1", order_body));
    EXPECT_EQ(res.result_int(), 404u);
    EXPECT_EQ(res[bhttp::field::content_type], "application/problem+json");
    const auto l = lines();
    ASSERT_EQ(l.size(), 1u);
    EXPECT_NE(l[0].find("-> 404"), std::string::npos);
}

TEST_F(demo, body_is_truncated_and_control_characters_are_neutralised)
{
    demo_receiver_options opts;
    opts.body_preview = 40;
    start(opts);
    const std::string body = "{\"type\":\"evil\x1b[2J\",\n\"data\":\"" + std::string(200, 'x') + "\"}";
    // Beast refuses control characters in the target and header values; a right-to-left override in the id
    // (U+202E) gets through and must not reach the terminal.
    send(webhook(
        "/a",
        "evt_\xe2\x80\xae"
        "1",
        body
    ));
    const auto l = lines();
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].find('\x1b'), std::string::npos) << l[0];
    EXPECT_EQ(l[0].find('\x07'), std::string::npos) << l[0];
    EXPECT_EQ(l[0].find('\n'), std::string::npos) << l[0];
    // The type is invalid (an escape character), so none is shown; the body is cut to 40 bytes.
    EXPECT_NE(l[0].find("  -  id=evt_?1  "), std::string::npos) << l[0];
    EXPECT_TRUE(l[0].ends_with(R"(  {"type":"evil?[2J", "data":")" + std::string(12, 'x') + "...")) << l[0];
}

TEST_F(demo, type_comes_from_cloudevents_too)
{
    start();
    send(webhook("/a", "ce-1", R"({"specversion":"1.0","id":"ce-1","type":"com.example.paid","source":"/s"})")
    );
    auto req = webhook("/b", "ce-2", R"({"amount":1})");
    req.set("ce-type", "com.example.refunded");
    send(std::move(req));
    send(webhook("/c", "x-1", "not json"));
    const auto l = lines();
    ASSERT_EQ(l.size(), 3u);
    EXPECT_NE(l[0].find("  com.example.paid  id=ce-1"), std::string::npos) << l[0];
    EXPECT_NE(l[1].find("  com.example.refunded  id=ce-2"), std::string::npos) << l[1];
    EXPECT_NE(l[2].find("  -  id=x-1  signature verified (v1)"), std::string::npos) << l[2];
}

TEST_F(demo, colour_marks_the_verdict)
{
    demo_receiver_options opts;
    opts.color = true;
    start(opts);
    send(webhook("/a", "evt_1", order_body));
    send(webhook("/status/503", "evt_2", order_body, std::string("{}")));
    const auto l = lines();
    ASSERT_EQ(l.size(), 2u);
    EXPECT_NE(l[0].find("\x1b[32msignature verified (v1)\x1b[0m"), std::string::npos) << l[0];
    EXPECT_NE(l[1].find("\x1b[1;31msignature INVALID: "), std::string::npos) << l[1];
    EXPECT_NE(l[1].find("\x1b[33m-> 503\x1b[0m"), std::string::npos) << l[1];
}

TEST_F(demo, ed25519_signatures_verify_as_v1a)
{
    const auto key = relay::webhook::signing_key::generate();
    demo_receiver_options opts;
    opts.public_keys.push_back(key.to_public());
    start(opts);
    const std::string id = "evt_a";
    const auto ts = relay::webhook::unix_now();
    relay::http::request req{bhttp::verb::post, "/a", 11};
    req.set("webhook-id", id);
    req.set("webhook-timestamp", std::to_string(ts));
    req.set("webhook-signature", relay::webhook::sign_v1a(key, id, ts, order_body));
    req.body() = order_body;
    send(std::move(req));
    const auto l = lines();
    ASSERT_EQ(l.size(), 1u);
    EXPECT_NE(l[0].find("signature verified (v1a)"), std::string::npos) << l[0];
}

TEST_F(demo, without_secrets_signatures_are_not_checked)
{
    no_secret_ = true;
    start();
    send(webhook("/a", "evt_1", order_body));
    const auto l = lines();
    ASSERT_EQ(l.size(), 1u);
    EXPECT_NE(l[0].find("signature not checked (no secret configured)"), std::string::npos) << l[0];
    const auto c = receiver_->counts();
    EXPECT_EQ(c.received, 1u);
    EXPECT_EQ(c.unchecked, 1u);
    EXPECT_EQ(c.verified + c.invalid, 0u);
}

TEST_F(demo, get_answers_help_and_is_not_counted)
{
    start();
    relay::test::http_connection c(receiver_->port());
    const auto res = c.get("/");
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->result_int(), 200u);
    EXPECT_NE(res->body().find("/status/<code>"), std::string::npos);
    relay::http::request put{bhttp::verb::put, "/a", 11};
    const auto res2 = c.roundtrip(std::move(put));
    ASSERT_TRUE(res2.has_value());
    EXPECT_EQ(res2->result_int(), 405u);
    EXPECT_EQ(receiver_->counts().received, 0u);
    EXPECT_TRUE(lines().empty());
}

TEST_F(demo, concurrent_webhooks_are_each_printed_once)
{
    start();
    constexpr int threads = 4;
    constexpr int per_thread = 25;
    std::vector<std::thread> senders;
    for (int t = 0; t < threads; ++t) {
        senders.emplace_back([this, t] {
            relay::test::http_connection c(receiver_->port());
            for (int i = 0; i < per_thread; ++i) {
                const auto id = "evt_" + std::to_string(t) + "_" + std::to_string(i);
                auto res = c.roundtrip(webhook("/a", id, order_body));
                EXPECT_TRUE(res.has_value() && res->result_int() == 200u);
            }
        });
    }
    for (auto& s : senders) {
        s.join();
    }
    EXPECT_EQ(lines().size(), static_cast<std::size_t>(threads * per_thread));
    EXPECT_EQ(receiver_->counts().verified, static_cast<std::uint64_t>(threads * per_thread));
}

} // namespace
