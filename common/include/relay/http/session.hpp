#pragma once

#include "relay/http/problem.hpp"
#include "relay/http/router.hpp"
#include "relay/log/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

namespace relay::http {

/// Settings of an HTTP server (and of each of its connections). Thread-safety: a value type.
struct server_options
{
    /// Address to bind ("0.0.0.0", "::", "127.0.0.1").
    std::string address = "0.0.0.0";
    /// Port to bind; 0 picks a free port (see server::local_endpoint).
    std::uint16_t port = 0;
    /// Largest accepted request body; larger ones get 413 and the connection is closed.
    std::size_t body_limit = std::size_t{1024} * 1024;
    /// Largest accepted request line plus header fields; larger ones get 431 and the connection is closed.
    std::uint32_t header_limit = 16 * 1024;
    /// Bound of each read of a request (the header, then the body); when it passes the connection is closed
    /// (beast::tcp_stream closes the socket on a timeout, so no 408 can be written).
    std::chrono::steady_clock::duration read_timeout = std::chrono::seconds(30);
    /// Bound of each write of a response; when it passes the connection is closed.
    std::chrono::steady_clock::duration write_timeout = std::chrono::seconds(30);
    /// How long a keep-alive connection may wait for its next request before the server closes it.
    std::chrono::steady_clock::duration idle_timeout = std::chrono::seconds(75);
    /// After answering an error and half-closing, how long unread request bytes are drained before the socket
    /// closes (closing with unread bytes sends a reset that can destroy the error response in flight).
    std::chrono::steady_clock::duration linger_timeout = std::chrono::seconds(2);
    /// Listen backlog.
    int backlog = 1024;
    /// Name of the server in log lines ("admin", "api").
    std::string name = "http";
};

/// What a connection's loop shares with the code that stops it. Access only on the connection's strand.
struct connection_state
{
    /// Number of the connection, unique within a server, starting at 1.
    std::uint64_t id = 0;
    /// The peer.
    boost::asio::ip::tcp::endpoint remote;
    /// True while the loop waits for the first byte of the next request: the connection can be closed
    /// without losing a request.
    bool idle = false;
};

namespace detail {

template <class Stream>
void set_deadline(Stream& stream, std::chrono::steady_clock::duration d)
{
    if constexpr (requires { stream.expires_after(d); }) {
        stream.expires_after(d);
    }
}

template <class Stream>
void clear_deadline(Stream& stream)
{
    if constexpr (requires { stream.expires_never(); }) {
        stream.expires_never();
    }
}

/// Closes the sending side (FIN) so the peer reads the end of the response, then the stream.
template <class Stream>
boost::asio::awaitable<void> close_gracefully(Stream& stream, const server_options& opts, bool drain)
{
    if constexpr (requires { stream.socket(); }) {
        boost::beast::error_code ec;
        stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
        if (!ec && drain) {
            // The peer may still be sending a request we refused; reading it until its FIN (bounded in
            // time: one deadline for the whole drain) keeps the kernel from answering those bytes with a
            // reset that could destroy the response before the peer reads it.
            char discard[16384];
            detail::set_deadline(stream, opts.linger_timeout);
            for (;;) {
                auto [rec, n] = co_await stream.async_read_some(
                    boost::asio::buffer(discard), boost::asio::as_tuple(boost::asio::use_awaitable)
                );
                if (rec) {
                    break;
                }
            }
        }
        stream.socket().close(ec);
    } else {
        stream.close();
    }
    co_return;
}

template <class Stream>
void close_abruptly(Stream& stream)
{
    if constexpr (requires { stream.socket(); }) {
        boost::beast::error_code ec;
        stream.socket().close(ec);
    } else {
        stream.close();
    }
}

/// The response to a request that could not be read, or `unknown` when the connection just ends (peer gone,
/// timeout, I/O error).
inline boost::beast::http::status status_for_read_error(const boost::beast::error_code& ec) noexcept
{
    namespace bhttp = boost::beast::http;
    if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
        return bhttp::status::request_header_fields_too_large;
    }
    if (ec == bhttp::error::body_limit) {
        return bhttp::status::payload_too_large;
    }
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) {
        return bhttp::status::unknown;
    }
    if (ec.category() == boost::beast::http::make_error_code(bhttp::error::bad_method).category()) {
        return bhttp::status::bad_request;
    }
    return bhttp::status::unknown;
}

