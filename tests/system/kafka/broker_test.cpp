#include "relay/kafka/admin.hpp"
#include "relay/kafka/consumer.hpp"
#include "relay/kafka/error.hpp"
#include "relay/kafka/producer.hpp"

#include "support/kafka/kafka.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace {

namespace asio = boost::asio;
using relay::kafka::consumer;
using relay::kafka::consumer_options;
using relay::kafka::producer;
using relay::kafka::topic_spec;
using relay::test::recording_handler;
using ::testing::UnorderedElementsAre;

constexpr std::chrono::seconds admin_timeout{30};

class real_kafka : public ::testing::Test
{
protected:
    void SetUp() override { bootstrap_ = relay::test::real_broker_bootstrap(); }

    relay::kafka::client_options producer_options() const
    {
        return {
            .config =
                relay::test::producer_config(bootstrap_, {{"enable.idempotence", "true"}, {"acks", "all"}})};
    }

    consumer_options consumer_opts(const std::string& group, const relay::kafka::properties& extra = {}) const
    {
        return {.client = {.config = relay::test::consumer_config(bootstrap_, group, extra)}};
    }

    std::string create_topic(int partitions)
    {
        const auto name = relay::test::unique_topic();
        relay::kafka::admin adm({.config = {{"bootstrap.servers", bootstrap_}}});
        adm.ensure_topics({{.name = name, .partitions = partitions, .replication_factor = 1}}, admin_timeout);
        return name;
    }

    std::string bootstrap_;
};

TEST_F(real_kafka, produce_with_a_co_awaited_delivery_report_then_consume)
{
    const auto topic = create_topic(3);
    producer p(producer_options());
    asio::io_context io;
    relay::kafka::delivery_info info;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            relay::kafka::record r;
            r.topic = topic;
            r.key = "order-7";
            r.value = R"({"type":"order.created","id":"7"})";
            r.headers = {{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}};
            info = co_await p.async_produce(std::move(r), asio::use_awaitable);
        },
        [](std::exception_ptr e) {
            if (e) {
                std::rethrow_exception(e);
            }
        }
    );
    ASSERT_NO_THROW(io.run());
    EXPECT_GE(info.partition, 0);
    EXPECT_EQ(info.offset, 0);

    recording_handler h;
    consumer c(consumer_opts(relay::test::unique_group()), h);
    ASSERT_FALSE(c.subscribe({topic}));
    ASSERT_TRUE(h.wait_for_messages(1));
    const auto m = h.messages().front();
    EXPECT_EQ(m.partition, info.partition);
    EXPECT_EQ(m.offset, info.offset);
    EXPECT_EQ(m.key, "order-7");
    EXPECT_EQ(m.value, R"({"type":"order.created","id":"7"})");
    ASSERT_EQ(m.headers.size(), 1U);
    EXPECT_EQ(m.headers[0].first, "traceparent");
}

TEST_F(real_kafka, ensure_topics_creates_missing_topics_with_their_settings)
{
    const auto events = relay::test::unique_topic("events");
    const auto subscriptions = relay::test::unique_topic("subscriptions");
    relay::kafka::admin adm({.config = {{"bootstrap.servers", bootstrap_}}});
    const std::vector<topic_spec> specs{
        {.name = events, .partitions = 6},
        {.name = subscriptions, .partitions = 1, .configs = {{"cleanup.policy", "compact"}}},
    };
    EXPECT_THAT(adm.ensure_topics(specs, admin_timeout), UnorderedElementsAre(events, subscriptions));

    const auto events_partitions = adm.partition_count(events, admin_timeout);
    ASSERT_TRUE(events_partitions.has_value()) << events_partitions.error().message();
    EXPECT_EQ(*events_partitions, 6);
    EXPECT_EQ(adm.partition_count(subscriptions, admin_timeout).value(), 1);

    const auto configs = adm.describe_topic_configs(subscriptions, admin_timeout);
    ASSERT_TRUE(configs.has_value()) << configs.error().message();
    EXPECT_EQ(configs->at("cleanup.policy"), "compact");
    EXPECT_EQ(adm.describe_topic_configs(events, admin_timeout).value().at("cleanup.policy"), "delete");

    // A second start finds everything in place.
    EXPECT_TRUE(adm.ensure_topics(specs, admin_timeout).empty());
}

