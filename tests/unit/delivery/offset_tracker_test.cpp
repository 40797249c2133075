#include "relay/delivery/offset_tracker.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <vector>

namespace {

using relay::delivery::offset_tracker;

TEST(offset_tracker, nothing_to_commit_before_the_first_record)
{
    offset_tracker t;
    EXPECT_FALSE(t.committable());
    EXPECT_EQ(t.in_flight(), 0u);
    EXPECT_TRUE(t.idle());
}

TEST(offset_tracker, in_order_completion)
{
    offset_tracker t;
    for (std::int64_t o = 100; o < 105; ++o)
        ASSERT_TRUE(t.track(o));
    EXPECT_EQ(t.committable(), 100);
    EXPECT_EQ(t.in_flight(), 5u);
    for (std::int64_t o = 100; o < 105; ++o) {
        ASSERT_TRUE(t.done(o));
        EXPECT_EQ(t.committable(), o + 1);
    }
    EXPECT_TRUE(t.idle());
}

TEST(offset_tracker, out_of_order_completion_waits_for_the_oldest)
{
    offset_tracker t;
    for (std::int64_t o = 0; o < 4; ++o)
        t.track(o);
    t.done(2);
    t.done(3);
    EXPECT_EQ(t.committable(), 0) << "offset 0 is still in flight";
    EXPECT_EQ(t.in_flight(), 2u);
    t.done(1);
    EXPECT_EQ(t.committable(), 0);
    t.done(0);
    EXPECT_EQ(t.committable(), 4);
    EXPECT_TRUE(t.idle());
}

TEST(offset_tracker, gaps_in_offsets_do_not_block)
{
    // Compacted topics and transaction markers skip offsets: 6, 7 and 8 never arrive.
    offset_tracker t;
    t.track(5);
    t.track(9);
    t.done(5);
    EXPECT_EQ(t.committable(), 9);
    t.done(9);
    EXPECT_EQ(t.committable(), 10);
}

TEST(offset_tracker, rejects_unknown_repeated_and_backward_offsets)
{
    offset_tracker t;
    EXPECT_TRUE(t.track(10));
    EXPECT_FALSE(t.track(10));
    EXPECT_FALSE(t.track(3));
    EXPECT_FALSE(t.done(11));
    EXPECT_FALSE(t.done(3));
    EXPECT_TRUE(t.done(10));
    EXPECT_FALSE(t.done(10)) << "already done";
    EXPECT_EQ(t.committable(), 11);
    EXPECT_EQ(t.in_flight(), 0u);
}

TEST(offset_tracker, new_records_after_idle)
{
    offset_tracker t;
    t.track(1);
    t.done(1);
    EXPECT_EQ(t.committable(), 2);
    t.track(7);
    EXPECT_EQ(t.committable(), 7);
    EXPECT_EQ(t.in_flight(), 1u);
}

TEST(offset_tracker, slow_head_with_a_long_tail_keeps_working)
{
    // One stuck record while 100,000 later ones finish (exercising the compaction of done entries): the
    // committable offset stays at the stuck one until it is done, then jumps past the whole tail.
    offset_tracker t;
    t.track(0);
    for (std::int64_t o = 1; o <= 100'000; ++o) {
        t.track(o);
        t.done(o);
        ASSERT_EQ(t.committable(), 0);
        ASSERT_EQ(t.in_flight(), 1u);
    }
    t.done(0);
    EXPECT_EQ(t.committable(), 100'001);
}

// A straightforward model: the set of offsets in flight.
struct model
{
    std::set<std::int64_t> pending;
    std::optional<std::int64_t> last;
    std::optional<std::int64_t> committable() const
    {
        if (!pending.empty())
            return *pending.begin();
        if (last)
            return *last + 1;
        return std::nullopt;
    }
};

TEST(offset_tracker, random_interleavings_match_a_simple_model)
{
    std::mt19937_64 rng(20240506);
    for (int round = 0; round < 300; ++round) {
        offset_tracker t;
        model m;
        std::vector<std::int64_t> in_flight;
        std::int64_t next = std::uniform_int_distribution<std::int64_t>(0, 1000)(rng);
        const int steps = std::uniform_int_distribution<int>(1, 400)(rng);
        for (int step = 0; step < steps; ++step) {
            const bool start = in_flight.empty() || std::bernoulli_distribution(0.55)(rng);
            if (start) {
                next += std::uniform_int_distribution<std::int64_t>(1, 4)(rng); // gaps of 0 to 3 offsets
                ASSERT_TRUE(t.track(next));
                m.pending.insert(next);
                m.last = next;
                in_flight.push_back(next);
            } else {
                const auto i = std::uniform_int_distribution<std::size_t>(0, in_flight.size() - 1)(rng);
                const auto o = in_flight[i];
                in_flight.erase(in_flight.begin() + static_cast<std::ptrdiff_t>(i));
                ASSERT_TRUE(t.done(o));
                m.pending.erase(o);
            }
            ASSERT_EQ(t.committable(), m.committable()) << "round " << round << " step " << step;
            ASSERT_EQ(t.in_flight(), m.pending.size());
        }
        // Finish everything in a random order.
        std::shuffle(in_flight.begin(), in_flight.end(), rng);
        for (auto o : in_flight) {
            ASSERT_TRUE(t.done(o));
            m.pending.erase(o);
            ASSERT_EQ(t.committable(), m.committable());
        }
        EXPECT_TRUE(t.idle());
    }
}

TEST(offset_tracker, every_permutation_of_a_small_batch)
{
    std::vector<std::int64_t> offsets = {3, 4, 7, 8, 12, 13};
    std::vector<std::int64_t> order = offsets;
    std::sort(order.begin(), order.end());
    do {
        offset_tracker t;
        model m;
        for (auto o : offsets) {
            t.track(o);
            m.pending.insert(o);
            m.last = o;
        }
        for (auto o : order) {
            ASSERT_TRUE(t.done(o));
            m.pending.erase(o);
            ASSERT_EQ(t.committable(), m.committable());
        }
    } while (std::next_permutation(order.begin(), order.end()));
}

} // namespace
