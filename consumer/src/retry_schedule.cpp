#include "relay/delivery/retry_schedule.hpp"

#include "relay/event/duration.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace relay::delivery {

using std::chrono::milliseconds;

retry_schedule::retry_schedule()
    : delays_{
          std::chrono::seconds{5},
          std::chrono::minutes{5},
          std::chrono::minutes{30},
          std::chrono::hours{2},
          std::chrono::hours{5},
          std::chrono::hours{10},
          std::chrono::hours{10}}
{}

retry_schedule::retry_schedule(std::vector<milliseconds> delays, double jitter)
    : delays_(std::move(delays))
    , jitter_(jitter)
{
    if (auto problem = validate(delays_, jitter_); !problem.empty())
        throw std::invalid_argument(problem);
}

std::string retry_schedule::validate(std::span<const milliseconds> delays, double jitter)
{
    if (!(jitter >= 0.0 && jitter < 1.0))
        return "retry jitter must be at least 0 and less than 1, got " + std::to_string(jitter);
    for (std::size_t i = 0; i < delays.size(); ++i) {
        if (delays[i] <= milliseconds{0})
            return "retry delay " + std::to_string(i + 1) + " must be positive, got " +
                   event::format_duration(delays[i]);
        if (delays[i] > max_delay)
            return "retry delay " + std::to_string(i + 1) + " is " + event::format_duration(delays[i]) +
                   ", limit " + event::format_duration(max_delay);
    }
    return {};
}

std::optional<milliseconds> retry_schedule::base_delay(std::uint32_t attempt) const noexcept
{
    if (attempt == 0 || attempt > delays_.size())
        return std::nullopt;
    return delays_[attempt - 1];
}

milliseconds retry_schedule::jittered(milliseconds base, double unit) const noexcept
{
    unit = std::clamp(unit, 0.0, 1.0);
    const double factor = 1.0 + jitter_ * (2.0 * unit - 1.0);
    const double ms = std::round(static_cast<double>(base.count()) * factor);
    // Converting a double beyond int64's range is undefined; 2^62 ms is far beyond any schedule.
    constexpr double limit = 0x1.0p62;
    return milliseconds{std::max<std::int64_t>(1, static_cast<std::int64_t>(std::min(ms, limit)))};
}

std::vector<milliseconds> retry_schedule::tiers() const
{
    std::vector<milliseconds> out;
    for (const auto d : delays_)
        if (std::find(out.begin(), out.end(), d) == out.end())
            out.push_back(d);
    return out;
}

std::optional<milliseconds> choose_tier(std::span<const milliseconds> tiers, milliseconds delay) noexcept
{
    if (tiers.empty())
        return std::nullopt;
    std::optional<milliseconds> best;
    milliseconds shortest = tiers.front();
    for (const auto t : tiers) {
        shortest = std::min(shortest, t);
        if (t <= delay && (!best || t > *best))
            best = t;
    }
    return best ? best : shortest;
}

std::string tier_topic_suffix(milliseconds tier)
{
    return event::format_duration(tier);
}

std::string tier_topic(std::string_view prefix, milliseconds tier)
{
    std::string topic(prefix);
    topic += tier_topic_suffix(tier);
    return topic;
}

} // namespace relay::delivery
