// Preparing events for publishing (no Kafka): validation of raw values, the built Relay envelope, ids,
// numbered data and the producer properties.
#include "relay/event/timestamp.hpp"
#include "relay/publish/publish.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <regex>
#include <set>

namespace {

using namespace relay::publish;
using relay::event::errc;

rapidjson::Document parse(const std::string& text)
{
    rapidjson::Document d;
    d.Parse(text.data(), text.size());
    EXPECT_FALSE(d.HasParseError()) << text;
    return d;
}

TEST(publish_prepare, raw_event_is_kept_byte_for_byte)
{
    const std::string value = R"({"id":"evt_1","type":"order.created","data":{"total":12.50}})";
    const auto p = prepare(raw_event{value, "order-1"});
    ASSERT_TRUE(p.has_value()) << p.error().reason;
    EXPECT_EQ(p->value, value);
    EXPECT_EQ(p->key, "order-1");
    EXPECT_EQ(p->id, "evt_1");
    EXPECT_EQ(p->type, "order.created");
}

TEST(publish_prepare, raw_event_without_id_has_an_empty_id_until_published)
{
    const auto p = prepare(raw_event{R"({"type":"order.created"})", std::nullopt});
    ASSERT_TRUE(p.has_value()) << p.error().reason;
    EXPECT_EQ(p->id, "");
    EXPECT_FALSE(p->key.has_value());
}

TEST(publish_prepare, raw_cloudevent_is_accepted)
{
    const auto p = prepare(raw_event{
        R"({"specversion":"1.0","id":"ce-1","type":"com.example.paid","source":"/shop","data":{}})", {}});
    ASSERT_TRUE(p.has_value()) << p.error().reason;
    EXPECT_EQ(p->id, "ce-1");
    EXPECT_EQ(p->type, "com.example.paid");
}

TEST(publish_prepare, invalid_raw_events_are_refused_with_the_reason)
{
    struct bad
    {
        std::string value;
        errc code;
    };
    for (const auto& b : std::vector<bad>{
             {"{\"type\":", errc::invalid_json},
             {"[1,2]", errc::not_an_object},
             {R"({"data":{}})", errc::missing_field},
             {R"({"type":"a b"})", errc::invalid_field},
             {R"({"type":"t","id":"has.dot"})", errc::invalid_field},
             {"", errc::empty},
         }) {
        const auto p = prepare(raw_event{b.value, {}});
        ASSERT_FALSE(p.has_value()) << b.value;
        EXPECT_EQ(p.error().code, b.code) << b.value << ": " << p.error().reason;
        EXPECT_FALSE(p.error().reason.empty());
    }
}

TEST(publish_prepare, limits_apply)
{
    relay::event::envelope_options limits;
    limits.max_event_bytes = 20;
    const auto p = prepare(raw_event{R"({"type":"order.created","data":{}})", {}}, limits);
    ASSERT_FALSE(p.has_value());
    EXPECT_EQ(p.error().code, errc::too_large);
}

TEST(publish_prepare, built_event_is_a_relay_envelope)
{
    const auto now = std::chrono::system_clock::now();
    const auto p = prepare(
        built_event{
            .type = "order.created",
            .data = R"( {"order_id":"o-1","total":12.50} )",
            .key = "o-1",
            .id = std::nullopt},
        {},
        now
    );
    ASSERT_TRUE(p.has_value()) << p.error().reason;
    EXPECT_TRUE(std::regex_match(p->id, std::regex("evt_[0-9a-f]{32}"))) << p->id;
    EXPECT_EQ(p->type, "order.created");
    EXPECT_EQ(p->key, "o-1");
    // Exactly the documented members, in order, data kept as written (12.50 stays 12.50).
    EXPECT_EQ(
        p->value,
        R"({"id":")" + p->id + R"(","type":"order.created","timestamp":")" +
            relay::event::format_rfc3339(now) + R"(","data":{"order_id":"o-1","total":12.50}})"
    );
    const auto ts = relay::event::parse_rfc3339(parse(p->value)["timestamp"].GetString());
    ASSERT_TRUE(ts.has_value());
    EXPECT_LE(std::chrono::abs(*ts - now), std::chrono::milliseconds(1));
}

TEST(publish_prepare, built_event_keeps_a_given_id_and_any_data_type)
{
    const auto p =
        prepare(built_event{.type = "ping", .data = "[1,\"two\",null]", .key = {}, .id = "my-id-1"});
    ASSERT_TRUE(p.has_value()) << p.error().reason;
    EXPECT_EQ(p->id, "my-id-1");
    const auto d = parse(p->value);
    EXPECT_STREQ(d["id"].GetString(), "my-id-1");
    ASSERT_TRUE(d["data"].IsArray());
    EXPECT_EQ(d["data"].Size(), 3u);
}

