// Pure helpers of the subscriptions API: listing queries, merge patch, depth bound, secret rotation and the
// address check of subscriber URLs.
#include "relay/api/subscriptions.hpp"

#include <gtest/gtest.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace {

using namespace std::chrono_literals;
namespace sub = relay::subscription;
using relay::api::parse_list_query;

TEST(list_query, defaults_and_all_parameters)
{
    auto q = parse_list_query("", 50, 500);
    ASSERT_TRUE(q);
    EXPECT_EQ(q->limit, 50u);
    EXPECT_FALSE(q->after);
    EXPECT_FALSE(q->tenant);
    q = parse_list_query("limit=500&after=sub_1&tenant=acme.eu", 50, 500);
    ASSERT_TRUE(q) << q.error();
    EXPECT_EQ(q->limit, 500u);
    EXPECT_EQ(q->after, std::optional<std::string>("sub_1"));
    EXPECT_EQ(q->tenant, std::optional<std::string>("acme.eu"));
    q = parse_list_query("after=sub%5F1", 50, 500);
    ASSERT_TRUE(q);
    EXPECT_EQ(q->after, std::optional<std::string>("sub_1"));
}

TEST(list_query, refuses_what_it_does_not_understand)
{
    for (const auto* bad :
         {"limit=0",
          "limit=501",
          "limit=",
          "limit=1x",
          "limit=-1",
          "limit=1&limit=2",
          "after=a.b",
          "after=",
          "tenant=a/b",
          "x=1",
          "after=%zz"}) {
        EXPECT_FALSE(parse_list_query(bad, 50, 500)) << bad;
    }
    const auto e = parse_list_query("colour=red", 50, 500);
    ASSERT_FALSE(e);
    EXPECT_NE(e.error().find("\"colour\""), std::string::npos) << e.error();
}

std::string merged(const char* target, const char* patch)
{
    rapidjson::Document t;
    t.Parse(target);
    rapidjson::Document p;
    p.Parse(patch);
    relay::api::merge_patch(t, p, t.GetAllocator());
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    t.Accept(w);
    return buf.GetString();
}

// The examples of RFC 7396 appendix A.
TEST(merge_patch, follows_rfc_7396)
{
    EXPECT_EQ(merged(R"({"a":"b"})", R"({"a":"c"})"), R"({"a":"c"})");
    EXPECT_EQ(merged(R"({"a":"b"})", R"({"b":"c"})"), R"({"a":"b","b":"c"})");
    EXPECT_EQ(merged(R"({"a":"b"})", R"({"a":null})"), R"({})");
    EXPECT_EQ(merged(R"({"a":"b","b":"c"})", R"({"a":null})"), R"({"b":"c"})");
    EXPECT_EQ(merged(R"({"a":["b"]})", R"({"a":"c"})"), R"({"a":"c"})");
    EXPECT_EQ(merged(R"({"a":"c"})", R"({"a":["b"]})"), R"({"a":["b"]})");
    EXPECT_EQ(merged(R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})"), R"({"a":{"b":"d"}})");
    EXPECT_EQ(merged(R"({"a":[{"b":"c"}]})", R"({"a":[1]})"), R"({"a":[1]})");
    EXPECT_EQ(merged(R"(["a","b"])", R"(["c","d"])"), R"(["c","d"])");
    EXPECT_EQ(merged(R"({"a":"b"})", R"(["c"])"), R"(["c"])");
    EXPECT_EQ(merged(R"({"a":"foo"})", "null"), "null");
    EXPECT_EQ(merged(R"({"e":null})", R"({"a":1})"), R"({"e":null,"a":1})");
    EXPECT_EQ(merged(R"([1,2])", R"({"a":"b","c":null})"), R"({"a":"b"})");
    EXPECT_EQ(merged(R"({})", R"({"a":{"bb":{"ccc":null}}})"), R"({"a":{"bb":{}}})");
}

