// The outbound client against scripted loopback servers: statuses, keep-alive, the per-origin cap, the stale
// connection retry, redirects, the body cap, timeouts, the address policy and malformed responses.

#include "relay/http/client.hpp"
#include "relay/net/address_policy.hpp"

#include "test_server.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <vector>

namespace {

using namespace relay_test;
using relay::http::client;
using relay::http::client_errc;
using outcome = client_driver::outcome;

// Answers every request on the connection: the status is the request path without its slash.
asio::awaitable<void> status_by_path(tcp::socket s, int, server_stats& st)
{
    beast::flat_buffer buf;
    while (auto req = co_await read_request(s, buf, st)) {
        const int status = std::stoi(std::string(req->target().substr(1)));
        const std::string extra = status == 503 ? "Retry-After: 7\r\n" : "";
        if (!co_await write_raw(s, response(status, "body-" + std::to_string(status), extra))) {
            co_return;
        }
    }
}

// Answers 200 to every request, echoing the request body.
asio::awaitable<void> echo(tcp::socket s, int, server_stats& st)
{
    beast::flat_buffer buf;
    while (auto req = co_await read_request(s, buf, st)) {
        if (!co_await write_raw(s, response(200, req->body()))) {
            co_return;
        }
    }
}

class http_client : public ::testing::Test
{
protected:
    client make_client(relay::http::client_params p = loopback_params())
    {
        return client(driver_.context().get_executor(), std::move(p));
    }

    client_driver driver_;
};

TEST_F(http_client, returns_2xx_4xx_and_5xx_statuses_with_body_and_retry_after)
{
    scripted_server srv(status_by_path);
    auto c = make_client();
    for (int status : {200, 204, 404, 503}) {
        auto req = make_request(srv.url("127.0.0.1", "/" + std::to_string(status)));
        auto out = driver_.send(c, req);
        ASSERT_TRUE(out.done);
        ASSERT_FALSE(out.ec) << out.ec.message() << " " << out.resp.error_detail;
        EXPECT_EQ(out.resp.status, static_cast<unsigned>(status));
        EXPECT_EQ(out.resp.body, status == 204 ? "" : "body-" + std::to_string(status));
        EXPECT_EQ(out.resp.retry_after, status == 503 ? "7" : "");
        EXPECT_FALSE(out.resp.truncated);
        EXPECT_GT(out.resp.elapsed.count(), 0);
    }
}

TEST_F(http_client, sends_method_headers_and_body_as_given)
{
    std::string seen;
    std::mutex m;
    scripted_server srv([&](tcp::socket s, int, server_stats& st) -> asio::awaitable<void> {
        beast::flat_buffer buf;
        if (auto req = co_await read_request(s, buf, st)) {
            {
                std::lock_guard lock(m);
                seen = std::string(req->method_string()) + " " + std::string(req->target()) + " " +
                       std::string((*req)["webhook-id"]) + " " + std::string((*req)[bhttp::field::host]) +
                       " " + req->body();
            }
            co_await write_raw(s, response(200));
        }
    });
    auto c = make_client();
    auto req = make_request(srv.url("127.0.0.1", "/in?x=1"), "payload");
    req.headers.push_back({"webhook-id", "msg_42"});
    auto out = driver_.send(c, req);
    ASSERT_FALSE(out.ec) << out.ec.message();
    std::lock_guard lock(m);
    EXPECT_EQ(seen, "POST /in?x=1 msg_42 127.0.0.1:" + std::to_string(srv.port()) + " payload");
}

TEST_F(http_client, sequential_requests_reuse_one_keep_alive_connection)
{
    scripted_server srv(echo);
    auto c = make_client();
    auto req = make_request(srv.url());
    for (int i = 0; i < 5; ++i) {
        auto out = driver_.send(c, req);
        ASSERT_FALSE(out.ec) << out.ec.message();
        EXPECT_EQ(out.resp.body, req.body);
    }
    EXPECT_EQ(srv.stats().connections.load(), 1);
    EXPECT_EQ(srv.stats().requests.load(), 5);
}

TEST_F(http_client, works_with_use_awaitable)
{
    scripted_server srv(echo);
    auto c = make_client();
    auto req = make_request(srv.url());
    int ok = 0;
    asio::co_spawn(
        driver_.context(),
        [&]() -> asio::awaitable<void> {
            for (int i = 0; i < 2; ++i) {
                auto [ec, resp] = co_await c.async_send(req, use_tuple);
                if (!ec && resp.status == 200) {
                    ++ok;
                }
            }
        },
        asio::detached
    );
    EXPECT_TRUE(driver_.run_until([&] { return ok == 2; }));
    EXPECT_EQ(srv.stats().connections.load(), 1);
}

TEST_F(http_client, connection_close_response_is_not_reused)
{
    scripted_server srv([](tcp::socket s, int, server_stats& st) -> asio::awaitable<void> {
        beast::flat_buffer buf;
        if (co_await read_request(s, buf, st)) {
            co_await write_raw(s, response(200, "", "Connection: close\r\n"));
        }
    });
    auto c = make_client();
    auto req = make_request(srv.url());
    for (int i = 0; i < 2; ++i) {
        auto out = driver_.send(c, req);
        ASSERT_FALSE(out.ec) << out.ec.message();
    }
    EXPECT_EQ(srv.stats().connections.load(), 2);
}

// Holds every response until `target` connections are open at once (or 5 s pass), then answers all requests.
// Used on the server thread only. The timers live in the session frames (destroyed with the server's
// io_context); the gate only points at them while they wait, so it must outlive the server.
struct gate
{
    explicit gate(int target_connections)
        : target(target_connections)
    {}

