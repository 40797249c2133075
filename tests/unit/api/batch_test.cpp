// Splitting batch bodies into events, byte for byte, and inserting generated ids.
#include "relay/api/ingest.hpp"

#include <gtest/gtest.h>

namespace {

using relay::api::parse_batch;

TEST(parse_batch, keeps_each_event_byte_for_byte)
{
    const std::string body =
        R"( { "events" : [ {"key":"o-1", "event" : {"type":"a.b",  "data":{"x":[1, 2.50]}} },)"
        R"({"event":{ "type" : "c","d":{"e":{}} },"key":null} ] } )";
    const auto items = parse_batch(body, 10, 64);
    ASSERT_TRUE(items.has_value()) << items.error().detail;
    ASSERT_EQ(items->size(), 2u);
    EXPECT_EQ((*items)[0].key, std::optional<std::string>("o-1"));
    EXPECT_EQ((*items)[0].value, R"({"type":"a.b",  "data":{"x":[1, 2.50]}})");
    EXPECT_EQ((*items)[1].key, std::nullopt);
    EXPECT_EQ((*items)[1].value, R"({ "type" : "c","d":{"e":{}} })");
}

TEST(parse_batch, names_the_offending_index)
{
    auto r = parse_batch(R"({"events":[{"event":{"type":"a"}},{"event":[1]}]})", 10, 64);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().index, std::optional<std::size_t>(1));
    EXPECT_NE(r.error().detail.find("events[1].event must be a JSON object"), std::string::npos);

    r = parse_batch(R"({"events":[{"event":{"type":"a"}},{"key":1,"event":{}}]})", 10, 64);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().index, std::optional<std::size_t>(1));

    r = parse_batch(R"({"events":[{"event":{"type":"a"},"extra":1}]})", 10, 64);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().detail.find("unknown member \"extra\""), std::string::npos);

    r = parse_batch(R"({"events":[{"key":"k"}]})", 10, 64);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().detail.find("has no \"event\""), std::string::npos);
}

TEST(parse_batch, refuses_bad_shapes)
{
    for (const std::string body :
         {"",
          "[]",
          "{}",
          R"({"events":[]})",
          R"({"events":{}})",
          R"({"other":[]})",
          R"({"events":[1]})",
          R"({"events":[{"event":{}}]} x)"}) {
        EXPECT_FALSE(parse_batch(body, 10, 64).has_value()) << body;
    }
    const std::string with_nul("{\"events\":[{\"event\":{}}]}\0x", 27);
    EXPECT_TRUE(parse_batch(with_nul.substr(0, 25), 10, 64).has_value());
    EXPECT_FALSE(parse_batch(with_nul, 10, 64).has_value());
}

TEST(parse_batch, enforces_max_batch)
{
    const auto r = parse_batch(R"({"events":[{"event":{}},{"event":{}},{"event":{}}]})", 2, 64);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().detail.find("more than 2 events"), std::string::npos);
}

TEST(parse_batch, refuses_deep_nesting_without_recursion)
{
    std::string deep = R"({"events":[{"event":{"type":"a","data":)";
    deep.append(100000, '[');
    deep.append(100000, ']');
    deep += "}}]}";
    const auto r = parse_batch(deep, 10, 64);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().detail.find("nested deeper than 64"), std::string::npos);
    EXPECT_EQ(r.error().index, std::optional<std::size_t>(0));
}

TEST(insert_event_id, inserts_first_member_and_keeps_the_rest)
{
    EXPECT_EQ(relay::api::insert_event_id(R"( {"type":"a"} )", "evt_1"), R"( {"id":"evt_1","type":"a"} )");
}

} // namespace
