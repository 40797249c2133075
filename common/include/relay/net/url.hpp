#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace relay::net {

/// An absolute http(s) URL split into what an HTTP client needs. Only `http` and `https` are accepted.
struct url
{
    std::string scheme;     ///< "http" or "https", lowercased
    std::string host;       ///< lowercased; IPv6 literals without brackets ("::1")
    std::uint16_t port = 0; ///< explicit, or 80/443 from the scheme
    std::string target; ///< path and query as sent on the request line ("/" when empty); never the fragment
    bool host_is_literal = false; ///< host is an IP address literal (in any form inet_aton/inet_pton accept)

    /// "scheme://host[:port]" with brackets around IPv6: the key of a connection pool.
    std::string origin() const;
    /// The URL without its query string, for logs (query strings often carry tokens).
    std::string redacted() const;
};

/// Parses an absolute URL. Rejects: other schemes, userinfo (`user:pass@`), empty host, bad or zero port,
/// whitespace/control characters anywhere, fragments are dropped. The error's message says what is wrong.
///
/// Hosts are normalized so a later address check cannot be bypassed by spelling: names are lowercased and
/// lose one trailing dot; IP literals in any form the system resolver accepts (`2130706433`, `0x7f.1`,
/// `0177.0.0.1`, `127.1`, `[::ffff:7f00:1]`) become their canonical text (`127.0.0.1`, `::ffff:127.0.0.1`)
/// with `host_is_literal` set. A host whose last label is numeric but is no valid IPv4 address
/// (`1.2.3.256`, `1.2.3.4.5`, `08.1.1.1`) is refused, as browsers do, rather than left to DNS. Non-ASCII
/// hosts must be given in their punycode (`xn--`) form; non-ASCII bytes in the path or query are
/// percent-encoded. URLs longer than 8192 characters are refused. Errors: relay::net::errc::invalid_url.
boost::system::result<url> parse_url(std::string_view text);

/// Parses `host` as an IP address literal the way the system resolver (inet_aton / inet_pton) would:
/// IPv6 text without brackets or zone, or IPv4 in 1 to 4 dot-separated parts, each decimal, octal (leading
/// `0`) or hexadecimal (`0x`), the last part filling the remaining bytes. Empty when `host` is not a literal.
std::optional<boost::asio::ip::address> parse_ip_literal(std::string_view host) noexcept;

} // namespace relay::net
