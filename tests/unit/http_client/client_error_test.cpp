#include "relay/http/client_error.hpp"
#include "relay/net/address_policy.hpp"

#include <boost/asio/error.hpp>
#include <gtest/gtest.h>

namespace {

using relay::http::client_errc;
using relay::http::is_retryable;

TEST(http_client_error, transport_failures_and_timeouts_are_retryable)
{
    for (auto e :
         {client_errc::resolve_failed,
          client_errc::resolve_timeout,
          client_errc::connect_failed,
          client_errc::connect_timeout,
          client_errc::tls_error,
          client_errc::request_timeout,
          client_errc::connection_closed,
          client_errc::protocol_error,
          client_errc::pool_timeout,
          client_errc::shutting_down}) {
        EXPECT_TRUE(is_retryable(e)) << make_error_code(e).message();
    }
}

TEST(http_client_error, invalid_requests_and_blocked_destinations_are_permanent)
{
    EXPECT_FALSE(is_retryable(client_errc::invalid_request));
    EXPECT_FALSE(is_retryable(relay::net::errc::address_blocked));
    EXPECT_FALSE(is_retryable(relay::net::errc::invalid_url));
}

TEST(http_client_error, a_blocked_address_from_the_policy_is_permanent)
{
    const relay::net::address_policy policy;
    const auto ec = policy.check(boost::asio::ip::make_address("169.254.169.254"));
    ASSERT_TRUE(ec);
    EXPECT_FALSE(is_retryable(ec));
}

TEST(http_client_error, unknown_codes_are_retryable_and_success_is_not)
{
    EXPECT_TRUE(is_retryable(boost::asio::error::host_unreachable));
    EXPECT_FALSE(is_retryable(boost::system::error_code{}));
}

TEST(http_client_error, messages_are_specific)
{
    EXPECT_EQ(make_error_code(client_errc::request_timeout).message(), "request timed out");
    EXPECT_STREQ(relay::http::client_category().name(), "relay.http.client");
}

} // namespace
