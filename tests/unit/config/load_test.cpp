#include "relay/config/load.hpp"

#include "temp_file.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

namespace {

using namespace std::chrono_literals;
using relay::config::config;
using relay::config::config_error;
using relay::config::environment;
using relay::config::load_config;
using relay::config::test::temp_file;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

/// The problems load_config() reports, or an empty list when it succeeds.
std::vector<std::string> problems_of(const std::optional<std::filesystem::path>& file, const environment& env)
{
    try {
        load_config(file, env);
    } catch (const config_error& e) {
        return e.problems();
    }
    return {};
}

TEST(config_environment, from_process_sees_the_process_variables)
{
    ASSERT_EQ(::setenv("RELAY_TEST_CONFIG_PROBE", "a=b", 1), 0);
    const auto env = environment::from_process();
    ::unsetenv("RELAY_TEST_CONFIG_PROBE");
    ASSERT_NE(env.find("RELAY_TEST_CONFIG_PROBE"), nullptr);
    EXPECT_EQ(*env.find("RELAY_TEST_CONFIG_PROBE"), "a=b");
    EXPECT_EQ(env.find("RELAY_TEST_CONFIG_PROBE_UNSET"), nullptr);
}

TEST(config_load_config, without_file_or_environment_gives_the_documented_defaults)
{
    const config c = load_config(std::nullopt, environment{});
    EXPECT_EQ(c.log.level, relay::log::level::info);
    EXPECT_EQ(c.admin.address, "0.0.0.0");
    EXPECT_EQ(c.admin.port, 9464);
    EXPECT_EQ(c.kafka.brokers, "localhost:9092");
    EXPECT_EQ(c.kafka.group_id, "relay-delivery");
    EXPECT_EQ(c.kafka.instance_id, "");
    EXPECT_TRUE(c.kafka.create_topics);
    EXPECT_EQ(c.kafka.partitions, 12);
    EXPECT_EQ(c.kafka.replication_factor, -1);
    EXPECT_EQ(c.kafka.dlq_retention, 24h * 30);
    EXPECT_EQ(c.topics.events, "relay.events");
    EXPECT_EQ(c.topics.subscriptions, "relay.subscriptions");
    EXPECT_EQ(c.topics.retry_prefix, "relay.retry.");
    EXPECT_EQ(c.topics.dlq, "relay.dlq");
    EXPECT_EQ(c.delivery.max_in_flight, 2048u);
    EXPECT_EQ(c.delivery.default_max_in_flight, 64u);
    EXPECT_EQ(c.delivery.connect_timeout, 5s);
    EXPECT_EQ(c.delivery.default_timeout, 10s);
    EXPECT_EQ(c.delivery.response_body_limit, 65536u);
    EXPECT_EQ(c.delivery.max_event_bytes, 1048576u);
    EXPECT_THAT(c.delivery.retry_schedule, ElementsAre(5s, 5min, 30min, 2h, 5h, 10h, 10h));
    EXPECT_DOUBLE_EQ(c.delivery.retry_jitter, 0.2);
    EXPECT_EQ(c.delivery.retry_after_cap, 1h);
    EXPECT_FALSE(c.delivery.allow_http);
    EXPECT_FALSE(c.delivery.allow_loopback);
    EXPECT_FALSE(c.delivery.allow_private_networks);
    EXPECT_EQ(c.delivery.drain_timeout, 25s);
    EXPECT_EQ(c.delivery.auto_disable_after, 24h * 5);
    EXPECT_EQ(c.api.port, 8080);
    EXPECT_TRUE(c.api.tokens.empty());
    EXPECT_EQ(c.api.max_body_bytes, 1048576u);
    EXPECT_EQ(c.api.max_header_bytes, 16384u);
    EXPECT_EQ(c.api.max_batch, 500u);
    EXPECT_EQ(c.api.idempotency_window, 24h);
    EXPECT_EQ(c.static_subscriptions_json, "[]");
    EXPECT_EQ(relay::config::to_json(c), relay::config::to_json(config{}));
}

TEST(config_load_config, reads_a_yaml_file)
{
    const temp_file file(R"(# Relay
log:
  level: debug
kafka:
  brokers: [kafka-0:9092, kafka-1:9092]
  properties:
    security.protocol: SASL_SSL
    sasl.mechanism: SCRAM-SHA-512
    socket.keepalive.enable: true
  producer_properties:
    linger.ms: 5
  partitions: 24
  dlq_retention: 90d
topics:
  inputs: [orders, payments]
delivery:
  retry_schedule: [1s, 250ms, 1h30m]
  retry_jitter: 0.1
  response_body_limit: 16KiB
  allowed_networks: ["10.20.0.0/16", "fd00::/8"]
  circuit_breaker:
    open_duration: 2m
api:
  port: 9090
  request_timeout: 30
)");
    const config c = load_config(file.path(), environment{});
    EXPECT_EQ(c.log.level, relay::log::level::debug);
    EXPECT_EQ(c.kafka.brokers, "kafka-0:9092,kafka-1:9092");
    EXPECT_EQ(c.kafka.properties.at("security.protocol"), "SASL_SSL");
    EXPECT_EQ(c.kafka.properties.at("sasl.mechanism"), "SCRAM-SHA-512");
    EXPECT_EQ(c.kafka.properties.at("socket.keepalive.enable"), "true");
    EXPECT_EQ(c.kafka.producer_properties.at("linger.ms"), "5");
    EXPECT_EQ(c.kafka.partitions, 24);
    EXPECT_EQ(c.kafka.dlq_retention, 24h * 90);
    EXPECT_THAT(c.topics.inputs, ElementsAre("orders", "payments"));
    EXPECT_THAT(c.delivery.retry_schedule, ElementsAre(1s, 250ms, 90min));
    EXPECT_DOUBLE_EQ(c.delivery.retry_jitter, 0.1);
    EXPECT_EQ(c.delivery.response_body_limit, 16384u);
    EXPECT_THAT(c.delivery.allowed_networks, ElementsAre("10.20.0.0/16", "fd00::/8"));
    EXPECT_EQ(c.delivery.circuit_breaker.open_duration, 2min);
    EXPECT_EQ(c.api.port, 9090);
    EXPECT_EQ(c.api.request_timeout, 30s);
    EXPECT_EQ(c.api.max_batch, 500u); // untouched keys keep their defaults
}

TEST(config_load_config, reads_a_json_file)
{
    const temp_file file(
        R"({
	"kafka": {"brokers": "broker:9093", "group_id": "workers", "create_topics": false},
	"delivery": {"max_in_flight": 100, "retry_schedule": ["10s", "1m"], "allow_http": true},
	"api": {"tokens": ["tok-a", "tok-b"], "max_body_bytes": "2MiB"}
})",
        ".json"
    );
    const config c = load_config(file.path(), environment{});
    EXPECT_EQ(c.kafka.brokers, "broker:9093");
    EXPECT_EQ(c.kafka.group_id, "workers");
    EXPECT_FALSE(c.kafka.create_topics);
    EXPECT_EQ(c.delivery.max_in_flight, 100u);
    EXPECT_THAT(c.delivery.retry_schedule, ElementsAre(10s, 1min));
    EXPECT_TRUE(c.delivery.allow_http);
    EXPECT_THAT(c.api.tokens, ElementsAre("tok-a", "tok-b"));
    EXPECT_EQ(c.api.max_body_bytes, 2u * 1024 * 1024);
}