inline bool response_asks_close(const response& res)
{
    const auto it = res.find(boost::beast::http::field::connection);
    if (it == res.end()) {
        return false;
    }
    for (const auto& token : boost::beast::http::token_list(it->value())) {
        if (boost::beast::iequals(token, "close")) {
            return true;
        }
    }
    return false;
}

inline void finish_response(response& res, unsigned version, bool keep_alive)
{
    namespace bhttp = boost::beast::http;
    res.version(version);
    const auto status = res.result_int();
    if ((status >= 100 && status < 200) || status == 204 || status == 304) {
        res.body().clear();
        res.erase(bhttp::field::content_length);
    } else {
        res.prepare_payload();
    }
    res.keep_alive(keep_alive);
}

/// The problem+json answer to a request refused while reading it; the detail says which limit or rule.
inline response make_read_error_response(
    boost::beast::http::status status, const boost::beast::error_code& ec, const server_options& opts
)
{
    namespace bhttp = boost::beast::http;
    std::string detail;
    if (status == bhttp::status::payload_too_large) {
        detail = "the request body exceeds the limit of " + std::to_string(opts.body_limit) + " bytes";
    } else if (status == bhttp::status::request_header_fields_too_large) {
        detail = "the request line and header fields exceed the limit of " +
                 std::to_string(opts.header_limit) + " bytes";
    } else {
        detail = "malformed HTTP/1.1 request: " + ec.message();
    }
    return make_problem_response(status, detail, 11);
}

} // namespace detail

