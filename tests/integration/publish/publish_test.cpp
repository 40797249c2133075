// relay::publish against the mock cluster: what is published reads back as given, invalid events never
// reach Kafka, and Kafka failures come back as results.
#include "relay/event/timestamp.hpp"
#include "relay/kafka/error.hpp"
#include "relay/publish/publish.hpp"

#include "read_back.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>

namespace {

using namespace relay::publish;
using relay::test::consumed;

class publish_events_test : public relay::test::publish_kafka_test
{
protected:
    publisher make_publisher(
        const std::string& topic,
        std::chrono::milliseconds timeout = std::chrono::seconds(20),
        const relay::kafka::properties& extra = {}
    )
    {
        publish_options o;
        o.topic = topic;
        o.timeout = timeout;
        return publisher(producer_props(extra), o);
    }
};

rapidjson::Document parse(const std::optional<std::string>& text)
{
    rapidjson::Document d;
    EXPECT_TRUE(text.has_value());
    d.Parse(text.value_or("").c_str());
    EXPECT_FALSE(d.HasParseError());
    return d;
}

TEST_F(publish_events_test, built_events_read_back_with_type_key_and_envelope)
{
    const auto topic = make_topic(3);
    auto p = make_publisher(topic);
    const std::vector<event_input> events{
        built_event{
            .type = "order.created", .data = R"({"order_id":"o-1"})", .key = "o-1", .id = std::nullopt},
        built_event{
            .type = "order.paid", .data = R"({"order_id":"o-2","total":9.5})", .key = "o-2", .id = "pay-2"},
    };
    const auto before = std::chrono::system_clock::now();
    const auto results = p.publish(events);
    ASSERT_EQ(results.size(), 2u);
    for (const auto& r : results) {
        ASSERT_TRUE(r.ok()) << r.reason;
        EXPECT_EQ(r.topic, topic);
        EXPECT_GE(r.partition, 0);
        EXPECT_LT(r.partition, 3);
        EXPECT_GE(r.offset, 0);
    }
    EXPECT_EQ(results[0].type, "order.created");
    EXPECT_EQ(results[1].id, "pay-2");

    const auto records = read_back(topic, 3, 2);
    ASSERT_EQ(records.size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
        const auto& r = results[i];
        const auto it = std::find_if(records.begin(), records.end(), [&](const consumed& c) {
            return c.partition == r.partition && c.offset == r.offset;
        });
        ASSERT_NE(it, records.end()) << "event " << i << " not at " << r.partition << "@" << r.offset;
        EXPECT_EQ(it->key, std::get<built_event>(events[i]).key);
        const auto doc = parse(it->value);
        EXPECT_EQ(std::string(doc["id"].GetString()), r.id);
        EXPECT_EQ(std::string(doc["type"].GetString()), r.type);
        const auto ts = relay::event::parse_rfc3339(doc["timestamp"].GetString());
        ASSERT_TRUE(ts.has_value());
        EXPECT_GE(*ts, before - std::chrono::milliseconds(1));
        EXPECT_LE(*ts, std::chrono::system_clock::now());
        // And the workers' parser accepts the record as the same event.
        relay::event::record_view view;
        view.topic = topic;
        view.value = *it->value;
        const auto ev = relay::event::parse_event(view);
        ASSERT_TRUE(ev.has_value()) << ev.error().reason;
        EXPECT_EQ(ev->id(), r.id);
    }
    const auto doc = parse(std::find_if(records.begin(), records.end(), [&](const consumed& c) {
                               return c.key == "o-2";
                           })->value);
    EXPECT_EQ(doc["data"]["total"].GetDouble(), 9.5);
}

TEST_F(publish_events_test, raw_event_is_published_byte_for_byte_with_the_derived_id)
{
    const auto topic = make_topic(1);
    auto p = make_publisher(topic);
    const std::string value = R"({ "type": "user.signed_up", "data": {"user": "u-1"} })";
    const auto r = p.publish(raw_event{value, std::nullopt});
    ASSERT_TRUE(r.ok()) << r.reason;
    EXPECT_EQ(r.type, "user.signed_up");
    EXPECT_EQ(r.id, relay::event::derive_event_id(topic, r.partition, r.offset));

    const auto records = read_back(topic, 1, 1);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].value, value);
    EXPECT_FALSE(records[0].key.has_value());
}

