// Options derived from the config for the ingest API.
#include "relay/api/ingest.hpp"

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;

TEST(ingest_options, come_from_the_config_with_the_stricter_depth)
{
    relay::config::config cfg;
    cfg.topics.events = "ev";
    cfg.delivery.max_event_bytes = 1234;
    cfg.delivery.max_json_depth = 20;
    cfg.api.max_json_depth = 64;
    cfg.api.max_batch = 7;
    cfg.api.idempotency_window = 5min;
    cfg.api.tokens = {"t"};
    const auto o = relay::api::ingest_options::from_config(cfg);
    EXPECT_EQ(o.topic, "ev");
    EXPECT_EQ(o.limits.max_event_bytes, 1234u);
    EXPECT_EQ(o.limits.max_depth, 20u);
    EXPECT_EQ(o.max_batch, 7u);
    EXPECT_EQ(o.idempotency_window, 5min);
    EXPECT_EQ(o.tokens, std::vector<std::string>{"t"});
}

TEST(ingest_producer_properties, are_idempotent_acks_all_and_bounded_by_the_request_timeout)
{
    relay::config::config cfg;
    cfg.kafka.brokers = "b:9092";
    cfg.kafka.properties["client.id"] = "x";
    cfg.kafka.producer_properties["linger.ms"] = "7";
    cfg.api.request_timeout = 10s;
    auto p = relay::api::ingest_producer_properties(cfg);
    EXPECT_EQ(p["bootstrap.servers"], "b:9092");
    EXPECT_EQ(p["acks"], "all");
    EXPECT_EQ(p["enable.idempotence"], "true");
    EXPECT_EQ(p["client.id"], "x");
    EXPECT_EQ(p["linger.ms"], "7");
    EXPECT_EQ(p["message.timeout.ms"], "9000");

    cfg.kafka.producer_properties["message.timeout.ms"] = "60000";
    EXPECT_EQ(relay::api::ingest_producer_properties(cfg)["message.timeout.ms"], "9000");
    cfg.kafka.producer_properties["message.timeout.ms"] = "3000";
    EXPECT_EQ(relay::api::ingest_producer_properties(cfg)["message.timeout.ms"], "3000");
}

// librdkafka expires queued messages from the broker thread, which sleeps through the reconnect backoff
// (10 s by default) while the broker is down: the ingest producer caps it so a 503 comes within the budget.
TEST(ingest_producer_properties, cap_the_reconnect_backoff_unless_configured)
{
    relay::config::config cfg;
    cfg.api.request_timeout = 10s;
    EXPECT_EQ(relay::api::ingest_producer_properties(cfg)["reconnect.backoff.max.ms"], "1000");
    cfg.api.request_timeout = 1500ms;
    EXPECT_EQ(relay::api::ingest_producer_properties(cfg)["reconnect.backoff.max.ms"], "1000");
    cfg.kafka.producer_properties["reconnect.backoff.max.ms"] = "5000";
    EXPECT_EQ(relay::api::ingest_producer_properties(cfg)["reconnect.backoff.max.ms"], "5000");
    cfg.kafka.producer_properties.erase("reconnect.backoff.max.ms");
    cfg.kafka.properties["reconnect.backoff.ms"] = "2000";
    EXPECT_FALSE(relay::api::ingest_producer_properties(cfg).contains("reconnect.backoff.max.ms"));
}

TEST(api_server_options, come_from_the_api_section)
{
    relay::config::config cfg;
    cfg.api.address = "127.0.0.1";
    cfg.api.port = 0;
    cfg.api.max_body_bytes = 100;
    cfg.api.max_header_bytes = 200;
    cfg.api.request_timeout = 3s;
    const auto o = relay::api::api_server_options(cfg);
    EXPECT_EQ(o.address, "127.0.0.1");
    EXPECT_EQ(o.port, 0);
    EXPECT_EQ(o.body_limit, 100u);
    EXPECT_EQ(o.header_limit, 200u);
    EXPECT_EQ(o.read_timeout, std::chrono::steady_clock::duration(3s));
    EXPECT_EQ(o.name, "api");
}

} // namespace
