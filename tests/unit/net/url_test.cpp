#include "relay/net/address_policy.hpp"
#include "relay/net/url.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string>

namespace relay::net {
namespace {

url parse_ok(std::string_view text)
{
    auto r = parse_url(text);
    EXPECT_TRUE(r.has_value()) << text << ": " << (r ? "" : r.error().message());
    return r ? *r : url{};
}

std::string parse_error(std::string_view text)
{
    auto r = parse_url(text);
    EXPECT_FALSE(r.has_value()) << text << " parsed as " << (r ? r->origin() + r->target : "");
    if (r) {
        return {};
    }
    EXPECT_EQ(r.error(), errc::invalid_url);
    return r.error().message();
}

TEST(parse_url, splits_https_url_with_defaults)
{
    const auto u = parse_ok("https://Hooks.Example.COM/path/to?x=1#frag");
    EXPECT_EQ(u.scheme, "https");
    EXPECT_EQ(u.host, "hooks.example.com");
    EXPECT_EQ(u.port, 443);
    EXPECT_EQ(u.target, "/path/to?x=1");
    EXPECT_FALSE(u.host_is_literal);
}

TEST(parse_url, uppercase_scheme_and_explicit_port)
{
    const auto u = parse_ok("HTTP://example.com:8080");
    EXPECT_EQ(u.scheme, "http");
    EXPECT_EQ(u.port, 8080);
    EXPECT_EQ(u.target, "/");
}

TEST(parse_url, query_without_path_gets_slash)
{
    EXPECT_EQ(parse_ok("https://example.com?token=abc").target, "/?token=abc");
}

TEST(parse_url, trailing_dot_of_host_is_dropped)
{
    EXPECT_EQ(parse_ok("https://example.com./x").host, "example.com");
}

TEST(parse_url, non_ascii_path_is_percent_encoded)
{
    EXPECT_EQ(parse_ok("https://example.com/caf\xc3\xa9").target, "/caf%C3%A9");
}

TEST(parse_url, ipv6_literal_without_brackets_in_host)
{
    const auto u = parse_ok("https://[2606:4700::1111]:8443/x");
    EXPECT_EQ(u.host, "2606:4700::1111");
    EXPECT_EQ(u.port, 8443);
    EXPECT_TRUE(u.host_is_literal);
    EXPECT_EQ(u.origin(), "https://[2606:4700::1111]:8443");
}

TEST(parse_url, ipv6_literal_is_canonicalized)
{
    EXPECT_EQ(parse_ok("http://[::FFFF:7f00:1]/").host, "::ffff:127.0.0.1");
    EXPECT_EQ(parse_ok("http://[0:0:0:0:0:0:0:1]/").host, "::1");
}

TEST(parse_url, dotted_quad_is_literal)
{
    const auto u = parse_ok("http://93.184.216.34/");
    EXPECT_EQ(u.host, "93.184.216.34");
    EXPECT_TRUE(u.host_is_literal);
}

struct literal_case
{
    const char* input;
    const char* host;
};

void PrintTo(const literal_case& c, std::ostream* os)
{
    *os << c.input;
}

class ipv4_spellings : public testing::TestWithParam<literal_case>
{};

TEST_P(ipv4_spellings, are_normalized_to_dotted_quad)
{
    const auto u = parse_ok(std::string("http://") + GetParam().input + "/");
    EXPECT_EQ(u.host, GetParam().host);
    EXPECT_TRUE(u.host_is_literal);
}

INSTANTIATE_TEST_SUITE_P(
    resolver_forms,
    ipv4_spellings,
    testing::Values(
        literal_case{"127.1", "127.0.0.1"},
        literal_case{"0177.0.0.1", "127.0.0.1"},
        literal_case{"2130706433", "127.0.0.1"},
        literal_case{"0x7f000001", "127.0.0.1"},
        literal_case{"0x7F.1", "127.0.0.1"},
        literal_case{"0x7f.0.0.0x1", "127.0.0.1"},
        literal_case{"127.0.1", "127.0.0.1"},
        literal_case{"0", "0.0.0.0"},
        literal_case{"169.254.43518", "169.254.169.254"},
        literal_case{"0251.0376.0251.0376", "169.254.169.254"},
        literal_case{"000000000000000000127.0.0.1", "87.0.0.1"},
        literal_case{"4294967295", "255.255.255.255"},
        literal_case{"127.0.0.1.", "127.0.0.1"}
    )
);

TEST(parse_url, invalid_ipv4_lookalikes_are_refused)
{
    for (const char* host :
         {"1.2.3.256", "1.2.3.4.5", "08.1.1.1", "4294967296", "0x", "0x1g.1", "256.1", "example.123"}) {
        const auto msg = parse_error(std::string("http://") + host + "/");
        EXPECT_NE(msg.find("IPv4"), std::string::npos) << host << ": " << msg;
    }
}

TEST(parse_ip_literal, agrees_with_inet_aton)
{
    for (const char* text :
         {"127.1",
          "0x7f.1",
          "0X7F.0X0.0X0.0X1",
          "0177.1",
          "017777777777",
          "0x7fffffff",
          "1.0x10000",
          "1.2.0x10000",
          "1.2.65535",
          "1.2.65536",
          "1.16777215",
          "1.16777216",
          "255.255.255.255",
          "256.0.0.1",
          "0",
          "00",
          "0x",
          "0x0",
          "09",
          "0.0.0.08",
          "1.2.3.4.5",
          "1..2",
          ".1.2",
          "1.2.",
          "-1",
          "+1",
          "0x100000000",
          "99999999999999999999",
          "0xffffffffffffffffff",
          "1e3",
          "1.2.3.4 ",
          "a.b.c.d"}) {
        in_addr expected{};
        const bool libc_ok =
            ::inet_aton(text, &expected) != 0 && std::string_view(text).find(' ') == std::string_view::npos;
        const auto ours = parse_ip_literal(text);
        ASSERT_EQ(ours.has_value(), libc_ok) << text;
        if (libc_ok) {
            EXPECT_EQ(ours->to_v4().to_uint(), ntohl(expected.s_addr)) << text;
        }
    }
}

TEST(parse_url, digits_inside_a_name_are_not_literals)
{
    const auto u = parse_ok("https://123.example.com/");
    EXPECT_FALSE(u.host_is_literal);
    EXPECT_FALSE(parse_ok("https://0x7f.example/").host_is_literal);
}

TEST(parse_url, rejects_other_schemes)
{
    for (const char* text :
         {"ftp://example.com/", "file:///etc/passwd", "gopher://127.0.0.1:70/", "ws://x/"}) {
        EXPECT_NE(parse_error(text).find("scheme"), std::string::npos) << text;
    }
}

TEST(parse_url, rejects_relative_and_scheme_less_urls)
{
    parse_error("example.com/hook");
    parse_error("//example.com/hook");
    parse_error("https:example.com");
}

TEST(parse_url, rejects_userinfo)
{
    EXPECT_NE(parse_error("https://user:pass@example.com/").find("user:password@"), std::string::npos);
    parse_error("https://example.com@127.0.0.1/");
    parse_error("https://@example.com/");
}

TEST(parse_url, rejects_whitespace_and_control_characters)
{
    for (std::string text : {
             std::string("https://example.com/a b"),
             std::string("https://example.com/a\r\nHost: evil"),
             std::string("https://exa\tmple.com/"),
             std::string("https://example.com/\x7f"),
             std::string("https://example.com/a\0b", 23),
             std::string(" https://example.com/"),
         }) {
        EXPECT_NE(parse_error(text).find("control"), std::string::npos);
    }
}

TEST(parse_url, rejects_bad_ports)
{
    for (const char* text :
         {"https://example.com:0/",
          "https://example.com:65536/",
          "https://example.com:/",
          "https://example.com:-1/",
          "https://example.com:8o/",
          "https://example.com:123456/",
          "https://[::1]:0/"}) {
        EXPECT_NE(parse_error(text).find("port"), std::string::npos) << text;
    }
    EXPECT_EQ(parse_ok("https://example.com:65535/").port, 65535);
}

TEST(parse_url, rejects_empty_host)
{
    EXPECT_NE(parse_error("https:///path").find("empty host"), std::string::npos);
    EXPECT_NE(parse_error("https://:443/").find("empty host"), std::string::npos);
}

TEST(parse_url, rejects_bad_host_characters)
{
    parse_error("https://exa%6dple.com/");
    parse_error("https://example.com\\@evil.com/");
    parse_error("https://a..b/");
    parse_error("https://" + std::string(64, 'a') + ".com/");
    EXPECT_NE(
        parse_error("https://b\xc3\xbc"
                    "cher.de/")
            .find("punycode"),
        std::string::npos
    );
}

TEST(parse_url, rejects_malformed_ipv6)
{
    EXPECT_NE(parse_error("http://::1/").find("brackets"), std::string::npos);
    parse_error("http://[::1/");
    parse_error("http://[::1]x/");
    parse_error("http://[1.2.3.4]/");
    parse_error("http://[v1.x]/");
    EXPECT_NE(parse_error("http://[fe80::1%25eth0]/").find("zone"), std::string::npos);
}

TEST(parse_url, rejects_overlong_urls)
{
    parse_error("https://example.com/" + std::string(9000, 'a'));
}

TEST(url, origin_omits_default_port)
{
    EXPECT_EQ(parse_ok("https://example.com:443/x").origin(), "https://example.com");
    EXPECT_EQ(parse_ok("http://example.com:443/x").origin(), "http://example.com:443");
}

TEST(url, redacted_drops_query)
{
    EXPECT_EQ(
        parse_ok("https://example.com/hooks/1?token=secret#x").redacted(), "https://example.com/hooks/1"
    );
    EXPECT_EQ(parse_ok("https://example.com?token=secret").redacted(), "https://example.com/");
}

TEST(parse_ip_literal, accepts_resolver_forms_and_names_are_empty)
{
    EXPECT_EQ(parse_ip_literal("0x7f.1")->to_string(), "127.0.0.1");
    EXPECT_EQ(parse_ip_literal("::ffff:127.0.0.1")->to_string(), "::ffff:127.0.0.1");
    EXPECT_FALSE(parse_ip_literal("example.com"));
    EXPECT_FALSE(parse_ip_literal("fe80::1%eth0"));
    EXPECT_FALSE(parse_ip_literal(""));
}

} // namespace
} // namespace relay::net
