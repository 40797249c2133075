#include "relay/subscription/codec.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace {

using namespace std::chrono_literals;
using relay::subscription::parse_options;
using relay::subscription::parse_subscription;
using relay::subscription::parse_subscriptions;
using relay::subscription::problem_list;
using relay::subscription::secret_mode;
using relay::subscription::subscription;
using relay::subscription::to_json;
using relay::subscription::when_missing;

constexpr const char* secret_a = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr const char* secret_b = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

const std::string minimal = R"({"url": "https://hooks.example.com/in", "event_types": ["order.created"]})";

// Every field set, as a stored record would have them.
const std::string complete = std::string(R"({
    "id": "sub_complete-1",
    "url": "https://hooks.example.com:8443/in?x=1",
    "event_types": ["order.*", "payment.captured", "*"],
    "filter": {"data.currency": {"in": ["EUR", "USD"]}, "any": [{"data.amount": {"gte": 100}}, {"data.vip": true}]},
    "secrets": [{"secret": ")") +
                             secret_a + R"(", "expires_at": "2030-01-02T03:04:05.678Z"}, ")" + secret_b +
                             R"("],
    "signing_key": "whsk_abcdefghijklmnop",
    "headers": {"X-Tenant": "acme", "Authorization": "Bearer s3cr3t-token"},
    "timeout": "15s",
    "max_in_flight": 8,
    "rate_limit": 50,
    "ordering": "key",
    "retry_schedule": ["5s", 300000, "2h"],
    "enabled": false,
    "tenant": "acme.eu",
    "metrics_label": true,
    "created_at": "2024-05-01T12:00:00Z",
    "updated_at": "2024-05-02T12:00:00.250+02:00",
    "disabled_reason": "gone"
})";

std::vector<std::string> pointers(const problem_list& problems)
{
    std::vector<std::string> out;
    for (const auto& p : problems)
        out.push_back(p.pointer);
    return out;
}

// The problems of JSON that must not parse.
problem_list problems_of(const std::string& json, const parse_options& options = {})
{
    auto parsed = parse_subscription(json, options);
    EXPECT_FALSE(parsed) << json;
    return parsed ? problem_list{} : parsed.error();
}

const relay::subscription::problem* find(const problem_list& problems, std::string_view pointer)
{
    auto it =
        std::find_if(problems.begin(), problems.end(), [&](const auto& p) { return p.pointer == pointer; });
    return it == problems.end() ? nullptr : &*it;
}

TEST(codec, minimal_subscription_gets_defaults_generated_id_and_secret)
{
    auto parsed = parse_subscription(minimal);
    ASSERT_TRUE(parsed) << relay::subscription::to_string(parsed.error());
    const subscription& s = *parsed;
    EXPECT_EQ(s.id.rfind("sub_", 0), 0u);
    EXPECT_TRUE(relay::subscription::is_valid_id(s.id));
    EXPECT_EQ(s.url, "https://hooks.example.com/in");
    EXPECT_EQ(s.endpoint.host, "hooks.example.com");
    EXPECT_EQ(s.endpoint.port, 443);
    EXPECT_EQ(s.event_types, std::vector<std::string>{"order.created"});
    ASSERT_EQ(s.secrets.size(), 1u);
    EXPECT_EQ(s.secrets[0].secret.text.rfind("whsec_", 0), 0u);
    EXPECT_FALSE(s.secrets[0].expires_at);
    EXPECT_EQ(s.timeout, 10s);
    EXPECT_EQ(s.max_in_flight, 64u);
    EXPECT_EQ(s.rate_limit, 0u);
    EXPECT_EQ(s.ordering, relay::subscription::ordering_mode::none);
    EXPECT_FALSE(s.retry_schedule);
    EXPECT_TRUE(s.enabled);
    EXPECT_FALSE(s.metrics_label);
    EXPECT_FALSE(s.payload_filter);
}

TEST(codec, two_parses_generate_different_ids_and_secrets)
{
    auto a = parse_subscription(minimal);
    auto b = parse_subscription(minimal);
    ASSERT_TRUE(a && b);
    EXPECT_NE(a->id, b->id);
    EXPECT_NE(a->secrets[0].secret.text, b->secrets[0].secret.text);
}

