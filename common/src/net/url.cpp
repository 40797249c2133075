#include "relay/net/url.hpp"

#include "error_detail.hpp"

#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>

namespace relay::net {
namespace {

namespace ip = boost::asio::ip;
using detail::message_category;

constexpr std::size_t max_url_length = 8192;
constexpr std::size_t max_host_length = 253;
constexpr std::size_t max_label_length = 63;

constexpr message_category e_too_long{"invalid URL: longer than 8192 characters"};
constexpr message_category e_no_scheme{
    "invalid URL: expected an absolute URL starting with http:// or https://"};
constexpr message_category e_scheme{"invalid URL: unsupported scheme (only http and https are allowed)"};
constexpr message_category e_control{"invalid URL: contains whitespace or control characters"};
constexpr message_category e_userinfo{"invalid URL: credentials (user:password@) in the URL are not allowed"};
constexpr message_category e_empty_host{"invalid URL: empty host"};
constexpr message_category e_host_chars{
    "invalid URL: host contains characters not allowed in a host name (letters, digits, '-', '.', '_')"};
constexpr message_category e_non_ascii_host{"invalid URL: non-ASCII host; use its punycode (xn--) form"};
constexpr message_category e_host_labels{"invalid URL: host has an empty label or a label longer than 63"};
constexpr message_category e_host_too_long{"invalid URL: host longer than 253 characters"};
constexpr message_category e_bad_ipv4{"invalid URL: host looks like an IPv4 address but is not a valid one"};
constexpr message_category e_bad_ipv6{"invalid URL: invalid IPv6 address in brackets"};
constexpr message_category e_ipv6_zone{"invalid URL: IPv6 zone identifiers are not allowed"};
constexpr message_category e_unbracketed_ipv6{"invalid URL: IPv6 addresses must be written in brackets"};
constexpr message_category e_port{"invalid URL: port must be a number from 1 to 65535"};

boost::system::error_code fail(const message_category& c) noexcept
{
    return detail::make_error(errc::invalid_url, c);
}

bool is_control_or_space(unsigned char c) noexcept
{
    return c <= 0x20 || c == 0x7f;
}

char to_lower(char c) noexcept
{
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return to_lower(x) == to_lower(y);
           });
}

bool is_host_char(char c) noexcept
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

bool is_hex(char c) noexcept
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// One part of an inet_aton address: 0x-hex (at least one digit), 0-octal or decimal, with no sign, no space.
std::optional<std::uint64_t> parse_aton_part(std::string_view part) noexcept
{
    if (part.empty()) {
        return std::nullopt;
    }
    int base = 10;
    if (part.size() >= 2 && part[0] == '0' && (part[1] == 'x' || part[1] == 'X')) {
        base = 16;
        part.remove_prefix(2);
        if (part.empty()) {
            return std::nullopt;
        }
    } else if (part[0] == '0') {
        base = 8;
    }
    // Leading zeros cannot overflow, so skip them before the length-bounded conversion.
    while (part.size() > 1 && part[0] == '0') {
        part.remove_prefix(1);
    }
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value, base);
    if (ec != std::errc{} || end != part.data() + part.size() || value > 0xffffffffULL) {
        return std::nullopt;
    }
    return value;
}

std::optional<ip::address_v4> parse_inet_aton(std::string_view text) noexcept
{
    std::array<std::uint64_t, 4> parts{};
    std::size_t count = 0;
    while (true) {
        const auto dot = text.find('.');
        const auto part = parse_aton_part(text.substr(0, dot));
        if (!part || count == parts.size()) {
            return std::nullopt;
        }
        parts[count++] = *part;
        if (dot == std::string_view::npos) {
            break;
        }
        text.remove_prefix(dot + 1);
    }
    // All parts but the last are single bytes; the last fills the remaining bytes.
    std::uint64_t value = 0;
    for (std::size_t i = 0; i + 1 < count; ++i) {
        if (parts[i] > 0xff) {
            return std::nullopt;
        }
        value |= parts[i] << (8 * (3 - i));
    }
    const unsigned last_bits = 8 * static_cast<unsigned>(5 - count);
    const std::uint64_t last = parts[count - 1];
    if (last_bits < 32 && last >= (std::uint64_t{1} << last_bits)) {
        return std::nullopt;
    }
    value |= last;
    return ip::address_v4(static_cast<ip::address_v4::uint_type>(value));
}

// WHATWG's "ends in a number": a last label of digits or 0x-hex means the host was meant as an IPv4 address.
bool ends_in_number(std::string_view host) noexcept
{
    const auto dot = host.rfind('.');
    std::string_view last = dot == std::string_view::npos ? host : host.substr(dot + 1);
    if (last.empty()) {
        return false;
    }
    if (std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return true;
    }
    return last.size() >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X') &&
           std::all_of(last.begin() + 2, last.end(), is_hex);
}

std::optional<ip::address_v6> parse_ipv6(std::string_view text) noexcept
{
    if (text.empty() || text.size() > 45 || text.find('%') != std::string_view::npos) {
        return std::nullopt;
    }
    std::array<char, 46> buf{}; // NUL-terminated copy: no allocation, so parse_ip_literal stays noexcept
    std::copy(text.begin(), text.end(), buf.begin());
    boost::system::error_code ec;
    const auto addr = ip::make_address_v6(buf.data(), ec);
    if (ec || addr.scope_id() != 0) {
        return std::nullopt;
    }
    return addr;
}

std::string percent_encode_non_ascii(std::string_view text)
{
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c >= 0x80) {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 0xf];
        } else {
            out += ch;
        }
    }
    return out;
}

