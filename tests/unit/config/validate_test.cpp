#include "relay/config/load.hpp"

#include "temp_file.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using relay::config::config;
using relay::config::validate;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

TEST(config_validate, the_defaults_are_valid)
{
    EXPECT_THAT(validate(config{}), IsEmpty());
}

TEST(config_validate, lists_every_property_librdkafka_rejects_with_its_message)
{
    config c;
    c.kafka.properties = {{"acks", "maybe"}, {"no.such.property", "1"}, {"security.protocol", "SASL_SSL"}};
    c.kafka.consumer_properties = {{"auto.offset.reset", "sometime"}};
    c.kafka.producer_properties = {{"linger.ms", "-5"}};
    const auto problems = validate(c);
    ASSERT_EQ(problems.size(), 4u);
    EXPECT_THAT(
        problems,
        Contains(AllOf(
            HasSubstr("kafka.properties.acks (RELAY_KAFKA_PROPERTIES_ACKS): librdkafka: "),
            HasSubstr("Invalid value"),
            HasSubstr("got \"maybe\"")
        ))
    );
    EXPECT_THAT(
        problems,
        Contains(AllOf(
            HasSubstr(
                "kafka.properties.no.such.property (RELAY_KAFKA_PROPERTIES_NO_SUCH_PROPERTY): librdkafka: "
            ),
            HasSubstr("No such configuration property")
        ))
    );
    EXPECT_THAT(
        problems,
        Contains(AllOf(HasSubstr("kafka.consumer_properties.auto.offset.reset"), HasSubstr("\"sometime\"")))
    );
    EXPECT_THAT(
        problems,
        Contains(
            AllOf(HasSubstr("RELAY_KAFKA_PRODUCER_PROPERTIES_LINGER_MS"), HasSubstr("outside allowed range"))
        )
    );
}

TEST(config_validate, accepts_ordinary_client_properties)
{
    config c;
    c.kafka.properties = {
        {"security.protocol", "SASL_SSL"},
        {"sasl.mechanism", "SCRAM-SHA-512"},
        {"sasl.username", "relay"},
        {"sasl.password", "hunter2"},
        {"client.id", "relay"},
        {"acks", "all"},
        {"enable.idempotence", "true"},
    };
    c.kafka.consumer_properties = {{"session.timeout.ms", "30000"}, {"auto.offset.reset", "earliest"}};
    c.kafka.producer_properties = {{"linger.ms", "5"}, {"compression.type", "zstd"}};
    EXPECT_THAT(validate(c), IsEmpty());
}

TEST(config_validate, refuses_properties_relay_owns)
{
    config c;
    c.kafka.properties = {{"bootstrap.servers", "x:9092"}, {"group.id", "g"}};
    c.kafka.consumer_properties = {{"enable.auto.commit", "true"}};
    c.kafka.producer_properties = {{"acks", "1"}, {"enable.idempotence", "false"}};
    const auto problems = validate(c);
    EXPECT_EQ(problems.size(), 5u);
    EXPECT_THAT(problems, Contains(AllOf(HasSubstr("bootstrap.servers"), HasSubstr("set kafka.brokers"))));
    EXPECT_THAT(problems, Contains(AllOf(HasSubstr("group.id"), HasSubstr("set kafka.group_id"))));
    EXPECT_THAT(problems, Contains(AllOf(HasSubstr("enable.auto.commit"), HasSubstr("offsets"))));
    EXPECT_THAT(problems, Contains(AllOf(HasSubstr("producer_properties.acks"), HasSubstr("acks=all"))));
    EXPECT_THAT(problems, Contains(HasSubstr("producer_properties.enable.idempotence")));
}

TEST(config_validate, retry_jitter_out_of_range_names_key_variable_and_value)
{
    config c;
    c.delivery.retry_jitter = 1.5;
    EXPECT_THAT(
        validate(c),
        ElementsAre("delivery.retry_jitter (RELAY_DELIVERY_RETRY_JITTER): must be between 0 and 1, got 1.5")
    );
}

TEST(config_validate, empty_brokers_and_group_are_problems)
{
    config c;
    c.kafka.brokers = " , ";
    c.kafka.group_id = "";
    const auto problems = validate(c);
    ASSERT_EQ(problems.size(), 2u);
    EXPECT_THAT(problems[0], HasSubstr("kafka.brokers (RELAY_KAFKA_BROKERS): must not be empty"));
    EXPECT_THAT(problems[1], HasSubstr("kafka.group_id (RELAY_KAFKA_GROUP_ID): must not be empty"));
}

TEST(config_validate, checks_cidrs)
{
    config c;
    c.delivery.allowed_networks = {"10.0.0.0/8", "192.168.1.7", "fd00::/8", "::1/128"};
    EXPECT_THAT(validate(c), IsEmpty());
    c.delivery.allowed_networks = {
        "10.0.0.0/33", "fd00::/129", "10.0.0/8", "example.com/24", "10.0.0.0/", "1.2.3.4/x"};
    const auto problems = validate(c);
    EXPECT_EQ(problems.size(), 6u);
    EXPECT_THAT(problems, Contains(HasSubstr("\"10.0.0.0/33\" is not an IPv4 or IPv6 network")));
    EXPECT_THAT(problems, Contains(HasSubstr("\"example.com/24\"")));
}

