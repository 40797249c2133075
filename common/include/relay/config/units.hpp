#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace relay::config {

/// Parses a configuration duration: one or more `<digits><unit>` parts with units `ms`, `s`, `m`, `h`, `d`
/// ("250ms", "5s", "5m", "2h", "1d", "1h30m"), or a bare whole number of seconds ("30"). Surrounding spaces
/// are ignored. Returns nullopt for anything else: empty text, signs, fractions ("1.5h"), unknown or
/// upper-case units, inner spaces, and values that do not fit in 64-bit milliseconds. Pure; never throws.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) noexcept;

/// The shortest spelling parse_duration() reads back: "0s", "250ms", "5s", "5m", "2h", "1d", "1h30m",
/// "1s500ms". Negative durations get a leading '-'. Retry topic names are `topics.retry_prefix` + this.
std::string format_duration(std::chrono::milliseconds d);

/// Parses a size in bytes: a whole number ("65536"), optionally followed by a unit, case-insensitive, with an
/// optional space between: "B"; "KiB"/"Ki", "MiB"/"Mi", "GiB"/"Gi" (powers of 1024); "KB"/"K", "MB"/"M",
/// "GB"/"G" (powers of 1000). Returns nullopt for anything else (fractions, signs, overflow). Pure; never
/// throws.
std::optional<std::uint64_t> parse_size(std::string_view text) noexcept;

} // namespace relay::config
