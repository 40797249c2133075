#include "relay/net/address_policy.hpp"

#include "error_detail.hpp"

#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>

namespace relay::net {
namespace {

namespace ip = boost::asio::ip;
using detail::message_category;
using bytes_v6 = ip::address_v6::bytes_type;

constexpr message_category e_loopback{
    "destination address is loopback (127.0.0.0/8, ::1), not allowed by the address policy"};
constexpr message_category e_private{"destination address is private (10/8, 172.16/12, 192.168/16, "
                                     "fc00::/7), not allowed by the address policy"};
constexpr message_category e_link_local{
    "destination address is link-local (169.254/16, fe80::/10), not allowed by the address policy"};
constexpr message_category e_cgnat{
    "destination address is carrier-grade NAT (100.64/10), not allowed by the address policy"};
constexpr message_category e_multicast{"destination address is multicast, not allowed by the address policy"};
constexpr message_category e_unspecified{
    "destination address is unspecified (0.0.0.0/8, ::), not allowed by the address policy"};
constexpr message_category e_reserved{"destination address is reserved for special use (IANA special-purpose "
                                      "registry), not allowed by the address "
                                      "policy"};
constexpr message_category e_metadata{"destination address is a cloud metadata endpoint, never allowed "
                                      "unless listed in the policy's allow list"};

constexpr message_category e_cidr_address{"invalid CIDR: the network is not an IPv4 or IPv6 address"};
constexpr message_category e_cidr_prefix{
    "invalid CIDR: prefix length must be 0-32 for IPv4 and 0-128 for IPv6"};

constexpr std::uint32_t v4(unsigned a, unsigned b, unsigned c, unsigned d) noexcept
{
    return (a << 24) | (b << 16) | (c << 8) | d;
}

struct v4_block
{
    std::uint32_t network;
    unsigned prefix;
    address_class cls;
};

constexpr bool in_block(std::uint32_t addr, std::uint32_t network, unsigned prefix) noexcept
{
    const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
    return (addr & mask) == network;
}

// IANA IPv4 Special-Purpose Address Registry, plus multicast and the class E space. Blocks the registry marks
// globally reachable (192.31.196/24 AS112, 192.52.193/24 AMT, 192.175.48/24 AS112) stay allowed; the anycast
// hosts inside 192.0.0/24 are refused with the rest of that block, no webhook receiver lives there.
constexpr std::array<v4_block, 15> v4_blocks{{
    {v4(0, 0, 0, 0), 8, address_class::unspecified},
    {v4(10, 0, 0, 0), 8, address_class::private_net},
    {v4(100, 64, 0, 0), 10, address_class::cgnat},
    {v4(127, 0, 0, 0), 8, address_class::loopback},
    {v4(169, 254, 0, 0), 16, address_class::link_local},
    {v4(172, 16, 0, 0), 12, address_class::private_net},
    {v4(192, 0, 0, 0), 24, address_class::reserved},
    {v4(192, 0, 2, 0), 24, address_class::reserved},
    {v4(192, 88, 99, 0), 24, address_class::reserved}, // deprecated 6to4 relay anycast
    {v4(192, 168, 0, 0), 16, address_class::private_net},
    {v4(198, 18, 0, 0), 15, address_class::reserved},
    {v4(198, 51, 100, 0), 24, address_class::reserved},
    {v4(203, 0, 113, 0), 24, address_class::reserved},
    {v4(224, 0, 0, 0), 4, address_class::multicast},
    {v4(240, 0, 0, 0), 4, address_class::reserved}, // includes 255.255.255.255
}};

address_class classify_v4(std::uint32_t addr) noexcept
{
    for (const auto& b : v4_blocks) {
        if (in_block(addr, b.network, b.prefix)) {
            return b.cls;
        }
    }
    return address_class::none;
}

// Instance metadata and host services reachable from cloud VMs and pods: AWS IMDS and its ECS/EKS agents
// (169.254.169.0/24, 169.254.170.0/24), Alibaba (100.100.100.200), Oracle (192.0.0.192), Azure WireServer
// (168.63.129.16, a public address).
constexpr std::array<std::pair<std::uint32_t, unsigned>, 5> v4_metadata{{
    {v4(169, 254, 169, 0), 24},
    {v4(169, 254, 170, 0), 24},
    {v4(100, 100, 100, 200), 32},
    {v4(192, 0, 0, 192), 32},
    {v4(168, 63, 129, 16), 32},
}};

bool is_metadata_v4(std::uint32_t addr) noexcept
{
    return std::any_of(v4_metadata.begin(), v4_metadata.end(), [addr](const auto& m) {
        return in_block(addr, m.first, m.second);
    });
}

std::uint32_t read_v4(const bytes_v6& b, std::size_t at) noexcept
{
    return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) | (std::uint32_t{b[at + 2]} << 8) |
           std::uint32_t{b[at + 3]};
}

bool zeros(const bytes_v6& b, std::size_t from, std::size_t to) noexcept
{
    return std::all_of(
        b.begin() + static_cast<std::ptrdiff_t>(from),
        b.begin() + static_cast<std::ptrdiff_t>(to),
        [](unsigned char c) { return c == 0; }
    );
}

bool in_block_v6(
    const bytes_v6& b, std::initializer_list<unsigned char> prefix_bytes, unsigned prefix
) noexcept
{
    bytes_v6 net{};
    std::copy(prefix_bytes.begin(), prefix_bytes.end(), net.begin());
    for (unsigned bit = 0; bit < prefix; bit += 8) {
        const unsigned remaining = prefix - bit;
        const unsigned char mask =
            remaining >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - remaining));
        if ((b[bit / 8] & mask) != (net[bit / 8] & mask)) {
            return false;
        }
    }
    return true;
}