TEST(publish_prepare, built_event_escapes_its_strings)
{
    const auto p = prepare(built_event{.type = "a\"b", .data = "{}", .key = {}, .id = "x\"y"});
    // Quotes are visible ASCII: allowed in type and id, and escaped in the JSON.
    ASSERT_TRUE(p.has_value()) << p.error().reason;
    const auto d = parse(p->value);
    EXPECT_STREQ(d["type"].GetString(), "a\"b");
    EXPECT_STREQ(d["id"].GetString(), "x\"y");
}

TEST(publish_prepare, built_event_with_bad_data_is_refused)
{
    for (const auto& data : std::vector<std::string>{
             "", "   ", "{", "{} {}", "{\"a\":1},\"x\":2", "nope", std::string("{}\0x", 4)}) {
        const auto p = prepare(built_event{.type = "t", .data = data, .key = {}, .id = {}});
        ASSERT_FALSE(p.has_value()) << data;
        EXPECT_EQ(p.error().code, errc::invalid_json) << data << ": " << p.error().reason;
        EXPECT_NE(p.error().reason.find("data"), std::string::npos) << p.error().reason;
    }
}

TEST(publish_prepare, built_event_with_deep_data_is_refused_without_recursion)
{
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    const auto p = prepare(built_event{.type = "t", .data = deep, .key = {}, .id = {}});
    ASSERT_FALSE(p.has_value());
    EXPECT_EQ(p.error().code, errc::too_deep);
}

TEST(publish_prepare, built_event_at_the_depth_limit_counts_the_envelope)
{
    relay::event::envelope_options limits;
    limits.max_depth = 3;
    // envelope (1) + data object (2) + array (3): accepted; one more level is not.
    EXPECT_TRUE(prepare(built_event{.type = "t", .data = R"({"a":[]})", .key = {}, .id = {}}, limits));
    const auto p = prepare(built_event{.type = "t", .data = R"({"a":[[]]})", .key = {}, .id = {}}, limits);
    ASSERT_FALSE(p.has_value());
    EXPECT_EQ(p.error().code, errc::too_deep);
}

TEST(publish_prepare, built_event_with_bad_type_or_id_is_refused)
{
    EXPECT_EQ(
        prepare(built_event{.type = "", .data = "{}", .key = {}, .id = {}}).error().code, errc::invalid_field
    );
    EXPECT_EQ(
        prepare(built_event{.type = "a b", .data = "{}", .key = {}, .id = {}}).error().code,
        errc::invalid_field
    );
    EXPECT_EQ(
        prepare(built_event{.type = "t", .data = "{}", .key = {}, .id = "a.b"}).error().code,
        errc::invalid_field
    );
    EXPECT_EQ(
        prepare(built_event{.type = "t\xff", .data = "{}", .key = {}, .id = {}}).error().code,
        errc::invalid_utf8
    );
}

TEST(publish_ids, generated_ids_are_random_evt_hex)
{
    std::set<std::string> ids;
    for (int i = 0; i < 100; ++i) {
        const auto id = generate_event_id();
        EXPECT_TRUE(std::regex_match(id, std::regex("evt_[0-9a-f]{32}"))) << id;
        ids.insert(id);
    }
    EXPECT_EQ(ids.size(), 100u);
}

TEST(publish_numbered_data, inserts_n_first_and_keeps_the_rest)
{
    EXPECT_EQ(numbered_data("{}", 1).value(), R"({"n":1})");
    EXPECT_EQ(numbered_data(" { } ", 2).value(), R"({"n":2 })");
    EXPECT_EQ(numbered_data(R"({"a":{"n":0}})", 3).value(), R"({"n":3,"a":{"n":0}})");
    const auto d = parse(numbered_data("{\n \"x\": 1\n}", 7).value());
    EXPECT_EQ(d["n"].GetInt(), 7);
    EXPECT_EQ(d["x"].GetInt(), 1);
}

TEST(publish_numbered_data, refuses_non_objects_invalid_json_and_an_existing_n)
{
    EXPECT_EQ(numbered_data("[1]", 1).error().code, errc::not_an_object);
    EXPECT_EQ(numbered_data("5", 1).error().code, errc::not_an_object);
    EXPECT_EQ(numbered_data("{", 1).error().code, errc::invalid_json);
    EXPECT_EQ(numbered_data(R"({"n":1})", 1).error().code, errc::duplicate_field);
}

TEST(publish_properties, force_acks_all_and_idempotence)
{
    const auto p = producer_properties(
        {{"bootstrap.servers", "b:9092"}, {"acks", "1"}, {"enable.idempotence", "false"}},
        std::chrono::seconds(7)
    );
    EXPECT_EQ(p.at("bootstrap.servers"), "b:9092");
    EXPECT_EQ(p.at("acks"), "all");
    EXPECT_EQ(p.at("enable.idempotence"), "true");
    EXPECT_EQ(p.at("message.timeout.ms"), "7000");
    EXPECT_EQ(producer_properties({{"message.timeout.ms", "900"}}).at("message.timeout.ms"), "900");
}

} // namespace