    asio::awaitable<void> session(tcp::socket s, server_stats& st)
    {
        beast::flat_buffer buf;
        while (co_await read_request(s, buf, st)) {
            co_await wait(s.get_executor(), st);
            if (!co_await write_raw(s, response(200))) {
                co_return;
            }
        }
    }

    asio::awaitable<void> wait(const asio::any_io_executor& ex, server_stats& st)
    {
        if (st.active.load() >= target) {
            open = true;
            for (auto* t : waiting) {
                t->cancel();
            }
        }
        if (open) {
            co_return;
        }
        asio::steady_timer timer(ex, 5s);
        waiting.push_back(&timer);
        struct unregister
        {
            gate& g;
            asio::steady_timer* t;
            ~unregister() { std::erase(g.waiting, t); }
        } guard{*this, &timer};
        co_await timer.async_wait(use_tuple);
        open = true;
    }

    int target;
    bool open = false;
    std::vector<asio::steady_timer*> waiting;
};

TEST_F(http_client, concurrent_requests_respect_the_per_origin_cap)
{
    gate g(2);
    scripted_server srv([&g](tcp::socket s, int, server_stats& st) { return g.session(std::move(s), st); });
    auto params = loopback_params();
    params.max_connections_per_origin = 2;
    auto c = make_client(params);
    auto req = make_request(srv.url());
    std::vector<outcome> outs(8);
    for (auto& o : outs) {
        driver_.start(c, req, o);
    }
    ASSERT_TRUE(driver_.run_until([&] {
        return std::all_of(outs.begin(), outs.end(), [](auto& o) { return o.done; });
    }));
    for (auto& o : outs) {
        EXPECT_FALSE(o.ec) << o.ec.message();
        EXPECT_EQ(o.resp.status, 200u);
    }
    EXPECT_EQ(srv.stats().max_active.load(), 2);
    EXPECT_EQ(srv.stats().connections.load(), 2);
    EXPECT_EQ(srv.stats().requests.load(), 8);
}

TEST_F(http_client, queued_request_fails_with_pool_timeout_at_its_deadline)
{
    gate g(100); // never opens within the test: the first request holds the only connection
    scripted_server srv([&g](tcp::socket s, int, server_stats& st) { return g.session(std::move(s), st); });
    auto params = loopback_params();
    params.max_connections_per_origin = 1;
    auto c = make_client(params);
    auto slow = make_request(srv.url());
    slow.timeout = 1s;
    auto queued = make_request(srv.url());
    queued.timeout = 300ms;
    outcome a, b;
    driver_.start(c, slow, a);
    driver_.start(c, queued, b);
    ASSERT_TRUE(driver_.run_until([&] { return b.done; }));
    EXPECT_EQ(b.ec, client_errc::pool_timeout);
    EXPECT_TRUE(relay::http::is_retryable(b.ec));
    EXPECT_EQ(srv.stats().connections.load(), 1);
    ASSERT_TRUE(driver_.run_until([&] { return a.done; }));
    EXPECT_EQ(a.ec, client_errc::request_timeout);
}

TEST_F(http_client, stale_keep_alive_connection_is_retried_once_on_a_new_one)
{
    // Connection 0 answers its first request, then reads the second and closes without answering: the
    // keep-alive race. Later connections answer normally.
    scripted_server srv([](tcp::socket s, int index, server_stats& st) -> asio::awaitable<void> {
        beast::flat_buffer buf;
        for (int n = 0; co_await read_request(s, buf, st); ++n) {
            if (index == 0 && n == 1) {
                co_return;
            }
            if (!co_await write_raw(s, response(200, "from-" + std::to_string(index)))) {
                co_return;
            }
        }
    });
    auto c = make_client();
    auto req = make_request(srv.url());
    auto first = driver_.send(c, req);
    ASSERT_FALSE(first.ec) << first.ec.message();
    auto second = driver_.send(c, req);
    ASSERT_FALSE(second.ec) << second.ec.message() << " " << second.resp.error_detail;
    EXPECT_EQ(second.resp.body, "from-1");
    EXPECT_EQ(srv.stats().connections.load(), 2);
    EXPECT_EQ(srv.stats().requests.load(), 3);
}

TEST_F(http_client, stale_connection_is_retried_only_once)
{
    // Only the very first request is answered; every other request is read and its connection closed.
    scripted_server srv([](tcp::socket s, int index, server_stats& st) -> asio::awaitable<void> {
        beast::flat_buffer buf;
        for (int n = 0; co_await read_request(s, buf, st); ++n) {
            if (index != 0 || n != 0) {
                co_return;
            }
            co_await write_raw(s, response(200));
        }
    });
    auto c = make_client();
    auto req = make_request(srv.url());
    ASSERT_FALSE(driver_.send(c, req).ec);
    auto second = driver_.send(c, req);
    EXPECT_EQ(second.ec, client_errc::connection_closed);
    EXPECT_EQ(srv.stats().connections.load(), 2);
    EXPECT_EQ(srv.stats().requests.load(), 3);
}

TEST_F(http_client, server_closing_an_idle_connection_is_transparent)
{
    scripted_server srv([](tcp::socket s, int, server_stats& st) -> asio::awaitable<void> {
        beast::flat_buffer buf;
        if (co_await read_request(s, buf, st)) {
            co_await write_raw(s, response(200)); // keep-alive response, then an immediate close
        }
    });
    auto c = make_client();
    auto req = make_request(srv.url());
    for (int i = 0; i < 3; ++i) {
        auto out = driver_.send(c, req);
        ASSERT_FALSE(out.ec) << i << ": " << out.ec.message();
    }
    EXPECT_EQ(srv.stats().requests.load(), 3);
}

TEST_F(http_client, close_after_part_of_the_response_is_not_retried)
{
    scripted_server srv([](tcp::socket s, int, server_stats& st) -> asio::awaitable<void> {
        beast::flat_buffer buf;
        for (int n = 0; co_await read_request(s, buf, st); ++n) {
            if (n == 1) {
                co_await write_raw(s, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
                co_return;
            }
            co_await write_raw(s, response(200));
        }
    });
    auto c = make_client();
    auto req = make_request(srv.url());
    ASSERT_FALSE(driver_.send(c, req).ec);
    auto second = driver_.send(c, req);
    EXPECT_EQ(second.ec, client_errc::connection_closed);
    EXPECT_TRUE(relay::http::is_retryable(second.ec));
    EXPECT_EQ(srv.stats().connections.load(), 1);
    EXPECT_EQ(srv.stats().requests.load(), 2);
}

TEST_F(http_client, redirect_is_returned_not_followed)
{
    scripted_server target(echo);
    const std::string location = target.url();
    scripted_server redirector([location](tcp::socket s, int, server_stats& st) -> asio::awaitable<void> {
        beast::flat_buffer buf;
        while (co_await read_request(s, buf, st)) {
            co_await write_raw(s, response(302, "", "Location: " + location + "\r\n"));
        }
    });
    auto c = make_client();
    auto req = make_request(redirector.url());
    auto out = driver_.send(c, req);
    ASSERT_FALSE(out.ec) << out.ec.message();
    EXPECT_EQ(out.resp.status, 302u);
    EXPECT_EQ(redirector.stats().requests.load(), 1);
    EXPECT_EQ(target.stats().connections.load(), 0);
}

// Sends a 200 header announcing 100 MB and then body bytes until the client goes away.
asio::awaitable<void> endless_body(tcp::socket s, int, server_stats& st)
{
    beast::flat_buffer buf;
    if (!co_await read_request(s, buf, st)) {
        co_return;
    }
    constexpr std::size_t total = 100u * 1024 * 1024;
    if (!co_await write_raw(s, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(total) + "\r\n\r\n")) {
        co_return;
    }
    const std::string chunk(64 * 1024, 'x');
    for (std::size_t sent = 0; sent < total; sent += chunk.size()) {
        if (!co_await write_raw(s, chunk)) {
            co_return;
        }
    }
}

TEST_F(http_client, body_beyond_the_cap_is_truncated_and_the_connection_dropped)
{
    scripted_server srv(endless_body);
    auto c = make_client();
    auto req = make_request(srv.url());
    auto out = driver_.send(c, req);
    ASSERT_TRUE(out.done);
    ASSERT_FALSE(out.ec) << out.ec.message();
    EXPECT_EQ(out.resp.status, 200u);
    EXPECT_TRUE(out.resp.truncated);
    EXPECT_EQ(out.resp.body.size(), c.params().max_response_body);
    EXPECT_LT(out.resp.elapsed, 5s);

    auto again = driver_.send(c, req); // a truncated response's connection is never reused
    EXPECT_TRUE(again.resp.truncated);
    EXPECT_EQ(srv.stats().connections.load(), 2);
}

TEST_F(http_client, chunked_body_beyond_a_small_cap_is_truncated)
{
    scripted_server srv([](tcp::socket s, int, server_stats& st) -> asio::awaitable<void> {
        beast::flat_buffer buf;
        if (!co_await read_request(s, buf, st)) {
            co_return;
        }
        if (!co_await write_raw(s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")) {
            co_return;
        }
        for (int i = 0; i < 100000; ++i) {
            if (!co_await write_raw(s, "400\r\n" + std::string(0x400, 'y') + "\r\n")) {
                co_return;
            }
        }
    });
    auto params = loopback_params();
    params.max_response_body = 1000;
    auto c = make_client(params);
    auto req = make_request(srv.url());
    auto out = driver_.send(c, req);
    ASSERT_FALSE(out.ec) << out.ec.message();
    EXPECT_TRUE(out.resp.truncated);
    EXPECT_EQ(out.resp.body, std::string(1000, 'y'));
}

TEST_F(http_client, response_dripping_one_byte_per_second_hits_the_total_timeout)
{
    scripted_server srv([](tcp::socket s, int, server_stats& st) -> asio::awaitable<void> {
        beast::flat_buffer buf;
        if (!co_await read_request(s, buf, st)) {
            co_return;
        }
        const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
        asio::steady_timer timer(s.get_executor());
        for (char ch : head + std::string(100, 'z')) {
            if (!co_await write_raw(s, std::string(1, ch))) {
                co_return;
            }
            timer.expires_after(1s);
            co_await timer.async_wait(use_tuple);
        }
    });
    auto c = make_client();
    auto req = make_request(srv.url());
    req.timeout = 1500ms;
    auto out = driver_.send(c, req);
    ASSERT_TRUE(out.done);
    EXPECT_EQ(out.ec, client_errc::request_timeout);
    EXPECT_TRUE(relay::http::is_retryable(out.ec));
    EXPECT_GE(out.resp.elapsed, 1400ms);
    EXPECT_LT(out.resp.elapsed, 5s);
}

TEST_F(http_client, loopback_is_refused_by_the_default_policy_without_connecting)
{
    scripted_server srv(echo);
    auto blocked_client = make_client(relay::http::client_params{});
    auto req = make_request(srv.url());
    auto out = driver_.send(blocked_client, req);
    ASSERT_TRUE(out.done);
    EXPECT_EQ(out.ec, relay::net::errc::address_blocked);
    EXPECT_FALSE(relay::http::is_retryable(out.ec));
    EXPECT_NE(out.ec.message().find("loopback"), std::string::npos) << out.ec.message();
    EXPECT_NE(out.resp.error_detail.find("loopback"), std::string::npos) << out.resp.error_detail;

    // The allowed client's connection is accepted after any earlier one, so one connection in all proves the
    // refused request never reached the listener.
    auto allowed_client = make_client();
    auto ok = driver_.send(allowed_client, req);
    ASSERT_FALSE(ok.ec) << ok.ec.message();
    EXPECT_EQ(srv.stats().connections.load(), 1);
}

TEST_F(http_client, host_name_resolving_to_loopback_is_refused)
{
    scripted_server srv(echo);
    auto c = make_client(relay::http::client_params{});
    auto req = make_request(srv.url("localhost"));
    auto out = driver_.send(c, req);
    EXPECT_EQ(out.ec, relay::net::errc::address_blocked);
    auto allowed_client = make_client();
    ASSERT_FALSE(driver_.send(allowed_client, req).ec);
    EXPECT_EQ(srv.stats().connections.load(), 1);
}

TEST_F(http_client, explicitly_allowed_network_connects)
{
    scripted_server srv(echo);
    relay::http::client_params params;
    params.address_policy.allow.push_back(relay::net::parse_cidr("127.0.0.0/8").value());
    auto c = make_client(params);
    auto req = make_request(srv.url());
    auto out = driver_.send(c, req);
    EXPECT_FALSE(out.ec) << out.ec.message();
}

TEST_F(http_client, invalid_http_from_the_server_is_a_protocol_error)
{
    scripted_server srv([](tcp::socket s, int, server_stats& st) -> asio::awaitable<void> {
        beast::flat_buffer buf;
        if (co_await read_request(s, buf, st)) {
            co_await write_raw(s, "SMTP ready, not HTTP at all\r\n\r\n");
        }
    });
    auto c = make_client();
    auto req = make_request(srv.url());
    auto out = driver_.send(c, req);
    EXPECT_EQ(out.ec, client_errc::protocol_error);
    EXPECT_TRUE(relay::http::is_retryable(out.ec));
}

TEST_F(http_client, oversized_response_header_is_a_protocol_error)
{
    scripted_server srv([](tcp::socket s, int, server_stats& st) -> asio::awaitable<void> {
        beast::flat_buffer buf;
        if (co_await read_request(s, buf, st)) {
            co_await write_raw(s, "HTTP/1.1 200 OK\r\nX-Big: " + std::string(64 * 1024, 'a') + "\r\n\r\n");
        }
    });
    auto c = make_client();
    auto req = make_request(srv.url());
    auto out = driver_.send(c, req);
    EXPECT_EQ(out.ec, client_errc::protocol_error);
}

TEST_F(http_client, interim_1xx_responses_are_skipped)
{
    scripted_server srv([](tcp::socket s, int, server_stats& st) -> asio::awaitable<void> {
        beast::flat_buffer buf;
        if (co_await read_request(s, buf, st)) {
            co_await write_raw(s, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + response(201, "made"));
        }
    });
    auto c = make_client();
    auto req = make_request(srv.url());
    auto out = driver_.send(c, req);
    ASSERT_FALSE(out.ec) << out.ec.message();
    EXPECT_EQ(out.resp.status, 201u);
    EXPECT_EQ(out.resp.body, "made");
}

TEST_F(http_client, refused_connection_is_a_retryable_connect_failure)
{
    std::uint16_t port = 0;
    {
        asio::io_context tmp;
        tcp::acceptor a(tmp, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        port = a.local_endpoint().port();
    }
    auto c = make_client();
    auto req = make_request("http://127.0.0.1:" + std::to_string(port) + "/");
    auto out = driver_.send(c, req);
    EXPECT_EQ(out.ec, client_errc::connect_failed);
    EXPECT_TRUE(relay::http::is_retryable(out.ec));
    EXPECT_FALSE(out.resp.error_detail.empty());
}

TEST_F(http_client, invalid_header_is_refused_before_connecting)
{
    scripted_server srv(echo);
    auto c = make_client();
    auto req = make_request(srv.url());
    req.headers.push_back({"x-evil", "a\r\nx-injected: 1"});
    auto out = driver_.send(c, req);
    EXPECT_EQ(out.ec, client_errc::invalid_request);
    EXPECT_FALSE(relay::http::is_retryable(out.ec));
    req.headers.pop_back();
    ASSERT_FALSE(driver_.send(c, req).ec);
    EXPECT_EQ(srv.stats().connections.load(), 1);
    EXPECT_EQ(srv.stats().requests.load(), 1);
}

TEST_F(http_client, close_fails_queued_and_new_requests)
{
    gate g(100);
    scripted_server srv([&g](tcp::socket s, int, server_stats& st) { return g.session(std::move(s), st); });
    auto params = loopback_params();
    params.max_connections_per_origin = 1;
    auto c = make_client(params);
    auto in_flight = make_request(srv.url());
    in_flight.timeout = 1s;
    auto req = make_request(srv.url());
    outcome a, b;
    driver_.start(c, in_flight, a);
    driver_.start(c, req, b);
    ASSERT_TRUE(driver_.run_until([&] { return srv.stats().requests.load() == 1; }));
    c.close();
    ASSERT_TRUE(driver_.run_until([&] { return b.done; }));
    EXPECT_EQ(b.ec, client_errc::shutting_down);
    auto late = driver_.send(c, req);
    EXPECT_EQ(late.ec, client_errc::shutting_down);
    ASSERT_TRUE(driver_.run_until([&] { return a.done; }));
    EXPECT_EQ(a.ec, client_errc::request_timeout);
}

} // namespace