TEST(config_load_config, an_empty_file_means_defaults)
{
    const temp_file file("# nothing configured yet\n");
    EXPECT_EQ(
        relay::config::to_json(load_config(file.path(), environment{})), relay::config::to_json(config{})
    );
}

TEST(config_load_config, uses_the_file_named_by_relay_config_when_given_none)
{
    const temp_file file("kafka:\n  group_id: from-relay-config\n");
    const config c = load_config(std::nullopt, environment({{"RELAY_CONFIG", file.string()}}));
    EXPECT_EQ(c.kafka.group_id, "from-relay-config");
}

TEST(config_load_config, environment_overrides_the_file)
{
    const temp_file file(
        "kafka:\n  brokers: file:9092\n  group_id: from-file\ndelivery:\n  max_in_flight: 10\n"
    );
    const config c = load_config(
        file.path(),
        environment({
            {"RELAY_KAFKA_BROKERS", "env-0:9092, env-1:9092"},
            {"RELAY_DELIVERY_MAX_IN_FLIGHT", "4096"},
            {"RELAY_DELIVERY_RETRY_SCHEDULE", "1s,2s"},
            {"RELAY_DELIVERY_ALLOW_LOOPBACK", "yes"},
            {"RELAY_DELIVERY_CIRCUIT_BREAKER_FAILURE_RATIO", "0.75"},
            {"RELAY_API_TOKENS", "alpha, beta"},
            {"RELAY_LOG_LEVEL", "warning"},
        })
    );
    EXPECT_EQ(c.kafka.brokers, "env-0:9092,env-1:9092");
    EXPECT_EQ(c.kafka.group_id, "from-file");
    EXPECT_EQ(c.delivery.max_in_flight, 4096u);
    EXPECT_THAT(c.delivery.retry_schedule, ElementsAre(1s, 2s));
    EXPECT_TRUE(c.delivery.allow_loopback);
    EXPECT_DOUBLE_EQ(c.delivery.circuit_breaker.failure_ratio, 0.75);
    EXPECT_THAT(c.api.tokens, ElementsAre("alpha", "beta"));
    EXPECT_EQ(c.log.level, relay::log::level::warning);
}

