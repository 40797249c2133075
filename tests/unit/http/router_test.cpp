#include "relay/http/router.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace relay::http {
namespace {

using boost::beast::http::verb;

// Each handler answers with its own name in the body, so a test can tell which one matched.
handler named(std::string name)
{
    return sync_handler([name](request_context&) {
        response res;
        res.body() = name;
        return res;
    });
}

std::string call(const router::match_result& m)
{
    if (m.target == nullptr) {
        return "<none>";
    }
    request req;
    request_context ctx{req, "", "", m.params};
    return std::get<sync_handler>(*m.target)(ctx).body();
}

TEST(router, exact_route_matches_its_method_and_path)
{
    router r;
    r.add(verb::get, "/metrics", named("metrics"));
    EXPECT_EQ(call(r.match(verb::get, "/metrics")), "metrics");
    EXPECT_EQ(call(r.match(verb::get, "/metrics/")), "<none>");
    EXPECT_EQ(call(r.match(verb::get, "/metric")), "<none>");
}

TEST(router, same_path_with_two_methods_dispatches_by_method)
{
    router r;
    r.add(verb::get, "/v1/events", named("list")).add(verb::post, "/v1/events", named("ingest"));
    EXPECT_EQ(call(r.match(verb::get, "/v1/events")), "list");
    EXPECT_EQ(call(r.match(verb::post, "/v1/events")), "ingest");
}

TEST(router, pattern_captures_a_segment)
{
    router r;
    r.add(verb::get, "/v1/subscriptions/{id}", named("get"));
    const auto m = r.match(verb::get, "/v1/subscriptions/sub_123");
    ASSERT_NE(m.target, nullptr);
    EXPECT_EQ(m.params["id"], "sub_123");
    EXPECT_EQ(m.params.size(), 1u);
    EXPECT_FALSE(m.params.get("other").has_value());
}

TEST(router, pattern_captures_several_segments_and_decodes_them)
{
    router r;
    r.add(verb::post, "/v1/subscriptions/{id}/secrets/{secret_id}/rotate", named("rotate"));
    const auto m = r.match(verb::post, "/v1/subscriptions/a%20b/secrets/s%2F1/rotate");
    ASSERT_NE(m.target, nullptr);
    EXPECT_EQ(m.params["id"], "a b");
    EXPECT_EQ(m.params["secret_id"], "s/1");
}

TEST(router, pattern_does_not_match_empty_extra_or_missing_segments)
{
    router r;
    r.add(verb::get, "/v1/subscriptions/{id}", named("get"));
    EXPECT_EQ(r.match(verb::get, "/v1/subscriptions/").target, nullptr);
    EXPECT_EQ(r.match(verb::get, "/v1/subscriptions").target, nullptr);
    EXPECT_EQ(r.match(verb::get, "/v1/subscriptions/a/b").target, nullptr);
    EXPECT_EQ(r.match(verb::get, "/v2/subscriptions/a").target, nullptr);
}

TEST(router, pattern_with_bad_percent_encoding_does_not_match)
{
    router r;
    r.add(verb::get, "/v1/subscriptions/{id}", named("get"));
    EXPECT_EQ(r.match(verb::get, "/v1/subscriptions/a%2").target, nullptr);
    EXPECT_EQ(r.match(verb::get, "/v1/subscriptions/a%zz").target, nullptr);
    EXPECT_EQ(r.match(verb::get, "/v1/subscriptions/a%00").target, nullptr);
}

TEST(router, exact_route_wins_over_pattern)
{
    router r;
    r.add(verb::get, "/v1/subscriptions/{id}", named("get"));
    r.add(verb::get, "/v1/subscriptions/count", named("count"));
    EXPECT_EQ(call(r.match(verb::get, "/v1/subscriptions/count")), "count");
    EXPECT_EQ(call(r.match(verb::get, "/v1/subscriptions/x")), "get");
}

TEST(router, patterns_are_tried_in_the_order_added)
{
    router r;
    r.add(verb::get, "/a/{x}/c", named("first"));
    r.add(verb::get, "/a/{y}/{z}", named("second"));
    EXPECT_EQ(call(r.match(verb::get, "/a/b/c")), "first");
    EXPECT_EQ(call(r.match(verb::get, "/a/b/d")), "second");
}

TEST(router, known_path_with_other_method_lists_allowed_methods)
{
    router r;
    r.add(verb::get, "/v1/subscriptions/{id}", named("get"));
    r.add(verb::delete_, "/v1/subscriptions/{id}", named("delete"));
    r.add(verb::get, "/healthz", named("healthz"));
    const auto m = r.match(verb::put, "/v1/subscriptions/x");
    EXPECT_EQ(m.target, nullptr);
    EXPECT_EQ(m.allowed, (std::vector<verb>{verb::get, verb::delete_}));
    EXPECT_EQ(r.match(verb::post, "/healthz").allowed, std::vector<verb>{verb::get});
    EXPECT_TRUE(r.match(verb::get, "/nowhere").allowed.empty());
}

TEST(router, longest_prefix_wins)
{
    router r;
    r.add_prefix(verb::get, "/static/", named("static"));
    r.add_prefix(verb::get, "/static/img/", named("img"));
    EXPECT_EQ(call(r.match(verb::get, "/static/img/a.png")), "img");
    EXPECT_EQ(call(r.match(verb::get, "/static/a.css")), "static");
    EXPECT_EQ(call(r.match(verb::get, "/stat")), "<none>");
}

TEST(router, fallback_handles_unmatched_paths_but_not_wrong_methods)
{
    router r;
    r.add(verb::get, "/healthz", named("healthz"));
    r.set_fallback(named("fallback"));
    EXPECT_EQ(call(r.match(verb::post, "/anything")), "fallback");
    EXPECT_EQ(call(r.match(verb::get, "/healthz")), "healthz");
    EXPECT_EQ(r.match(verb::post, "/healthz").target, nullptr);
}

TEST(router, rejects_malformed_patterns)
{
    router r;
    EXPECT_THROW(r.add(verb::get, "v1/x", named("x")), std::invalid_argument);
    EXPECT_THROW(r.add(verb::get, "/v1/{}", named("x")), std::invalid_argument);
    EXPECT_THROW(r.add(verb::get, "/v1/a{id}", named("x")), std::invalid_argument);
    EXPECT_THROW(r.add(verb::get, "/v1/{id}/{id}", named("x")), std::invalid_argument);
    EXPECT_THROW(r.add(verb::get, "/v1/{i{d}", named("x")), std::invalid_argument);
    EXPECT_THROW(r.add_prefix(verb::get, "static", named("x")), std::invalid_argument);
}

TEST(percent_decode, decodes_escapes_and_keeps_plus)
{
    EXPECT_EQ(percent_decode("a%20b+c%2f%2F"), "a b+c//");
    EXPECT_EQ(percent_decode(""), "");
}

TEST(percent_decode, rejects_truncated_bad_and_nul_escapes)
{
    EXPECT_FALSE(percent_decode("%").has_value());
    EXPECT_FALSE(percent_decode("a%4").has_value());
    EXPECT_FALSE(percent_decode("%g0").has_value());
    EXPECT_FALSE(percent_decode("%00").has_value());
}

} // namespace
} // namespace relay::http
