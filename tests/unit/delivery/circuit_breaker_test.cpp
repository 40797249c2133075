#include "relay/delivery/circuit_breaker.hpp"

#include <gtest/gtest.h>

namespace relay::delivery {
namespace {

using namespace std::chrono_literals;
using clock = circuit_breaker::clock;

config::circuit_breaker_params params()
{
    config::circuit_breaker_params p;
    p.consecutive_failures = 3;
    p.failure_ratio = 0.5;
    p.min_requests = 10;
    p.window = 10s;
    p.open_duration = 30s;
    return p;
}

const clock::time_point t0 = clock::time_point{} + 1000h;

TEST(CircuitBreaker, OpensAfterConsecutiveFailuresAndRefusesUntilOpenDurationPassed)
{
    circuit_breaker cb(params());
    EXPECT_EQ(cb.record(false, false, t0), std::nullopt);
    EXPECT_EQ(cb.record(false, false, t0), std::nullopt);
    EXPECT_TRUE(cb.admit(t0).allowed);
    EXPECT_EQ(cb.record(false, false, t0), circuit_state::open);
    EXPECT_EQ(cb.state(t0), circuit_state::open);

    EXPECT_EQ(cb.refused_until(t0 + 29s), t0 + 30s);
    EXPECT_EQ(cb.refused_until(t0 + 30s), std::nullopt); // a probe may go; asking does not take it
    const auto refused = cb.admit(t0 + 29s);
    EXPECT_FALSE(refused.allowed);
    EXPECT_EQ(refused.retry_at, t0 + 30s);
}

TEST(CircuitBreaker, SuccessResetsTheConsecutiveCount)
{
    circuit_breaker cb(params());
    // F F S three times: never 3 failures in a row, and 9 attempts stay under min_requests (10).
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(cb.record(false, false, t0), std::nullopt);
        EXPECT_EQ(cb.record(false, false, t0), std::nullopt);
        EXPECT_EQ(cb.record(true, false, t0), std::nullopt);
    }
    EXPECT_EQ(cb.state(t0), circuit_state::closed);
    EXPECT_TRUE(cb.admit(t0).allowed);
}

TEST(CircuitBreaker, OpensOnFailureRatioOnceMinRequestsSeen)
{
    circuit_breaker cb(params());
    // Alternating failure/success: never 3 in a row, 50% failures; trips on the 10th attempt's failure.
    std::optional<circuit_state> change;
    int n = 0;
    while (!change && n < 40) {
        const bool success = n % 2 == 1;
        change = cb.record(success, false, t0 + std::chrono::milliseconds(n));
        ++n;
    }
    EXPECT_EQ(change, circuit_state::open);
    EXPECT_EQ(n, 11); // attempts 0..10: the 11th report is the 6th failure of 11 (>= min_requests and >= 50%)
}

TEST(CircuitBreaker, OldAttemptsLeaveTheWindow)
{
    circuit_breaker cb(params());
    // 9 failures spread so that no 3 are consecutive: F S F S ... long ago.
    for (int i = 0; i < 9; ++i)
        cb.record(i % 2 == 0 ? false : true, false, t0);
    // 20 s later the window (10 s) holds none of them: 1 failure + successes cannot trip it.
    const auto later = t0 + 20s;
    for (int i = 0; i < 9; ++i)
        EXPECT_EQ(cb.record(true, false, later), std::nullopt);
    EXPECT_EQ(cb.record(false, false, later), std::nullopt);
    EXPECT_EQ(cb.state(later), circuit_state::closed);
}

TEST(CircuitBreaker, OneProbeAfterOpenDurationThenCloseOnSuccess)
{
    circuit_breaker cb(params());
    for (int i = 0; i < 3; ++i)
        cb.record(false, false, t0);
    const auto t1 = t0 + 30s;
    EXPECT_EQ(cb.state(t1), circuit_state::half_open);
    const auto probe = cb.admit(t1);
    EXPECT_TRUE(probe.allowed);
    EXPECT_TRUE(probe.probe);
    const auto other = cb.admit(t1 + 1s);
    EXPECT_FALSE(other.allowed);
    // A late report from an attempt that started before the circuit opened changes nothing.
    EXPECT_EQ(cb.record(true, false, t1 + 1s), std::nullopt);
    EXPECT_EQ(cb.record(true, true, t1 + 2s), circuit_state::closed);
    EXPECT_TRUE(cb.admit(t1 + 2s).allowed);
}

TEST(CircuitBreaker, FailedProbeReopensForAnotherOpenDuration)
{
    circuit_breaker cb(params());
    for (int i = 0; i < 3; ++i)
        cb.record(false, false, t0);
    const auto t1 = t0 + 30s;
    ASSERT_TRUE(cb.admit(t1).probe);
    EXPECT_EQ(cb.record(false, true, t1 + 5s), circuit_state::open);
    EXPECT_FALSE(cb.admit(t1 + 34s).allowed);
    EXPECT_TRUE(cb.admit(t1 + 35s).probe);
}

TEST(CircuitBreaker, LostProbeIsReplacedAfterOpenDuration)
{
    circuit_breaker cb(params());
    for (int i = 0; i < 3; ++i)
        cb.record(false, false, t0);
    const auto t1 = t0 + 30s;
    ASSERT_TRUE(cb.admit(t1).probe);
    EXPECT_FALSE(cb.admit(t1 + 29s).allowed);
    EXPECT_TRUE(cb.admit(t1 + 30s).probe);
}

} // namespace
} // namespace relay::delivery