TEST(config_load_config, map_entries_from_the_environment_turn_underscores_into_dots)
{
    const temp_file file("kafka:\n  properties:\n    sasl.username: from-file\n    client.id: relay-file\n");
    const config c = load_config(
        file.path(),
        environment({
            {"RELAY_KAFKA_PROPERTIES_SASL_MECHANISM", "PLAIN"},
            {"RELAY_KAFKA_PROPERTIES_SASL_USERNAME", "from-env"},
            {"RELAY_KAFKA_CONSUMER_PROPERTIES_SESSION_TIMEOUT_MS", "30000"},
            {"RELAY_KAFKA_PRODUCER_PROPERTIES_COMPRESSION_TYPE", "zstd"},
        })
    );
    EXPECT_EQ(c.kafka.properties.at("sasl.mechanism"), "PLAIN");
    EXPECT_EQ(c.kafka.properties.at("sasl.username"), "from-env");
    EXPECT_EQ(c.kafka.properties.at("client.id"), "relay-file"); // entries not in the environment stay
    EXPECT_EQ(c.kafka.consumer_properties.at("session.timeout.ms"), "30000");
    EXPECT_EQ(c.kafka.producer_properties.at("compression.type"), "zstd");
}

TEST(config_load_config, file_variants_read_values_from_files_without_the_trailing_newline)
{
    const temp_file tokens("token-one\ntoken-two\r\n\n");
    const temp_file password("p@ss word\n");
    const temp_file group("mounted-group\n");
    const config c = load_config(
        std::nullopt,
        environment({
            {"RELAY_API_TOKENS_FILE", tokens.string()},
            {"RELAY_KAFKA_PROPERTIES_SASL_PASSWORD_FILE", password.string()},
            {"RELAY_KAFKA_GROUP_ID_FILE", group.string()},
        })
    );
    EXPECT_THAT(c.api.tokens, ElementsAre("token-one", "token-two"));
    EXPECT_EQ(c.kafka.properties.at("sasl.password"), "p@ss word");
    EXPECT_EQ(c.kafka.group_id, "mounted-group");
}

TEST(config_load_config, a_setting_whose_name_ends_in_file_is_not_mistaken_for_a_file_variant)
{
    const temp_file ca("-----BEGIN CERTIFICATE-----\n");
    const temp_file ca_path(ca.string() + "\n");
    EXPECT_EQ(
        load_config(std::nullopt, environment({{"RELAY_DELIVERY_CA_FILE", ca.string()}})).delivery.ca_file,
        ca.string()
    );
    EXPECT_EQ(
        load_config(
            std::nullopt, environment({{"RELAY_DELIVERY_CA_FILE_FILE", ca_path.string()}})
        ).delivery.ca_file,
        ca.string()
    );
}

TEST(config_load_config, a_variable_and_its_file_variant_together_are_a_problem)
{
    const temp_file tokens("t1\n");
    const auto problems = problems_of(
        std::nullopt, environment({{"RELAY_API_TOKENS", "t0"}, {"RELAY_API_TOKENS_FILE", tokens.string()}})
    );
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_THAT(
        problems[0],
        AllOf(HasSubstr("RELAY_API_TOKENS "), HasSubstr("RELAY_API_TOKENS_FILE"), HasSubstr("only one"))
    );
}

TEST(config_load_config, an_unreadable_file_variant_is_a_problem_naming_the_variable)
{
    const auto problems =
        problems_of(std::nullopt, environment({{"RELAY_API_TOKENS_FILE", "/nonexistent/relay/tokens"}}));
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_THAT(
        problems[0],
        AllOf(HasSubstr("api.tokens (RELAY_API_TOKENS_FILE)"), HasSubstr("/nonexistent/relay/tokens"))
    );
}

