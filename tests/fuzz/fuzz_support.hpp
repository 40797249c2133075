#pragma once

// Helpers shared by the libFuzzer targets of tests/fuzz: invariant checks that stop the run with a message,
// and a splitter that turns one input into text fields so that seed files stay readable.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace relay::fuzz {

/// Prints `what` (the violated invariant) and aborts: libFuzzer reports the abort as a crash and saves the
/// input. Never returns.
[[noreturn]] inline void fail(const char* file, int line, const char* what) noexcept
{
    std::fprintf(stderr, "%s:%d: fuzz invariant violated: %s\n", file, line, what);
    std::abort();
}

/// The whole input as text (bytes as they are, NUL included).
inline std::string_view as_text(const std::uint8_t* data, std::size_t size) noexcept
{
    return {reinterpret_cast<const char*>(data), size};
}

/// Reads an input as '\n'-separated fields; the last field taken with rest() keeps its newlines.
/// Missing fields are empty, so every input is usable. Not thread-safe (a cursor).
class fields
{
public:
    explicit fields(std::string_view text) noexcept
        : rest_(text)
    {}

    /// The next line, without its '\n' (all of the remaining text when there is no '\n').
    std::string_view next() noexcept
    {
        const auto nl = rest_.find('\n');
        const auto line = rest_.substr(0, nl);
        rest_ = nl == std::string_view::npos ? std::string_view{} : rest_.substr(nl + 1);
        return line;
    }

    /// Everything not consumed yet.
    std::string_view rest() const noexcept { return rest_; }

private:
    std::string_view rest_;
};

/// True when every byte is visible ASCII (0x21-0x7E).
inline bool visible_ascii(std::string_view s) noexcept
{
    for (const char c : s) {
        if (c < 0x21 || c > 0x7e)
            return false;
    }
    return true;
}

/// True when every byte is printable ASCII (0x20-0x7E).
inline bool printable_ascii(std::string_view s) noexcept
{
    for (const char c : s) {
        if (c < 0x20 || c > 0x7e)
            return false;
    }
    return true;
}

} // namespace relay::fuzz

/// Checks an invariant of the code under test; a violation aborts with the condition's text.
#define RELAY_FUZZ_CHECK(cond)                                                                               \
    do {                                                                                                     \
        if (!(cond))                                                                                         \
            ::relay::fuzz::fail(__FILE__, __LINE__, #cond);                                                  \
    } while (false)
