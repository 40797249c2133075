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

} // namespace
} // namespace relay::delivery
