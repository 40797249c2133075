// Fuzzes relay::net::parse_url and parse_ip_literal with arbitrary text.
// Invariants: an accepted URL has an http(s) scheme, a non-empty lowercase host without spaces or control
// characters, a non-zero port and a target starting with '/'; host_is_literal holds exactly when the host is
// the canonical text of an IP literal; origin() + target parses back to the same URL (normalization is
// idempotent); redacted() drops the query. An IP literal's canonical text parses back to the same address.

#include "relay/net/address_policy.hpp"
#include "relay/net/url.hpp"

#include "fuzz_support.hpp"

#include <string>

namespace {

bool lowercase_host_chars(std::string_view host)
{
    for (const char c : host) {
        if (c <= 0x20 || c >= 0x7f || (c >= 'A' && c <= 'Z'))
            return false;
    }
    return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto text = relay::fuzz::as_text(data, size);

    if (const auto literal = relay::net::parse_ip_literal(text)) {
        const auto canonical = literal->to_string();
        const auto again = relay::net::parse_ip_literal(canonical);
        RELAY_FUZZ_CHECK(again && *again == *literal);
    }

    auto parsed = relay::net::parse_url(text);
    if (!parsed) {
        RELAY_FUZZ_CHECK(parsed.error() == relay::net::errc::invalid_url);
        return 0;
    }
    const auto& u = *parsed;
    RELAY_FUZZ_CHECK(u.scheme == "http" || u.scheme == "https");
    RELAY_FUZZ_CHECK(!u.host.empty() && lowercase_host_chars(u.host));
    RELAY_FUZZ_CHECK(u.port != 0);
    RELAY_FUZZ_CHECK(u.target.starts_with('/'));
    RELAY_FUZZ_CHECK(u.target.find('#') == std::string::npos);
    RELAY_FUZZ_CHECK(relay::fuzz::printable_ascii(u.target) && u.target.find(' ') == std::string::npos);

    const auto literal = relay::net::parse_ip_literal(u.host);
    RELAY_FUZZ_CHECK(u.host_is_literal == literal.has_value());
    if (literal)
        RELAY_FUZZ_CHECK(literal->to_string() == u.host);
    else
        RELAY_FUZZ_CHECK(u.host.find(':') == std::string::npos);

    const auto origin = u.origin();
    RELAY_FUZZ_CHECK(origin.starts_with(u.scheme + "://"));
    const auto again = relay::net::parse_url(origin + u.target);
    RELAY_FUZZ_CHECK(again.has_value());
    RELAY_FUZZ_CHECK(again->scheme == u.scheme && again->host == u.host && again->port == u.port);
    RELAY_FUZZ_CHECK(again->target == u.target && again->host_is_literal == u.host_is_literal);
    RELAY_FUZZ_CHECK(again->origin() == origin);

    const auto redacted = u.redacted();
    RELAY_FUZZ_CHECK(redacted.find('?') == std::string::npos);
    RELAY_FUZZ_CHECK(redacted.starts_with(origin));
    return 0;
}
