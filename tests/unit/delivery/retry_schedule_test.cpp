#include "relay/delivery/retry_schedule.hpp"

#include <gtest/gtest.h>

#include <random>
#include <stdexcept>

namespace {

using namespace std::chrono;
using relay::delivery::choose_tier;
using relay::delivery::retry_schedule;
using relay::delivery::tier_topic;
using relay::delivery::tier_topic_suffix;

TEST(retry_schedule, default_schedule)
{
    const retry_schedule s;
    const std::vector<milliseconds> expected = {5s, 5min, 30min, 2h, 5h, 10h, 10h};
    EXPECT_EQ(std::vector<milliseconds>(s.delays().begin(), s.delays().end()), expected);
    EXPECT_DOUBLE_EQ(s.jitter(), 0.2);
    EXPECT_EQ(s.max_attempts(), 8u);
}

TEST(retry_schedule, base_delay_follows_attempt_numbers_from_one)
{
    const retry_schedule s;
    EXPECT_FALSE(s.base_delay(0));
    EXPECT_EQ(s.base_delay(1), 5s);
    EXPECT_EQ(s.base_delay(2), 5min);
    EXPECT_EQ(s.base_delay(7), 10h);
    EXPECT_FALSE(s.base_delay(8)) << "attempt 8 was the last: exhausted";
}

TEST(retry_schedule, next_delay_is_exhausted_after_the_last_retry)
{
    const retry_schedule s;
    std::mt19937_64 rng(42);
    for (std::uint32_t attempt = 1; attempt <= 7; ++attempt)
        EXPECT_TRUE(s.next_delay(attempt, rng)) << attempt;
    EXPECT_FALSE(s.next_delay(8, rng));
    EXPECT_FALSE(s.next_delay(1000, rng));
    EXPECT_FALSE(s.next_delay(0, rng));
}

TEST(retry_schedule, empty_schedule_means_no_retries)
{
    const retry_schedule s({}, 0.2);
    std::mt19937_64 rng(1);
    EXPECT_EQ(s.max_attempts(), 1u);
    EXPECT_FALSE(s.next_delay(1, rng));
    EXPECT_TRUE(s.tiers().empty());
}

TEST(retry_schedule, jitter_stays_within_bounds_and_spreads)
{
    const retry_schedule s;
    std::mt19937_64 rng(12345);
    milliseconds lo = milliseconds::max(), hi = milliseconds::min();
    for (int i = 0; i < 10'000; ++i) {
        const auto d = *s.next_delay(1, rng);
        ASSERT_GE(d, 4000ms);
        ASSERT_LE(d, 6000ms);
        lo = std::min(lo, d);
        hi = std::max(hi, d);
    }
    // Uniform over ±20%: 10,000 draws come close to both ends.
    EXPECT_LT(lo, 4100ms);
    EXPECT_GT(hi, 5900ms);
}

TEST(retry_schedule, same_seed_gives_same_delays)
{
    const retry_schedule s;
    std::mt19937_64 a(7), b(7);
    for (std::uint32_t attempt = 1; attempt <= 7; ++attempt)
        EXPECT_EQ(s.next_delay(attempt, a), s.next_delay(attempt, b));
}

TEST(retry_schedule, works_with_a_32_bit_generator)
{
    const retry_schedule s;
    std::minstd_rand rng(3);
    for (int i = 0; i < 1000; ++i) {
        const auto d = *s.next_delay(2, rng);
        ASSERT_GE(d, 4min);
        ASSERT_LE(d, 6min);
    }
}

TEST(retry_schedule, jittered_maps_the_unit_interval_onto_the_band)
{
    const retry_schedule s;
    EXPECT_EQ(s.jittered(10s, 0.0), 8s);
    EXPECT_EQ(s.jittered(10s, 0.5), 10s);
    EXPECT_EQ(s.jittered(10s, 1.0), 12s);
    EXPECT_EQ(s.jittered(10s, -3.0), 8s);
    EXPECT_EQ(s.jittered(10s, 7.0), 12s);
    EXPECT_EQ(s.jittered(1ms, 0.0), 1ms) << "never zero";
}

TEST(retry_schedule, zero_jitter_is_exact)
{
    const retry_schedule s({1s, 2s}, 0.0);
    std::mt19937_64 rng(9);
    EXPECT_EQ(s.next_delay(1, rng), 1s);
    EXPECT_EQ(s.next_delay(2, rng), 2s);
}

TEST(retry_schedule, tiers_are_the_distinct_delays_in_order)
{
    const retry_schedule s;
    const std::vector<milliseconds> expected = {5s, 5min, 30min, 2h, 5h, 10h};
    EXPECT_EQ(s.tiers(), expected);
}

TEST(retry_schedule, invalid_schedules_are_refused_with_a_message)
{
    EXPECT_EQ(
        retry_schedule::validate(std::vector<milliseconds>{1s, 0s}, 0.2),
        "retry delay 2 must be positive, got 0s"
    );
    EXPECT_EQ(
        retry_schedule::validate(std::vector<milliseconds>{-5s}, 0.2),
        "retry delay 1 must be positive, got -5s"
    );
    EXPECT_EQ(
        retry_schedule::validate(std::vector<milliseconds>{24h * 31}, 0.2), "retry delay 1 is 31d, limit 30d"
    );
    EXPECT_NE(retry_schedule::validate(std::vector<milliseconds>{1s}, 1.0), "");
    EXPECT_NE(retry_schedule::validate(std::vector<milliseconds>{1s}, -0.1), "");
    EXPECT_NE(
        retry_schedule::validate(std::vector<milliseconds>{1s}, std::numeric_limits<double>::quiet_NaN()), ""
    );
    EXPECT_EQ(retry_schedule::validate(std::vector<milliseconds>{1s}, 0.0), "");
    EXPECT_THROW(retry_schedule({0s}), std::invalid_argument);
}

TEST(retry_schedule, tier_topic_names)
{
    EXPECT_EQ(tier_topic_suffix(5s), "5s");
    EXPECT_EQ(tier_topic_suffix(5min), "5m");
    EXPECT_EQ(tier_topic_suffix(30min), "30m");
    EXPECT_EQ(tier_topic_suffix(2h), "2h");
    EXPECT_EQ(tier_topic_suffix(10h), "10h");
    EXPECT_EQ(tier_topic_suffix(90min), "1h30m");
    EXPECT_EQ(tier_topic_suffix(250ms), "250ms");
    EXPECT_EQ(tier_topic("relay.retry.", 5min), "relay.retry.5m");
}

TEST(retry_schedule, choose_tier_picks_the_largest_tier_not_longer_than_the_delay)
{
    const std::vector<milliseconds> tiers = {5s, 5min, 30min, 2h};
    EXPECT_EQ(choose_tier(tiers, 5min), 5min);
    EXPECT_EQ(choose_tier(tiers, 7min), 5min);
    EXPECT_EQ(choose_tier(tiers, 29min), 5min);
    EXPECT_EQ(choose_tier(tiers, 48h), 2h);
    EXPECT_EQ(choose_tier(tiers, 1s), 5s) << "shorter than every tier: the shortest";
    EXPECT_FALSE(choose_tier({}, 1s));
}

} // namespace
