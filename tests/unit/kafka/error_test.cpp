#include "relay/kafka/error.hpp"

#include <gtest/gtest.h>

namespace {

using relay::kafka::make_error_code;

TEST(kafka_error, category_is_named_kafka)
{
    EXPECT_STREQ(relay::kafka::kafka_category().name(), "kafka");
}

TEST(kafka_error, messages_come_from_librdkafka)
{
    const auto ec = make_error_code(RD_KAFKA_RESP_ERR__QUEUE_FULL);
    EXPECT_TRUE(ec.failed());
    EXPECT_EQ(ec.message(), rd_kafka_err2str(RD_KAFKA_RESP_ERR__QUEUE_FULL));
    EXPECT_EQ(
        make_error_code(RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS).message(), "Broker: Topic already exists"
    );
}

TEST(kafka_error, no_error_is_not_a_failure)
{
    const auto ec = make_error_code(RD_KAFKA_RESP_ERR_NO_ERROR);
    EXPECT_FALSE(ec.failed());
    EXPECT_FALSE(ec);
}

TEST(kafka_error, codes_compare_by_value_and_category)
{
    EXPECT_EQ(make_error_code(RD_KAFKA_RESP_ERR__TIMED_OUT), make_error_code(RD_KAFKA_RESP_ERR__TIMED_OUT));
    EXPECT_NE(
        make_error_code(RD_KAFKA_RESP_ERR__TIMED_OUT), make_error_code(RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT)
    );
    // Same number, other category: not equal.
    EXPECT_NE(
        make_error_code(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART),
        boost::system::error_code(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, boost::system::generic_category())
    );
}

TEST(kafka_error, names_are_librdkafkas_symbols)
{
    EXPECT_EQ(relay::kafka::error_name(make_error_code(RD_KAFKA_RESP_ERR__QUEUE_FULL)), "_QUEUE_FULL");
    EXPECT_EQ(
        relay::kafka::error_name(make_error_code(RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)),
        "TOPIC_ALREADY_EXISTS"
    );
    EXPECT_EQ(
        relay::kafka::error_name(boost::system::error_code(5, boost::system::generic_category())), "unknown"
    );
}

TEST(kafka_error, config_error_joins_problems)
{
    const relay::kafka::config_error e({"a: bad", "b: worse"});
    EXPECT_STREQ(e.what(), "invalid Kafka configuration: a: bad; b: worse");
    EXPECT_EQ(e.problems().size(), 2U);
}

} // namespace
