// Bearer token checks of the API.
#include "relay/api/auth.hpp"

#include <gtest/gtest.h>

namespace {

using relay::api::bearer_auth;
namespace bhttp = boost::beast::http;

relay::http::request with_auth(std::string_view value)
{
    relay::http::request req{bhttp::verb::post, "/v1/events", 11};
    req.set(bhttp::field::authorization, value);
    return req;
}

TEST(constant_time_equal, compares_contents_and_lengths)
{
    EXPECT_TRUE(relay::api::constant_time_equal("abc", "abc"));
    EXPECT_FALSE(relay::api::constant_time_equal("abc", "abd"));
    EXPECT_FALSE(relay::api::constant_time_equal("abc", "abcd"));
    EXPECT_FALSE(relay::api::constant_time_equal("", "a"));
    EXPECT_TRUE(relay::api::constant_time_equal("", ""));
}

TEST(bearer_auth, accepts_any_configured_token)
{
    const bearer_auth auth({"tok-one", "tok-two"});
    EXPECT_TRUE(auth.check(with_auth("Bearer tok-one")));
    EXPECT_TRUE(auth.check(with_auth("bearer tok-two")));
    EXPECT_FALSE(auth.check(with_auth("Bearer tok-three")));
    EXPECT_FALSE(auth.check(with_auth("Bearer tok-on")));
    EXPECT_FALSE(auth.check(with_auth("Basic tok-one")));
    EXPECT_FALSE(auth.check(with_auth("Bearer ")));
    EXPECT_FALSE(auth.check(relay::http::request{bhttp::verb::post, "/", 11}));
}

TEST(bearer_auth, refuses_two_authorization_fields)
{
    const bearer_auth auth({"tok-one"});
    auto req = with_auth("Bearer tok-one");
    req.insert(bhttp::field::authorization, "Bearer tok-one");
    EXPECT_FALSE(auth.check(req));
}

TEST(bearer_auth, unauthorized_is_a_problem_with_www_authenticate)
{
    const bearer_auth auth({"tok-one"});
    const auto res = auth.unauthorized(relay::http::request{bhttp::verb::post, "/", 11});
    EXPECT_EQ(res.result_int(), 401u);
    EXPECT_EQ(res[bhttp::field::content_type], "application/problem+json");
    EXPECT_EQ(res[bhttp::field::www_authenticate].substr(0, 6), "Bearer");
    EXPECT_NE(res.body().find("Authorization: Bearer"), std::string::npos);
}

TEST(bearer_auth, refuses_empty_token_lists)
{
    EXPECT_THROW(bearer_auth({}), std::invalid_argument);
    EXPECT_THROW(bearer_auth({"a", ""}), std::invalid_argument);
}

} // namespace
