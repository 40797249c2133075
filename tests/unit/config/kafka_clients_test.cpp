#include "relay/config/kafka_clients.hpp"

#include <gtest/gtest.h>

namespace relay::config {
namespace {

TEST(KafkaClients, KindSpecificPropertiesWinAndBrokersAreAlwaysSet)
{
    config cfg;
    cfg.kafka.brokers = "k1:9092,k2:9092";
    cfg.kafka.properties = {{"security.protocol", "SASL_SSL"}, {"linger.ms", "1"}};
    cfg.kafka.producer_properties = {{"linger.ms", "20"}};
    cfg.kafka.consumer_properties = {{"fetch.max.bytes", "1000000"}};

    const auto producer = client_properties(cfg, client_kind::producer);
    EXPECT_EQ(producer.at("linger.ms"), "20");
    EXPECT_EQ(producer.at("security.protocol"), "SASL_SSL");
    EXPECT_EQ(producer.at("bootstrap.servers"), "k1:9092,k2:9092");
    EXPECT_FALSE(producer.contains("fetch.max.bytes"));

    const auto consumer = client_properties(cfg, client_kind::consumer);
    EXPECT_EQ(consumer.at("linger.ms"), "1");
    EXPECT_EQ(consumer.at("fetch.max.bytes"), "1000000");

    const auto admin = client_properties(cfg, client_kind::admin);
    EXPECT_EQ(admin.size(), 3u); // the shared properties and bootstrap.servers only
}

} // namespace
} // namespace relay::config
