#include "relay/subscription/subscription.hpp"

#include <openssl/rand.h>

#include <array>
#include <stdexcept>

namespace relay::subscription {
namespace {

bool is_id_char(char c) noexcept
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool is_type_char(char c) noexcept
{
    return is_id_char(c) || c == ':' || c == '/';
}

// Dot-separated non-empty segments of type characters.
bool is_valid_type(std::string_view type) noexcept
{
    if (type.empty())
        return false;
    char previous = '.';
    for (const char c : type) {
        if (c == '.') {
            if (previous == '.')
                return false;
        } else if (!is_type_char(c)) {
            return false;
        }
        previous = c;
    }
    return previous != '.';
}

} // namespace

std::string_view to_string(ordering_mode o) noexcept
{
    switch (o) {
    case ordering_mode::none:
        return "none";
    case ordering_mode::key:
        return "key";
    }
    return "none";
}

std::string_view to_string(disable_reason r) noexcept
{
    switch (r) {
    case disable_reason::gone:
        return "gone";
    case disable_reason::failing:
        return "failing";
    case disable_reason::manual:
        return "manual";
    }
    return "manual";
}

std::optional<ordering_mode> parse_ordering(std::string_view text) noexcept
{
    if (text == "none")
        return ordering_mode::none;
    if (text == "key")
        return ordering_mode::key;
    return std::nullopt;
}

std::optional<disable_reason> parse_disable_reason(std::string_view text) noexcept
{
    if (text == "gone")
        return disable_reason::gone;
    if (text == "failing")
        return disable_reason::failing;
    if (text == "manual")
        return disable_reason::manual;
    return std::nullopt;
}

bool operator==(const subscription& a, const subscription& b)
{
    return a.id == b.id && a.url == b.url && a.event_types == b.event_types &&
           a.payload_filter == b.payload_filter && a.secrets == b.secrets && a.signing_key == b.signing_key &&
           a.headers == b.headers && a.timeout == b.timeout && a.max_in_flight == b.max_in_flight &&
           a.rate_limit == b.rate_limit && a.ordering == b.ordering && a.retry_schedule == b.retry_schedule &&
           a.enabled == b.enabled && a.tenant == b.tenant && a.metrics_label == b.metrics_label &&
           a.created_at == b.created_at && a.updated_at == b.updated_at &&
           a.disabled_reason == b.disabled_reason;
}

bool is_valid_id(std::string_view id) noexcept
{
    if (id.empty() || id.size() > 128)
        return false;
    for (const char c : id) {
        if (!is_id_char(c))
            return false;
    }
    return true;
}

std::string generate_id()
{
    constexpr std::string_view alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";
    constexpr std::size_t length = 26;
    std::string id = "sub_";
    std::array<unsigned char, 64> bytes{};
    while (id.size() < 4 + length) {
        if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
            throw std::runtime_error("generate_id: the OS random generator failed");
        for (const unsigned char b : bytes) {
            // 252 = 7 * 36: rejecting the rest keeps every character equally likely.
            if (b < 252 && id.size() < 4 + length)
                id += alphabet[b % alphabet.size()];
        }
    }
    return id;
}

bool is_valid_pattern(std::string_view pattern) noexcept
{
    if (pattern == "*")
        return true;
    if (pattern.size() > 256)
        return false;
    if (pattern.size() > 2 && pattern.ends_with(".*"))
        pattern.remove_suffix(2);
    return is_valid_type(pattern);
}

bool pattern_matches(std::string_view pattern, std::string_view type) noexcept
{
    if (pattern == "*")
        return true;
    if (pattern.size() >= 2 && pattern.ends_with(".*")) {
        const std::string_view prefix = pattern.substr(0, pattern.size() - 1); // keeps the '.'
        return type.size() > prefix.size() && type.starts_with(prefix);
    }
    return pattern == type;
}

} // namespace relay::subscription
