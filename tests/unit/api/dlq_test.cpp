// The DLQ endpoints' request parsing without I/O: query parameters and redrive bodies, each refusal naming
// the parameter, and the redrive answer's JSON.
#include "relay/api/dlq.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <string>

namespace {

using relay::api::parse_dlq_query;
using relay::api::parse_redrive_request;
using relay::delivery::dlq_reason;

const auto now = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'000'000));
constexpr std::int64_t now_ms = 1'700'000'000'000;

TEST(dlq_query, EmptyQueryGetsTheDefaultLimitOnly)
{
    const auto f = parse_dlq_query("", now, 100, 1000);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->limit, 100u);
    EXPECT_FALSE(f->subscription_id);
    EXPECT_FALSE(f->reason);
    EXPECT_FALSE(f->since_ms);
    EXPECT_FALSE(f->until_ms);
}

TEST(dlq_query, ReadsEveryParameter)
{
    const auto f = parse_dlq_query(
        "subscription=sub_a&reason=exhausted&since=2h&until=2023-11-14T22%3A13%3A20Z&limit=7", now, 100, 1000
    );
    ASSERT_TRUE(f) << f.error().detail;
    EXPECT_EQ(f->subscription_id, "sub_a");
    EXPECT_EQ(f->reason, dlq_reason::exhausted);
    EXPECT_EQ(f->since_ms, now_ms - 2 * 3600 * 1000);
    EXPECT_EQ(f->until_ms, now_ms);
    EXPECT_EQ(f->limit, 7u);
}

TEST(dlq_query, RefusalsNameTheParameter)
{
    const std::pair<const char*, const char*> cases[] = {
        {"reason=nope", "reason"},
        {"since=tomorrow", "since"},
        {"until=", "until"},
        {"limit=0", "limit"},
        {"limit=1001", "limit"},
        {"limit=-1", "limit"},
        {"subscription=", "subscription"},
        {"subscription=a/b", "subscription"},
        {"limit=1&limit=2", "limit"},
        {"since=1m&until=2m", "since"},
        {"since=1m&until=1m", "since"},
        {"bogus=1", "bogus"},
        {"since=%00", "since"},
    };
    for (const auto& [query, param] : cases) {
        const auto f = parse_dlq_query(query, now, 100, 1000);
        ASSERT_FALSE(f) << query;
        EXPECT_EQ(f.error().parameter, param) << query;
        EXPECT_NE(f.error().detail.find(std::string("\"") + param + "\""), std::string::npos)
            << query << ": " << f.error().detail;
    }
}

TEST(dlq_query, LongUnknownNamesAreCutInMessages)
{
    const auto f = parse_dlq_query(std::string(500, 'x') + "=1", now, 100, 1000);
    ASSERT_FALSE(f);
    EXPECT_LT(f.error().detail.size(), 200u);
}

relay::api::dlq_options options()
{
    relay::api::dlq_options o;
    o.tokens = {"t"};
    return o;
}

TEST(dlq_redrive_body, EmptyObjectSelectsEverythingUpToTheDefaultLimit)
{
    const auto r = parse_redrive_request("{}", now, options());
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_EQ(r->filter.limit, 1000u);
    EXPECT_FALSE(r->dry_run);
    EXPECT_EQ(r->rate, 0);
}

TEST(dlq_redrive_body, ReadsEveryMember)
{
    const auto r = parse_redrive_request(
        R"({"subscription":"sub_b","reason":"permanent_status","since":"1d","until":"2023-11-14T22:13:20Z",)"
        R"("limit":5.0,"dry_run":true,"rate":2.5})",
        now,
        options()
    );
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_EQ(r->filter.subscription_id, "sub_b");
    EXPECT_EQ(r->filter.reason, dlq_reason::permanent_status);
    EXPECT_EQ(r->filter.since_ms, now_ms - 24 * 3600 * 1000);
    EXPECT_EQ(r->filter.until_ms, now_ms);
    EXPECT_EQ(r->filter.limit, 5u);
    EXPECT_TRUE(r->dry_run);
    EXPECT_EQ(r->rate, 2.5);
}

