#include "relay/net/address_policy.hpp"
#include "relay/net/url.hpp"

#include <gtest/gtest.h>

#include <string>

namespace relay::net {
namespace {

namespace ip = boost::asio::ip;

ip::address addr(std::string_view text)
{
    // The same parser the URL layer uses, so resolver spellings (127.1, 0x7f000001) work here too.
    const auto a = parse_ip_literal(text);
    EXPECT_TRUE(a.has_value()) << text;
    return a.value_or(ip::address{});
}

struct class_case
{
    const char* address;
    address_class expected;
};

void PrintTo(const class_case& c, std::ostream* os)
{
    *os << c.address;
}

class classify_address : public testing::TestWithParam<class_case>
{};

TEST_P(classify_address, names_the_special_purpose_block)
{
    EXPECT_EQ(to_string(classify(addr(GetParam().address))), to_string(GetParam().expected));
}

INSTANTIATE_TEST_SUITE_P(
    ipv4,
    classify_address,
    testing::Values(
        class_case{"127.0.0.1", address_class::loopback},
        class_case{"127.1", address_class::loopback},
        class_case{"0177.0.0.1", address_class::loopback},
        class_case{"2130706433", address_class::loopback},
        class_case{"0x7f000001", address_class::loopback},
        class_case{"127.255.255.254", address_class::loopback},
        class_case{"10.0.0.1", address_class::private_net},
        class_case{"172.16.0.1", address_class::private_net},
        class_case{"172.31.255.255", address_class::private_net},
        class_case{"192.168.1.1", address_class::private_net},
        class_case{"169.254.169.254", address_class::link_local},
        class_case{"169.254.1.1", address_class::link_local},
        class_case{"100.64.0.1", address_class::cgnat},
        class_case{"100.127.255.255", address_class::cgnat},
        class_case{"224.0.0.1", address_class::multicast},
        class_case{"239.255.255.250", address_class::multicast},
        class_case{"0.0.0.0", address_class::unspecified},
        class_case{"0.1.2.3", address_class::unspecified},
        class_case{"192.0.0.8", address_class::reserved},
        class_case{"192.0.2.1", address_class::reserved},
        class_case{"198.18.0.1", address_class::reserved},
        class_case{"198.19.255.255", address_class::reserved},
        class_case{"198.51.100.7", address_class::reserved},
        class_case{"203.0.113.9", address_class::reserved},
        class_case{"192.88.99.1", address_class::reserved},
        class_case{"240.0.0.1", address_class::reserved},
        class_case{"255.255.255.255", address_class::reserved},
        class_case{"93.184.216.34", address_class::none},
        class_case{"8.8.8.8", address_class::none},
        class_case{"172.32.0.1", address_class::none},
        class_case{"100.128.0.1", address_class::none},
        class_case{"198.20.0.1", address_class::none},
        class_case{"192.31.196.1", address_class::none}
    )
);

INSTANTIATE_TEST_SUITE_P(
    ipv6,
    classify_address,
    testing::Values(
        class_case{"::1", address_class::loopback},
        class_case{"::", address_class::unspecified},
        class_case{"fc00::1", address_class::private_net},
        class_case{"fd12:3456::1", address_class::private_net},
        class_case{"fd00:ec2::254", address_class::private_net},
        class_case{"fe80::1", address_class::link_local},
        class_case{"febf::1", address_class::link_local},
        class_case{"fec0::1", address_class::reserved},
        class_case{"ff02::1", address_class::multicast},
        class_case{"2001:db8::1", address_class::reserved},
        class_case{"100::1", address_class::reserved},
        class_case{"2001::1", address_class::reserved},
        class_case{"2001:2::1", address_class::reserved},
        class_case{"3fff::1", address_class::reserved},
        class_case{"5f00::1", address_class::reserved},
        class_case{"4000::1", address_class::reserved},
        class_case{"::1:2:3:4:5", address_class::reserved},
        class_case{"2606:4700::1111", address_class::none},
        class_case{"2a00:1450:4001::200e", address_class::none},
        class_case{"2620:4f:8000::1", address_class::none}
    )
);

INSTANTIATE_TEST_SUITE_P(
    embedded_ipv4,
    classify_address,
    testing::Values(
        class_case{"::ffff:127.0.0.1", address_class::loopback},
        class_case{"::ffff:7f00:1", address_class::loopback},
        class_case{"::ffff:10.0.0.1", address_class::private_net},
        class_case{"::ffff:169.254.169.254", address_class::link_local},
        class_case{"::ffff:93.184.216.34", address_class::none},
        class_case{"::127.0.0.1", address_class::loopback},
        class_case{"::ffff:0:127.0.0.1", address_class::loopback},
        class_case{"64:ff9b::a9fe:a9fe", address_class::link_local},
        class_case{"64:ff9b::7f00:1", address_class::loopback},
        class_case{"64:ff9b::5db8:d822", address_class::none},
        class_case{"64:ff9b:1::a00:1", address_class::private_net},
        class_case{"64:ff9b:1:7f00:1::", address_class::private_net},
        class_case{"64:ff9b:1:5db8:d822::", address_class::private_net},
        class_case{"2002:a9fe:a9fe::", address_class::link_local},
        class_case{"2002:7f00:1::1", address_class::loopback},
        class_case{"2002:c0a8:101::", address_class::private_net},
        class_case{"2002:5db8:d822::1", address_class::none}
    )
);

TEST(address_class_name, is_readable)
{
    EXPECT_EQ(to_string(address_class::link_local), "link-local");
    EXPECT_EQ(to_string(address_class::private_net), "private");
    EXPECT_EQ(to_string(address_class::none), "public");
}

TEST(address_policy, default_allows_public_unicast)
{
    const address_policy policy;
    EXPECT_FALSE(policy.check(addr("93.184.216.34")));
    EXPECT_FALSE(policy.check(addr("2606:4700::1111")));
    EXPECT_FALSE(policy.check(addr("::ffff:93.184.216.34")));
}

TEST(address_policy, default_refuses_every_special_form)
{
    const address_policy policy;
    for (const char* a :
         {"127.1",
          "0177.0.0.1",
          "2130706433",
          "0x7f000001",
          "::ffff:127.0.0.1",
          "::ffff:7f00:1",
          "169.254.169.254",
          "fd00:ec2::254",
          "64:ff9b::a9fe:a9fe",
          "2002:a9fe:a9fe::",
          "100.64.0.1",
          "224.0.0.1",
          "0.0.0.0",
          "::",
          "fe80::1",
          "10.1.2.3",
          "192.168.0.1",
          "fc00::1",
          "240.0.0.1",
          "2001:db8::1"}) {
        const auto ec = policy.check(addr(a));
        EXPECT_EQ(ec, errc::address_blocked) << a;
    }
}

TEST(address_policy, message_names_the_class)
{
    const address_policy policy;
    EXPECT_NE(policy.check(addr("127.0.0.1")).message().find("loopback"), std::string::npos);
    EXPECT_NE(policy.check(addr("::ffff:10.0.0.1")).message().find("private"), std::string::npos);
    EXPECT_NE(policy.check(addr("fe80::1")).message().find("link-local"), std::string::npos);
    EXPECT_NE(policy.check(addr("100.64.0.1")).message().find("carrier-grade NAT"), std::string::npos);
    EXPECT_NE(policy.check(addr("224.0.0.1")).message().find("multicast"), std::string::npos);
    EXPECT_NE(policy.check(addr("0.0.0.0")).message().find("unspecified"), std::string::npos);
    EXPECT_NE(policy.check(addr("192.0.2.1")).message().find("reserved"), std::string::npos);
    EXPECT_NE(policy.check(addr("169.254.169.254")).message().find("metadata"), std::string::npos);
}

TEST(address_policy, error_belongs_to_net_category)
{
    const auto ec = address_policy{}.check(addr("127.0.0.1"));
    EXPECT_EQ(ec.category(), net_category());
    EXPECT_EQ(ec.value(), static_cast<int>(errc::address_blocked));
    EXPECT_STREQ(ec.category().name(), "relay.net");
    EXPECT_NE(ec, errc::invalid_url);
}

TEST(address_policy, allow_loopback_opens_loopback_only)
{
    address_policy policy;
    policy.allow_loopback = true;
    EXPECT_FALSE(policy.check(addr("127.0.0.1")));
    EXPECT_FALSE(policy.check(addr("::1")));
    EXPECT_FALSE(policy.check(addr("::ffff:127.0.0.1")));
    EXPECT_TRUE(policy.check(addr("10.0.0.1")));
    EXPECT_TRUE(policy.check(addr("0.0.0.0")));
}

TEST(address_policy, allow_private_opens_private_cgnat_and_link_local)
{
    address_policy policy;
    policy.allow_private = true;
    EXPECT_FALSE(policy.check(addr("10.0.0.1")));
    EXPECT_FALSE(policy.check(addr("fd12::1")));
    EXPECT_FALSE(policy.check(addr("100.64.0.1")));
    EXPECT_FALSE(policy.check(addr("169.254.1.1")));
    EXPECT_FALSE(policy.check(addr("fe80::1")));
    EXPECT_TRUE(policy.check(addr("127.0.0.1")));
    EXPECT_TRUE(policy.check(addr("224.0.0.1")));
    EXPECT_TRUE(policy.check(addr("192.0.2.1")));
}

TEST(address_policy, metadata_stays_refused_with_allow_private)
{
    address_policy policy;
    policy.allow_private = true;
    policy.allow_loopback = true;
    for (const char* a :
         {"169.254.169.254",
          "169.254.170.2",
          "fd00:ec2::254",
          "100.100.100.200",
          "::ffff:169.254.169.254",
          "64:ff9b::a9fe:a9fe",
          "2002:a9fe:a9fe::",
          "168.63.129.16",
          "64:ff9b:1:a9fe:a9:fe00::",
          "64:ff9b:1::a9fe:a9fe"}) {
        const auto ec = policy.check(addr(a));
        EXPECT_EQ(ec, errc::address_blocked) << a;
        EXPECT_NE(ec.message().find("metadata"), std::string::npos) << a;
        EXPECT_TRUE(is_cloud_metadata(addr(a))) << a;
    }
}

TEST(address_policy, explicit_allow_opens_metadata_and_reserved)
{
    address_policy policy;
    policy.allow.push_back(parse_cidr("169.254.169.254").value());
    policy.allow.push_back(parse_cidr("198.18.0.0/15").value());
    EXPECT_FALSE(policy.check(addr("169.254.169.254")));
    EXPECT_FALSE(policy.check(addr("::ffff:169.254.169.254")));
    EXPECT_FALSE(policy.check(addr("198.19.1.1")));
    EXPECT_TRUE(policy.check(addr("169.254.169.253")));
}

TEST(parse_cidr, parses_networks_and_bare_addresses)
{
    const auto v4 = parse_cidr("10.1.0.0/16").value();
    EXPECT_EQ(v4.prefix, 16u);
    EXPECT_TRUE(v4.contains(addr("10.1.200.3")));
    EXPECT_FALSE(v4.contains(addr("10.2.0.1")));
    EXPECT_TRUE(v4.contains(addr("::ffff:10.1.0.9")));

    const auto v6 = parse_cidr("fd00::/8").value();
    EXPECT_TRUE(v6.contains(addr("fd12::1")));
    EXPECT_FALSE(v6.contains(addr("fc00::1")));
    EXPECT_FALSE(v6.contains(addr("10.1.0.1")));

    EXPECT_EQ(parse_cidr("192.0.2.7").value().prefix, 32u);
    EXPECT_EQ(parse_cidr("::1").value().prefix, 128u);
    EXPECT_TRUE(parse_cidr("0.0.0.0/0").value().contains(addr("8.8.8.8")));
    EXPECT_TRUE(parse_cidr("fd00:0:0:1::/57").value().contains(addr("fd00:0:0:7f::1")));
}

TEST(parse_cidr, clears_host_bits)
{
    const auto c = parse_cidr("10.1.2.3/16").value();
    EXPECT_EQ(c.network.to_string(), "10.1.0.0");
    EXPECT_EQ(parse_cidr("fd12:3456::1/20").value().network.to_string(), "fd12:3000::");
}

TEST(parse_cidr, rejects_garbage)
{
    for (const char* text :
         {"",
          "/8",
          "10.0.0.0/33",
          "fd00::/129",
          "10.0.0.0/",
          "10.0.0.0/-1",
          "10.0.0.0/8x",
          "10.1/16",
          "example.com/8",
          "10.0.0.0/ 8",
          "fe80::1%eth0/64"}) {
        const auto r = parse_cidr(text);
        ASSERT_FALSE(r.has_value()) << text;
        EXPECT_EQ(r.error(), errc::invalid_cidr) << text;
    }
}

} // namespace
} // namespace relay::net
