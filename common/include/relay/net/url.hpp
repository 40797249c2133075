#pragma once

#include <boost/system/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace relay::net {

/// An absolute http(s) URL split into what an HTTP client needs. Only `http` and `https` are accepted.
struct url
{
    std::string scheme;  ///< "http" or "https", lowercased
    std::string host;    ///< lowercased; IPv6 literals without brackets ("::1")
    std::uint16_t port;  ///< explicit, or 80/443 from the scheme
    std::string target;  ///< path and query as sent on the request line ("/" when empty); never the fragment
    bool host_is_literal = false; ///< host is an IP address literal (in any form inet_aton/inet_pton accept)

    /// "scheme://host[:port]" with brackets around IPv6: the key of a connection pool.
    std::string origin() const;
    /// The URL without its query string, for logs (query strings often carry tokens).
    std::string redacted() const;
};

/// Parses an absolute URL. Rejects: other schemes, userinfo (`user:pass@`), empty host, bad or zero port,
/// whitespace/control characters anywhere, fragments are dropped. The error's message says what is wrong.
boost::system::result<url> parse_url(std::string_view text);

} // namespace relay::net
