#include "relay/subscription/subscription.hpp"

#include <gtest/gtest.h>

namespace {

using relay::subscription::is_valid_id;
using relay::subscription::is_valid_pattern;
using relay::subscription::pattern_matches;

TEST(pattern, exact_matches_only_itself)
{
    EXPECT_TRUE(pattern_matches("order.created", "order.created"));
    EXPECT_FALSE(pattern_matches("order.created", "order.created.v2"));
    EXPECT_FALSE(pattern_matches("order.created", "order"));
}

TEST(pattern, prefix_wildcard_needs_at_least_one_more_segment)
{
    EXPECT_TRUE(pattern_matches("order.*", "order.created"));
    EXPECT_TRUE(pattern_matches("order.*", "order.a.b"));
    EXPECT_FALSE(pattern_matches("order.*", "order"));
    EXPECT_FALSE(pattern_matches("order.*", "orders.x"));
    EXPECT_FALSE(pattern_matches("order.*", "order."));
    EXPECT_TRUE(pattern_matches("order.line.*", "order.line.added"));
    EXPECT_FALSE(pattern_matches("order.line.*", "order.created"));
}

TEST(pattern, star_matches_everything)
{
    EXPECT_TRUE(pattern_matches("*", "order.created"));
    EXPECT_TRUE(pattern_matches("*", "x"));
}

TEST(pattern, validity)
{
    for (const char* ok : {"*", "order.created", "order.*", "com.example:order/v1.created", "a_b-c"})
        EXPECT_TRUE(is_valid_pattern(ok)) << ok;
    for (const char* bad :
         {"",
          ".",
          "order.",
          ".order",
          "order..created",
          "order.**",
          "*.created",
          "order*",
          "order.*.x",
          "ord er",
          ".*",
          "order.created\n"})
        EXPECT_FALSE(is_valid_pattern(bad)) << bad;
    EXPECT_FALSE(is_valid_pattern(std::string(257, 'a')));
}

TEST(id, validity)
{
    EXPECT_TRUE(is_valid_id("sub_ABC-123"));
    EXPECT_TRUE(is_valid_id(std::string(128, 'a')));
    EXPECT_FALSE(is_valid_id(std::string(129, 'a')));
    EXPECT_FALSE(is_valid_id(""));
    EXPECT_FALSE(is_valid_id("a.b"));
    EXPECT_FALSE(is_valid_id("a/b"));
}

TEST(id, generated_ids_are_valid_and_distinct)
{
    const std::string a = relay::subscription::generate_id();
    const std::string b = relay::subscription::generate_id();
    EXPECT_TRUE(is_valid_id(a));
    EXPECT_EQ(a.size(), 30u);
    EXPECT_EQ(a.rfind("sub_", 0), 0u);
    EXPECT_NE(a, b);
}

} // namespace