TEST(config_load_config, unknown_relay_variables_are_problems_with_a_suggestion)
{
    const auto problems = problems_of(
        std::nullopt,
        environment({{"RELAY_DELIVERY_RETRY_JITER", "0.3"}, {"RELAY_WHATEVER", "1"}, {"HOME", "/root"}})
    );
    ASSERT_EQ(problems.size(), 2u);
    EXPECT_THAT(
        problems,
        Contains(AllOf(
            HasSubstr("RELAY_DELIVERY_RETRY_JITER"), HasSubstr("did you mean RELAY_DELIVERY_RETRY_JITTER?")
        ))
    );
    EXPECT_THAT(problems, Contains(HasSubstr("RELAY_WHATEVER: no such setting")));
}

TEST(config_load_config, allowed_extra_variables_and_kubernetes_service_links_are_ignored)
{
    EXPECT_NO_THROW(load_config(
        std::nullopt,
        environment({
            {"RELAY_TEST_SOURCE_DIR", "/src"},
            {"RELAY_SERVICE_HOST", "10.0.0.1"},
            {"RELAY_SERVICE_PORT", "8080"},
            {"RELAY_PORT", "tcp://10.0.0.1:8080"},
            {"RELAY_PORT_8080_TCP", "tcp://10.0.0.1:8080"},
            {"RELAY_PORT_8080_TCP_ADDR", "10.0.0.1"},
            {"RELAY_ADMIN_SERVICE_PORT_METRICS", "9464"},
        })
    ));
}

TEST(config_load_config, a_service_link_value_in_a_real_setting_explains_itself)
{
    const auto problems = problems_of(std::nullopt, environment({{"RELAY_API_PORT", "tcp://10.0.0.7:8080"}}));
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_THAT(
        problems[0], AllOf(HasSubstr("api.port (RELAY_API_PORT)"), HasSubstr("enableServiceLinks: false"))
    );
}

TEST(config_load_config, whole_map_variables_are_refused_with_a_hint)
{
    const auto problems = problems_of(std::nullopt, environment({{"RELAY_KAFKA_PROPERTIES", "a=b"}}));
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_THAT(problems[0], HasSubstr("RELAY_KAFKA_PROPERTIES_<NAME>"));
}

TEST(config_load_config, unknown_keys_in_the_file_are_problems_with_line_and_suggestion)
{
    const temp_file file("kafka:\n  brokers: k:9092\ndelivery:\n  retry_jiter: 0.3\ncolour: blue\n");
    const auto problems = problems_of(file.path(), environment{});
    ASSERT_EQ(problems.size(), 2u);
    EXPECT_THAT(
        problems[0],
        AllOf(
            HasSubstr("delivery.retry_jiter: unknown key"),
            HasSubstr("line 4"),
            HasSubstr("did you mean delivery.retry_jitter?")
        )
    );
    EXPECT_THAT(problems[1], HasSubstr("colour: unknown key"));
}

TEST(config_load_config, wrong_types_in_the_file_are_problems)
{
    const temp_file file(R"(admin:
  port: [1, 2]
kafka:
  partitions: lots
  properties: [a, b]
delivery:
  allow_http: maybe
  retry_schedule: {a: 1}
  connect_timeout:
api: 5
)");
    const auto problems = problems_of(file.path(), environment{});
    EXPECT_THAT(
        problems, Contains(AllOf(HasSubstr("admin.port (RELAY_ADMIN_PORT)"), HasSubstr("not a list")))
    );
    EXPECT_THAT(
        problems,
        Contains(AllOf(HasSubstr("kafka.partitions (RELAY_KAFKA_PARTITIONS)"), HasSubstr("\"lots\"")))
    );
    EXPECT_THAT(
        problems, Contains(HasSubstr("kafka.properties (RELAY_KAFKA_PROPERTIES_<NAME>): must be a mapping"))
    );
    EXPECT_THAT(problems, Contains(AllOf(HasSubstr("delivery.allow_http"), HasSubstr("true or false"))));
    EXPECT_THAT(problems, Contains(AllOf(HasSubstr("delivery.retry_schedule"), HasSubstr("not a mapping"))));
    EXPECT_THAT(problems, Contains(AllOf(HasSubstr("delivery.connect_timeout"), HasSubstr("has no value"))));
    EXPECT_THAT(problems, Contains(HasSubstr("api: must be a mapping of settings")));
    EXPECT_EQ(problems.size(), 7u);
}

TEST(config_load_config, a_key_set_twice_is_a_problem)
{
    const temp_file file("api:\n  port: 1\n  port: 2\n");
    EXPECT_THAT(problems_of(file.path(), environment{}), ElementsAre(HasSubstr("api.port: set twice")));
}

