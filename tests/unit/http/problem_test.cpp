#include "relay/http/problem.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace relay::http {
namespace {

rapidjson::Document parse(const std::string& json)
{
    rapidjson::Document doc;
    doc.Parse(json.data(), json.size());
    EXPECT_FALSE(doc.HasParseError()) << json;
    EXPECT_TRUE(doc.IsObject()) << json;
    return doc;
}

TEST(problem, about_blank_uses_the_status_reason_as_title)
{
    problem_details p;
    p.status = 404;
    p.detail = "no subscription sub_1";
    const auto doc = parse(to_json(p));
    EXPECT_STREQ(doc["type"].GetString(), "about:blank");
    EXPECT_STREQ(doc["title"].GetString(), "Not Found");
    EXPECT_EQ(doc["status"].GetInt(), 404);
    EXPECT_STREQ(doc["detail"].GetString(), "no subscription sub_1");
    EXPECT_FALSE(doc.HasMember("instance"));
    EXPECT_FALSE(doc.HasMember("errors"));
}

TEST(problem, unknown_status_gets_a_generic_title)
{
    problem_details p;
    p.status = 477;
    const auto doc = parse(to_json(p));
    EXPECT_STREQ(doc["title"].GetString(), "Error");
    EXPECT_EQ(doc["status"].GetInt(), 477);
}

TEST(problem, custom_type_title_instance_and_errors_are_serialized)
{
    problem_details p;
    p.type = "https://relay.dev/problems/invalid-subscription";
    p.title = "Invalid subscription";
    p.status = 422;
    p.instance = "/v1/subscriptions";
    p.errors = {{"/url", "must use https"}, {"/headers/Host", "may not be set"}};
    const auto doc = parse(to_json(p));
    EXPECT_STREQ(doc["type"].GetString(), "https://relay.dev/problems/invalid-subscription");
    EXPECT_STREQ(doc["title"].GetString(), "Invalid subscription");
    EXPECT_EQ(doc["status"].GetInt(), 422);
    EXPECT_FALSE(doc.HasMember("detail"));
    EXPECT_STREQ(doc["instance"].GetString(), "/v1/subscriptions");
    ASSERT_TRUE(doc["errors"].IsArray());
    ASSERT_EQ(doc["errors"].Size(), 2u);
    EXPECT_STREQ(doc["errors"][1]["pointer"].GetString(), "/headers/Host");
    EXPECT_STREQ(doc["errors"][1]["detail"].GetString(), "may not be set");
}

TEST(problem, untrusted_text_is_escaped_into_valid_json)
{
    problem_details p;
    p.status = 400;
    p.detail = std::string("quote \" backslash \\ newline \n nul ") + '\0' + " bad utf8 \xff";
    const auto doc = parse(to_json(p));
    EXPECT_EQ(doc["status"].GetInt(), 400);
    EXPECT_NE(
        std::string(doc["detail"].GetString()).find("quote \" backslash \\ newline \n"), std::string::npos
    );
}

TEST(problem, response_has_problem_media_type_status_and_length)
{
    const auto res =
        make_problem_response(boost::beast::http::status::payload_too_large, "body exceeds 1024 bytes");
    EXPECT_EQ(res.result_int(), 413u);
    EXPECT_EQ(res[boost::beast::http::field::content_type], "application/problem+json");
    EXPECT_EQ(res[boost::beast::http::field::content_length], std::to_string(res.body().size()));
    const auto doc = parse(res.body());
    EXPECT_STREQ(doc["title"].GetString(), "Payload Too Large");
    EXPECT_STREQ(doc["detail"].GetString(), "body exceeds 1024 bytes");
}

} // namespace
} // namespace relay::http
