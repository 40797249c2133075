#include "relay/http/health.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace relay::http {
namespace {

rapidjson::Document parse(const std::string& json)
{
    rapidjson::Document doc;
    doc.Parse(json.data(), json.size());
    EXPECT_FALSE(doc.HasParseError()) << json;
    return doc;
}

TEST(health, ready_and_live_without_checks)
{
    health h;
    EXPECT_TRUE(h.live());
    EXPECT_TRUE(h.ready());
}

TEST(health, ready_only_when_every_check_is_ready)
{
    health h;
    h.add_check("kafka");
    h.add_check("subscriptions");
    EXPECT_FALSE(h.ready());
    h.set_ready("kafka", true);
    EXPECT_FALSE(h.ready());
    h.set_ready("subscriptions", true);
    EXPECT_TRUE(h.ready());
    h.set_ready("kafka", false, "broker down");
    EXPECT_FALSE(h.ready());
}

TEST(health, broken_component_makes_process_neither_live_nor_ready)
{
    health h;
    h.report_broken("kafka", "fatal error: fenced");
    EXPECT_FALSE(h.live());
    EXPECT_FALSE(h.ready());
    h.clear_broken("kafka");
    EXPECT_TRUE(h.live());
    EXPECT_TRUE(h.ready());
}

TEST(health, readiness_json_lists_checks_that_are_not_ready_with_reasons)
{
    health h;
    h.add_check("kafka", true);
    h.add_check("subscriptions", false, "loading \"table\"");
    bool ok = true;
    const auto doc = parse(h.readiness_json(ok));
    EXPECT_FALSE(ok);
    EXPECT_STREQ(doc["status"].GetString(), "not_ready");
    ASSERT_TRUE(doc["not_ready"].IsArray());
    ASSERT_EQ(doc["not_ready"].Size(), 1u);
    EXPECT_STREQ(doc["not_ready"][0].GetString(), "subscriptions");
    EXPECT_TRUE(doc["checks"]["kafka"]["ready"].GetBool());
    EXPECT_FALSE(doc["checks"]["subscriptions"]["ready"].GetBool());
    EXPECT_STREQ(doc["checks"]["subscriptions"]["reason"].GetString(), "loading \"table\"");
}

TEST(health, readiness_json_when_ready)
{
    health h;
    h.add_check("kafka", true);
    bool ok = false;
    const auto doc = parse(h.readiness_json(ok));
    EXPECT_TRUE(ok);
    EXPECT_STREQ(doc["status"].GetString(), "ready");
    EXPECT_EQ(doc["not_ready"].Size(), 0u);
}

TEST(health, liveness_json_names_broken_components)
{
    health h;
    bool ok = false;
    EXPECT_EQ(h.liveness_json(ok), R"({"status":"ok"})");
    EXPECT_TRUE(ok);
    h.report_broken("kafka", "fatal");
    const auto doc = parse(h.liveness_json(ok));
    EXPECT_FALSE(ok);
    EXPECT_STREQ(doc["status"].GetString(), "broken");
    EXPECT_STREQ(doc["broken"]["kafka"].GetString(), "fatal");
}

TEST(health, remove_check_forgets_it)
{
    health h;
    h.add_check("kafka");
    h.remove_check("kafka");
    EXPECT_TRUE(h.ready());
    EXPECT_TRUE(h.checks().empty());
}

} // namespace
} // namespace relay::http