TEST_F(publish_events_test, invalid_events_are_refused_and_not_published)
{
    const auto topic = make_topic(1);
    auto p = make_publisher(topic);
    const std::vector<event_input> events{
        raw_event{R"({"id":"a-1","type":"t.one"})", "k"},
        raw_event{R"({"id":"a-2","type":)", "k"},
        raw_event{R"({"id":"a.3","type":"t.three"})", "k"},
        built_event{.type = "bad type", .data = "{}", .key = {}, .id = {}},
        built_event{.type = "t.five", .data = "{", .key = {}, .id = {}},
        raw_event{R"({"id":"a-6","type":"t.six"})", "k"},
    };
    const auto results = p.publish(events);
    ASSERT_EQ(results.size(), events.size());
    for (const std::size_t bad : {1u, 2u, 3u, 4u}) {
        EXPECT_FALSE(results[bad].ok()) << bad;
        EXPECT_EQ(results[bad].error.category(), relay::event::event_category()) << bad;
        EXPECT_FALSE(results[bad].reason.empty()) << bad;
        EXPECT_EQ(results[bad].offset, -1) << bad;
    }
    EXPECT_EQ(results[1].error, relay::event::errc::invalid_json);
    EXPECT_EQ(results[4].error, relay::event::errc::invalid_json);
    ASSERT_TRUE(results[0].ok()) << results[0].reason;
    ASSERT_TRUE(results[5].ok()) << results[5].reason;
    EXPECT_EQ(results[0].offset, 0);
    EXPECT_EQ(results[5].offset, 1);

    EXPECT_EQ(record_count(topic, 1), 2);
    const auto records = read_back(topic, 1, 2);
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[0].value, R"({"id":"a-1","type":"t.one"})");
    EXPECT_EQ(records[1].value, R"({"id":"a-6","type":"t.six"})");
}

TEST_F(publish_events_test, a_full_local_queue_is_waited_out)
{
    const auto topic = make_topic(1);
    auto p = make_publisher(topic, std::chrono::seconds(20), {{"queue.buffering.max.messages", "3"}});
    std::vector<event_input> events;
    for (int i = 0; i < 40; ++i) {
        events.push_back(built_event{
            .type = "bulk", .data = "{}", .key = {}, .id = "bulk-" + std::to_string(i)});
    }
    const auto results = p.publish(events);
    for (std::size_t i = 0; i < results.size(); ++i) {
        ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].reason;
        EXPECT_EQ(results[i].offset, static_cast<std::int64_t>(i)); // order kept
    }
    EXPECT_EQ(record_count(topic, 1), 40);
}

TEST_F(publish_events_test, kafka_failures_are_results)
{
    const auto topic = make_topic(1);
    auto p = make_publisher(topic, std::chrono::milliseconds(1500), {{"message.timeout.ms", "1500"}});
    ASSERT_FALSE(cluster_.set_broker_down(1));
    const auto r = p.publish(built_event{.type = "t", .data = "{}", .key = {}, .id = "down-1"});
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.error.category(), relay::kafka::kafka_category()) << r.error.message();
    EXPECT_EQ(r.id, "down-1");
    EXPECT_FALSE(r.reason.empty());
    EXPECT_EQ(r.offset, -1);
}

TEST_F(publish_events_test, producer_is_idempotent_with_acks_all)
{
    // A produce error the idempotent producer retries must not duplicate or lose the event.
    const auto topic = make_topic(1);
    auto p = make_publisher(topic);
    cluster_.push_request_errors(
        relay::kafka::api_key::produce,
        {RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS}
    );
    const auto r = p.publish(built_event{.type = "t", .data = "{}", .key = {}, .id = "retry-1"});
    ASSERT_TRUE(r.ok()) << r.reason;
    EXPECT_EQ(r.offset, 0);
    EXPECT_EQ(record_count(topic, 1), 1);
}

TEST(publish_publisher, empty_topic_and_bad_properties_throw)
{
    EXPECT_THROW(publisher({{"bootstrap.servers", "127.0.0.1:1"}}, publish_options{}), std::invalid_argument);
    publish_options o;
    o.topic = "t";
    EXPECT_THROW(publisher({{"no.such.property", "1"}}, o), relay::kafka::config_error);
}

} // namespace