/// Up to four IPv4 addresses an IPv6 address may carry; `count` 0 when it embeds none.
struct embedded_v4
{
    std::array<std::uint32_t, 4> addrs{};
    std::size_t count = 0;
    bool local_nat64 = false; ///< 64:ff9b:1::/48, whose prefix length (and so v4 position) is site-chosen
};

embedded_v4 embedded(const bytes_v6& b) noexcept
{
    embedded_v4 out;
    if (zeros(b, 0, 10) && b[10] == 0xff && b[11] == 0xff) { // ::ffff:a.b.c.d, IPv4-mapped
        out.addrs[out.count++] = read_v4(b, 12);
    } else if (zeros(b, 0, 12)) { // ::a.b.c.d, IPv4-compatible (deprecated); :: and ::1 are handled before
        out.addrs[out.count++] = read_v4(b, 12);
    } else if (zeros(b, 0, 8) && b[8] == 0xff && b[9] == 0xff && b[10] == 0 && b[11] == 0) { // ::ffff:0:a.b.c.d
        out.addrs[out.count++] = read_v4(b, 12);
    } else if (in_block_v6(b, {0x00, 0x64, 0xff, 0x9b}, 96)) { // 64:ff9b::/96 well-known NAT64
        out.addrs[out.count++] = read_v4(b, 12);
    } else if (in_block_v6(b, {0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48)) {
        // Local-use NAT64: the site picks the prefix length, so every RFC 6052 layout possible inside the /48
        // is a candidate: /48, /56, /64 (bits 64-71 are the reserved "u" octet) and /96.
        out.local_nat64 = true;
        out.addrs[out.count++] = (std::uint32_t{b[6]} << 24) | (std::uint32_t{b[7]} << 16) |
                                 (std::uint32_t{b[9]} << 8) | std::uint32_t{b[10]};
        out.addrs[out.count++] = (std::uint32_t{b[7]} << 24) | (std::uint32_t{b[9]} << 16) |
                                 (std::uint32_t{b[10]} << 8) | std::uint32_t{b[11]};
        out.addrs[out.count++] = read_v4(b, 9);
        out.addrs[out.count++] = read_v4(b, 12);
    } else if (b[0] == 0x20 && b[1] == 0x02) { // 2002:aabb:ccdd::/48, 6to4
        out.addrs[out.count++] = read_v4(b, 2);
    }
    return out;
}

address_class classify_v6(const bytes_v6& b) noexcept
{
    if (zeros(b, 0, 16)) {
        return address_class::unspecified;
    }
    if (zeros(b, 0, 15) && b[15] == 1) {
        return address_class::loopback;
    }
    if (const auto e = embedded(b); e.count > 0) {
        // A local-use NAT64 prefix is not globally reachable whatever it embeds; only its metadata
        // candidates (is_metadata) get stricter treatment.
        return e.local_nat64 ? address_class::private_net : classify_v4(e.addrs[0]);
    }
    if (b[0] == 0xff) {
        return address_class::multicast;
    }
    if (in_block_v6(b, {0xfe, 0x80}, 10)) {
        return address_class::link_local;
    }
    if (in_block_v6(b, {0xfe, 0xc0}, 10)) { // deprecated site-local
        return address_class::reserved;
    }
    if (in_block_v6(b, {0xfc, 0x00}, 7)) {
        return address_class::private_net;
    }
    // Special-purpose blocks inside 2000::/3: IETF protocol assignments (incl. Teredo, whose embedded client
    // address is obfuscated), documentation (2001:db8::/32, 3fff::/20).
    if (in_block_v6(b, {0x20, 0x01, 0x00, 0x00}, 23) || in_block_v6(b, {0x20, 0x01, 0x0d, 0xb8}, 32) ||
        in_block_v6(b, {0x3f, 0xff}, 20)) {
        return address_class::reserved;
    }
    // Everything outside 2000::/3 (global unicast) is unassigned or special: 100::/64 discard, 5f00::/16
    // SRv6 SIDs, the rest of ::/8, ...
    if ((b[0] & 0xe0) != 0x20) {
        return address_class::reserved;
    }
    return address_class::none;
}

bool is_metadata(const ip::address& addr) noexcept
{
    if (addr.is_v4()) {
        return is_metadata_v4(addr.to_v4().to_uint());
    }
    const auto b = addr.to_v6().to_bytes();
    // fd00:ec2::/32: AWS's IPv6 instance metadata, DNS, NTP and pod identity endpoints.
    if (in_block_v6(b, {0xfd, 0x00, 0x0e, 0xc2}, 32)) {
        return true;
    }
    const auto e = embedded(b);
    for (std::size_t i = 0; i < e.count; ++i) {
        if (is_metadata_v4(e.addrs[i])) {
            return true;
        }
    }
    return false;
}

const message_category& category_of(address_class c) noexcept
{
    switch (c) {
    case address_class::loopback:
        return e_loopback;
    case address_class::private_net:
        return e_private;
    case address_class::link_local:
        return e_link_local;
    case address_class::cgnat:
        return e_cgnat;
    case address_class::multicast:
        return e_multicast;
    case address_class::unspecified:
        return e_unspecified;
    case address_class::reserved:
    case address_class::none:
        break;
    }
    return e_reserved;
}

} // namespace

