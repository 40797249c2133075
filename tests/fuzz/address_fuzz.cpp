// Fuzzes the SSRF address checks of relay/net/address_policy.hpp: classify, is_cloud_metadata,
// address_policy::check and parse_cidr. Input: 4 bytes of an IPv4 address, 16 bytes of an IPv6 address,
// then CIDR text (the rest); short inputs are zero-padded.
// Invariants: an IPv4 address classifies the same as its IPv4-mapped, IPv4-translated, NAT64 and 6to4 forms,
// and is cloud metadata in all of them or none; the default policy allows exactly the public non-metadata
// addresses; allow_private never opens loopback or metadata; errors compare equal to address_blocked; a
// parsed CIDR contains its own network, prints back to itself, and an `allow` entry opens its network.

#include "relay/net/address_policy.hpp"

#include "fuzz_support.hpp"

#include <array>
#include <cstring>
#include <string>

namespace {

namespace ip = boost::asio::ip;
using relay::net::address_class;

ip::address_v6 embed(std::array<unsigned char, 16> prefix, const ip::address_v4& v4, std::size_t at)
{
    const auto b = v4.to_bytes();
    std::memcpy(prefix.data() + at, b.data(), 4);
    return ip::address_v6(prefix);
}

void check_policies(const ip::address& a)
{
    const auto cls = relay::net::classify(a);
    const bool metadata = relay::net::is_cloud_metadata(a);
    RELAY_FUZZ_CHECK(!relay::net::to_string(cls).empty());

    const relay::net::address_policy strict;
    const auto ec = strict.check(a);
    RELAY_FUZZ_CHECK(static_cast<bool>(ec) == (cls != address_class::none || metadata));
    if (ec)
        RELAY_FUZZ_CHECK(ec == relay::net::errc::address_blocked && !ec.message().empty());

    relay::net::address_policy lenient;
    lenient.allow_private = true;
    if (metadata || cls == address_class::loopback)
        RELAY_FUZZ_CHECK(lenient.check(a) == relay::net::errc::address_blocked);
    lenient.allow_loopback = true;
    if (metadata)
        RELAY_FUZZ_CHECK(lenient.check(a) == relay::net::errc::address_blocked);
    if (cls == address_class::multicast || cls == address_class::reserved ||
        cls == address_class::unspecified)
        RELAY_FUZZ_CHECK(lenient.check(a) == relay::net::errc::address_blocked);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    std::array<unsigned char, 20> raw{};
    std::memcpy(raw.data(), data, std::min(size, raw.size()));
    const auto cidr_text =
        size > raw.size() ? relay::fuzz::as_text(data + raw.size(), size - raw.size()) : std::string_view{};

    const ip::address_v4 v4({raw[0], raw[1], raw[2], raw[3]});
    std::array<unsigned char, 16> v6_bytes{};
    std::memcpy(v6_bytes.data(), raw.data() + 4, 16);
    const ip::address_v6 v6(v6_bytes);

    check_policies(ip::address(v4));
    check_policies(ip::address(v6));

    // The embedded forms of design.md section 9 must not hide the IPv4 address.
    const auto cls = relay::net::classify(ip::address(v4));
    const bool metadata = relay::net::is_cloud_metadata(ip::address(v4));
    const std::array<ip::address_v6, 4> forms{
        ip::make_address_v6(ip::v4_mapped, v4),                       // ::ffff:a.b.c.d
        embed({0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0}, v4, 12),    // ::ffff:0:a.b.c.d
        embed({0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0}, v4, 12), // 64:ff9b::a.b.c.d
        embed({0x20, 0x02}, v4, 2),                                   // 2002:aabb:ccdd::
    };
    for (const auto& form : forms) {
        RELAY_FUZZ_CHECK(relay::net::classify(ip::address(form)) == cls);
        RELAY_FUZZ_CHECK(relay::net::is_cloud_metadata(ip::address(form)) == metadata);
    }

    auto cidr = relay::net::parse_cidr(cidr_text);
    if (!cidr) {
        RELAY_FUZZ_CHECK(cidr.error() == relay::net::errc::invalid_cidr);
        return 0;
    }
    RELAY_FUZZ_CHECK(cidr->prefix <= (cidr->network.is_v4() ? 32u : 128u));
    RELAY_FUZZ_CHECK(cidr->contains(cidr->network));
    const auto printed = cidr->network.to_string() + "/" + std::to_string(cidr->prefix);
    const auto again = relay::net::parse_cidr(printed);
    RELAY_FUZZ_CHECK(again && again->network == cidr->network && again->prefix == cidr->prefix);
    relay::net::address_policy opened;
    opened.allow.push_back(*cidr);
    RELAY_FUZZ_CHECK(!opened.check(cidr->network));
    if (cidr->contains(ip::address(v4)))
        RELAY_FUZZ_CHECK(!opened.check(ip::address(v4)));
    return 0;
}