/// Serves HTTP/1.1 requests on `stream` until the peer closes, an error occurs, a response is not
/// keep-alive, or `stopping` is set (checked whenever the connection is between requests).
///
/// Each request gets a fresh parser bounded by `opts.header_limit` and `opts.body_limit`; each read and
/// write is bounded by `opts.read_timeout` / `opts.write_timeout` and the wait for the next request by
/// `opts.idle_timeout` (when the stream has `expires_after`, as beast::tcp_stream does). Errors are
/// answered as application/problem+json before the connection closes: 400 (malformed request), 413 (body
/// too large), 431 (header too large); 404/405 when no route matches; 500 when a handler throws. A read or
/// write timeout or error closes the connection without an answer. The peer closing between requests
/// (end_of_stream) is a normal end. Expected failures never throw; an exception only escapes when the
/// coroutine is cancelled (server abort).
///
/// `Stream` is beast::tcp_stream in the server and beast::test::stream in tests. Runs on the stream's
/// strand; `conn` is only touched there.
template <class Stream>
boost::asio::awaitable<void> serve_connection(
    Stream& stream,
    const router& routes,
    const server_options& opts,
    connection_state& conn,
    const std::atomic<bool>& stopping
)
{
    namespace bhttp = boost::beast::http;
    using boost::asio::as_tuple;
    using boost::asio::use_awaitable;

    boost::beast::flat_buffer buffer;
    for (;;) {
        if (buffer.size() == 0) {
            if (stopping.load(std::memory_order_acquire)) {
                co_await detail::close_gracefully(stream, opts, false);
                co_return;
            }
            // Reading the first bytes ourselves (the parser then starts from the buffer) tells an idle
            // keep-alive connection, which stop() may close, from one carrying a request.
            conn.idle = true;
            detail::set_deadline(stream, opts.idle_timeout);
            auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), as_tuple(use_awaitable));
            conn.idle = false;
            if (ec) {
                detail::close_abruptly(stream);
                co_return;
            }
            buffer.commit(n);
        }

        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(opts.header_limit);
        parser.body_limit(opts.body_limit);

        detail::set_deadline(stream, opts.read_timeout);
        auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser, as_tuple(use_awaitable));
        boost::beast::error_code read_ec = hec;
        if (!read_ec) {
            auto& header = parser.get();
            if (!parser.is_done() && header.version() >= 11) {
                const auto expect = header[bhttp::field::expect];
                if (boost::beast::iequals(expect, "100-continue")) {
                    bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, header.version()};
                    detail::set_deadline(stream, opts.write_timeout);
                    auto [wec, wn] = co_await bhttp::async_write(stream, cont, as_tuple(use_awaitable));
                    if (wec) {
                        detail::close_abruptly(stream);
                        co_return;
                    }
                }
            }
            if (!parser.is_done()) {
                detail::set_deadline(stream, opts.read_timeout);
                auto [bec, bn] = co_await bhttp::async_read(stream, buffer, parser, as_tuple(use_awaitable));
                read_ec = bec;
            }
        }
        if (read_ec) {
            const auto status = detail::status_for_read_error(read_ec);
            if (status == bhttp::status::unknown) {
                detail::close_abruptly(stream);
                co_return;
            }
            if (log::enabled(log::level::debug)) {
                const auto message = read_ec.message();
                log::debug(
                    "http request refused",
                    {{"server", opts.name}, {"status", static_cast<unsigned>(status)}, {"error", message}}
                );
            }
            auto res = detail::make_read_error_response(status, read_ec, opts);
            detail::finish_response(res, 11, false);
            detail::set_deadline(stream, opts.write_timeout);
            auto [wec, wn] = co_await bhttp::async_write(stream, res, as_tuple(use_awaitable));
            if (wec) {
                detail::close_abruptly(stream);
                co_return;
            }
            co_await detail::close_gracefully(stream, opts, true);
            co_return;
        }

        request req = parser.release();
        const unsigned version = req.version();
        const bool client_keep_alive = req.keep_alive();
        const std::string_view target = req.target();
        const auto qmark = target.find('?');
        const std::string_view path = target.substr(0, qmark);
        const std::string_view query =
            qmark == std::string_view::npos ? std::string_view() : target.substr(qmark + 1);

        detail::clear_deadline(stream);
        response res;
        bool handler_failed = false;
        bool drop = false;
        auto match = routes.match(req.method(), path);
        if (match.target == nullptr) {
            if (match.allowed.empty()) {
                res = make_problem_response(bhttp::status::not_found, "no resource at this path", version);
            } else {
                res = make_problem_response(
                    bhttp::status::method_not_allowed, "method not allowed on this path", version
                );
                std::string allow;
                for (const auto v : match.allowed) {
                    if (!allow.empty()) {
                        allow.append(", ");
                    }
                    allow.append(bhttp::to_string(v));
                }
                res.set(bhttp::field::allow, allow);
            }
        } else {
            request_context ctx{req, path, query, std::move(match.params), conn.id, conn.remote};
            try {
                if (const auto* sync = std::get_if<sync_handler>(match.target)) {
                    res = (*sync)(ctx);
                } else {
                    res = co_await std::get<async_handler>(*match.target)(ctx);
                }
                drop = ctx.close_without_response;
            } catch (const boost::system::system_error& e) {
                if (e.code() == boost::asio::error::operation_aborted) {
                    throw;
                }
                handler_failed = true;
                log::error("http handler failed", {{"server", opts.name}, {"error", e.what()}});
            } catch (const std::exception& e) {
                handler_failed = true;
                log::error("http handler failed", {{"server", opts.name}, {"error", e.what()}});
            }
        }
        if (drop) {
            detail::close_abruptly(stream);
            co_return;
        }
        if (handler_failed) {
            res = make_problem_response(
                bhttp::status::internal_server_error, "the server failed to handle the request", version
            );
        }
        const bool keep_alive = client_keep_alive && !handler_failed && !detail::response_asks_close(res) &&
                                !stopping.load(std::memory_order_acquire);
        detail::finish_response(res, version, keep_alive);

        detail::set_deadline(stream, opts.write_timeout);
        auto [wec, wn] = co_await bhttp::async_write(stream, res, as_tuple(use_awaitable));
        if (wec) {
            detail::close_abruptly(stream);
            co_return;
        }
        if (!keep_alive) {
            co_await detail::close_gracefully(stream, opts, false);
            co_return;
        }
    }
}

} // namespace relay::http
