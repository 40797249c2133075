#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace relay::net {

/// Why an address was refused. `none` means allowed.
enum class address_class
{
    none = 0,    ///< public unicast: allowed
    loopback,    ///< 127.0.0.0/8, ::1
    private_net, ///< 10/8, 172.16/12, 192.168/16, fc00::/7
    link_local,  ///< 169.254/16 (incl. cloud metadata 169.254.169.254), fe80::/10
    cgnat,       ///< 100.64.0.0/10
    multicast,   ///< 224/4, ff00::/8
    unspecified, ///< 0.0.0.0/8, ::
    reserved,    ///< 240/4, 255.255.255.255, 192.0.0/24, 192.0.2/24, 198.18/15, 198.51.100/24, 203.0.113/24,
                 ///< 2001:db8::/32, 100::/64, and every other special-purpose block of the IANA registries
};

/// The class of an address, looking through IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d),
/// IPv4-translated (::ffff:0:a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16) forms at the embedded IPv4
/// address. The local-use NAT64 prefix 64:ff9b:1::/48 is private_net whatever it embeds (its layout is
/// site-chosen); its possible embeddings still count for is_cloud_metadata. Outside 2000::/3 every IPv6
/// address not named above is `reserved`, as are 2001::/23 (incl. Teredo), 2001:db8::/32 and 3fff::/20.
/// Pure; thread-safe.
address_class classify(const boost::asio::ip::address& addr) noexcept;

/// A human-readable name of the class ("loopback", "link-local", ...).
std::string_view to_string(address_class c) noexcept;

/// True for cloud instance-metadata and host-service endpoints (169.254.169.0/24, 169.254.170.0/24,
/// fd00:ec2::/32, 100.100.100.200, 192.0.0.192, 168.63.129.16), also when embedded in an IPv6 form.
/// address_policy::check refuses them even with allow_private; only an `allow` network opens them. Pure.
bool is_cloud_metadata(const boost::asio::ip::address& addr) noexcept;

/// An IPv4 or IPv6 network in CIDR form.
struct cidr
{
    boost::asio::ip::address network;
    unsigned prefix = 0;
    /// True when `addr` is inside the network; an IPv4-mapped IPv6 address counts as its IPv4 address.
    bool contains(const boost::asio::ip::address& addr) const noexcept;
};

/// Parses "10.1.0.0/16" or "fd00::/8"; a bare address is a /32 or /128. Host bits are cleared
/// ("10.1.2.3/16" is 10.1.0.0/16). Only the strict inet_pton address forms are accepted.
/// Errors: relay::net::errc::invalid_cidr.
boost::system::result<cidr> parse_cidr(std::string_view text);

/// Which destinations a subscriber URL may resolve to. Checked at connect time against every resolved
/// address (design.md section 9), so DNS tricks cannot get around it. Default: public unicast only.
/// Thread-safety: immutable after construction; safe to share.
struct address_policy
{
    bool allow_loopback = false; ///< `relay dev` and tests set this
    bool allow_private = false;  ///< private, CGNAT and link-local except the metadata addresses
    std::vector<cidr> allow;     ///< explicitly allowed networks, checked first

    /// Empty when `addr` may be connected to; otherwise relay::net::errc::address_blocked whose message
    /// names the class ("destination address is link-local (169.254/16, fe80::/10), not allowed ...";
    /// cloud metadata endpoints have their own message). The error compares equal to errc::address_blocked.
    boost::system::error_code check(const boost::asio::ip::address& addr) const noexcept;
};

/// Error codes of the net area.
enum class errc
{
    address_blocked = 1, ///< the destination address is not allowed by the address policy
    invalid_url,         ///< the URL does not parse or uses an unsupported scheme
    invalid_cidr,        ///< a CIDR string does not parse
};

/// The category of relay::net errors ("relay.net"). Errors from this area may carry a more specific message
/// than the generic one of their code; they still compare equal to the errc value.
const boost::system::error_category& net_category() noexcept;
inline boost::system::error_code make_error_code(errc e) noexcept
{
    return {static_cast<int>(e), net_category()};
}

} // namespace relay::net

template <>
struct boost::system::is_error_code_enum<relay::net::errc> : std::true_type
{};
