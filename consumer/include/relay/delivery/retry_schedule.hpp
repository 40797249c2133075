#pragma once

#include <bit>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace relay::delivery {

/// When to try a failed delivery again (design.md section 7): one delay per retry, each jittered uniformly
/// within ±jitter of itself. With the default 5s, 5m, 30m, 2h, 5h, 10h, 10h a delivery gets 8 attempts (the
/// first try and 7 retries) over about 28 hours, then goes to the DLQ with reason `exhausted`.
///
/// The distinct delays are the retry tiers: each has its own topic `<prefix><format_duration(delay)>`
/// (`relay.retry.5s`, `relay.retry.5m`, ...) where deliveries park until due.
/// Thread-safety: immutable after construction; safe to share.
class retry_schedule
{
public:
    /// Jitter of the default schedule: ±20%.
    static constexpr double default_jitter = 0.2;

    /// The longest delay accepted: parked records must outlive it on the retry topic (mind its retention).
    static constexpr std::chrono::milliseconds max_delay = std::chrono::hours{24 * 30};

    /// The default schedule: 5s, 5m, 30m, 2h, 5h, 10h, 10h with ±20% jitter.
    retry_schedule();

    /// A custom schedule. An empty list means no retries (the first failure goes to the DLQ).
    /// Throws std::invalid_argument with validate()'s message when the schedule is invalid (config boundary).
    explicit retry_schedule(std::vector<std::chrono::milliseconds> delays, double jitter = default_jitter);

    /// Empty when `delays` and `jitter` make a valid schedule, otherwise what is wrong: every delay must be
    /// positive and at most max_delay (30 days), and jitter within [0, 1).
    static std::string validate(std::span<const std::chrono::milliseconds> delays, double jitter);

    /// The delays, in order: delays()[n - 1] is the delay before attempt n + 1.
    std::span<const std::chrono::milliseconds> delays() const noexcept { return delays_; }

    /// The jitter fraction.
    double jitter() const noexcept { return jitter_; }

    /// Total attempts including the first: delays().size() + 1.
    std::size_t max_attempts() const noexcept { return delays_.size() + 1; }

    /// The un-jittered delay after failed attempt `attempt` (1 = the first try), which is also its retry
    /// tier; nullopt when the schedule is exhausted (or `attempt` is 0).
    std::optional<std::chrono::milliseconds> base_delay(std::uint32_t attempt) const noexcept;

    /// The jittered delay after failed attempt `attempt` (1 = the first try): base_delay(attempt) scaled by a
    /// factor uniform in [1 - jitter, 1 + jitter], drawn from `rng` (any UniformRandomBitGenerator, so tests
    /// can inject a seeded one). nullopt when the schedule is exhausted (or `attempt` is 0).
    template <class Rng>
    std::optional<std::chrono::milliseconds> next_delay(std::uint32_t attempt, Rng& rng) const
    {
        const auto base = base_delay(attempt);
        if (!base)
            return std::nullopt;
        return jittered(*base, unit_interval(rng));
    }

    /// `base` scaled by 1 + jitter * (2 * unit - 1), for `unit` in [0, 1] (clamped), rounded to milliseconds
    /// and at least 1 ms. next_delay draws `unit` uniformly.
    std::chrono::milliseconds jittered(std::chrono::milliseconds base, double unit) const noexcept;

    /// The retry tiers: the distinct delays, in order of first appearance (5s, 5m, 30m, 2h, 5h, 10h).
    std::vector<std::chrono::milliseconds> tiers() const;

private:
    template <class Rng>
    static double unit_interval(Rng& rng)
    {
        // 53 random bits mapped onto [0, 1) by hand: std::uniform_real_distribution's output differs between
        // standard libraries, and tests pin values with a seeded generator.
        constexpr auto range = static_cast<std::uint64_t>(Rng::max() - Rng::min());
        constexpr int bits_per_call = range == ~std::uint64_t{0} ? 64 : std::bit_width(range + 1) - 1;
        static_assert(bits_per_call > 0, "the generator must produce at least one random bit per call");
        std::uint64_t bits = 0;
        for (int have = 0; have < 53; have += bits_per_call) {
            auto draw = static_cast<std::uint64_t>(rng() - Rng::min());
            if constexpr (bits_per_call < 64)
                bits = (bits << bits_per_call) | (draw & ((std::uint64_t{1} << bits_per_call) - 1));
            else
                bits = draw;
        }
        return static_cast<double>(bits & ((std::uint64_t{1} << 53) - 1)) * 0x1.0p-53;
    }

    std::vector<std::chrono::milliseconds> delays_;
    double jitter_ = default_jitter;
};

/// The retry tier a delay parks in: the largest tier not longer than `delay`, or the shortest tier when
/// `delay` is shorter than all of them; nullopt when `tiers` is empty. Used for delays that are not in the
/// schedule (a Retry-After, a subscription's own schedule): the record's not-before header still carries the
/// exact time, and a tier's consumer waits for its head to be due, so a record is never delivered early.
std::optional<std::chrono::milliseconds>
choose_tier(std::span<const std::chrono::milliseconds> tiers, std::chrono::milliseconds delay) noexcept;

/// The topic name suffix of a tier: relay::event::format_duration ("5s", "5m", "30m", "2h", "10h", "1h30m").
std::string tier_topic_suffix(std::chrono::milliseconds tier);

/// `prefix` + tier_topic_suffix(tier), e.g. tier_topic("relay.retry.", 5min) == "relay.retry.5m". The prefix
/// carries its own separator, as config's `topics.retry_prefix` ("relay.retry.") does.
std::string tier_topic(std::string_view prefix, std::chrono::milliseconds tier);

} // namespace relay::delivery
