// relay::http::server over loopback TCP: keep-alive, timeouts, limits and graceful stop as a client sees
// them.
#include "relay/http/server.hpp"

#include "support/http/connection.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <set>
#include <thread>

namespace relay::http {
namespace {

namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;
using test::http_connection;

class server_test : public ::testing::Test
{
protected:
    server_test()
        : work_(ioc_.get_executor())
    {
        routes_.add(bhttp::verb::get, "/hello", sync_handler([this](request_context& ctx) {
                        {
                            std::lock_guard lock(mutex_);
                            connections_.insert(ctx.connection_id);
                        }
                        response res{bhttp::status::ok, 11};
                        res.body() = "hello";
                        return res;
                    }));
        routes_.add(
            bhttp::verb::get,
            "/slow/{ms}",
            async_handler([this](request_context& ctx) -> boost::asio::awaitable<response> {
                slow_started_.set_value();
                boost::asio::steady_timer timer(
                    co_await boost::asio::this_coro::executor,
                    std::chrono::milliseconds(std::stoi(std::string(ctx.params["ms"])))
                );
                co_await timer.async_wait(boost::asio::use_awaitable);
                response res{bhttp::status::ok, 11};
                res.body() = "slow";
                co_return res;
            })
        );
        routes_.add(bhttp::verb::post, "/echo", sync_handler([](request_context& ctx) {
                        response res{bhttp::status::ok, 11};
                        res.body() = std::move(ctx.req.body());
                        return res;
                    }));
        opts_.address = "127.0.0.1";
        opts_.port = 0;
        thread_ = std::thread([this] { ioc_.run(); });
    }

    ~server_test() override
    {
        server_.reset();
        work_.reset();
        ioc_.stop();
        thread_.join();
    }

    server& start()
    {
        server_ = std::make_unique<server>(ioc_.get_executor(), routes_, opts_);
        server_->start();
        return *server_;
    }

    std::uint16_t port() const { return server_->local_endpoint().port(); }

    // Stops the server and waits for on_stopped; false when it did not fire within `timeout`.
    bool stop_and_wait(std::chrono::steady_clock::duration grace, std::chrono::milliseconds timeout)
    {
        auto stopped = std::make_shared<std::promise<void>>();
        auto done = stopped->get_future();
        server_->stop(grace, [stopped] { stopped->set_value(); });
        return done.wait_for(timeout) == std::future_status::ready;
    }

    boost::asio::io_context ioc_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
    std::thread thread_;
    router routes_;
    server_options opts_;
    std::unique_ptr<server> server_;
    std::promise<void> slow_started_;
    std::mutex mutex_;
    std::set<std::uint64_t> connections_;
};

TEST_F(server_test, binds_port_zero_and_reports_the_real_port)
{
    auto& s = start();
    EXPECT_NE(s.local_endpoint().port(), 0);
    EXPECT_EQ(s.local_endpoint().address().to_string(), "127.0.0.1");
}

TEST_F(server_test, binding_a_taken_port_throws)
{
    start();
    auto taken = opts_;
    taken.port = port();
    EXPECT_THROW(server(ioc_.get_executor(), routes_, taken), boost::system::system_error);
}

TEST_F(server_test, invalid_address_throws)
{
    auto bad = opts_;
    bad.address = "not-an-address";
    EXPECT_THROW(server(ioc_.get_executor(), routes_, bad), boost::system::system_error);
}

TEST_F(server_test, keep_alive_serves_two_requests_on_one_connection)
{
    start();
    http_connection c(port());
    const auto first = c.get("/hello");
    const auto second = c.get("/hello");
    ASSERT_TRUE(first.has_value()) << first.error().message();
    ASSERT_TRUE(second.has_value()) << second.error().message();
    EXPECT_EQ(first->body(), "hello");
    EXPECT_EQ(second->body(), "hello");
    EXPECT_TRUE(second->keep_alive());
    std::lock_guard lock(mutex_);
    EXPECT_EQ(connections_.size(), 1u);
    EXPECT_EQ(server_->connection_count(), 1u);
}

TEST_F(server_test, separate_connections_get_separate_ids)
{
    start();
    http_connection a(port());
    http_connection b(port());
    ASSERT_TRUE(a.get("/hello").has_value());
    ASSERT_TRUE(b.get("/hello").has_value());
    std::lock_guard lock(mutex_);
    EXPECT_EQ(connections_.size(), 2u);
}

TEST_F(server_test, unknown_path_is_a_problem_json_404)
{
    start();
    http_connection c(port());
    const auto res = c.get("/missing");
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->result_int(), 404u);
    EXPECT_EQ(res->at(bhttp::field::content_type), "application/problem+json");
}

TEST_F(server_test, request_that_stops_arriving_is_cut_after_the_read_timeout)
{
    opts_.read_timeout = 200ms;
    start();
    http_connection c(port());
    ASSERT_FALSE(c.write_raw("GET /hello HTTP/1.1\r\nHo"));
    const auto begin = std::chrono::steady_clock::now();
    EXPECT_TRUE(c.wait_closed(10s));
    EXPECT_GE(std::chrono::steady_clock::now() - begin, 150ms);
}

TEST_F(server_test, idle_keep_alive_connection_is_closed_after_the_idle_timeout)
{
    opts_.idle_timeout = 200ms;
    start();
    http_connection c(port());
    ASSERT_TRUE(c.get("/hello").has_value());
    EXPECT_TRUE(c.wait_closed(10s));
}

TEST_F(server_test, oversized_body_is_refused_with_413_even_while_the_client_keeps_sending)
{
    opts_.body_limit = 1024;
    start();
    http_connection c(port());
    // The whole 4 MiB goes out before the response is read: the server must drain it rather than reset.
    std::string raw = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4194304\r\n\r\n";
    raw.append(4 * 1024 * 1024, 'x');
    ASSERT_FALSE(c.write_raw(raw));
    const auto res = c.read_response();
    ASSERT_TRUE(res.has_value()) << res.error().message();
    EXPECT_EQ(res->result_int(), 413u);
    EXPECT_FALSE(res->keep_alive());
}

TEST_F(server_test, body_within_the_limit_is_echoed)
{
    opts_.body_limit = 1024 * 1024;
    start();
    http_connection c(port());
    const std::string body(512 * 1024, 'b');
    const auto res = c.post("/echo", body);
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->body(), body);
}

