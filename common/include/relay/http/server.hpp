#pragma once

#include "relay/http/router.hpp"
#include "relay/http/session.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

namespace relay::http {

/// An HTTP/1.1 server (Boost.Beast, C++20 coroutines): one coroutine per connection on its own strand,
/// serving requests with serve_connection() and the given router.
///
/// Lifecycle: the constructor binds (so local_endpoint() is known at once, port 0 included), start()
/// accepts, stop() shuts down gracefully: no new connections, idle keep-alive connections are closed at once,
/// requests in progress get their response (with `Connection: close`) until `grace` passes, after which
/// the remaining connections are cut. Destroying a running server cuts every connection without waiting;
/// the coroutines still running keep what they use alive until they end.
///
/// Every coroutine has a completion handler that logs an exception escaping it and ends only that
/// connection. Nothing is logged per request.
///
/// Thread-safety: start(), stop(), connection_count() and local_endpoint() may be called from any thread.
/// The executor may be run by any number of threads.
class server
{
public:
    /// Binds `opts.address`:`opts.port` (SO_REUSEADDR, so a restarted server can take the same port at
    /// once). Throws boost::system::system_error when the address is invalid or cannot be bound, with a
    /// message naming it.
    server(boost::asio::any_io_executor executor, router routes, server_options opts);

    /// Cuts every connection (as stop() with no grace) if the server is still running; does not wait.
    ~server();

    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// The bound address, with the actual port when port 0 was asked for.
    boost::asio::ip::tcp::endpoint local_endpoint() const;

    /// Starts accepting connections. Does nothing after stop().
    void start();

    /// Stops: closes the listening socket and idle connections, lets requests in progress finish for at
    /// most `grace`, then cuts what is left. `on_stopped`, when given, runs on the server's executor once
    /// every connection has ended (at once if there are none). Calling it again adds `on_stopped`, and with
    /// a zero `grace` cuts the remaining connections now. Never blocks.
    void stop(std::chrono::steady_clock::duration grace, std::function<void()> on_stopped = {});

    /// Number of open connections.
    std::size_t connection_count() const;

    /// The options the server was made with.
    const server_options& options() const noexcept;

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

} // namespace relay::http
