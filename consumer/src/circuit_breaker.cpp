#include "relay/delivery/circuit_breaker.hpp"

#include <algorithm>

namespace relay::delivery {

std::string_view to_string(circuit_state s) noexcept
{
    switch (s) {
    case circuit_state::closed:
        return "closed";
    case circuit_state::open:
        return "open";
    case circuit_state::half_open:
        return "half_open";
    }
    return "closed";
}

circuit_breaker::circuit_breaker(const config::circuit_breaker_params& params)
    : consecutive_limit_(std::max<std::size_t>(1, params.consecutive_failures))
    , failure_ratio_(
          std::clamp(params.failure_ratio, 0.0, 1.0) > 0 ? std::clamp(params.failure_ratio, 0.0, 1.0) : 1.0
      )
    , min_requests_(std::max<std::size_t>(1, params.min_requests))
    , slice_(std::max<clock::duration>(
          std::chrono::duration_cast<clock::duration>(params.window) / buckets, std::chrono::milliseconds(1)
      ))
    , open_duration_(std::max<clock::duration>(params.open_duration, std::chrono::milliseconds(1)))
{}

circuit_breaker::admission circuit_breaker::admit(clock::time_point now)
{
    std::lock_guard lock(mutex_);
    switch (state_) {
    case circuit_state::closed:
        return {};
    case circuit_state::open:
        if (now < open_until_)
            return {false, false, open_until_};
        state_ = circuit_state::half_open;
        probe_deadline_ = now + open_duration_;
        return {true, true, {}};
    case circuit_state::half_open:
        if (now >= probe_deadline_) {
            // The last probe never reported: send another.
            probe_deadline_ = now + open_duration_;
            return {true, true, {}};
        }
        return {false, false, probe_deadline_};
    }
    return {};
}

std::optional<circuit_state> circuit_breaker::record(bool success, bool probe, clock::time_point now)
{
    std::lock_guard lock(mutex_);
    if (state_ != circuit_state::closed) {
        // While open, only the probe decides; attempts that started before the circuit opened are ignored.
        if (!probe || state_ != circuit_state::half_open)
            return std::nullopt;
        if (success) {
            state_ = circuit_state::closed;
            consecutive_ = 0;
            window_ = {};
            return circuit_state::closed;
        }
        open_locked(now);
        return circuit_state::open;
    }
    auto& b = bucket_locked(now);
    if (success) {
        ++b.successes;
        consecutive_ = 0;
        return std::nullopt;
    }
    ++b.failures;
    ++consecutive_;
    bool trip = consecutive_ >= consecutive_limit_;
    if (!trip) {
        std::uint64_t total = 0, failed = 0;
        window_totals_locked(now, total, failed);
        trip = total >= min_requests_ &&
               static_cast<double>(failed) >= failure_ratio_ * static_cast<double>(total);
    }
    if (!trip)
        return std::nullopt;
    open_locked(now);
    return circuit_state::open;
}

std::optional<circuit_breaker::clock::time_point> circuit_breaker::refused_until(clock::time_point now) const
{
    std::lock_guard lock(mutex_);
    if (state_ == circuit_state::open && now < open_until_)
        return open_until_;
    if (state_ == circuit_state::half_open && now < probe_deadline_)
        return probe_deadline_;
    return std::nullopt;
}

circuit_state circuit_breaker::state(clock::time_point now) const
{
    std::lock_guard lock(mutex_);
    if (state_ == circuit_state::open && now >= open_until_)
        return circuit_state::half_open;
    return state_;
}

void circuit_breaker::open_locked(clock::time_point now)
{
    state_ = circuit_state::open;
    open_until_ = now + open_duration_;
    consecutive_ = 0;
    window_ = {};
}

circuit_breaker::bucket& circuit_breaker::bucket_locked(clock::time_point now)
{
    const auto index = now.time_since_epoch() / slice_;
    auto& b = window_[static_cast<std::size_t>(index) % buckets];
    if (b.index != index)
        b = {index, 0, 0};
    return b;
}

void circuit_breaker::window_totals_locked(clock::time_point now, std::uint64_t& total, std::uint64_t& failed)
    const
{
    const auto index = now.time_since_epoch() / slice_;
    for (const auto& b : window_) {
        if (b.index >= 0 && index - b.index < static_cast<std::int64_t>(buckets)) {
            total += b.successes + b.failures;
            failed += b.failures;
        }
    }
}

} // namespace relay::delivery
