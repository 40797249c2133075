#pragma once

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace relay::http {

/// Why an outbound request (relay::http::client::async_send) failed before a complete response arrived.
/// Every transport failure of the client is reported as one of these (or as
/// relay::net::errc::address_blocked), never as a raw system or OpenSSL code, so the delivery worker can
/// classify with `is_retryable`.
enum class client_errc
{
    // Retryable: the endpoint or the network may behave differently next time (design.md section 7).
    resolve_failed = 1, ///< DNS resolution failed or returned no address
    resolve_timeout,    ///< DNS resolution did not finish before the connect deadline
    connect_failed,     ///< no allowed address accepted the TCP connection (refused, unreachable, reset)
    connect_timeout,    ///< TCP connect and TLS handshake did not finish within the connect timeout
    tls_error,          ///< TLS handshake failed, including certificate or host name verification
    request_timeout,    ///< the total request timeout expired (while sending or waiting for the response)
    connection_closed,  ///< the server closed or reset the connection before the response was complete
    protocol_error,     ///< the server's response is not valid HTTP/1.x (or its header is too large)
    pool_timeout,       ///< no connection to the origin became free before the request's deadline
    shutting_down,      ///< the client was closed; the request was not sent

    // Permanent: the same request will fail the same way.
    invalid_request = 100, ///< the request cannot be sent as given (bad method, header name/value, scheme)
};

/// The category of client_errc ("relay.http.client").
const boost::system::error_category& client_category() noexcept;

inline boost::system::error_code make_error_code(client_errc e) noexcept
{
    return {static_cast<int>(e), client_category()};
}

/// Whether a request that failed with `ec` may succeed if tried again later (design.md section 7: timeouts,
/// connection and TLS errors are retryable). Permanent: client_errc::invalid_request and
/// relay::net::errc::address_blocked / invalid_url (the destination is not allowed; retrying cannot help).
/// Every other code, including ones this function does not know, is retryable: an unknown failure must not
/// dead-letter an event. An empty `ec` is not an error and returns false. Pure and thread-safe.
bool is_retryable(const boost::system::error_code& ec) noexcept;

} // namespace relay::http

template <>
struct boost::system::is_error_code_enum<relay::http::client_errc> : std::true_type
{};