TEST(codec, complete_subscription_reads_every_field)
{
    auto parsed = parse_subscription(complete);
    ASSERT_TRUE(parsed) << relay::subscription::to_string(parsed.error());
    const subscription& s = *parsed;
    EXPECT_EQ(s.id, "sub_complete-1");
    EXPECT_EQ(s.endpoint.port, 8443);
    ASSERT_EQ(s.secrets.size(), 2u);
    EXPECT_EQ(s.secrets[0].secret.text, secret_a);
    ASSERT_TRUE(s.secrets[0].expires_at);
    EXPECT_EQ(relay::subscription::format_timestamp(*s.secrets[0].expires_at), "2030-01-02T03:04:05.678Z");
    EXPECT_EQ(s.secrets[1].secret.text, secret_b);
    EXPECT_EQ(s.signing_key, "whsk_abcdefghijklmnop");
    ASSERT_EQ(s.headers.size(), 2u);
    EXPECT_EQ(s.headers[1].first, "Authorization");
    EXPECT_EQ(s.timeout, 15s);
    EXPECT_EQ(s.max_in_flight, 8u);
    EXPECT_EQ(s.rate_limit, 50u);
    EXPECT_EQ(s.ordering, relay::subscription::ordering_mode::key);
    EXPECT_EQ(s.retry_schedule, (std::vector<std::chrono::milliseconds>{5s, 5min, 2h}));
    EXPECT_FALSE(s.enabled);
    EXPECT_EQ(s.tenant, "acme.eu");
    EXPECT_TRUE(s.metrics_label);
    EXPECT_EQ(relay::subscription::format_timestamp(*s.updated_at), "2024-05-02T10:00:00.250Z");
    EXPECT_EQ(s.disabled_reason, relay::subscription::disable_reason::gone);
    ASSERT_TRUE(s.payload_filter);
}

TEST(codec, full_json_round_trips)
{
    for (const std::string& input : {minimal, complete}) {
        auto original = parse_subscription(input);
        ASSERT_TRUE(original);
        const std::string json = to_json(*original, secret_mode::full);
        parse_options stored;
        stored.id = when_missing::require;
        stored.secrets = when_missing::require;
        auto again = parse_subscription(json, stored);
        ASSERT_TRUE(again) << json << "\n" << relay::subscription::to_string(again.error());
        EXPECT_EQ(*again, *original) << json;
        EXPECT_EQ(to_json(*again, secret_mode::full), json);
    }
}

TEST(codec, masked_json_hides_secrets_signing_key_and_header_values)
{
    auto s = parse_subscription(complete);
    ASSERT_TRUE(s);
    const std::string json = to_json(*s, secret_mode::masked);
    EXPECT_EQ(json.find(std::string(secret_a).substr(6)), std::string::npos) << json;
    EXPECT_EQ(json.find(std::string(secret_b).substr(6)), std::string::npos) << json;
    EXPECT_NE(json.find(s->secrets[0].secret.masked()), std::string::npos) << json;
    EXPECT_EQ(json.find("abcdefghijklmnop"), std::string::npos) << json;
    EXPECT_EQ(json.find("s3cr3t"), std::string::npos) << json;
    EXPECT_NE(json.find("\"Authorization\""), std::string::npos) << json;
    EXPECT_NE(json.find("2030-01-02T03:04:05.678Z"), std::string::npos) << json;
}

TEST(codec, generated_secret_is_masked_in_masked_mode)
{
    auto s = parse_subscription(minimal);
    ASSERT_TRUE(s);
    const std::string& secret = s->secrets[0].secret.text;
    EXPECT_EQ(to_json(*s, secret_mode::masked).find(secret), std::string::npos);
    EXPECT_NE(to_json(*s, secret_mode::full).find(secret), std::string::npos);
}

TEST(codec, every_problem_is_listed_at_once)
{
    const auto p = problems_of(R"({
        "id": "bad id!",
        "url": "ftp://example.com/",
        "event_types": ["order.created", "order.**"],
        "timeout": "2m",
        "max_in_flight": 0,
        "ordering": "strict",
        "headers": {"Host": "evil.example"},
        "colour": "blue"
    })");
    EXPECT_EQ(
        pointers(p),
        (std::vector<std::string>{
            "/id",
            "/url",
            "/event_types/1",
            "/timeout",
            "/max_in_flight",
            "/ordering",
            "/headers/Host",
            "/colour"})
    );
    for (const auto& x : p)
        EXPECT_FALSE(x.message.empty()) << x.pointer;
}