TEST(json_depth_within, counts_containers_outside_strings)
{
    EXPECT_TRUE(relay::api::json_depth_within(R"({"a":[1,{"b":2}]})", 3));
    EXPECT_FALSE(relay::api::json_depth_within(R"({"a":[1,{"b":2}]})", 2));
    EXPECT_TRUE(relay::api::json_depth_within(R"({"a":"[[[[[[\"[[["})", 1));
    EXPECT_FALSE(relay::api::json_depth_within(std::string(65, '['), 64));
    EXPECT_TRUE(relay::api::json_depth_within("", 0));
}

const sub::timestamp t0 = sub::parse_timestamp("2024-05-01T12:00:00Z").value();

sub::secret_entry entry(std::optional<sub::timestamp> expires = std::nullopt)
{
    return sub::secret_entry{relay::webhook::generate_secret(), expires};
}

TEST(rotate_secrets, puts_the_new_secret_first_and_expires_the_previous_ones)
{
    const auto old_forever = entry();
    const auto old_soon = entry(t0 + 10min);
    const auto old_expired = entry(t0 - 1s);
    const auto fresh = relay::webhook::generate_secret();
    const auto out = relay::api::rotate_secrets({old_forever, old_soon, old_expired}, fresh, t0, 1h, 10);
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0].secret.text, fresh.text);
    EXPECT_FALSE(out[0].expires_at);
    EXPECT_EQ(out[1].secret.text, old_forever.secret.text);
    EXPECT_EQ(out[1].expires_at, t0 + 1h);
    EXPECT_EQ(out[2].secret.text, old_soon.secret.text);
    EXPECT_EQ(out[2].expires_at, t0 + 10min) << "an earlier expiry is kept";
}

TEST(rotate_secrets, zero_overlap_drops_the_previous_ones_and_the_cap_drops_the_soonest)
{
    const auto fresh = relay::webhook::generate_secret();
    EXPECT_EQ(relay::api::rotate_secrets({entry(), entry()}, fresh, t0, 0s, 10).size(), 1u);
    const auto a = entry(t0 + 5min);
    const auto b = entry(t0 + 1min);
    const auto c = entry(t0 + 9min);
    const auto out = relay::api::rotate_secrets({a, b, c}, fresh, t0, 1h, 3);
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[1].secret.text, a.secret.text);
    EXPECT_EQ(out[2].secret.text, c.secret.text);
}

sub::subscription with_url(const std::string& url)
{
    sub::subscription s;
    s.url = url;
    s.endpoint = relay::net::parse_url(url).value();
    return s;
}

TEST(check_url_policy, refuses_literal_addresses_the_policy_refuses)
{
    relay::net::address_policy strict;
    for (const auto* url :
         {"http://169.254.169.254/latest",
          "https://127.0.0.1/",
          "https://2130706433/",
          "https://[::1]/",
          "https://10.1.2.3/",
          "https://[::ffff:169.254.169.254]/",
          "https://localhost/",
          "https://api.localhost/"}) {
        const auto p = relay::api::check_url_policy(with_url(url), strict);
        ASSERT_TRUE(p) << url;
        EXPECT_EQ(p->pointer, "/url");
    }
    EXPECT_FALSE(relay::api::check_url_policy(with_url("https://hooks.example.com/x"), strict));
    EXPECT_FALSE(relay::api::check_url_policy(with_url("https://93.184.216.34/x"), strict));
    relay::net::address_policy dev;
    dev.allow_loopback = true;
    EXPECT_FALSE(relay::api::check_url_policy(with_url("http://127.0.0.1:8080/"), dev));
    EXPECT_FALSE(relay::api::check_url_policy(with_url("http://localhost:8080/"), dev));
    EXPECT_TRUE(relay::api::check_url_policy(with_url("http://169.254.169.254/"), dev));
}

TEST(subscriptions_options, come_from_the_config)
{
    relay::config::config cfg;
    cfg.api.tokens = {"t"};
    cfg.topics.events = "ev";
    cfg.delivery.allow_http = true;
    cfg.delivery.allow_loopback = true;
    cfg.delivery.allowed_networks = {"10.1.0.0/16"};
    cfg.api.secret_rotation_overlap = 2h;
    cfg.api.request_timeout = 3s;
    const auto o = relay::api::subscriptions_options::from_config(cfg);
    EXPECT_EQ(o.tokens, std::vector<std::string>{"t"});
    EXPECT_EQ(o.events_topic, "ev");
    EXPECT_TRUE(o.parse.allow_http);
    EXPECT_TRUE(o.address_policy.allow_loopback);
    ASSERT_EQ(o.address_policy.allow.size(), 1u);
    EXPECT_EQ(o.secret_rotation_overlap, 2h);
    EXPECT_EQ(o.request_timeout, 3s);
    cfg.delivery.allowed_networks = {"nope"};
    EXPECT_THROW(relay::api::subscriptions_options::from_config(cfg), std::invalid_argument);
}

} // namespace