TEST_F(real_kafka, ensure_topics_names_the_topic_the_broker_refuses)
{
    const auto good = relay::test::unique_topic("good");
    const auto bad = relay::test::unique_topic("bad");
    relay::kafka::admin adm({.config = {{"bootstrap.servers", bootstrap_}}});
    try {
        // One broker cannot hold three replicas.
        adm.ensure_topics(
            {{.name = good, .partitions = 1}, {.name = bad, .partitions = 1, .replication_factor = 3}},
            admin_timeout
        );
        FAIL() << "a topic with replication factor 3 was created on one broker";
    } catch (const relay::kafka::topic_error& e) {
        ASSERT_EQ(e.failures().size(), 1U);
        EXPECT_EQ(e.failures()[0].topic, bad);
        EXPECT_EQ(
            e.failures()[0].code, relay::kafka::make_error_code(RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR)
        );
        EXPECT_THAT(e.what(), ::testing::HasSubstr(bad));
    }
    // The valid one was still created.
    EXPECT_EQ(adm.partition_count(good, admin_timeout).value(), 1);
}

TEST_F(real_kafka, static_member_rejoins_without_a_rebalance)
{
    const auto topic = create_topic(4);
    const auto group = relay::test::unique_group();
    const relay::kafka::properties slow_session{{"session.timeout.ms", "30000"}};
    auto with_id = [&](const char* id) {
        auto props = slow_session;
        props["group.instance.id"] = id;
        return consumer_opts(group, props);
    };
    recording_handler other;
    consumer b(with_id("b"), other);
    ASSERT_FALSE(b.subscribe({topic}));
    ASSERT_TRUE(other.wait_for([&] { return other.assigned_locked().size() == 4; }));
    std::vector<relay::kafka::topic_partition> first_assignment;
    {
        recording_handler h;
        consumer a(with_id("a"), h);
        ASSERT_FALSE(a.subscribe({topic}));
        ASSERT_TRUE(h.wait_for([&] { return h.assigned_locked().size() == 2; }));
        ASSERT_TRUE(other.wait_for([&] { return other.assigned_locked().size() == 2; }));
        first_assignment = h.assigned();
    }
    const int revokes_before = other.revoke_events();
    const int assigns_before = other.assign_events();

    // Back within the session timeout: the broker hands the member its partitions at once, in one assignment,
    // and the other member notices nothing.
    recording_handler h;
    consumer a(with_id("a"), h);
    ASSERT_FALSE(a.subscribe({topic}));
    ASSERT_TRUE(h.wait_for([&] { return h.assigned_locked().size() == 2; }));
    EXPECT_EQ(h.assign_events(), 1);
    EXPECT_EQ(h.assigned(), first_assignment);
    EXPECT_EQ(other.revoke_events(), revokes_before);
    EXPECT_EQ(other.assign_events(), assigns_before);
}

TEST_F(real_kafka, offsets_committed_on_revoke_survive_a_consumer_restart)
{
    const auto topic = create_topic(1);
    const auto group = relay::test::unique_group();
    producer p(producer_options());
    ASSERT_TRUE(relay::test::produce_records(p, topic, 4));
    {
        recording_handler h;
        consumer c(consumer_opts(group), h);
        ASSERT_FALSE(c.subscribe({topic}));
        ASSERT_TRUE(h.wait_for_messages(4));
        ASSERT_FALSE(c.store_offset(topic, 0, 2));
    }
    recording_handler h;
    consumer c(consumer_opts(group), h);
    ASSERT_FALSE(c.subscribe({topic}));
    ASSERT_TRUE(h.wait_for_messages(2));
    const auto msgs = h.messages();
    EXPECT_EQ(msgs.front().offset, 2);
    EXPECT_EQ(msgs.back().offset, 3);
}

} // namespace
