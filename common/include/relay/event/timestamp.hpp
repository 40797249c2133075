#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace relay::event {

/// Parses an RFC 3339 date-time: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`. `T`/`Z` may be lowercase
/// and the separator may be a space (RFC 3339 section 5.6 note). Fractions keep nanoseconds, further digits
/// are ignored; a leap second (`:60`) counts as the next second. Calendar dates are checked (no February 30).
/// Returns nullopt on anything else, and for instants the clock cannot represent (before 1677 or after 2262
/// with libstdc++'s nanosecond clock). Pure; never throws.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text) noexcept;

/// Formats `t` as RFC 3339 in UTC with millisecond precision: "2026-01-02T03:04:05.678Z".
std::string format_rfc3339(std::chrono::system_clock::time_point t);

} // namespace relay::event
