#pragma once

#include "relay/config/config.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string_view>

namespace relay::delivery {

/// State of an endpoint's circuit.
enum class circuit_state
{
    closed,    ///< deliveries flow
    open,      ///< deliveries are parked on retry topics without an attempt
    half_open, ///< one probe delivery is under way; the others are parked
};

/// "closed" / "open" / "half_open".
std::string_view to_string(circuit_state s) noexcept;

/// The circuit breaker of one endpoint (design.md section 8; config section `delivery.circuit_breaker`).
///
/// Closed: every delivery may go. The circuit opens after `consecutive_failures` failures in a row, or when
/// at least `min_requests` attempts finished within the sliding `window` and at least `failure_ratio` of them
/// failed. Open: nothing may go until `open_duration` has passed; then the first admit() is the probe
/// (half-open) and everything else is refused until the probe's outcome closes the circuit (success) or opens
/// it again (failure). A probe that never reports (its delivery was abandoned) is replaced by a new probe
/// after another `open_duration`.
///
/// "Failure" means the endpoint is unhealthy: retryable outcomes (timeouts, connection errors, 408, 425, 429,
/// 5xx). A permanent 4xx or a 3xx is an answer from a live endpoint and counts as a success here.
///
/// Time is passed in, so the logic is testable without sleeping. Thread-safety: every member function may be
/// called from any thread; one short mutex.
class circuit_breaker
{
public:
    using clock = std::chrono::steady_clock;

    /// `params` are validated by the config loader (consecutive_failures >= 1, failure_ratio in (0, 1],
    /// window and open_duration > 0); out-of-range values are clamped here.
    explicit circuit_breaker(const config::circuit_breaker_params& params);

    /// Whether a delivery may be attempted now.
    struct admission
    {
        bool allowed = true; ///< false: park the delivery (do not attempt)
        bool probe = false;  ///< this attempt is the half-open probe: report it with probe = true
        /// When refused: the earliest time a new probe may go.
        clock::time_point retry_at{};
    };

    /// Asks to start one attempt at `now`.
    admission admit(clock::time_point now);

    /// Reports an attempt's outcome. `probe` as returned by admit(). Returns the new state when this report
    /// changed it (for logs and metrics), nullopt otherwise.
    std::optional<circuit_state> record(bool success, bool probe, clock::time_point now);

    /// When admit() at `now` would refuse: the earliest time it may allow a (probe) attempt; nullopt when it
    /// would allow one. Changes nothing (a caller may ask without taking the probe).
    std::optional<clock::time_point> refused_until(clock::time_point now) const;

    /// The state at `now` (an open circuit whose open_duration has passed reports half_open: the next admit()
    /// is a probe).
    circuit_state state(clock::time_point now) const;

private:
    static constexpr std::size_t buckets = 10;

    struct bucket
    {
        std::int64_t index = -1; // which window slice this bucket holds (time / slice)
        std::uint32_t successes = 0;
        std::uint32_t failures = 0;
    };

    void open_locked(clock::time_point now);
    bucket& bucket_locked(clock::time_point now);
    void window_totals_locked(clock::time_point now, std::uint64_t& total, std::uint64_t& failed) const;

    const std::size_t consecutive_limit_;
    const double failure_ratio_;
    const std::size_t min_requests_;
    const clock::duration slice_;
    const clock::duration open_duration_;

    mutable std::mutex mutex_;
    circuit_state state_ = circuit_state::closed;
    std::size_t consecutive_ = 0;
    clock::time_point open_until_{};     // open: when a probe may go
    clock::time_point probe_deadline_{}; // half-open: when an unreported probe is given up
    std::array<bucket, buckets> window_{};
};

} // namespace relay::delivery
