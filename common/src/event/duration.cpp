#include "relay/event/duration.hpp"

#include <cstdint>
#include <limits>

namespace relay::event {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) noexcept
{
    if (text.empty())
        return std::nullopt;
    std::int64_t total = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::int64_t n = 0;
        const std::size_t first = pos;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
            if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, text[pos] - '0', &n))
                return std::nullopt;
            ++pos;
        }
        if (pos == first)
            return std::nullopt;
        std::int64_t unit_ms = 0;
        const std::string_view rest = text.substr(pos);
        if (rest.starts_with("ms")) {
            unit_ms = 1;
            pos += 2;
        } else if (rest.starts_with("s")) {
            unit_ms = 1000;
            ++pos;
        } else if (rest.starts_with("m")) {
            unit_ms = 60'000;
            ++pos;
        } else if (rest.starts_with("h")) {
            unit_ms = 3'600'000;
            ++pos;
        } else if (rest.starts_with("d")) {
            unit_ms = 86'400'000;
            ++pos;
        } else {
            return std::nullopt;
        }
        std::int64_t part = 0;
        if (__builtin_mul_overflow(n, unit_ms, &part) || __builtin_add_overflow(total, part, &total))
            return std::nullopt;
    }
    return std::chrono::milliseconds{total};
}

std::string format_duration(std::chrono::milliseconds d)
{
    std::string out;
    std::int64_t ms = d.count();
    if (ms == 0)
        return "0s";
    std::uint64_t rest = 0;
    if (ms < 0) {
        out.push_back('-');
        rest = static_cast<std::uint64_t>(-(ms + 1)) + 1; // well-defined for the minimum value too
    } else {
        rest = static_cast<std::uint64_t>(ms);
    }
    struct unit
    {
        std::uint64_t ms;
        const char* suffix;
    };
    static constexpr unit units[] = {
        {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
    for (const auto& u : units) {
        if (rest >= u.ms) {
            out += std::to_string(rest / u.ms);
            out += u.suffix;
            rest %= u.ms;
        }
    }
    return out;
}

} // namespace relay::event
