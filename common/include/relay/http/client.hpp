#pragma once

#include "relay/http/client_error.hpp"
#include "relay/net/address_policy.hpp"
#include "relay/net/url.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace boost::asio::ssl {
class context;
} // namespace boost::asio::ssl

namespace relay::http {

/// One header field of an outbound request. Borrowed: both strings must outlive the request.
struct client_header
{
    std::string_view name;
    std::string_view value;
};

/// An outbound HTTP/1.1 request. Non-owning where it matters for the hot path: the request object and
/// everything it points to (header strings, body) must stay alive and unchanged until async_send completes
/// (as with Beast's async_write). The client adds `Host` and `Content-Length`; the caller sets everything
/// else (content-type, user-agent, webhook-*, custom headers). Host, Content-Length, Transfer-Encoding and
/// Connection may not be given, names must be RFC 9110 tokens and values may not hold CR, LF or NUL (else
/// client_errc::invalid_request).
struct client_request
{
    net::url url;                       ///< destination; the origin (scheme, host, port) picks the pool
    std::string_view method = "POST";   ///< an RFC 9110 token
    std::vector<client_header> headers; ///< sent in this order
    std::string_view body;              ///< sent as is, with Content-Length
    std::chrono::milliseconds timeout{
        30'000}; ///< total: queueing for a connection, connecting, sending, receiving
};

/// What came back. On success `status` is the final (non-1xx) status; 3xx are returned as they are, never
/// followed. On failure the fields hold what was known when the request failed (`elapsed` and `error_detail`
/// always).
struct client_response
{
    unsigned status = 0;     ///< HTTP status code; 0 when no status line arrived
    std::string body;        ///< the response body, at most client_params::max_response_body bytes
    bool truncated = false;  ///< the body was longer than the cap; the rest was not read
    std::string retry_after; ///< the raw value of the first Retry-After header, empty when absent
    std::chrono::steady_clock::duration elapsed{}; ///< from async_send to completion
    std::string error_detail; ///< on failure: a short human-readable cause (e.g. the TLS verify error)
};

/// Settings of a client (a plain aggregate with defaults, after Boost.MySQL's pool_params).
struct client_params
{
    /// Connections per origin (in use plus idle); further requests queue until one frees up or their
    /// deadline passes (client_errc::pool_timeout).
    std::size_t max_connections_per_origin = 16;
    /// Limit for resolving, TCP connect and the TLS handshake of a new connection, within the request
    /// timeout.
    std::chrono::milliseconds connect_timeout{10'000};
    /// An idle keep-alive connection older than this is closed instead of reused.
    std::chrono::milliseconds idle_timeout{30'000};
    /// Bytes of response body read at most (design.md section 6: 64 KiB); beyond it the response is marked
    /// truncated and its connection closed.
    std::size_t max_response_body = 64u * 1024;
    /// Bytes of status line plus header fields accepted; more is client_errc::protocol_error.
    std::size_t max_response_header = 16u * 1024;
    /// Where connections may go; every resolved address is checked before connecting (design.md section 9).
    net::address_policy address_policy;
    /// PEM file of CAs trusted in addition to the system store (used only when no TLS context is passed in).
    std::string extra_ca_file;
};

/// The outbound HTTP/1.1 client for webhook deliveries: one connection pool per origin, keep-alive reuse, no
/// redirects, a capped response body, the SSRF address policy applied to every resolved address, and TLS with
/// certificate and host name verification (SNI included).
///
/// A request that was sent on a reused keep-alive connection which turns out to be closed before any byte of
/// the response arrived is sent once more on a new connection (the server never saw it or dropped it
/// unanswered); no other failure is retried here, retries are the delivery worker's business.
///
/// Thread-safety: all state lives on the executor given at construction, which must not run handlers
/// concurrently (an io_context run by one thread, or a strand); the intended use is one client per io_context
/// thread. async_send and close may be called from any thread. The client must be destroyed before its
/// execution context; destroying it closes it (see close).
class client
{
public:
    using executor_type = boost::asio::any_io_executor;
    /// The completion signature of async_send.
    using send_signature = void(boost::system::error_code, client_response);

    /// A client running on `executor`. When `tls` is null a context is built with
    /// make_client_tls_context(params.extra_ca_file), which may throw std::runtime_error (start-up error).
    explicit client(
        executor_type executor,
        client_params params = {},
        std::shared_ptr<boost::asio::ssl::context> tls = nullptr
    );
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    /// Sends `req` and reads the response. Completes with void(error_code, client_response), through the
    /// handler's associated executor (for use_awaitable: the awaiting coroutine). Works with any completion
    /// token (callbacks, use_awaitable, use_future, ...).
    ///
    /// Errors: client_errc (see client_error.hpp; classify with is_retryable),
    /// relay::net::errc::address_blocked when no resolved address is allowed by the address policy (its
    /// message and `error_detail` name the class), client_errc::shutting_down after close(). A non-2xx status
    /// is not an error.
    template <class CompletionToken>
    auto async_send(const client_request& req, CompletionToken&& token)
    {
        return boost::asio::async_initiate<CompletionToken, send_signature>(
            [impl = impl_](auto handler, const client_request* r) {
                start_send(impl, *r, boost::asio::any_completion_handler<send_signature>(std::move(handler)));
            },
            token,
            &req
        );
    }

    /// Closes idle connections, fails queued requests with client_errc::shutting_down and refuses new ones;
    /// requests in flight finish (bounded by their timeouts) and their connections are then closed.
    /// Safe from any thread; idempotent.
    void close();

    /// The executor everything runs on.
    executor_type get_executor() const noexcept;

    /// The settings in effect.
    const client_params& params() const noexcept;

private:
    struct impl;

    static void start_send(
        std::shared_ptr<impl> impl,
        const client_request& req,
        boost::asio::any_completion_handler<send_signature> handler
    );

    std::shared_ptr<impl> impl_;
};

} // namespace relay::http
