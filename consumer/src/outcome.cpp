#include "relay/delivery/outcome.hpp"

#include "relay/http/client_error.hpp"
#include "relay/net/address_policy.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

#include <cstring>
#include <optional>

namespace relay::delivery {
namespace {

constexpr classification retry(std::string_view reason) noexcept
{
    return {outcome::retryable, reason};
}

// Matched by name and value rather than by net_category() so classification does not need the net library
// linked; relay::net gives every category of its errors the name "relay.net".
bool is_net_error(const boost::system::error_code& ec, relay::net::errc e) noexcept
{
    return ec.value() == static_cast<int>(e) && std::strcmp(ec.category().name(), "relay.net") == 0;
}

// The outbound HTTP client's own codes (relay::http::client_errc), matched by category name so that this pure
// library does not link the HTTP client.
std::optional<classification> classify_client_error(const boost::system::error_code& ec) noexcept
{
    if (std::strcmp(ec.category().name(), "relay.http.client") != 0)
        return std::nullopt;
    using relay::http::client_errc;
    switch (static_cast<client_errc>(ec.value())) {
    case client_errc::resolve_failed:
    case client_errc::resolve_timeout:
        return retry("dns_error");
    case client_errc::connect_failed:
        return retry("connect_failed");
    case client_errc::connect_timeout:
        return retry("connect_timeout");
    case client_errc::tls_error:
        return retry("tls_error");
    case client_errc::request_timeout:
    case client_errc::pool_timeout:
        return retry("timeout");
    case client_errc::connection_closed:
        return retry("connection_closed");
    case client_errc::protocol_error:
        return retry("protocol_error");
    case client_errc::shutting_down:
        return retry("aborted");
    case client_errc::invalid_request:
        return classification{outcome::permanent, "invalid_request"};
    }
    return retry("network_error");
}

} // namespace

std::string_view to_string(outcome o) noexcept
{
    switch (o) {
    case outcome::delivered:
        return "delivered";
    case outcome::retryable:
        return "retryable";
    case outcome::permanent:
        return "permanent";
    case outcome::gone:
        return "gone";
    }
    return "unknown";
}

classification classify(unsigned status) noexcept
{
    if (status < 100 || status > 599)
        return retry("invalid_status");
    if (status < 200)
        return retry("informational_status");
    if (status < 300)
        return {outcome::delivered, "success"};
    if (status < 400)
        return {outcome::permanent, "redirect"};
    switch (status) {
    case 408:
        return retry("request_timeout");
    case 410:
        return {outcome::gone, "gone"};
    case 425:
        return retry("too_early");
    case 429:
        return retry("rate_limited");
    default:
        break;
    }
    if (status < 500)
        return {outcome::permanent, "client_error"};
    return retry("server_error");
}

classification classify(const boost::system::error_code& ec) noexcept
{
    namespace asio = boost::asio;
    namespace beast = boost::beast;
    if (!ec)
        return retry("unknown_error");
    if (is_net_error(ec, relay::net::errc::address_blocked))
        return {outcome::permanent, "address_blocked"};
    if (is_net_error(ec, relay::net::errc::invalid_url))
        return {outcome::permanent, "invalid_url"};
    if (const auto c = classify_client_error(ec))
        return *c;

    const auto& cat = ec.category();
    if (ec == beast::error::timeout || ec == asio::error::timed_out)
        return retry("timeout");
    if (ec == asio::error::operation_aborted)
        return retry("aborted");
    if (ec == asio::error::connection_refused)
        return retry("connection_refused");
    if (ec == asio::error::connection_reset || ec == asio::error::connection_aborted ||
        ec == asio::error::broken_pipe || ec == asio::error::eof || ec == beast::http::error::end_of_stream ||
        ec == beast::http::error::partial_message || ec == asio::error::not_connected ||
        ec == asio::error::shut_down)
        return retry("connection_closed");
    if (ec == asio::error::network_unreachable || ec == asio::error::host_unreachable ||
        ec == asio::error::network_down || ec == asio::error::network_reset)
        return retry("unreachable");
    if (cat == asio::error::get_netdb_category() || cat == asio::error::get_addrinfo_category())
        return retry("dns_error");
    if (cat == asio::error::get_ssl_category() || cat == asio::ssl::error::get_stream_category())
        return retry("tls_error");
    if (cat == beast::http::make_error_code(beast::http::error::bad_version).category())
        return retry("protocol_error");
    return retry("network_error");
}

} // namespace relay::delivery
