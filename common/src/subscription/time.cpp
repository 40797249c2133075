#include "relay/subscription/time.hpp"

#include <array>
#include <cstdint>
#include <cstdio>

namespace relay::subscription {
namespace {

constexpr std::int64_t max_duration_ms = 100LL * 24 * 3600 * 1000;

bool is_digit(char c) noexcept
{
    return c >= '0' && c <= '9';
}

// Reads exactly `n` digits at `pos`.
bool read_digits(std::string_view text, std::size_t pos, std::size_t n, int& out) noexcept
{
    if (pos + n > text.size())
        return false;
    int v = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const char c = text[pos + i];
        if (!is_digit(c))
            return false;
        v = v * 10 + (c - '0');
    }
    out = v;
    return true;
}

} // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) noexcept
{
    std::size_t i = 0;
    std::int64_t value = 0;
    while (i < text.size() && is_digit(text[i])) {
        value = value * 10 + (text[i] - '0');
        if (value > max_duration_ms)
            return std::nullopt;
        ++i;
    }
    if (i == 0)
        return std::nullopt;
    const std::string_view unit = text.substr(i);
    std::int64_t scale = 0;
    if (unit == "ms")
        scale = 1;
    else if (unit == "s")
        scale = 1000;
    else if (unit == "m")
        scale = 60'000;
    else if (unit == "h")
        scale = 3'600'000;
    else
        return std::nullopt;
    if (value > max_duration_ms / scale)
        return std::nullopt;
    return std::chrono::milliseconds(value * scale);
}

std::string format_duration(std::chrono::milliseconds d)
{
    const std::int64_t ms = d.count();
    if (ms != 0 && ms % 3'600'000 == 0)
        return std::to_string(ms / 3'600'000) + "h";
    if (ms != 0 && ms % 60'000 == 0)
        return std::to_string(ms / 60'000) + "m";
    if (ms != 0 && ms % 1000 == 0)
        return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

std::optional<timestamp> parse_timestamp(std::string_view t) noexcept
{
    using namespace std::chrono;
    // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!read_digits(t, 0, 4, year) || t.size() < 20 || t[4] != '-' || !read_digits(t, 5, 2, month) ||
        t[7] != '-' || !read_digits(t, 8, 2, day) || (t[10] != 'T' && t[10] != 't') ||
        !read_digits(t, 11, 2, hour) || t[13] != ':' || !read_digits(t, 14, 2, minute) || t[16] != ':' ||
        !read_digits(t, 17, 2, second))
        return std::nullopt;
    if (year < 1 || hour > 23 || minute > 59 || second > 59)
        return std::nullopt;
    const year_month_day ymd{
        std::chrono::year(year),
        std::chrono::month(static_cast<unsigned>(month)),
        std::chrono::day(static_cast<unsigned>(day))};
    if (!ymd.ok())
        return std::nullopt;

    std::size_t pos = 19;
    std::int64_t millis = 0;
    if (pos < t.size() && t[pos] == '.') {
        ++pos;
        const std::size_t start = pos;
        while (pos < t.size() && is_digit(t[pos])) {
            if (pos - start < 3)
                millis = millis * 10 + (t[pos] - '0');
            ++pos;
        }
        const std::size_t n = pos - start;
        if (n == 0)
            return std::nullopt;
        for (std::size_t k = n; k < 3; ++k)
            millis *= 10;
    }
    if (pos >= t.size())
        return std::nullopt;
    int offset_minutes = 0;
    if (t[pos] == 'Z' || t[pos] == 'z') {
        ++pos;
    } else if (t[pos] == '+' || t[pos] == '-') {
        const int sign = t[pos] == '-' ? -1 : 1;
        int oh = 0, om = 0;
        if (!read_digits(t, pos + 1, 2, oh) || pos + 3 >= t.size() || t[pos + 3] != ':' ||
            !read_digits(t, pos + 4, 2, om) || oh > 23 || om > 59)
            return std::nullopt;
        offset_minutes = sign * (oh * 60 + om);
        pos += 6;
    } else {
        return std::nullopt;
    }
    if (pos != t.size())
        return std::nullopt;

    const sys_days days{ymd};
    return timestamp{days} + hours(hour) + minutes(minute) + seconds(second) + milliseconds(millis) -
           minutes(offset_minutes);
}

std::string format_timestamp(timestamp t)
{
    using namespace std::chrono;
    const sys_days days = floor<std::chrono::days>(t);
    const year_month_day ymd{days};
    const hh_mm_ss<milliseconds> tod{t - days};
    std::array<char, 48> buf{};
    const int n = std::snprintf(
        buf.data(),
        buf.size(),
        "%04d-%02u-%02uT%02d:%02d:%02d",
        static_cast<int>(ymd.year()),
        static_cast<unsigned>(ymd.month()),
        static_cast<unsigned>(ymd.day()),
        static_cast<int>(tod.hours().count()),
        static_cast<int>(tod.minutes().count()),
        static_cast<int>(tod.seconds().count())
    );
    std::string out(buf.data(), static_cast<std::size_t>(n > 0 ? n : 0));
    const auto ms = tod.subseconds().count();
    if (ms != 0) {
        std::array<char, 8> frac{};
        std::snprintf(frac.data(), frac.size(), ".%03d", static_cast<int>(ms));
        out += frac.data();
    }
    out += 'Z';
    return out;
}

} // namespace relay::subscription
