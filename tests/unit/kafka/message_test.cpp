#include "relay/kafka/message.hpp"

#include <gtest/gtest.h>

namespace {

using relay::kafka::topic_partition;

TEST(kafka_message, partition_lists_round_trip_with_offsets)
{
    const std::vector<topic_partition> parts{{"a", 0, 5}, {"b", 3, RD_KAFKA_OFFSET_INVALID}};
    const auto list = relay::kafka::to_list(parts);
    ASSERT_EQ(list->cnt, 2);
    EXPECT_EQ(relay::kafka::from_list(list.get()), parts);
}

TEST(kafka_message, null_list_is_empty)
{
    EXPECT_TRUE(relay::kafka::from_list(nullptr).empty());
}

TEST(kafka_message, null_key_and_value_are_not_empty_strings)
{
    rd_kafka_message_t m{};
    EXPECT_FALSE(relay::kafka::key(m).has_value());
    EXPECT_FALSE(relay::kafka::value(m).has_value());

    char empty[1] = {'\0'};
    m.payload = empty;
    m.len = 0;
    ASSERT_TRUE(relay::kafka::value(m).has_value());
    EXPECT_EQ(*relay::kafka::value(m), "");
}

TEST(kafka_message, key_and_value_keep_embedded_nul_bytes)
{
    const char bytes[] = {'a', '\0', 'b'};
    rd_kafka_message_t m{};
    m.key = const_cast<char*>(bytes);
    m.key_len = sizeof bytes;
    m.payload = const_cast<char*>(bytes);
    m.len = sizeof bytes;
    EXPECT_EQ(relay::kafka::key(m)->size(), 3U);
    EXPECT_EQ(relay::kafka::value(m)->size(), 3U);
}

} // namespace