TEST(config_validate, listen_addresses_must_be_ip_literals_and_ports_distinct)
{
    config c;
    c.admin.address = "localhost";
    c.api.port = c.admin.port;
    const auto problems = validate(c);
    ASSERT_EQ(problems.size(), 2u);
    EXPECT_THAT(problems[0], HasSubstr("admin.address (RELAY_ADMIN_ADDRESS): must be an IP address"));
    EXPECT_THAT(problems[1], HasSubstr("api.port (RELAY_API_PORT): must differ from admin.port (9464)"));
    c.admin.address = "::";
    c.admin.port = 0;
    c.api.port = 0; // both ephemeral: fine (tests)
    EXPECT_THAT(validate(c), IsEmpty());
}

TEST(config_validate, topics_need_legal_distinct_names)
{
    config c;
    c.topics.dlq = c.topics.events;
    c.topics.subscriptions = "bad topic!";
    c.topics.inputs = {"orders", "orders", "relay.retry.5m"};
    const auto problems = validate(c);
    EXPECT_THAT(
        problems, Contains(HasSubstr("topics.subscriptions (RELAY_TOPICS_SUBSCRIPTIONS): may contain only"))
    );
    EXPECT_THAT(problems, Contains(AllOf(HasSubstr("topics.dlq"), HasSubstr("is also topics.events"))));
    EXPECT_THAT(problems, Contains(HasSubstr("\"orders\" is listed twice")));
    EXPECT_THAT(
        problems,
        Contains(
            AllOf(HasSubstr("topics.retry_prefix"), HasSubstr("\"relay.retry.5m\" is also an input topic"))
        )
    );
    EXPECT_EQ(problems.size(), 4u);
}

TEST(config_validate, ranges_of_numbers_and_durations)
{
    config c;
    c.delivery.max_in_flight = 0;
    c.delivery.default_timeout = 0ms;
    c.delivery.retry_schedule = {5s, 0ms};
    c.delivery.circuit_breaker.failure_ratio = 0;
    c.kafka.partitions = 0;
    c.kafka.replication_factor = 0;
    c.api.max_header_bytes = 10;
    const auto problems = validate(c);
    EXPECT_THAT(
        problems, Contains("delivery.max_in_flight (RELAY_DELIVERY_MAX_IN_FLIGHT): must be at least 1, got 0")
    );
    EXPECT_THAT(
        problems,
        Contains(HasSubstr(
            "delivery.default_timeout (RELAY_DELIVERY_DEFAULT_TIMEOUT): must be between 1s and 1m, got 0s"
        ))
    );
    EXPECT_THAT(
        problems,
        Contains(
            HasSubstr("delivery.retry_schedule (RELAY_DELIVERY_RETRY_SCHEDULE): item 2 must be longer than 0")
        )
    );
    EXPECT_THAT(problems, Contains(HasSubstr("delivery.circuit_breaker.failure_ratio")));
    EXPECT_THAT(
        problems, Contains(HasSubstr("kafka.partitions (RELAY_KAFKA_PARTITIONS): must be at least 1, got 0"))
    );
    EXPECT_THAT(problems, Contains(HasSubstr("kafka.replication_factor")));
    EXPECT_THAT(problems, Contains(HasSubstr("api.max_header_bytes")));
    EXPECT_EQ(problems.size(), 7u);
}

TEST(config_validate, api_tokens_must_be_sendable_as_bearer_tokens)
{
    config c;
    c.api.tokens = {"abc-DEF_123.~+/==", "has space", ""};
    const auto problems = validate(c);
    ASSERT_EQ(problems.size(), 2u);
    EXPECT_THAT(problems[0], AllOf(HasSubstr("token 2 of 3"), Not(HasSubstr("has space"))));
    EXPECT_THAT(problems[1], HasSubstr("token 3 of 3"));
}

TEST(config_validate, an_unreadable_ca_file_is_a_problem)
{
    config c;
    c.delivery.ca_file = "/nonexistent/ca.pem";
    EXPECT_THAT(
        validate(c), ElementsAre(HasSubstr("delivery.ca_file (RELAY_DELIVERY_CA_FILE): cannot read"))
    );
    const relay::config::test::temp_file ca("-----BEGIN CERTIFICATE-----\n", ".pem");
    c.delivery.ca_file = ca.string();
    EXPECT_THAT(validate(c), IsEmpty());
}

TEST(config_validate, static_subscriptions_must_be_a_json_array_of_objects)
{
    config c;
    c.static_subscriptions_json = R"([{"id": "a"}, 5])";
    EXPECT_THAT(
        validate(c), ElementsAre(HasSubstr("subscriptions (RELAY_SUBSCRIPTIONS): item 2 must be a mapping"))
    );
    c.static_subscriptions_json = "{";
    EXPECT_THAT(validate(c), ElementsAre(HasSubstr("is not valid JSON")));
}

} // namespace
