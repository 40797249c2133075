#include "relay/http/client_error.hpp"

#include "relay/net/address_policy.hpp"

#include <string>

namespace relay::http {
namespace {

const char* message_of(int ev) noexcept
{
    switch (static_cast<client_errc>(ev)) {
    case client_errc::resolve_failed:
        return "host name resolution failed";
    case client_errc::resolve_timeout:
        return "host name resolution timed out";
    case client_errc::connect_failed:
        return "connection failed";
    case client_errc::connect_timeout:
        return "connect timed out";
    case client_errc::tls_error:
        return "TLS handshake failed";
    case client_errc::request_timeout:
        return "request timed out";
    case client_errc::connection_closed:
        return "connection closed before the response was complete";
    case client_errc::protocol_error:
        return "invalid HTTP response";
    case client_errc::pool_timeout:
        return "no connection to the origin became available in time";
    case client_errc::shutting_down:
        return "HTTP client is shutting down";
    case client_errc::invalid_request:
        return "invalid request";
    }
    return "unknown relay.http.client error";
}

// error_category's destructor is non-virtual by design (categories are never deleted through the base);
// GCC's -Wnon-virtual-dtor flags every derived category anyway.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class client_category_impl final : public boost::system::error_category
{
public:
    const char* name() const noexcept override { return "relay.http.client"; }
    std::string message(int ev) const override { return message_of(ev); }
    const char* message(int ev, char*, std::size_t) const noexcept override { return message_of(ev); }
};
#pragma GCC diagnostic pop

} // namespace

const boost::system::error_category& client_category() noexcept
{
    static const client_category_impl instance;
    return instance;
}

bool is_retryable(const boost::system::error_code& ec) noexcept
{
    if (!ec) {
        return false;
    }
    if (ec == client_errc::invalid_request || ec == net::errc::address_blocked ||
        ec == net::errc::invalid_url) {
        return false;
    }
    return true;
}

} // namespace relay::http