address_class classify(const ip::address& addr) noexcept
{
    if (addr.is_v4()) {
        return classify_v4(addr.to_v4().to_uint());
    }
    return classify_v6(addr.to_v6().to_bytes());
}

std::string_view to_string(address_class c) noexcept
{
    switch (c) {
    case address_class::none:
        return "public";
    case address_class::loopback:
        return "loopback";
    case address_class::private_net:
        return "private";
    case address_class::link_local:
        return "link-local";
    case address_class::cgnat:
        return "cgnat";
    case address_class::multicast:
        return "multicast";
    case address_class::unspecified:
        return "unspecified";
    case address_class::reserved:
        return "reserved";
    }
    return "unknown";
}

bool is_cloud_metadata(const ip::address& addr) noexcept
{
    return is_metadata(addr);
}

bool cidr::contains(const ip::address& addr) const noexcept
{
    // An IPv4-mapped IPv6 address is the IPv4 address as a dual-stack socket reports it.
    ip::address a = addr;
    if (a.is_v6() && a.to_v6().is_v4_mapped()) {
        a = ip::make_address_v4(ip::v4_mapped, a.to_v6());
    }
    if (network.is_v4()) {
        if (!a.is_v4()) {
            return false;
        }
        return in_block(a.to_v4().to_uint(), network.to_v4().to_uint(), std::min(prefix, 32u));
    }
    bytes_v6 b;
    if (a.is_v4()) {
        b = ip::make_address_v6(ip::v4_mapped, a.to_v4()).to_bytes();
    } else {
        b = a.to_v6().to_bytes();
    }
    const auto net = network.to_v6().to_bytes();
    const unsigned p = std::min(prefix, 128u);
    for (unsigned bit = 0; bit < p; bit += 8) {
        const unsigned remaining = p - bit;
        const unsigned char mask =
            remaining >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - remaining));
        if ((b[bit / 8] & mask) != (net[bit / 8] & mask)) {
            return false;
        }
    }
    return true;
}

