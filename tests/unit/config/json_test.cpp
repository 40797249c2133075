#include "relay/config/load.hpp"

#include "temp_file.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <fstream>
#include <sstream>

namespace {

using namespace std::chrono_literals;
using relay::config::config;
using relay::config::config_error;
using relay::config::environment;
using relay::config::load_config;
using relay::config::to_json;
using relay::config::yaml_to_json;
using relay::config::test::temp_file;
using ::testing::HasSubstr;
using ::testing::Not;

rapidjson::Document parse(const std::string& text)
{
    rapidjson::Document doc;
    doc.Parse(text.data(), text.size());
    EXPECT_FALSE(doc.HasParseError()) << text;
    return doc;
}

TEST(config_to_json, writes_the_file_layout_in_one_line)
{
    const std::string json = to_json(config{});
    EXPECT_EQ(json.find('\n'), std::string::npos);
    const auto doc = parse(json);
    ASSERT_TRUE(doc.IsObject());
    EXPECT_STREQ(doc["log"]["level"].GetString(), "info");
    EXPECT_EQ(doc["admin"]["port"].GetUint(), 9464u);
    EXPECT_STREQ(doc["kafka"]["dlq_retention"].GetString(), "30d");
    EXPECT_EQ(doc["delivery"]["retry_schedule"].Size(), 7u);
    EXPECT_STREQ(doc["delivery"]["retry_schedule"][1].GetString(), "5m");
    EXPECT_DOUBLE_EQ(doc["delivery"]["retry_jitter"].GetDouble(), 0.2);
    EXPECT_STREQ(doc["delivery"]["circuit_breaker"]["open_duration"].GetString(), "30s");
    EXPECT_EQ(doc["delivery"]["max_event_bytes"].GetUint64(), 1048576u);
    EXPECT_TRUE(doc["subscriptions"].IsArray());
}

TEST(config_to_json, masks_every_secret)
{
    const temp_file file(R"(
kafka:
  properties:
    sasl.username: relay-user
    sasl.password: kafka-pass-1
    ssl.key.password: key-pass-2
    ssl.key.pem: "-----BEGIN PRIVATE KEY----- pem-3"
    sasl.oauthbearer.config: principal=relay oauth-secret-4
  producer_properties:
    ssl.keystore.password: store-pass-5
subscriptions:
  - id: orders
    url: https://hook-user:url-pass-6@hooks.example.com/in?token=url-token-7
    event_types: [order.*]
    secret: whsec_c2VjcmV0LTg=
    headers:
      Authorization: Bearer header-token-9
  - id: payments
    url: https://pay.example.com/hook
    secrets: [whsec_c2Vjb25kLTEw, {secret: whsec_dGhpcmQtMTE=, expires_at: "2030-01-01T00:00:00Z"}]
    signing_key: whsk_signing-12
)");
    const config c =
        load_config(file.path(), environment({{"RELAY_API_TOKENS", "api-token-13,api-token-14"}}));
    const std::string masked = to_json(c);
    for (const char* secret :
         {"kafka-pass-1",
          "key-pass-2",
          "pem-3",
          "oauth-secret-4",
          "store-pass-5",
          "url-pass-6",
          "url-token-7",
          "whsec_c2VjcmV0LTg=",
          "header-token-9",
          "whsec_c2Vjb25kLTEw",
          "whsec_dGhpcmQtMTE=",
          "whsk_signing-12",
          "api-token-13",
          "api-token-14"})
        EXPECT_THAT(masked, Not(HasSubstr(secret)));
    // What is not secret stays readable.
    EXPECT_THAT(masked, HasSubstr("relay-user"));
    EXPECT_THAT(masked, HasSubstr("https://***@hooks.example.com/in?***"));
    EXPECT_THAT(masked, HasSubstr("https://pay.example.com/hook"));
    EXPECT_THAT(masked, HasSubstr("2030-01-01T00:00:00Z"));
    EXPECT_THAT(masked, HasSubstr("\"tokens\":[\"***\",\"***\"]"));
    EXPECT_THAT(masked, HasSubstr("\"Authorization\":\"***\""));
    // Unmasked output has them (it is what the round trip below relies on).
    EXPECT_THAT(to_json(c, false), HasSubstr("kafka-pass-1"));
    EXPECT_THAT(to_json(c, false), HasSubstr("api-token-14"));
}

TEST(config_to_json, unmasked_output_loads_back_as_the_same_configuration)
{
    config c;
    c.log.level = relay::log::level::debug;
    c.kafka.brokers = "a:1,b:2";
    c.kafka.properties = {{"client.id", "x"}, {"sasl.password", "pw"}};
    c.topics.inputs = {"orders"};
    c.delivery.retry_schedule = {250ms, 90min};
    c.delivery.retry_jitter = 0.35;
    c.delivery.allowed_networks = {"10.0.0.0/8"};
    c.delivery.circuit_breaker.window = 2min;
    c.api.tokens = {"t1", "t2"};
    c.static_subscriptions_json = R"([{"id":"s1","url":"https://x.example/h?a=b","n":1.5,"on":true}])";
    const std::string json = to_json(c, false);
    const temp_file file(json, ".json");
    const config loaded = load_config(file.path(), environment{});
    EXPECT_EQ(to_json(loaded, false), json);
    EXPECT_EQ(loaded.static_subscriptions_json, c.static_subscriptions_json);
}

TEST(config_yaml_to_json, keeps_quoted_scalars_as_strings_and_resolves_plain_ones)
{
    EXPECT_EQ(
        yaml_to_json("a: 5\nb: \"5\"\nc: '5'\nd: true\ne: 'true'\nf: null\ng: ~\nh:\ni: 1.5e3\nj: -0.25\n"),
        R"({"a":5,"b":"5","c":"5","d":true,"e":"true","f":null,"g":null,"h":null,"i":1.5e3,"j":-0.25})"
    );
    EXPECT_EQ(
        yaml_to_json("a: yes\nb: 0123\nc: 1.2.3\nd: 0x1F\ne: 0o17\nf: +5\ng: !!str 7\nh: .5\ni: order.*\n"),
        R"({"a":"yes","b":"0123","c":"1.2.3","d":31,"e":15,"f":5,"g":"7","h":".5","i":"order.*"})"
    );
}

TEST(config_yaml_to_json, converts_nested_lists_and_maps_and_escapes_strings)
{
    EXPECT_EQ(
        yaml_to_json("- {x: [1, two, {y: \"q\\\"uote\\n\"}]}\n- []\n- {}\n"),
        R"([{"x":[1,"two",{"y":"q\"uote\n"}]},[],{}])"
    );
    EXPECT_EQ(yaml_to_json(""), "null");
    EXPECT_EQ(yaml_to_json(R"({"json": ["stays", 1, false, null]})"), R"({"json":["stays",1,false,null]})");
}

