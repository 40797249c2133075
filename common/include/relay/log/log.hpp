#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

namespace relay::log {

/// Severity, numbered as syslog (and librdkafka) number them: lower is more severe.
enum class level : int
{
    emerg = 0,
    alert = 1,
    crit = 2,
    err = 3,
    warning = 4,
    notice = 5,
    info = 6,
    debug = 7,
};

/// The lowercase name of a level ("err", "info", ...).
std::string_view to_string(level l) noexcept;

/// Parses "debug", "info", "notice", "warning"/"warn", "err"/"error", "crit", "alert", "emerg" or a digit
/// 0-7. Returns false and leaves `out` untouched on anything else.
bool parse_level(std::string_view text, level& out) noexcept;

/// One structured field of a log line. Values are borrowed: they must outlive the logging call only.
struct field
{
    using value_type = std::variant<std::string_view, std::int64_t, std::uint64_t, double, bool>;

    std::string_view key;
    value_type value;

    field(std::string_view k, std::string_view v)
        : key(k)
        , value(v)
    {}
    field(std::string_view k, const char* v)
        : key(k)
        , value(std::string_view(v ? v : ""))
    {}
    field(std::string_view k, const std::string& v)
        : key(k)
        , value(std::string_view(v))
    {}
    field(std::string_view k, bool v)
        : key(k)
        , value(v)
    {}
    field(std::string_view k, double v)
        : key(k)
        , value(v)
    {}
    template <class Int>
    requires(std::is_integral_v<Int> && !std::is_same_v<Int, bool>) field(std::string_view k, Int v)
        : key(k)
        , value(
              std::is_signed_v<Int> ? value_type(static_cast<std::int64_t>(v))
                                    : value_type(static_cast<std::uint64_t>(v))
          )
    {}
};

/// Where formatted lines go. Implementations must be thread-safe; `line` has no trailing newline.
class sink
{
public:
    virtual ~sink() = default;
    virtual void write(level l, std::string_view line) = 0;
};

/// Sets the most verbose level that is written (default: info). Thread-safe.
void set_level(level l) noexcept;

/// The current threshold. Thread-safe.
level current_level() noexcept;

/// True when a message at `l` would be written; use it to skip building expensive fields.
inline bool enabled(level l) noexcept
{
    return static_cast<int>(l) <= static_cast<int>(current_level());
}

/// Replaces the destination of log lines (default: stderr, one line per write). Passing nullptr restores
/// stderr. Thread-safe; lines being written while the sink changes go to either sink.
void set_sink(std::shared_ptr<sink> s);

/// Formats `msg` and `fields` as one JSON object on one line:
/// {"ts":"2026-01-02T03:04:05.678Z","level":6,"severity":"info","msg":"...","<key>":<value>,...}
/// Strings are JSON-escaped (control characters, quotes, invalid UTF-8 bytes as \u00XX). Never throws.
std::string format(level l, std::string_view msg, std::initializer_list<field> fields);

/// Writes one line if `l` is enabled. Thread-safe; never throws.
void write(level l, std::string_view msg, std::initializer_list<field> fields = {}) noexcept;

inline void debug(std::string_view msg, std::initializer_list<field> f = {}) noexcept
{
    write(level::debug, msg, f);
}
inline void info(std::string_view msg, std::initializer_list<field> f = {}) noexcept
{
    write(level::info, msg, f);
}
inline void notice(std::string_view msg, std::initializer_list<field> f = {}) noexcept
{
    write(level::notice, msg, f);
}
inline void warn(std::string_view msg, std::initializer_list<field> f = {}) noexcept
{
    write(level::warning, msg, f);
}
inline void error(std::string_view msg, std::initializer_list<field> f = {}) noexcept
{
    write(level::err, msg, f);
}
inline void crit(std::string_view msg, std::initializer_list<field> f = {}) noexcept
{
    write(level::crit, msg, f);
}

/// Appends `s` to `out` as the inside of a JSON string (no surrounding quotes). Shared by every JSON writer
/// that must not trust its input to be valid UTF-8.
void append_json_escaped(std::string& out, std::string_view s);

} // namespace relay::log