TEST(dlq_redrive_body, RefusalsNameTheMember)
{
    const std::pair<const char*, const char*> cases[] = {
        {R"({"reason":"nope"})", "reason"},
        {R"({"reason":null})", "reason"},
        {R"({"subscription":""})", "subscription"},
        {R"({"since":5})", "since"},
        {R"({"until":"later"})", "until"},
        {R"({"since":"1m","until":"2m"})", "since"},
        {R"({"limit":0})", "limit"},
        {R"({"limit":1001})", "limit"},
        {R"({"limit":2.5})", "limit"},
        {R"({"limit":"5"})", "limit"},
        {R"({"dry_run":1})", "dry_run"},
        {R"({"rate":-0.5})", "rate"},
        {R"({"rate":"fast"})", "rate"},
        {R"({"rate":0.01,"limit":1000})", "rate"},
        {R"({"extra":1})", "extra"},
        {R"({"dry_run":true,"dry_run":false})", "dry_run"},
    };
    for (const auto& [body, member] : cases) {
        const auto r = parse_redrive_request(body, now, options());
        ASSERT_FALSE(r) << body;
        EXPECT_EQ(r.error().parameter, member) << body;
        EXPECT_NE(r.error().detail.find(std::string("\"") + member + "\""), std::string::npos)
            << body << ": " << r.error().detail;
    }
}

TEST(dlq_redrive_body, PacingWithinTheBudgetIsAccepted)
{
    // 1000 records at 4/s take 250 s, within the 300 s default.
    EXPECT_TRUE(parse_redrive_request(R"({"rate":4})", now, options()));
    EXPECT_FALSE(parse_redrive_request(R"({"rate":3})", now, options()));
}

TEST(dlq_redrive_body, MalformedBodiesAreWholeBodyErrors)
{
    for (const char* body : {"", "nope", "[]", "\"x\"", "{\"a\":", "{\"a\":1}x"}) {
        const auto r = parse_redrive_request(body, now, options());
        ASSERT_FALSE(r) << body;
        EXPECT_EQ(r.error().parameter, "") << body;
    }
    auto deep = options();
    deep.max_json_depth = 3;
    const auto r = parse_redrive_request(R"({"reason":[[[[1]]]]})", now, deep);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().parameter, "");
    EXPECT_NE(r.error().detail.find("nested"), std::string::npos);
}

TEST(dlq_redrive_body, ResultJsonCarriesTheCounts)
{
    relay::delivery::redrive_result r;
    r.dry_run = false;
    r.retry_topic = "relay.retry.5s";
    r.matched = 4;
    r.redriven = 2;
    r.skipped = 1;
    r.skipped_by_reason = {{"no_subscription", 1}};
    r.failed = 1;
    r.first_failure = "Broker: \"timed out\"";
    r.complete = true;
    rapidjson::Document d;
    const auto text = relay::api::to_json(r);
    d.Parse(text.c_str());
    ASSERT_FALSE(d.HasParseError()) << text;
    EXPECT_FALSE(d["dry_run"].GetBool());
    EXPECT_STREQ(d["retry_topic"].GetString(), "relay.retry.5s");
    EXPECT_EQ(d["matched"].GetInt(), 4);
    EXPECT_EQ(d["redriven"].GetInt(), 2);
    EXPECT_EQ(d["skipped"].GetInt(), 1);
    EXPECT_EQ(d["skipped_by_reason"]["no_subscription"].GetInt(), 1);
    EXPECT_EQ(d["failed"].GetInt(), 1);
    EXPECT_STREQ(d["first_failure"].GetString(), "Broker: \"timed out\"");
    EXPECT_TRUE(d["complete"].GetBool());
    EXPECT_FALSE(d.HasMember("error"));
}

} // namespace