TEST(config_load_config, reports_every_problem_at_once_each_naming_its_setting)
{
    const temp_file file(R"(log:
  level: chatty
kafka:
  brokers: ""
  properties:
    acks: maybe
delivery:
  retry_jitter: 1.5
  connect_timeout: 5 seconds
  allowed_networks: ["10.0.0.0/33"]
)");
    try {
        load_config(file.path(), environment({{"RELAY_API_MAX_BATCH", "0"}}));
        FAIL() << "expected config_error";
    } catch (const config_error& e) {
        const std::string what = e.what();
        EXPECT_THAT(what, HasSubstr("log.level (RELAY_LOG_LEVEL)"));
        EXPECT_THAT(what, HasSubstr("\"chatty\""));
        EXPECT_THAT(what, HasSubstr("kafka.brokers (RELAY_KAFKA_BROKERS): must not be empty"));
        EXPECT_THAT(what, HasSubstr("kafka.properties.acks (RELAY_KAFKA_PROPERTIES_ACKS): librdkafka: "));
        EXPECT_THAT(
            what,
            HasSubstr("delivery.retry_jitter (RELAY_DELIVERY_RETRY_JITTER): must be between 0 and 1, got 1.5")
        );
        EXPECT_THAT(what, HasSubstr("delivery.connect_timeout (RELAY_DELIVERY_CONNECT_TIMEOUT)"));
        EXPECT_THAT(
            what, HasSubstr("delivery.allowed_networks (RELAY_DELIVERY_ALLOWED_NETWORKS): \"10.0.0.0/33\"")
        );
        EXPECT_THAT(
            what, HasSubstr("api.max_batch (RELAY_API_MAX_BATCH): must be between 1 and 100000, got 0")
        );
        EXPECT_THAT(what, HasSubstr("7 problems"));
        EXPECT_EQ(e.problems().size(), 7u);
    }
}

TEST(config_load_config, a_missing_or_malformed_file_is_a_problem)
{
    EXPECT_THAT(
        problems_of(std::filesystem::path("/nonexistent/relay.yaml"), environment{}),
        ElementsAre(AllOf(HasSubstr("/nonexistent/relay.yaml"), HasSubstr("No such file")))
    );
    const temp_file bad("kafka: [unclosed\n");
    EXPECT_THAT(problems_of(bad.path(), environment{}), ElementsAre(HasSubstr("not valid YAML or JSON")));
    const temp_file list("- a\n- b\n");
    EXPECT_THAT(
        problems_of(list.path(), environment{}), ElementsAre(HasSubstr("must be a mapping of sections"))
    );
}

TEST(config_load_config, secret_values_are_not_echoed_in_problems)
{
    const auto problems =
        problems_of(std::nullopt, environment({{"RELAY_API_TOKENS", "good-token,bad token!"}}));
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_THAT(
        problems[0], AllOf(HasSubstr("api.tokens"), HasSubstr("token 2 of 2"), Not(HasSubstr("bad token!")))
    );
}

TEST(config_load_config, environment_values_with_the_wrong_syntax_are_problems)
{
    const auto problems = problems_of(
        std::nullopt,
        environment({
            {"RELAY_DELIVERY_MAX_IN_FLIGHT", "-1"},
            {"RELAY_DELIVERY_RETRY_SCHEDULE", "5s,soon"},
            {"RELAY_API_MAX_BODY_BYTES", "1.5MiB"},
            {"RELAY_KAFKA_REPLICATION_FACTOR", "70000"},
        })
    );
    ASSERT_EQ(problems.size(), 4u);
    EXPECT_THAT(
        problems,
        Contains(
            AllOf(HasSubstr("delivery.max_in_flight (RELAY_DELIVERY_MAX_IN_FLIGHT)"), HasSubstr("\"-1\""))
        )
    );
    EXPECT_THAT(
        problems,
        Contains(AllOf(HasSubstr("RELAY_DELIVERY_RETRY_SCHEDULE"), HasSubstr("item 2"), HasSubstr("\"soon\""))
        )
    );
    EXPECT_THAT(problems, Contains(AllOf(HasSubstr("RELAY_API_MAX_BODY_BYTES"), HasSubstr("\"1.5MiB\""))));
    EXPECT_THAT(
        problems, Contains(AllOf(HasSubstr("RELAY_KAFKA_REPLICATION_FACTOR"), HasSubstr("-32768 to 32767")))
    );
}

} // namespace
