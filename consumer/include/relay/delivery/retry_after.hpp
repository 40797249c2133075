#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace relay::delivery {

/// The largest delay parse_retry_after returns (about 68 years): huge delta-seconds saturate here, so the
/// caller can add the result to a time_point without overflow before applying its own cap.
inline constexpr std::chrono::seconds max_retry_after{2'147'483'647};

/// Parses a `Retry-After` header value (RFC 9110 section 10.2.3) received at `now`:
/// - delta-seconds: ASCII digits only; values above max_retry_after saturate to it;
/// - HTTP-date in any of the three formats: IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", obsolete RFC 850
///   "Sunday, 06-Nov-94 08:49:37 GMT" (a two-digit year more than 50 years ahead of `now` means the previous
///   century, as RFC 9110 requires) and asctime "Sun Nov  6 08:49:37 1994"; returns the seconds from `now`
///   until then, rounded up, and zero for dates not in the future.
/// Surrounding spaces and tabs are ignored; day and month names are matched case-insensitively, and the day
/// name is not checked against the date. Anything else (empty, negative, fractional, garbage, impossible
/// dates) returns nullopt. Capping to a sane maximum is the caller's job. Pure; thread-safe.
std::optional<std::chrono::seconds>
parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now) noexcept;

} // namespace relay::delivery
