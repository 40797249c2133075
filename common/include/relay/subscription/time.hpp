#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace relay::subscription {

/// A wall-clock instant with millisecond precision (what RFC 3339 fields of a subscription hold).
using timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

/// Parses a duration: an unsigned integer followed by a unit `ms`, `s`, `m` or `h` ("250ms", "5s", "5m",
/// "2h"). Returns nullopt on anything else (no unit, other units, signs, spaces, overflow past 100 days).
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) noexcept;

/// Formats a non-negative duration with the largest unit that represents it exactly: 7200000 ms -> "2h",
/// 300000 ms -> "5m", 1500 ms -> "1500ms". parse_duration(format_duration(d)) == d.
std::string format_duration(std::chrono::milliseconds d);

/// Parses an RFC 3339 date-time ("2024-05-01T12:00:00Z", "2024-05-01t12:00:00.123456+02:00"): the offset is
/// applied, fractions beyond milliseconds are truncated. Refuses leap seconds (":60"), invalid dates and
/// years outside 0001-9999. Returns nullopt when the text is not such a date-time.
std::optional<timestamp> parse_timestamp(std::string_view text) noexcept;

/// Formats as RFC 3339 in UTC: "2024-05-01T12:00:00Z", with ".mmm" only when milliseconds are not zero.
/// parse_timestamp(format_timestamp(t)) == t for years 0001-9999.
std::string format_timestamp(timestamp t);

} // namespace relay::subscription