TEST_F(server_test, stop_lets_the_request_in_progress_finish_and_closes_idle_connections)
{
    start();
    http_connection idle(port());
    ASSERT_TRUE(idle.get("/hello").has_value());

    http_connection busy(port());
    std::future<boost::system::result<response>> slow =
        std::async(std::launch::async, [&] { return busy.get("/slow/300"); });
    slow_started_.get_future().wait();

    ASSERT_TRUE(stop_and_wait(10s, 10s));
    const auto res = slow.get();
    ASSERT_TRUE(res.has_value()) << res.error().message();
    EXPECT_EQ(res->body(), "slow");
    EXPECT_FALSE(res->keep_alive());
    EXPECT_TRUE(idle.wait_closed(5s));
    EXPECT_EQ(server_->connection_count(), 0u);
    EXPECT_TRUE(test::try_connect(port()));
}

TEST_F(server_test, stop_cuts_requests_that_outlast_the_grace_period)
{
    start();
    http_connection busy(port());
    std::future<boost::system::result<response>> slow =
        std::async(std::launch::async, [&] { return busy.get("/slow/60000"); });
    slow_started_.get_future().wait();

    const auto begin = std::chrono::steady_clock::now();
    ASSERT_TRUE(stop_and_wait(100ms, 10s));
    EXPECT_LT(std::chrono::steady_clock::now() - begin, 5s);
    EXPECT_FALSE(slow.get().has_value());
}

TEST_F(server_test, stop_without_connections_completes_at_once)
{
    start();
    EXPECT_TRUE(stop_and_wait(30s, 5s));
    EXPECT_TRUE(test::try_connect(port()));
}

TEST_F(server_test, many_concurrent_keep_alive_connections)
{
    start();
    constexpr int clients = 16;
    constexpr int per_client = 50;
    std::vector<std::future<int>> results;
    for (int i = 0; i < clients; ++i) {
        results.push_back(std::async(std::launch::async, [this] {
            http_connection c(port());
            int ok = 0;
            for (int j = 0; j < per_client; ++j) {
                const auto res = c.get("/hello");
                ok += res.has_value() && res->result_int() == 200 ? 1 : 0;
            }
            return ok;
        }));
    }
    int total = 0;
    for (auto& r : results) {
        total += r.get();
    }
    EXPECT_EQ(total, clients * per_client);
    std::lock_guard lock(mutex_);
    EXPECT_EQ(connections_.size(), static_cast<std::size_t>(clients));
}

} // namespace
} // namespace relay::http