boost::system::result<cidr> parse_cidr(std::string_view text)
{
    const auto slash = text.find('/');
    const auto addr_text = text.substr(0, slash);
    if (addr_text.empty() || addr_text.size() > 45) {
        return detail::make_error(errc::invalid_cidr, e_cidr_address);
    }
    boost::system::error_code ec;
    // Strict inet_pton forms only: a policy is written by operators, not attackers, and "10.1" is a typo.
    auto addr = ip::make_address(std::string(addr_text), ec);
    if (ec || (addr.is_v6() && addr.to_v6().scope_id() != 0)) {
        return detail::make_error(errc::invalid_cidr, e_cidr_address);
    }
    const unsigned max = addr.is_v4() ? 32 : 128;
    unsigned prefix = max;
    if (slash != std::string_view::npos) {
        const auto p = text.substr(slash + 1);
        const auto [end, perr] = std::from_chars(p.data(), p.data() + p.size(), prefix);
        if (p.empty() || p.size() > 3 || perr != std::errc{} || end != p.data() + p.size() || prefix > max) {
            return detail::make_error(errc::invalid_cidr, e_cidr_prefix);
        }
    }
    // Host bits are cleared so that "10.1.2.3/16" means 10.1.0.0/16.
    if (addr.is_v4()) {
        const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
        addr = ip::address_v4(addr.to_v4().to_uint() & mask);
    } else {
        auto b = addr.to_v6().to_bytes();
        for (unsigned i = 0; i < 16; ++i) {
            const unsigned bit = i * 8;
            if (bit >= prefix) {
                b[i] = 0;
            } else if (prefix - bit < 8) {
                b[i] &= static_cast<unsigned char>(0xff << (8 - (prefix - bit)));
            }
        }
        addr = ip::address_v6(b);
    }
    return cidr{addr, prefix};
}

boost::system::error_code address_policy::check(const ip::address& addr) const noexcept
{
    for (const auto& c : allow) {
        if (c.contains(addr)) {
            return {};
        }
    }
    if (is_metadata(addr)) {
        return detail::make_error(errc::address_blocked, e_metadata);
    }
    const auto cls = classify(addr);
    switch (cls) {
    case address_class::none:
        return {};
    case address_class::loopback:
        if (allow_loopback) {
            return {};
        }
        break;
    case address_class::private_net:
    case address_class::link_local:
    case address_class::cgnat:
        if (allow_private) {
            return {};
        }
        break;
    case address_class::multicast:
    case address_class::unspecified:
    case address_class::reserved:
        break;
    }
    return detail::make_error(errc::address_blocked, category_of(cls));
}

} // namespace relay::net
