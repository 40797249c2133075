#include "relay/delivery/outcome.hpp"
#include "relay/http/client_error.hpp"
#include "relay/net/address_policy.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <gtest/gtest.h>

namespace {

using relay::delivery::classification;
using relay::delivery::classify;
using relay::delivery::outcome;
using relay::delivery::throttles_endpoint;

TEST(classify_status, every_2xx_is_delivered)
{
    for (unsigned s = 200; s < 300; ++s)
        EXPECT_EQ(classify(s), (classification{outcome::delivered, "success"})) << s;
}

TEST(classify_status, every_3xx_is_a_permanent_redirect)
{
    for (unsigned s = 300; s < 400; ++s)
        EXPECT_EQ(classify(s), (classification{outcome::permanent, "redirect"})) << s;
}

TEST(classify_status, gone_is_its_own_outcome)
{
    EXPECT_EQ(classify(410), (classification{outcome::gone, "gone"}));
}

TEST(classify_status, named_4xx_are_retryable)
{
    EXPECT_EQ(classify(408), (classification{outcome::retryable, "request_timeout"}));
    EXPECT_EQ(classify(425), (classification{outcome::retryable, "too_early"}));
    EXPECT_EQ(classify(429), (classification{outcome::retryable, "rate_limited"}));
}

TEST(classify_status, other_4xx_are_permanent)
{
    for (unsigned s = 400; s < 500; ++s) {
        if (s == 408 || s == 410 || s == 425 || s == 429)
            continue;
        EXPECT_EQ(classify(s), (classification{outcome::permanent, "client_error"})) << s;
    }
}

TEST(classify_status, every_5xx_is_retryable)
{
    for (unsigned s = 500; s < 600; ++s)
        EXPECT_EQ(classify(s), (classification{outcome::retryable, "server_error"})) << s;
}

TEST(classify_status, informational_and_out_of_range_are_retryable_protocol_errors)
{
    for (unsigned s = 100; s < 200; ++s)
        EXPECT_EQ(classify(s), (classification{outcome::retryable, "informational_status"})) << s;
    for (unsigned s : {0u, 1u, 99u, 600u, 999u, 4294967295u})
        EXPECT_EQ(classify(s), (classification{outcome::retryable, "invalid_status"})) << s;
}

TEST(classify_status, throttling_statuses)
{
    for (unsigned s = 0; s < 1000; ++s)
        EXPECT_EQ(throttles_endpoint(s), s == 429 || s == 502 || s == 503 || s == 504) << s;
}

classification of(boost::system::error_code ec)
{
    return classify(ec);
}

TEST(classify_transport, timeouts)
{
    EXPECT_EQ(of(boost::beast::error::timeout), (classification{outcome::retryable, "timeout"}));
    EXPECT_EQ(of(boost::asio::error::timed_out), (classification{outcome::retryable, "timeout"}));
}

TEST(classify_transport, connection_failures)
{
    EXPECT_EQ(
        of(boost::asio::error::connection_refused), (classification{outcome::retryable, "connection_refused"})
    );
    for (boost::system::error_code ec : {
             boost::system::error_code(boost::asio::error::connection_reset),
             boost::system::error_code(boost::asio::error::connection_aborted),
             boost::system::error_code(boost::asio::error::broken_pipe),
             boost::system::error_code(boost::asio::error::eof),
             boost::system::error_code(boost::beast::http::error::end_of_stream),
             boost::system::error_code(boost::beast::http::error::partial_message),
         })
        EXPECT_EQ(of(ec), (classification{outcome::retryable, "connection_closed"})) << ec.message();
    EXPECT_EQ(
        of(boost::asio::error::network_unreachable), (classification{outcome::retryable, "unreachable"})
    );
    EXPECT_EQ(of(boost::asio::error::host_unreachable), (classification{outcome::retryable, "unreachable"}));
}

TEST(classify_transport, resolve_failures)
{
    EXPECT_EQ(of(boost::asio::error::host_not_found), (classification{outcome::retryable, "dns_error"}));
    EXPECT_EQ(
        of(boost::asio::error::host_not_found_try_again), (classification{outcome::retryable, "dns_error"})
    );
    EXPECT_EQ(of(boost::asio::error::service_not_found), (classification{outcome::retryable, "dns_error"}));
}

TEST(classify_transport, tls_failures)
{
    EXPECT_EQ(
        of(boost::asio::ssl::error::stream_truncated), (classification{outcome::retryable, "tls_error"})
    );
    // A certificate verification failure arrives as an OpenSSL error in the ssl category.
    const boost::system::error_code verify_failed(0x0A000086, boost::asio::error::get_ssl_category());
    EXPECT_EQ(of(verify_failed), (classification{outcome::retryable, "tls_error"}));
}

TEST(classify_transport, protocol_errors)
{
    EXPECT_EQ(
        of(boost::beast::http::error::bad_status), (classification{outcome::retryable, "protocol_error"})
    );
    EXPECT_EQ(
        of(boost::beast::http::error::bad_chunk), (classification{outcome::retryable, "protocol_error"})
    );
}

TEST(classify_transport, cancellation_and_unknown_errors_are_retryable)
{
    EXPECT_EQ(of(boost::asio::error::operation_aborted), (classification{outcome::retryable, "aborted"}));
    EXPECT_EQ(
        of(boost::system::error_code(EPROTO, boost::system::system_category())),
        (classification{outcome::retryable, "network_error"})
    );
    EXPECT_EQ(of({}), (classification{outcome::retryable, "unknown_error"}));
}

// Stands in for relay::net's category: classification matches the name and value, as relay::net's
// categories (including its message-carrying variants) all share the name "relay.net".
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor" // Boost's category destructor is protected by design
class fake_net_category final : public boost::system::error_category
{
public:
    const char* name() const noexcept override { return "relay.net"; }
    std::string message(int) const override { return "refused"; }
};
#pragma GCC diagnostic pop

TEST(classify_transport, address_policy_refusal_is_permanent)
{
    static const fake_net_category net;
    const boost::system::error_code blocked(static_cast<int>(relay::net::errc::address_blocked), net);
    EXPECT_EQ(of(blocked), (classification{outcome::permanent, "address_blocked"}));
    const boost::system::error_code bad_url(static_cast<int>(relay::net::errc::invalid_url), net);
    EXPECT_EQ(of(bad_url), (classification{outcome::permanent, "invalid_url"}));
    // Same value in another category is not a policy refusal.
    const boost::system::error_code other(
        static_cast<int>(relay::net::errc::address_blocked), boost::system::generic_category()
    );
    EXPECT_EQ(of(other).outcome, outcome::retryable);
}

TEST(classify_transport, the_http_clients_own_codes)
{
    using relay::http::client_errc;
    const std::pair<client_errc, classification> cases[] = {
        {client_errc::resolve_failed, {outcome::retryable, "dns_error"}},
        {client_errc::resolve_timeout, {outcome::retryable, "dns_error"}},
        {client_errc::connect_failed, {outcome::retryable, "connect_failed"}},
        {client_errc::connect_timeout, {outcome::retryable, "connect_timeout"}},
        {client_errc::tls_error, {outcome::retryable, "tls_error"}},
        {client_errc::request_timeout, {outcome::retryable, "timeout"}},
        {client_errc::pool_timeout, {outcome::retryable, "timeout"}},
        {client_errc::connection_closed, {outcome::retryable, "connection_closed"}},
        {client_errc::protocol_error, {outcome::retryable, "protocol_error"}},
        {client_errc::shutting_down, {outcome::retryable, "aborted"}},
        {client_errc::invalid_request, {outcome::permanent, "invalid_request"}},
    };
    for (const auto& [code, expected] : cases)
        EXPECT_EQ(classify(make_error_code(code)), expected) << static_cast<int>(code);
}

TEST(outcome, names)
{
    EXPECT_EQ(relay::delivery::to_string(outcome::delivered), "delivered");
    EXPECT_EQ(relay::delivery::to_string(outcome::retryable), "retryable");
    EXPECT_EQ(relay::delivery::to_string(outcome::permanent), "permanent");
    EXPECT_EQ(relay::delivery::to_string(outcome::gone), "gone");
}

} // namespace
