#include "relay/log/log.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace relay::log {
namespace {

std::atomic<int> g_level{static_cast<int>(level::info)};

class stderr_sink final : public sink
{
public:
    void write(level, std::string_view line) override
    {
        // One fwrite per line under a lock, so lines from different threads never interleave.
        std::lock_guard lock(mutex_);
        std::fwrite(line.data(), 1, line.size(), stderr);
        std::fputc('\n', stderr);
        std::fflush(stderr);
    }

private:
    std::mutex mutex_;
};

std::mutex g_sink_mutex;
std::shared_ptr<sink> g_sink = std::make_shared<stderr_sink>();

std::shared_ptr<sink> current_sink()
{
    std::lock_guard lock(g_sink_mutex);
    return g_sink;
}

void append_timestamp(std::string& out)
{
    using namespace std::chrono;
    const auto now = system_clock::now();
    const auto secs = system_clock::to_time_t(now);
    const auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    std::array<char, 32> buf{};
    const int n = std::snprintf(
        buf.data(),
        buf.size(),
        "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        static_cast<int>(millis)
    );
    out.append(buf.data(), static_cast<std::size_t>(n));
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not one.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i)
{
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    std::uint32_t min = 0;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (i + len > s.size())
        return 0;
    std::uint32_t cp = c & (0xFF >> (len + 1));
    for (std::size_t k = 1; k < len; ++k) {
        const auto cc = static_cast<unsigned char>(s[i + k]);
        if ((cc & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

} // namespace

std::string_view to_string(level l) noexcept
{
    static constexpr std::array<std::string_view, 8> names{
        "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"};
    const auto i = static_cast<std::size_t>(l);
    return i < names.size() ? names[i] : "unknown";
}

bool parse_level(std::string_view text, level& out) noexcept
{
    if (text.size() == 1 && text[0] >= '0' && text[0] <= '7') {
        out = static_cast<level>(text[0] - '0');
        return true;
    }
    if (text == "warn") {
        out = level::warning;
        return true;
    }
    if (text == "error") {
        out = level::err;
        return true;
    }
    for (int i = 0; i <= 7; ++i) {
        if (to_string(static_cast<level>(i)) == text) {
            out = static_cast<level>(i);
            return true;
        }
    }
    return false;
}

void set_level(level l) noexcept
{
    g_level.store(static_cast<int>(l), std::memory_order_relaxed);
}

level current_level() noexcept
{
    return static_cast<level>(g_level.load(std::memory_order_relaxed));
}

void set_sink(std::shared_ptr<sink> s)
{
    if (!s)
        s = std::make_shared<stderr_sink>();
    std::lock_guard lock(g_sink_mutex);
    g_sink = std::move(s);
}

void append_json_escaped(std::string& out, std::string_view s)
{
    static constexpr char hex[] = "0123456789abcdef";
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x80) {
            if (const auto len = utf8_sequence_length(s, i)) {
                out.append(s.substr(i, len));
                i += len;
                continue;
            }
        }
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (c < 0x20 || c >= 0x80) {
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 0xF];
            } else {
                out += static_cast<char>(c);
            }
        }
        ++i;
    }
}

std::string format(level l, std::string_view msg, std::initializer_list<field> fields)
{
    std::string line;
    line.reserve(128 + msg.size());
    line += R"({"ts":")";
    append_timestamp(line);
    line += R"(","level":)";
    line += std::to_string(static_cast<int>(l));
    line += R"(,"severity":")";
    line += to_string(l);
    line += R"(","msg":")";
    append_json_escaped(line, msg);
    line += '"';
    for (const auto& f : fields) {
        line += ",\"";
        append_json_escaped(line, f.key);
        line += "\":";
        std::visit(
            [&](const auto& v) {
                using T = std::decay_t<decltype(v)>;
                if constexpr (std::is_same_v<T, std::string_view>) {
                    line += '"';
                    append_json_escaped(line, v);
                    line += '"';
                } else if constexpr (std::is_same_v<T, bool>) {
                    line += v ? "true" : "false";
                } else if constexpr (std::is_same_v<T, double>) {
                    std::array<char, 32> buf{};
                    const int n = std::snprintf(buf.data(), buf.size(), "%.6g", v);
                    // JSON has no NaN or infinity.
                    if (v != v || v - v != 0)
                        line += "null";
                    else
                        line.append(buf.data(), static_cast<std::size_t>(n));
                } else {
                    line += std::to_string(v);
                }
            },
            f.value
        );
    }
    line += '}';
    return line;
}

void write(level l, std::string_view msg, std::initializer_list<field> fields) noexcept
{
    if (!enabled(l))
        return;
    try {
        const auto line = format(l, msg, fields);
        if (auto s = current_sink())
            s->write(l, line);
    } catch (...) {
        // Logging must never take a process down; an allocation failure here drops the line.
    }
}

} // namespace relay::log