TEST(codec, problems_read_as_pointer_colon_message)
{
    const auto p = problems_of(R"({"url": "http://example.com/", "event_types": ["a"]})");
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0].to_string(), "/url: http is not allowed (set delivery.allow_http)");
}

TEST(codec, http_is_accepted_when_allowed)
{
    parse_options options;
    options.allow_http = true;
    auto s = parse_subscription(R"({"url": "http://127.0.0.1:8080/hook", "event_types": ["*"]})", options);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->endpoint.scheme, "http");
    EXPECT_EQ(s->endpoint.port, 8080);
}

TEST(codec, url_errors_are_reported)
{
    for (const char* url : {"not a url", "https://user:pw@example.com/", "https:///x", ""}) {
        const auto p = problems_of(std::string(R"({"event_types": ["a"], "url": ")") + url + "\"}");
        ASSERT_EQ(pointers(p), std::vector<std::string>{"/url"}) << url;
    }
    EXPECT_EQ(pointers(problems_of(R"({"event_types": ["a"], "url": 5})")), std::vector<std::string>{"/url"});
}

TEST(codec, each_unknown_field_is_a_problem)
{
    const auto p =
        problems_of(R"({"url": "https://e.com/", "event_types": ["a"], "secrett": "x", "Enabled": true})");
    EXPECT_EQ(pointers(p), (std::vector<std::string>{"/secrett", "/Enabled"}));
    EXPECT_EQ(p[0].message, "unknown field");
}

TEST(codec, duplicate_fields_are_refused)
{
    const auto p = problems_of(R"({"url": "https://e.com/", "url": "https://f.com/", "event_types": ["a"]})");
    EXPECT_EQ(pointers(p), std::vector<std::string>{"/url"});
}

TEST(codec, required_fields)
{
    EXPECT_EQ(pointers(problems_of("{}")), (std::vector<std::string>{"/url", "/event_types"}));
    parse_options strict;
    strict.id = when_missing::require;
    strict.secrets = when_missing::require;
    EXPECT_EQ(pointers(problems_of(minimal, strict)), (std::vector<std::string>{"/id", "/secrets"}));
}

TEST(codec, null_is_the_same_as_absent)
{
    auto s = parse_subscription(
        R"({"url": "https://e.com/", "event_types": ["a"], "filter": null, "tenant": null, "timeout": null})"
    );
    ASSERT_TRUE(s);
    EXPECT_FALSE(s->tenant);
    EXPECT_EQ(s->timeout, 10s);
}

TEST(codec, header_rules)
{
    const auto p = problems_of(R"({"url": "https://e.com/", "event_types": ["a"], "headers": {
        "Host": "x", "content-length": "1", "Transfer-Encoding": "chunked", "Connection": "close",
        "webhook-id": "x", "Bad Name": "x", "X-Crlf": "a\r\nInjected: yes", "X-Nul": "a\u0000b", "X-Num": 5,
        "X-Ok": "fine", "x-ok": "twice"}})");
    EXPECT_EQ(
        pointers(p),
        (std::vector<std::string>{
            "/headers/Host",
            "/headers/content-length",
            "/headers/Transfer-Encoding",
            "/headers/Connection",
            "/headers/webhook-id",
            "/headers/Bad Name",
            "/headers/X-Crlf",
            "/headers/X-Nul",
            "/headers/X-Num",
            "/headers/x-ok"})
    );
}

TEST(codec, valid_custom_headers_are_kept_in_order)
{
    auto s = parse_subscription(
        R"({"url": "https://e.com/", "event_types": ["a"], "headers": {"X-B": "2", "X-A": "1"}})"
    );
    ASSERT_TRUE(s);
    using header = std::pair<std::string, std::string>;
    EXPECT_EQ(s->headers, (std::vector<header>{{"X-B", "2"}, {"X-A", "1"}}));
}

TEST(codec, durations_as_strings_or_milliseconds)
{
    auto with_timeout = [](const std::string& t) {
        return parse_subscription(R"({"url": "https://e.com/", "event_types": ["a"], "timeout": )" + t + "}");
    };
    EXPECT_EQ(with_timeout(R"("1500ms")")->timeout, 1500ms);
    EXPECT_EQ(with_timeout(R"("1m")")->timeout, 1min);
    EXPECT_EQ(with_timeout("30000")->timeout, 30s);
    for (const char* bad : {R"("999ms")", R"("61s")", "1.5", "-1000", R"("5 s")", "true", R"("10")"})
        EXPECT_FALSE(with_timeout(bad)) << bad;
}

TEST(codec, retry_schedule_override)
{
    auto empty =
        parse_subscription(R"({"url": "https://e.com/", "event_types": ["a"], "retry_schedule": []})");
    ASSERT_TRUE(empty);
    ASSERT_TRUE(empty->retry_schedule);
    EXPECT_TRUE(empty->retry_schedule->empty());
    const auto p = problems_of(
        R"({"url": "https://e.com/", "event_types": ["a"], "retry_schedule": ["5s", "1ms", "25h"]})"
    );
    EXPECT_EQ(pointers(p), (std::vector<std::string>{"/retry_schedule/1", "/retry_schedule/2"}));
}

TEST(codec, integer_ranges)
{
    const auto p = problems_of(
        R"({"url": "https://e.com/", "event_types": ["a"], "max_in_flight": 10001, "rate_limit": -1})"
    );
    EXPECT_EQ(pointers(p), (std::vector<std::string>{"/max_in_flight", "/rate_limit"}));
    auto ok = parse_subscription(
        R"({"url": "https://e.com/", "event_types": ["a"], "max_in_flight": 10000, "rate_limit": 0})"
    );
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->max_in_flight, 10000u);
}

TEST(codec, event_types_validation)
{
    EXPECT_EQ(
        pointers(problems_of(R"({"url": "https://e.com/", "event_types": []})")),
        std::vector<std::string>{"/event_types"}
    );
    const auto p = problems_of(R"({"url": "https://e.com/", "event_types": ["a.b", 3, "a.b", "x*"]})");
    EXPECT_EQ(pointers(p), (std::vector<std::string>{"/event_types/1", "/event_types/2", "/event_types/3"}));
    EXPECT_EQ(find(p, "/event_types/2")->message, "duplicate of /event_types/0");
}

TEST(codec, filter_problems_carry_the_filter_pointer)
{
    const auto p =
        problems_of(R"({"url": "https://e.com/", "event_types": ["a"], "filter": {"data.x": {"like": 1}}})");
    EXPECT_EQ(pointers(p), std::vector<std::string>{"/filter/data.x/like"});
}

TEST(codec, secrets_forms_and_rules)
{
    auto single = parse_subscription(
        std::string(R"({"url": "https://e.com/", "event_types": ["a"], "secret": ")") + secret_a + "\"}"
    );
    ASSERT_TRUE(single);
    ASSERT_EQ(single->secrets.size(), 1u);
    EXPECT_EQ(single->secrets[0].secret.text, secret_a);

    const auto both = problems_of(
        std::string(R"({"url": "https://e.com/", "event_types": ["a"], "secret": ")") + secret_a +
        R"(", "secrets": [")" + secret_b + "\"]}"
    );
    EXPECT_EQ(pointers(both), std::vector<std::string>{"/secret"});

    const auto bad = problems_of(
        std::string(R"({"url": "https://e.com/", "event_types": ["a"], "secrets": [")") + secret_a +
        R"(", ")" + secret_a + R"(", "whsec_!!!", "nope", 7,
                                 {"secret": ")" +
        secret_b + R"(", "expires_at": "tomorrow", "extra": 1}, {}]})"
    );
    EXPECT_EQ(
        pointers(bad),
        (std::vector<std::string>{
            "/secrets/1",
            "/secrets/2",
            "/secrets/3",
            "/secrets/4",
            "/secrets/5/expires_at",
            "/secrets/5/extra",
            "/secrets/6/secret"})
    );
    for (const auto& x : bad)
        EXPECT_EQ(x.message.find("MfKQ"), std::string::npos) << "a problem echoes a secret: " << x.message;
    EXPECT_EQ(
        pointers(problems_of(R"({"url": "https://e.com/", "event_types": ["a"], "secrets": []})")),
        std::vector<std::string>{"/secrets"}
    );
}

TEST(codec, server_fields_are_read_only_for_api_requests)
{
    parse_options api;
    api.accept_server_fields = false;
    const auto p = problems_of(
        R"({"url": "https://e.com/", "event_types": ["a"], "enabled": false,
        "created_at": "2024-05-01T12:00:00Z", "updated_at": "2024-05-01T12:00:00Z", "disabled_reason": "manual"})",
        api
    );
    EXPECT_EQ(pointers(p), (std::vector<std::string>{"/created_at", "/updated_at", "/disabled_reason"}));
}

TEST(codec, disabled_reason_only_when_disabled)
{
    const auto p =
        problems_of(R"({"url": "https://e.com/", "event_types": ["a"], "disabled_reason": "gone"})");
    EXPECT_EQ(pointers(p), std::vector<std::string>{"/disabled_reason"});
}

TEST(codec, other_fields_validation)
{
    const auto p = problems_of(R"({"url": "https://e.com/", "event_types": ["a"], "tenant": "a b",
        "signing_key": "whsec_x", "enabled": "yes", "metrics_label": 1, "created_at": "yesterday",
        "disabled_reason": "tired"})");
    EXPECT_EQ(
        pointers(p),
        (std::vector<std::string>{
            "/tenant", "/signing_key", "/enabled", "/metrics_label", "/created_at", "/disabled_reason"})
    );
}

TEST(codec, malformed_documents_are_one_problem)
{
    EXPECT_EQ(problems_of("[]").at(0).message, "must be a JSON object");
    EXPECT_NE(problems_of(R"({"url": )").at(0).message.find("invalid JSON"), std::string::npos);
    EXPECT_NE(problems_of("{\"url\": \"\xff\"}").at(0).message.find("invalid JSON"), std::string::npos);
    EXPECT_NE(
        problems_of(std::string(100, '[') + std::string(100, ']')).at(0).message.find("nested deeper"),
        std::string::npos
    );
    parse_options small;
    small.max_bytes = 10;
    EXPECT_EQ(problems_of(minimal, small).size(), 1u);
}

TEST(codec, deep_nesting_does_not_overflow_the_stack)
{
    parse_options options;
    options.max_bytes = 4 * 1024 * 1024;
    options.max_depth = 1'000'000;
    EXPECT_EQ(
        problems_of("{\"filter\":" + std::string(1'000'000, '[') + std::string(1'000'000, ']') + "}", options)
                .size() > 0,
        true
    );
}

TEST(codec, problem_count_is_capped)
{
    std::string json = R"({"url": "https://e.com/", "event_types": ["a"], "headers": {)";
    for (int i = 0; i < 60; ++i)
        json.append(i ? "," : "").append("\"Bad Header ").append(std::to_string(i)).append("\": \"x\"");
    json += "}}";
    parse_options options;
    options.max_problems = 5;
    const auto p = problems_of(json, options);
    ASSERT_EQ(p.size(), 6u);
    EXPECT_EQ(p.back().pointer, "");
}

TEST(codec_array, parses_every_item)
{
    auto parsed = parse_subscriptions(
        R"([{"id": "a", "url": "https://e.com/1", "event_types": ["x"]},
            {"id": "b", "url": "https://e.com/2", "event_types": ["y.*"]}])"
    );
    ASSERT_TRUE(parsed);
    ASSERT_EQ(parsed->size(), 2u);
    EXPECT_EQ((*parsed)[1].id, "b");
}

TEST(codec_array, problems_are_prefixed_with_the_index)
{
    auto parsed = parse_subscriptions(
        R"([{"id": "a", "url": "https://e.com/1", "event_types": ["x"]},
            {"id": "b", "event_types": ["y"]},
            {"id": "c", "url": "https://e.com/3", "event_types": ["**"], "bogus": 1},
            {"id": "b", "url": "https://e.com/4", "event_types": ["z"]},
            7])"
    );
    ASSERT_FALSE(parsed);
    EXPECT_EQ(
        pointers(parsed.error()),
        (std::vector<std::string>{"/1/url", "/2/event_types/0", "/2/bogus", "/3/id", "/4"})
    );
    EXPECT_EQ(find(parsed.error(), "/3/id")->to_string(), "/3/id: duplicate of /1");
}

TEST(codec_array, must_be_an_array)
{
    auto parsed = parse_subscriptions(minimal);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error().size(), 1u);
}

TEST(codec_array, value_throws_with_every_problem_at_config_boundaries)
{
    try {
        (void)parse_subscriptions(R"([{"event_types": ["a"]}, {"url": "https://e.com/"}])").value();
        FAIL() << "no exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(
            e.what(),
            "/0/url: required\n/1/event_types: required (event type patterns such as "
            "\"order.created\", \"order.*\" or \"*\")"
        );
    }
}

} // namespace
