#pragma once

// A scripted loopback server for the HTTP client tests: each accepted connection runs a test-provided
// coroutine on the server's own thread, so tests can misbehave at the byte level (close early, drip, send
// garbage).

#include "relay/http/client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>

namespace relay_test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

/// Counters a server keeps; read from the test thread.
struct server_stats
{
    std::atomic<int> connections{0}; ///< accepted so far
    std::atomic<int> active{0};      ///< sessions running now
    std::atomic<int> max_active{0};  ///< most sessions running at once
    std::atomic<int> requests{0};    ///< complete requests read by read_request
};

class scripted_server
{
public:
    /// Runs for each connection; `index` counts connections from 0.
    using session_fn =
        std::function<asio::awaitable<void>(tcp::socket socket, int index, server_stats& stats)>;

    explicit scripted_server(session_fn session)
        : session_(std::move(session))
        , acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0))
    {
        asio::co_spawn(ioc_, accept_loop(), asio::detached);
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~scripted_server()
    {
        ioc_.stop();
        thread_.join();
    }
    scripted_server(const scripted_server&) = delete;
    scripted_server& operator=(const scripted_server&) = delete;

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    std::string url(std::string_view host = "127.0.0.1", std::string_view path = "/hook") const
    {
        return "http://" + std::string(host) + ":" + std::to_string(port()) + std::string(path);
    }
    server_stats& stats() { return stats_; }
    asio::io_context& context() { return ioc_; }

private:
    asio::awaitable<void> accept_loop()
    {
        for (;;) {
            auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
            if (ec) {
                co_return;
            }
            const int index = stats_.connections++;
            const int now = ++stats_.active;
            for (int seen = stats_.max_active.load();
                 now > seen && !stats_.max_active.compare_exchange_weak(seen, now);) {
            }
            asio::co_spawn(ioc_, run_session(std::move(socket), index), asio::detached);
        }
    }

    asio::awaitable<void> run_session(tcp::socket socket, int index)
    {
        try {
            co_await session_(std::move(socket), index, stats_);
        } catch (...) {
        }
        --stats_.active;
    }

    session_fn session_;
    server_stats stats_;
    asio::io_context ioc_;
    tcp::acceptor acceptor_;
    std::thread thread_;
};

/// Reads one complete request; counts it. Empty on EOF or error.
template <class Stream>
asio::awaitable<std::optional<bhttp::request<bhttp::string_body>>>
read_request(Stream& stream, beast::flat_buffer& buffer, server_stats& stats)
{
    bhttp::request<bhttp::string_body> req;
    auto [ec, n] = co_await bhttp::async_read(stream, buffer, req, use_tuple);
    if (ec) {
        co_return std::nullopt;
    }
    ++stats.requests;
    co_return req;
}

/// Writes raw bytes; false on error.
template <class Stream>
asio::awaitable<bool> write_raw(Stream& stream, std::string data)
{
    auto [ec, n] = co_await asio::async_write(stream, asio::buffer(data), use_tuple);
    co_return !ec;
}

/// A complete HTTP/1.1 response with Content-Length.
inline std::string response(int status, std::string_view body = {}, std::string_view extra_headers = {})
{
    return "HTTP/1.1 " + std::to_string(status) + " X\r\n" + std::string(extra_headers) +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

/// Drives a relay::http::client on the test thread's own io_context.
class client_driver
{
public:
    struct outcome
    {
        bool done = false;
        boost::system::error_code ec;
        relay::http::client_response resp;
    };

    asio::io_context& context() { return ioc_; }

    /// Starts a send; the outcome fills in when it completes. `req` must outlive the run.
    void start(relay::http::client& c, const relay::http::client_request& req, outcome& out)
    {
        c.async_send(req, [&out](boost::system::error_code ec, relay::http::client_response resp) {
            out.ec = ec;
            out.resp = std::move(resp);
            out.done = true;
        });
    }

    /// Runs handlers until `done()` or 20 s pass.
    template <class Pred>
    bool run_until(Pred done)
    {
        const auto limit = std::chrono::steady_clock::now() + 20s;
        ioc_.restart();
        while (!done() && std::chrono::steady_clock::now() < limit) {
            ioc_.run_one_for(100ms);
        }
        return done();
    }

    outcome send(relay::http::client& c, const relay::http::client_request& req)
    {
        outcome out;
        start(c, req, out);
        run_until([&] { return out.done; });
        return out;
    }

private:
    asio::io_context ioc_;
};

/// A request for `url` with a small JSON body.
inline relay::http::client_request make_request(const std::string& url, std::string_view body = R"({"n":1})")
{
    relay::http::client_request req;
    req.url = relay::net::parse_url(url).value();
    req.headers = {{"content-type", "application/json"}};
    req.body = body;
    req.timeout = 10s;
    return req;
}

/// Client settings that allow loopback (the servers live there).
inline relay::http::client_params loopback_params()
{
    relay::http::client_params p;
    p.address_policy.allow_loopback = true;
    return p;
}

} // namespace relay_test