// Validates and normalizes a host outside brackets; sets `literal` when it is an IPv4 literal.
boost::system::result<std::string> normalize_host(std::string_view raw, bool& literal)
{
    if (raw.empty()) {
        return fail(e_empty_host);
    }
    std::string host;
    host.reserve(raw.size());
    for (const char ch : raw) {
        if (static_cast<unsigned char>(ch) >= 0x80) {
            return fail(e_non_ascii_host);
        }
        if (ch == ':') {
            return fail(e_unbracketed_ipv6);
        }
        const char c = to_lower(ch);
        if (!is_host_char(c)) {
            return fail(e_host_chars);
        }
        host += c;
    }
    // "example.com." and "example.com" are the same name; one spelling keeps pool keys and TLS names stable.
    if (host.size() > 1 && host.back() == '.') {
        host.pop_back();
    }
    if (const auto v4 = parse_inet_aton(host)) {
        literal = true;
        return v4->to_string();
    }
    if (ends_in_number(host)) {
        return fail(e_bad_ipv4);
    }
    if (host.size() > max_host_length) {
        return fail(e_host_too_long);
    }
    std::size_t label_start = 0;
    while (label_start <= host.size()) {
        auto dot = host.find('.', label_start);
        if (dot == std::string::npos) {
            dot = host.size();
        }
        const auto len = dot - label_start;
        if (len == 0 || len > max_label_length) {
            return fail(e_host_labels);
        }
        label_start = dot + 1;
    }
    return host;
}

boost::system::result<std::uint16_t> parse_port(std::string_view text)
{
    if (text.empty() || text.size() > 5 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return fail(e_port);
    }
    unsigned value = 0;
    std::from_chars(text.data(), text.data() + text.size(), value);
    if (value == 0 || value > 65535) {
        return fail(e_port);
    }
    return static_cast<std::uint16_t>(value);
}

std::uint16_t default_port(std::string_view scheme) noexcept
{
    return scheme == "https" ? 443 : 80;
}

} // namespace

std::optional<ip::address> parse_ip_literal(std::string_view host) noexcept
{
    if (host.find(':') != std::string_view::npos) {
        if (const auto v6 = parse_ipv6(host)) {
            return ip::address(*v6);
        }
        return std::nullopt;
    }
    if (const auto v4 = parse_inet_aton(host)) {
        return ip::address(*v4);
    }
    return std::nullopt;
}

boost::system::result<url> parse_url(std::string_view text)
{
    if (text.size() > max_url_length) {
        return fail(e_too_long);
    }
    if (std::any_of(text.begin(), text.end(), [](char c) {
            return is_control_or_space(static_cast<unsigned char>(c));
        })) {
        return fail(e_control);
    }
    const auto sep = text.find("://");
    if (sep == std::string_view::npos || sep == 0) {
        return fail(e_no_scheme);
    }
    url out;
    const auto scheme = text.substr(0, sep);
    if (iequals(scheme, "http")) {
        out.scheme = "http";
    } else if (iequals(scheme, "https")) {
        out.scheme = "https";
    } else {
        return fail(e_scheme);
    }
    text.remove_prefix(sep + 3);
    if (const auto hash = text.find('#'); hash != std::string_view::npos) {
        text = text.substr(0, hash);
    }
    const auto authority_end = text.find_first_of("/?");
    const auto authority = text.substr(0, authority_end);
    const auto rest =
        authority_end == std::string_view::npos ? std::string_view{} : text.substr(authority_end);

    if (authority.find('@') != std::string_view::npos) {
        return fail(e_userinfo);
    }
    std::string_view host_text;
    std::string_view port_text;
    bool has_port = false;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) {
            return fail(e_bad_ipv6);
        }
        host_text = authority.substr(1, close - 1);
        const auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                return fail(e_bad_ipv6);
            }
            has_port = true;
            port_text = after.substr(1);
        }
        if (host_text.find('%') != std::string_view::npos) {
            return fail(e_ipv6_zone);
        }
        const auto v6 = parse_ipv6(host_text);
        if (!v6) {
            return fail(e_bad_ipv6);
        }
        out.host = v6->to_string();
        out.host_is_literal = true;
    } else {
        const auto colon = authority.find(':');
        if (colon != authority.rfind(':')) {
            return fail(e_unbracketed_ipv6);
        }
        host_text = authority.substr(0, colon);
        if (colon != std::string_view::npos) {
            has_port = true;
            port_text = authority.substr(colon + 1);
        }
        auto host = normalize_host(host_text, out.host_is_literal);
        if (!host) {
            return host.error();
        }
        out.host = std::move(*host);
    }
    if (has_port) {
        const auto port = parse_port(port_text);
        if (!port) {
            return port.error();
        }
        out.port = *port;
    } else {
        out.port = default_port(out.scheme);
    }
    if (rest.empty()) {
        out.target = "/";
    } else if (rest.front() == '?') {
        out.target = "/" + percent_encode_non_ascii(rest);
    } else {
        out.target = percent_encode_non_ascii(rest);
    }
    return out;
}

std::string url::origin() const
{
    std::string out;
    out.reserve(scheme.size() + host.size() + 12);
    out += scheme;
    out += "://";
    if (host.find(':') != std::string::npos) {
        out += '[';
        out += host;
        out += ']';
    } else {
        out += host;
    }
    if (port != default_port(scheme)) {
        out += ':';
        out += std::to_string(port);
    }
    return out;
}

std::string url::redacted() const
{
    std::string out = origin();
    const auto query = target.find('?');
    out += std::string_view(target).substr(0, query);
    return out;
}

} // namespace relay::net
