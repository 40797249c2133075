// Fuzzes relay::delivery::parse_retry_after (delta-seconds and the three HTTP-date formats).
// Invariants: the result is within [0, max_retry_after]; plain delta-seconds give their own value; a later
// `now` never gives a longer delay, and for whole-second clocks exactly `later - now` less (or zero).

#include "relay/delivery/retry_after.hpp"

#include "fuzz_support.hpp"

#include <chrono>

namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

bool in_range(const std::optional<seconds>& d)
{
    return !d || (*d >= seconds{0} && *d <= relay::delivery::max_retry_after);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto value = relay::fuzz::as_text(data, size);
    // 2023-11-14T22:13:20Z, and a clock 1000 s later.
    const system_clock::time_point now{seconds{1'700'000'000}};
    const auto later = now + seconds{1000};

    const auto at_now = relay::delivery::parse_retry_after(value, now);
    const auto at_later = relay::delivery::parse_retry_after(value, later);
    RELAY_FUZZ_CHECK(in_range(at_now) && in_range(at_later));
    RELAY_FUZZ_CHECK(at_now.has_value() == at_later.has_value());
    if (at_now) {
        RELAY_FUZZ_CHECK(*at_later <= *at_now);
        RELAY_FUZZ_CHECK(*at_now - *at_later <= seconds{1000});
        RELAY_FUZZ_CHECK(
            *at_later == *at_now || *at_now == relay::delivery::max_retry_after ||
            *at_later == *at_now - seconds{1000} || *at_later == seconds{0}
        );
    }

    // Delta-seconds: up to 9 ASCII digits (surrounded by spaces or tabs) are their own value.
    auto trimmed = value;
    while (!trimmed.empty() && (trimmed.front() == ' ' || trimmed.front() == '\t'))
        trimmed.remove_prefix(1);
    while (!trimmed.empty() && (trimmed.back() == ' ' || trimmed.back() == '\t'))
        trimmed.remove_suffix(1);
    if (!trimmed.empty() && trimmed.size() <= 9 &&
        trimmed.find_first_not_of("0123456789") == std::string_view::npos) {
        long long n = 0;
        for (const char c : trimmed)
            n = n * 10 + (c - '0');
        RELAY_FUZZ_CHECK(at_now && *at_now == seconds{n} && *at_later == seconds{n});
    }
    return 0;
}
