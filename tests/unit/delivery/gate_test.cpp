#include "relay/delivery/gate.hpp"

#include <gtest/gtest.h>

namespace relay::delivery {
namespace {

TEST(Gate, AdmitsUpToTheLimitThenQueuesInArrivalOrder)
{
    gate<int> g(2, false);
    EXPECT_TRUE(g.admit(1, std::nullopt));
    EXPECT_TRUE(g.admit(2, std::nullopt));
    EXPECT_FALSE(g.admit(3, std::nullopt));
    EXPECT_FALSE(g.admit(4, std::nullopt));
    EXPECT_EQ(g.in_flight(), 2u);
    EXPECT_EQ(g.queued(), 2u);
    EXPECT_EQ(g.release(std::nullopt), 3);
    EXPECT_EQ(g.release(std::nullopt), 4);
    EXPECT_EQ(g.release(std::nullopt), std::nullopt);
    EXPECT_EQ(g.release(std::nullopt), std::nullopt);
    EXPECT_EQ(g.in_flight(), 0u);
}

TEST(Gate, OrderedKeysRunOneAtATimeInOrderWhileOtherKeysFlow)
{
    gate<int> g(10, true);
    EXPECT_TRUE(g.admit(1, "a"));
    EXPECT_FALSE(g.admit(2, "a")); // behind 1
    EXPECT_TRUE(g.admit(3, "b"));  // another key is not blocked
    EXPECT_FALSE(g.admit(4, "a"));
    EXPECT_EQ(g.release("a"), 2); // the slot passes to the key's next delivery
    EXPECT_EQ(g.release("a"), 4);
    EXPECT_EQ(g.release("a"), std::nullopt);
    EXPECT_TRUE(g.admit(5, "a")); // the key is free again
    EXPECT_EQ(g.in_flight(), 2u);
}

TEST(Gate, OrderedKeyWaitingForTheLimitKeepsItsPlace)
{
    gate<int> g(1, true);
    EXPECT_TRUE(g.admit(1, "a"));
    EXPECT_FALSE(g.admit(2, "b")); // waits for the limit
    EXPECT_FALSE(g.admit(3, "b")); // waits behind 2
    EXPECT_EQ(g.release("a"), 2);
    EXPECT_EQ(g.release("b"), 3);
    EXPECT_EQ(g.release("b"), std::nullopt);
    EXPECT_EQ(g.in_flight(), 0u);
    EXPECT_EQ(g.queued(), 0u);
}

TEST(Gate, DeliveriesWithoutAKeyAreNeverOrdered)
{
    gate<int> g(5, true);
    EXPECT_TRUE(g.admit(1, std::nullopt));
    EXPECT_TRUE(g.admit(2, std::nullopt));
}

TEST(Gate, LoweredLimitTakesEffectAsDeliveriesFinish)
{
    gate<int> g(3, false);
    EXPECT_TRUE(g.admit(1, std::nullopt));
    EXPECT_TRUE(g.admit(2, std::nullopt));
    EXPECT_TRUE(g.admit(3, std::nullopt));
    EXPECT_FALSE(g.admit(4, std::nullopt));
    g.set_limit(1);
    EXPECT_EQ(g.release(std::nullopt), std::nullopt); // 3 in flight > 1: no hand-over
    EXPECT_EQ(g.release(std::nullopt), std::nullopt);
    EXPECT_EQ(g.release(std::nullopt), 4); // down to the limit: the waiting one goes
}

TEST(Gate, OldestWaitIsTheAgeOfTheQueueHeadAndFollowsItAsItLeaves)
{
    using namespace std::chrono_literals;
    const gate<int>::clock::time_point t0{};
    gate<int> g(1, false);
    EXPECT_EQ(g.oldest_wait(t0), std::nullopt);
    EXPECT_TRUE(g.admit(1, std::nullopt, t0));
    EXPECT_EQ(g.oldest_wait(t0 + 5s), std::nullopt); // admitted deliveries do not wait
    EXPECT_FALSE(g.admit(2, std::nullopt, t0 + 1s));
    EXPECT_FALSE(g.admit(3, std::nullopt, t0 + 3s));
    EXPECT_EQ(g.oldest_wait(t0 + 4s), 3s);
    EXPECT_EQ(g.oldest_wait(t0), gate<int>::clock::duration::zero()); // never negative
    EXPECT_EQ(g.release(std::nullopt), 2);
    EXPECT_EQ(g.oldest_wait(t0 + 4s), 1s); // 3 is the head now
    EXPECT_EQ(g.release(std::nullopt), 3);
    EXPECT_EQ(g.oldest_wait(t0 + 4s), std::nullopt);
}

TEST(Gate, OldestWaitIgnoresDeliveriesWaitingBehindTheirKey)
{
    using namespace std::chrono_literals;
    const gate<int>::clock::time_point t0{};
    gate<int> g(2, true);
    EXPECT_TRUE(g.admit(1, "a", t0));
    EXPECT_FALSE(g.admit(2, "a", t0)); // waits for key a, not for a slot
    EXPECT_EQ(g.oldest_wait(t0 + 2s), std::nullopt);
    EXPECT_TRUE(g.admit(3, "b", t0));
    EXPECT_FALSE(g.admit(4, "c", t0 + 1s)); // waits for a slot
    EXPECT_EQ(g.oldest_wait(t0 + 2s), 1s);
    EXPECT_EQ(g.queued(), 2u);
}

TEST(Gate, ShedWaitingTakesTheNewestBeyondTheOldestKept)
{
    gate<int> g(1, false);
    EXPECT_TRUE(g.admit(1, std::nullopt));
    for (int i = 2; i <= 5; ++i)
        EXPECT_FALSE(g.admit(i, std::nullopt));
    EXPECT_EQ(g.shed_waiting(2), (std::vector<int>{4, 5}));
    EXPECT_EQ(g.queued(), 2u);
    EXPECT_EQ(g.in_flight(), 1u); // shed deliveries held no slot
    EXPECT_TRUE(g.shed_waiting(2).empty());
    EXPECT_EQ(g.release(std::nullopt), 2);
    EXPECT_EQ(g.release(std::nullopt), 3);
    EXPECT_EQ(g.release(std::nullopt), std::nullopt);
    EXPECT_EQ(g.in_flight(), 0u);
}

TEST(Gate, ShedWaitingLeavesAnOrderedGateAlone)
{
    gate<int> g(1, true);
    EXPECT_TRUE(g.admit(1, "a"));
    EXPECT_FALSE(g.admit(2, "b"));
    EXPECT_FALSE(g.admit(3, "b"));
    EXPECT_TRUE(g.shed_waiting(0).empty());
    EXPECT_EQ(g.queued(), 2u);
    EXPECT_EQ(g.release("a"), 2);
    EXPECT_EQ(g.release("b"), 3);
}

} // namespace
} // namespace relay::delivery
