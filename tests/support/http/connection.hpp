#pragma once

#include "relay/http/router.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace relay::test {

/// One blocking HTTP/1.1 client connection to 127.0.0.1 for tests, with a timeout on every operation, so
/// tests can see exactly what a server does on one connection (keep-alive, closes, raw bytes).
///
/// Thread-safety: none; use one per thread.
class http_connection
{
public:
    /// Connects to 127.0.0.1:`port`. Throws boost::system::system_error when the connection fails.
    explicit http_connection(
        std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(10)
    );

    /// Sends `req` (Host and Content-Length are set) and reads one response (skipping 1xx responses).
    boost::system::result<http::response> roundtrip(http::request req);

    /// GET `target`.
    boost::system::result<http::response> get(std::string_view target);

    /// POST `target` with `body` as application/json.
    boost::system::result<http::response> post(std::string_view target, std::string body);

    /// Writes raw bytes.
    boost::system::error_code write_raw(std::string_view bytes);

    /// Reads one response (including 1xx ones).
    boost::system::result<http::response> read_response();

    /// Waits until the server closes the connection (end of stream or reset), discarding any bytes. True
    /// when it did within `timeout`.
    bool wait_closed(std::chrono::milliseconds timeout);

    /// The local port of this connection (to tell connections apart on the server side).
    std::uint16_t local_port() const;

private:
    template <class Op>
    boost::system::error_code run(Op&& op, std::chrono::steady_clock::duration timeout);

    boost::asio::io_context ioc_;
    boost::beast::tcp_stream stream_;
    boost::beast::flat_buffer buffer_;
    std::uint16_t port_;
    std::chrono::milliseconds timeout_;
};

/// Tries to connect to 127.0.0.1:`port` and returns the error (success when a connection was made).
boost::system::error_code try_connect(std::uint16_t port);

} // namespace relay::test
