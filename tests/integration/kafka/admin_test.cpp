#include "relay/kafka/admin.hpp"
#include "relay/kafka/error.hpp"
#include "relay/kafka/producer.hpp"

#include "support/kafka/kafka.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace {

using relay::kafka::topic_error;
using relay::kafka::topic_spec;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class kafka_admin : public relay::test::mock_kafka_test
{};

TEST_F(kafka_admin, existing_topics_are_left_alone)
{
    const auto a = make_topic(3);
    const auto b = make_topic(1);
    relay::kafka::admin adm({.config = producer_props()});
    EXPECT_THAT(
        adm.ensure_topics({{.name = a, .partitions = 3}, {.name = b}}, std::chrono::seconds(10)), IsEmpty()
    );
}

TEST_F(kafka_admin, works_on_a_producers_handle)
{
    const auto a = make_topic(2);
    relay::kafka::producer p({.config = producer_props()});
    EXPECT_THAT(
        relay::kafka::ensure_topics(p.native_handle(), {{.name = a}}, std::chrono::seconds(10)), IsEmpty()
    );
    EXPECT_EQ(relay::kafka::partition_count(p.native_handle(), a, std::chrono::seconds(10)).value(), 2);
}

TEST_F(kafka_admin, names_each_topic_it_cannot_create)
{
    // librdkafka 2.0.2's mock has no CreateTopics: creation fails, and the error must say which topic and
    // why.
    const auto existing = make_topic(1);
    const auto missing = relay::test::unique_topic("missing");
    relay::kafka::admin adm({.config = producer_props()});
    try {
        adm.ensure_topics({{.name = existing}, {.name = missing, .partitions = 2}}, std::chrono::seconds(1));
        FAIL() << "ensure_topics succeeded without creating " << missing;
    } catch (const topic_error& e) {
        ASSERT_EQ(e.failures().size(), 1U);
        EXPECT_EQ(e.failures()[0].topic, missing);
        EXPECT_TRUE(e.failures()[0].code.failed());
        EXPECT_THAT(e.what(), HasSubstr(missing));
        EXPECT_THAT(e.what(), ::testing::Not(HasSubstr(existing)));
    }
}

TEST_F(kafka_admin, unreachable_cluster_fails_every_topic)
{
    relay::kafka::admin adm({.config = {{"bootstrap.servers", "127.0.0.1:1"}}});
    try {
        adm.ensure_topics({{.name = "a"}, {.name = "b"}}, std::chrono::milliseconds(500));
        FAIL() << "ensure_topics succeeded without a cluster";
    } catch (const topic_error& e) {
        ASSERT_EQ(e.failures().size(), 2U);
        EXPECT_THAT(e.what(), HasSubstr("cannot read cluster metadata"));
    }
}

TEST_F(kafka_admin, partition_count_reads_metadata)
{
    const auto topic = make_topic(6);
    relay::kafka::admin adm({.config = producer_props()});
    const auto n = adm.partition_count(topic, std::chrono::seconds(10));
    ASSERT_TRUE(n.has_value()) << n.error().message();
    EXPECT_EQ(*n, 6);
}

TEST_F(kafka_admin, partition_count_of_a_missing_topic_is_an_error_and_creates_nothing)
{
    const auto topic = relay::test::unique_topic("missing");
    relay::kafka::admin adm({.config = producer_props()});
    const auto unknown = relay::kafka::make_error_code(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    EXPECT_EQ(adm.partition_count(topic, std::chrono::seconds(10)).error(), unknown);
    // The mock auto-creates topics named in metadata requests; asking again shows nothing was created.
    EXPECT_EQ(adm.partition_count(topic, std::chrono::seconds(10)).error(), unknown);
}

TEST_F(kafka_admin, mock_cluster_creates_specs_ignoring_configs)
{
    const auto topic = relay::test::unique_topic("compact");
    cluster_.create_topics({{.name = topic, .partitions = 3, .configs = {{"cleanup.policy", "compact"}}}});
    relay::kafka::admin adm({.config = producer_props()});
    EXPECT_EQ(adm.partition_count(topic, std::chrono::seconds(10)).value(), 3);
}

} // namespace
