#include "relay/config/units.hpp"

#include <array>
#include <cctype>
#include <limits>

namespace relay::config {
namespace {

std::string_view trim(std::string_view s) noexcept
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

bool is_digit(char c) noexcept
{
    return c >= '0' && c <= '9';
}

/// Reads the digits at the front of `s` into `out`; false on no digits or overflow.
bool take_number(std::string_view& s, std::uint64_t& out) noexcept
{
    std::size_t i = 0;
    std::uint64_t value = 0;
    for (; i < s.size() && is_digit(s[i]); ++i) {
        const auto digit = static_cast<std::uint64_t>(s[i] - '0');
        if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10)
            return false;
        value = value * 10 + digit;
    }
    if (i == 0)
        return false;
    s.remove_prefix(i);
    out = value;
    return true;
}

bool checked_mul_add(
    std::uint64_t& total, std::uint64_t amount, std::uint64_t factor, std::uint64_t max
) noexcept
{
    if (amount != 0 && factor > max / amount)
        return false;
    const std::uint64_t part = amount * factor;
    if (part > max - total)
        return false;
    total += part;
    return true;
}

} // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) noexcept
{
    text = trim(text);
    if (text.empty())
        return std::nullopt;
    constexpr auto max =
        static_cast<std::uint64_t>(std::numeric_limits<std::chrono::milliseconds::rep>::max());
    std::uint64_t total = 0;
    std::uint64_t amount = 0;
    if (!take_number(text, amount))
        return std::nullopt;
    if (text.empty()) {
        // A bare number is seconds (what a YAML integer or a plain environment value means).
        if (!checked_mul_add(total, amount, 1000, max))
            return std::nullopt;
        return std::chrono::milliseconds(static_cast<std::int64_t>(total));
    }
    while (true) {
        std::uint64_t factor = 0;
        if (text.starts_with("ms")) {
            factor = 1;
            text.remove_prefix(2);
        } else if (!text.empty()) {
            switch (text.front()) {
            case 's':
                factor = 1000;
                break;
            case 'm':
                factor = 60'000;
                break;
            case 'h':
                factor = 3'600'000;
                break;
            case 'd':
                factor = 86'400'000;
                break;
            default:
                return std::nullopt;
            }
            text.remove_prefix(1);
        } else {
            return std::nullopt; // digits without a unit after the first part ("1h30")
        }
        if (!checked_mul_add(total, amount, factor, max))
            return std::nullopt;
        if (text.empty())
            break;
        if (!take_number(text, amount))
            return std::nullopt;
    }
    return std::chrono::milliseconds(static_cast<std::int64_t>(total));
}

std::string format_duration(std::chrono::milliseconds d)
{
    std::string out;
    // Unsigned arithmetic so that the most negative value formats without overflow.
    std::uint64_t ms = static_cast<std::uint64_t>(d.count());
    if (d.count() < 0) {
        out.push_back('-');
        ms = ~ms + 1;
    }
    if (ms == 0)
        return "0s";
    struct unit
    {
        std::uint64_t factor;
        const char* name;
    };
    constexpr std::array<unit, 5> units{{
        {86'400'000, "d"},
        {3'600'000, "h"},
        {60'000, "m"},
        {1000, "s"},
        {1, "ms"},
    }};
    for (const auto& u : units) {
        if (ms >= u.factor) {
            out += std::to_string(ms / u.factor);
            out += u.name;
            ms %= u.factor;
        }
    }
    return out;
}

std::optional<std::uint64_t> parse_size(std::string_view text) noexcept
{
    text = trim(text);
    std::uint64_t amount = 0;
    if (!take_number(text, amount))
        return std::nullopt;
    text = trim(text);
    std::string unit;
    for (char c : text) {
        if (!std::isalpha(static_cast<unsigned char>(c)))
            return std::nullopt;
        unit.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    std::uint64_t factor = 0;
    if (unit.empty() || unit == "b")
        factor = 1;
    else if (unit == "k" || unit == "kb")
        factor = 1000;
    else if (unit == "ki" || unit == "kib")
        factor = 1024;
    else if (unit == "m" || unit == "mb")
        factor = 1000 * 1000;
    else if (unit == "mi" || unit == "mib")
        factor = 1024 * 1024;
    else if (unit == "g" || unit == "gb")
        factor = 1000 * 1000 * 1000;
    else if (unit == "gi" || unit == "gib")
        factor = 1024 * 1024 * 1024;
    else
        return std::nullopt;
    std::uint64_t total = 0;
    if (!checked_mul_add(total, amount, factor, std::numeric_limits<std::uint64_t>::max()))
        return std::nullopt;
    return total;
}

} // namespace relay::config
