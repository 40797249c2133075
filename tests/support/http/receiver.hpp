#pragma once

#include "relay/http/server.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/fields.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace relay::test {

/// One request the receiver got, as it arrived.
struct recorded_request
{
    std::uint64_t index = 0;         ///< arrival order, from 0 (continues across clear(), stop() and start())
    std::uint64_t connection_id = 0; ///< same value for requests on the same connection; never reused
    std::string method;              ///< "POST"
    std::string target;              ///< path and query as sent ("/hooks/a?x=1")
    boost::beast::http::fields headers;
    std::string body;
    std::chrono::steady_clock::time_point received_steady; ///< when the whole request had been read
    std::chrono::system_clock::time_point received_system; ///< the same instant on the wall clock

    /// The first value of header `name` (case-insensitive), "" when absent.
    std::string header(std::string_view name) const;
    /// True when header `name` is present.
    bool has_header(std::string_view name) const;
};

/// How the receiver answers one request.
struct reply
{
    unsigned status = 200;
    std::vector<std::pair<std::string, std::string>> headers; ///< extra headers ("Retry-After", "120")
    std::string body;
    std::chrono::milliseconds delay{0}; ///< wait this long before answering (or dropping)
    bool drop = false;                  ///< close the connection without answering
    bool close = false;                 ///< answer with `Connection: close`

    /// A reply with this status and nothing else.
    static reply with_status(unsigned status)
    {
        reply r;
        r.status = status;
        return r;
    }
    /// A reply that closes the connection without answering.
    static reply dropped()
    {
        reply r;
        r.drop = true;
        return r;
    }
    /// Adds a header: `reply::with_status(503).header("Retry-After", "7")`.
    reply& header(std::string name, std::string value)
    {
        headers.emplace_back(std::move(name), std::move(value));
        return *this;
    }
    /// Sets the body.
    reply& with_body(std::string b)
    {
        body = std::move(b);
        return *this;
    }
    /// Waits `d` before answering (or dropping).
    reply& delayed(std::chrono::milliseconds d)
    {
        delay = d;
        return *this;
    }
    /// Answers with `Connection: close`.
    reply& closing()
    {
        close = true;
        return *this;
    }
};

/// Settings of a receiver.
struct receiver_options
{
    /// Threads running the receiver's io_context.
    std::size_t threads = 1;
    /// Server settings; the address is always 127.0.0.1. Defaults: port 0, large limits, long idle timeout
    /// (so the client's pool decides when keep-alive connections close).
    http::server_options http = default_http();

    static http::server_options default_http()
    {
        http::server_options o;
        o.address = "127.0.0.1";
        o.port = 0;
        o.body_limit = std::size_t{16} * 1024 * 1024;
        o.header_limit = 64 * 1024;
        o.idle_timeout = std::chrono::minutes(10);
        o.name = "receiver";
        return o;
    }
};

/// A loopback webhook receiver for tests: an HTTP server on 127.0.0.1 (port 0 unless asked) with its own
/// io_context thread(s), recording every request and answering each as programmed.
///
/// How a request is answered, first match wins: the responder function (set_responder), else the next
/// queued reply (enqueue), else the default reply (200, empty body, unless set_default_reply).
///
/// Built for load: nothing is logged per request, requests are moved (not copied) into the record, and
/// recording takes one short lock. Thread-safety: every member may be called from any thread; the
/// responder runs on the receiver's threads, so it must be thread-safe itself.
class receiver
{
public:
    /// Starts listening. Throws boost::system::system_error when the port cannot be bound.
    explicit receiver(receiver_options opts = {});
    /// Stops the server and joins the threads.
    ~receiver();

    receiver(const receiver&) = delete;
    receiver& operator=(const receiver&) = delete;

    /// The port (stays the same across stop() and start()).
    std::uint16_t port() const noexcept { return port_; }

    /// "http://127.0.0.1:<port>" followed by `path` (which should start with '/').
    std::string url(std::string_view path = "/") const;

    /// The reply used when neither a responder nor a queued reply applies.
    void set_default_reply(reply r);

    /// Queues replies, used one per request in arrival order before the default reply.
    void enqueue(reply r);
    void enqueue(std::vector<reply> replies);

    /// Decides the reply of each request (the queue and the default are then ignored); an empty function
    /// removes it. Called on the receiver's threads, without any receiver lock held.
    void set_responder(std::function<reply(const recorded_request&)> responder);

    /// Waits until at least `n` requests have been recorded (since the last clear()). True when they have,
    /// false when `timeout` passed first. Wakes on each arrival (condition variable), never polls.
    bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const;

    /// Number of requests recorded since the last clear().
    std::size_t request_count() const;

    /// A copy of every request recorded since the last clear(), in arrival order.
    std::vector<recorded_request> requests() const;

    /// A copy of request `i` (0-based, since the last clear()). Throws std::out_of_range.
    recorded_request request(std::size_t i) const;

    /// Forgets every recorded request (queued replies and the responder stay).
    void clear();

    /// Simulates an outage: closes the listening socket and cuts every connection (replies being delayed are
    /// never sent). Connection attempts are then refused. Blocks until done; recorded requests stay.
    void stop();

    /// Listens again on the same port after stop(). Throws boost::system::system_error when the port was
    /// taken meanwhile. Does nothing when running.
    void start();

    /// True between start() (or construction) and stop().
    bool running() const;

    /// Number of open connections.
    std::size_t connection_count() const;

private:
    boost::asio::awaitable<http::response> handle(http::request_context& ctx);
    http::router make_router();

    receiver_options opts_;
    boost::asio::io_context ioc_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
    std::uint16_t port_ = 0;

    mutable std::mutex server_mutex_; // guards server_ across stop() and start()
    std::unique_ptr<http::server> server_;
    std::atomic<std::uint64_t> connection_base_{0};   // added to the server's connection ids
    std::atomic<std::uint64_t> max_connection_id_{0}; // highest id recorded, so restarts never reuse one

    mutable std::mutex mutex_;
    mutable std::condition_variable arrived_;
    std::deque<recorded_request> records_;
    std::uint64_t next_index_ = 0;
    std::deque<reply> queue_;
    reply default_reply_;
    std::shared_ptr<const std::function<reply(const recorded_request&)>> responder_;

    std::vector<std::thread> threads_;
};

} // namespace relay::test
