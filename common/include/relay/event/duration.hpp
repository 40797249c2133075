#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace relay::event {

/// Parses a duration written as one or more `<digits><unit>` parts, units `ms`, `s`, `m`, `h`, `d`:
/// "250ms", "5s", "5m", "2h", "1d", "1h30m". Used for retry schedules (and the retry tier names that
/// format_duration produces round-trip through it). No sign, no fractions ("1.5h"), no spaces and no bare
/// numbers: those, an empty string and values that overflow return nullopt. Pure; never throws.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) noexcept;

/// The shortest spelling parse_duration reads back: "5s", "5m", "30m", "2h", "1d", "1h30m", "1s500ms", "0s".
/// Negative durations get a leading '-'. This is the retry tier suffix of topic names
/// (`relay.retry.<suffix>`).
std::string format_duration(std::chrono::milliseconds d);

} // namespace relay::event
