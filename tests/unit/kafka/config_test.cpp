#include "relay/kafka/config.hpp"
#include "relay/kafka/error.hpp"
#include "relay/kafka/producer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace {

using relay::kafka::config_error;
using relay::kafka::properties;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

TEST(kafka_config, accepts_known_keys_with_valid_values)
{
    const properties props{{"bootstrap.servers", "127.0.0.1:9092"}, {"acks", "all"}, {"linger.ms", "5"}};
    EXPECT_THAT(relay::kafka::validate_properties(props), IsEmpty());
    EXPECT_NE(relay::kafka::make_conf(props), nullptr);
}

TEST(kafka_config, lists_every_rejected_key_with_librdkafkas_reason)
{
    const properties props{
        {"bootstrap.servers", "127.0.0.1:9092"},
        {"no.such.property", "1"},
        {"acks", "sometimes"},
        {"linger.ms", "-5"},
    };
    EXPECT_THAT(
        relay::kafka::validate_properties(props),
        UnorderedElementsAre(
            AllOf(HasSubstr("no.such.property: "), HasSubstr("No such configuration property")),
            AllOf(HasSubstr("acks: "), HasSubstr("Invalid value")),
            HasSubstr("linger.ms: ")
        )
    );
}

TEST(kafka_config, make_conf_throws_one_error_naming_all_bad_keys)
{
    const properties props{{"no.such.property", "1"}, {"acks", "sometimes"}};
    try {
        relay::kafka::make_conf(props);
        FAIL() << "make_conf accepted invalid properties";
    } catch (const config_error& e) {
        EXPECT_EQ(e.problems().size(), 2U);
        EXPECT_THAT(e.what(), AllOf(HasSubstr("no.such.property"), HasSubstr("acks")));
    }
}

TEST(kafka_config, never_echoes_a_rejected_secret_value)
{
    // ssl_key is rejected (internal property); its name marks it as key material.
    const auto problems = relay::kafka::validate_properties({{"ssl_key", "hunter2"}});
    ASSERT_EQ(problems.size(), 1U);
    EXPECT_THAT(problems[0], HasSubstr("ssl_key"));
    EXPECT_THAT(problems[0], ::testing::Not(HasSubstr("hunter2")));
}

TEST(kafka_config, recognises_secret_keys)
{
    EXPECT_TRUE(relay::kafka::is_secret_property("sasl.password"));
    EXPECT_TRUE(relay::kafka::is_secret_property("ssl.key.password"));
    EXPECT_TRUE(relay::kafka::is_secret_property("ssl.key.pem"));
    EXPECT_TRUE(relay::kafka::is_secret_property("sasl.oauthbearer.client.secret"));
    EXPECT_FALSE(relay::kafka::is_secret_property("sasl.username"));
    EXPECT_FALSE(relay::kafka::is_secret_property("bootstrap.servers"));
}

TEST(kafka_config, client_creation_reports_rejected_combinations)
{
    // Each key is valid alone; librdkafka rejects the combination only when the client is created.
    relay::kafka::client_options options;
    options.config = {{"enable.idempotence", "true"}, {"acks", "1"}};
    try {
        relay::kafka::producer p(options);
        FAIL() << "an idempotent producer with acks=1 was created";
    } catch (const config_error& e) {
        EXPECT_THAT(e.what(), HasSubstr("acks"));
    }
}

} // namespace
