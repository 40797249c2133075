#include "relay/webhook/headers.hpp"

#include <gtest/gtest.h>

#include <string>

namespace relay::webhook {
namespace {

TEST(is_token, accepts_tchars_only)
{
    EXPECT_TRUE(is_token("X-Api-Key"));
    EXPECT_TRUE(is_token("!#$%&'*+-.^_`|~09azAZ"));
    EXPECT_FALSE(is_token(""));
    for (std::string_view bad :
         {"X Api",
          "X:Api",
          "X\"",
          "a(b)",
          "a,b",
          "a/b",
          "a@b",
          "a[b]",
          "a{b}",
          "a=b",
          "a;b",
          "a\tb",
          "caf\xc3\xa9"}) {
        EXPECT_FALSE(is_token(bad)) << bad;
    }
}

TEST(validate_custom_header, accepts_ordinary_headers)
{
    EXPECT_EQ(validate_custom_header("X-Api-Key", "abc123"), "");
    EXPECT_EQ(validate_custom_header("Authorization", "Bearer t\tok"), "");
    EXPECT_EQ(validate_custom_header("X-Empty", ""), "");
    EXPECT_EQ(validate_custom_header("X-Utf8", "caf\xc3\xa9"), "");
    EXPECT_EQ(validate_custom_header("X-Max", std::string(8192, 'v')), "");
}

TEST(validate_custom_header, refuses_cr_lf_nul_in_values)
{
    for (const std::string& value :
         {std::string("a\rb"), std::string("a\nb"), std::string("a\r\nX-Evil: 1"), std::string("a\0b", 3)}) {
        const auto msg = validate_custom_header("X-Test", value);
        EXPECT_NE(msg.find("CR, LF or NUL"), std::string::npos) << msg;
    }
}

TEST(validate_custom_header, refuses_other_control_characters)
{
    EXPECT_NE(validate_custom_header("X-Test", "a\x01").find("control"), std::string::npos);
    EXPECT_NE(validate_custom_header("X-Test", "a\x7f").find("control"), std::string::npos);
    EXPECT_NE(validate_custom_header("X-Test", "\x1b[31m").find("control"), std::string::npos);
}

TEST(validate_custom_header, refuses_overlong_values)
{
    EXPECT_NE(validate_custom_header("X-Big", std::string(8193, 'v')).find("8192"), std::string::npos);
}

TEST(validate_custom_header, refuses_headers_relay_sets)
{
    for (std::string_view name :
         {"Host",
          "host",
          "Content-Length",
          "CONTENT-LENGTH",
          "Transfer-Encoding",
          "Connection",
          "Content-Type",
          "User-Agent",
          "webhook-id",
          "Webhook-Signature",
          "WEBHOOK-TIMESTAMP",
          "webhook-anything",
          "Keep-Alive",
          "Upgrade",
          "TE",
          "Trailer",
          "Expect",
          "Content-Encoding",
          "Proxy-Connection",
          "ce-id",
          "CE-Type"}) {
        const auto msg = validate_custom_header(name, "x");
        EXPECT_NE(msg, "") << name;
        EXPECT_NE(msg.find("set by Relay"), std::string::npos) << msg;
    }
    EXPECT_EQ(validate_custom_header("Webhook", "x"), "");
    EXPECT_EQ(validate_custom_header("X-Webhook-Id", "x"), "");
    EXPECT_EQ(validate_custom_header("Hosts", "x"), "");
}

TEST(validate_custom_header, refuses_non_token_names)
{
    for (std::string_view name : std::initializer_list<std::string_view>{
             "", "X Api", "X-Api:", "X\r\nEvil", std::string_view("X\0", 2), "X/Y"}) {
        EXPECT_NE(validate_custom_header(name, "x").find("token"), std::string::npos) << name;
    }
    EXPECT_NE(validate_custom_header(std::string(257, 'x'), "v").find("256"), std::string::npos);
}

TEST(validate_custom_header, never_echoes_the_value)
{
    const auto msg = validate_custom_header("X-Secret", "s3cr3t\r\n");
    EXPECT_NE(msg, "");
    EXPECT_EQ(msg.find("s3cr3t"), std::string::npos);
}

} // namespace
} // namespace relay::webhook