TEST(config_yaml_to_json, refuses_duplicate_keys_deep_nesting_and_bad_syntax)
{
    EXPECT_THROW(yaml_to_json("a: 1\na: 2\n"), config_error);
    EXPECT_THROW(yaml_to_json(std::string(200, '[') + std::string(200, ']')), config_error);
    EXPECT_THROW(yaml_to_json("&x [*x]"), config_error); // a self-referencing alias
    EXPECT_THROW(yaml_to_json("a: [1, 2\n"), config_error);
}

TEST(config_static_subscriptions, a_yaml_list_in_the_file_becomes_json_array_text)
{
    const temp_file file(R"(subscriptions:
  - id: orders-to-crm
    url: https://crm.example.com/hooks
    event_types: ["order.*", payment.captured]
    timeout: 5s
    max_in_flight: 16
    enabled: true
    filter: {data.amount: {gt: 100}}
  - id: "007"
    url: https://b.example.com/
)");
    const config c = load_config(file.path(), environment{});
    EXPECT_EQ(
        c.static_subscriptions_json,
        R"([{"id":"orders-to-crm","url":"https://crm.example.com/hooks","event_types":["order.*","payment.captured"],)"
        R"("timeout":"5s","max_in_flight":16,"enabled":true,"filter":{"data.amount":{"gt":100}}},)"
        R"({"id":"007","url":"https://b.example.com/"}])"
    );
}

TEST(config_static_subscriptions, come_from_the_environment_or_a_mounted_file)
{
    const config from_env = load_config(
        std::nullopt, environment({{"RELAY_SUBSCRIPTIONS", R"([{"id": "a", "url": "https://a.example"}])"}})
    );
    EXPECT_EQ(from_env.static_subscriptions_json, R"([{"id":"a","url":"https://a.example"}])");
    const temp_file mounted("- id: b\n  secret: whsec_abc\n");
    const config from_file =
        load_config(std::nullopt, environment({{"RELAY_SUBSCRIPTIONS_FILE", mounted.string()}}));
    EXPECT_EQ(from_file.static_subscriptions_json, R"([{"id":"b","secret":"whsec_abc"}])");
}

TEST(config_static_subscriptions, must_be_a_list)
{
    const temp_file file("subscriptions:\n  id: not-a-list\n");
    try {
        load_config(file.path(), environment{});
        FAIL() << "expected config_error";
    } catch (const config_error& e) {
        EXPECT_THAT(
            e.what(), HasSubstr("subscriptions (RELAY_SUBSCRIPTIONS): must be a list of subscriptions")
        );
    }
    EXPECT_THROW(load_config(std::nullopt, environment({{"RELAY_SUBSCRIPTIONS", "id: x"}})), config_error);
}

/// The table in config.hpp is what the README is generated from: every setting must be in it, with its
/// environment variable, type and default exactly as the code has them.
TEST(config_settings_table, config_header_lists_every_setting_with_variable_type_and_default)
{
    std::ifstream in(RELAY_CONFIG_HEADER);
    ASSERT_TRUE(in) << RELAY_CONFIG_HEADER;
    std::stringstream text;
    text << in.rdbuf();
    std::vector<std::string> rows;
    for (std::string line; std::getline(text, line);)
        if (line.starts_with("/// | `"))
            rows.push_back(line);
    const auto& settings = relay::config::settings();
    ASSERT_EQ(rows.size(), settings.size());
    for (std::size_t i = 0; i < settings.size(); ++i) {
        const auto& s = settings[i];
        EXPECT_EQ(
            rows[i], "/// | `" + s.key + "` | `" + s.env + "` | " + s.type + " | `" + s.default_value + "` |"
        );
        EXPECT_TRUE(s.env.starts_with(relay::config::env_name(s.key))) << s.env;
    }
}

} // namespace
