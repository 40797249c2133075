#include "relay/subscription/store.hpp"

#include "support/subscription/subscriptions.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using relay::subscription::parse_options;
using relay::subscription::parse_static_subscriptions;
using relay::subscription::record_action;
using relay::subscription::subscription;
using relay::subscription::subscription_set;

using relay::test::ids;
using relay::test::parse_stored;
using relay::test::sub_json;
constexpr const char* secret = relay::test::subscription_secret;

TEST(subscription_set, upsert_replace_and_tombstone)
{
    subscription_set set({}, {});
    auto r = set.apply("a", sub_json("a", "https://one.example.com/"));
    EXPECT_EQ(r.action, record_action::upserted);
    EXPECT_TRUE(r.changed);
    EXPECT_EQ(r.id, "a");
    EXPECT_EQ(set.apply("b", sub_json("b")).action, record_action::upserted);
    EXPECT_EQ(set.apply("a", sub_json("a", "https://two.example.com/")).action, record_action::upserted);
    ASSERT_TRUE(set.find("a"));
    EXPECT_EQ(set.find("a")->url, "https://two.example.com/");

    r = set.apply("b", std::nullopt);
    EXPECT_EQ(r.action, record_action::deleted);
    EXPECT_TRUE(r.changed);
    EXPECT_FALSE(set.find("b"));
    EXPECT_EQ(ids(set.all()), std::vector<std::string>{"a"});

    r = set.apply("never-existed", std::nullopt);
    EXPECT_EQ(r.action, record_action::deleted);
    EXPECT_FALSE(r.changed);
}

TEST(subscription_set, invalid_records_are_reported_and_keep_the_previous_version)
{
    subscription_set set({}, {});
    ASSERT_EQ(set.apply("a", sub_json("a", "https://one.example.com/")).action, record_action::upserted);

    const auto not_json = set.apply("a", "{not json");
    EXPECT_EQ(not_json.action, record_action::invalid);
    EXPECT_FALSE(not_json.changed);
    EXPECT_EQ(not_json.id, "a");
    EXPECT_FALSE(not_json.reason.empty());

    // Valid JSON that fails validation: http without allow_http.
    EXPECT_EQ(set.apply("a", sub_json("a", "http://plain.example.com/")).action, record_action::invalid);
    // A stored record must carry its id and secrets; nothing is generated.
    EXPECT_EQ(
        set.apply("a", R"({"url":"https://x.example.com/","event_types":["*"]})").action,
        record_action::invalid
    );
    ASSERT_TRUE(set.find("a"));
    EXPECT_EQ(set.find("a")->url, "https://one.example.com/");
}

TEST(subscription_set, reasons_never_contain_the_secret)
{
    subscription_set set({}, {});
    const std::string bad = R"({"id":"a","url":"ftp://x","event_types":[],"secrets":[")" +
                            std::string(secret) + R"(", "whsec_!!"]})";
    const auto r = set.apply("a", bad);
    ASSERT_EQ(r.action, record_action::invalid);
    EXPECT_EQ(r.reason.find("MfKQ9r8GKYqr"), std::string::npos) << r.reason;
    EXPECT_EQ(r.reason.find("whsec_!!"), std::string::npos) << r.reason;
}

TEST(subscription_set, key_must_be_a_valid_id_equal_to_the_value_id)
{
    subscription_set set({}, {});
    EXPECT_EQ(set.apply(std::nullopt, sub_json("a")).action, record_action::invalid);
    const auto bad_key = set.apply("not an id!", sub_json("a"));
    EXPECT_EQ(bad_key.action, record_action::invalid);
    EXPECT_TRUE(bad_key.id.empty());
    EXPECT_EQ(bad_key.reason.find("not an id!"), std::string::npos) << "an invalid key is not echoed";
    EXPECT_EQ(set.apply("b", sub_json("a")).action, record_action::invalid);
    EXPECT_TRUE(set.all().empty());
}

TEST(subscription_set, allow_http_comes_from_the_options)
{
    parse_options options;
    options.allow_http = true;
    subscription_set set({}, options);
    EXPECT_EQ(set.apply("a", sub_json("a", "http://plain.example.com/")).action, record_action::upserted);
}

TEST(subscription_set, static_subscriptions_cannot_be_changed_or_deleted_by_the_topic)
{
    subscription_set set({parse_stored(sub_json("s", "https://static.example.com/"))}, {});
    EXPECT_TRUE(set.is_static("s"));
    EXPECT_FALSE(set.is_static("t"));

    const auto put = set.apply("s", sub_json("s", "https://topic.example.com/"));
    EXPECT_EQ(put.action, record_action::ignored_static);
    EXPECT_FALSE(put.changed);
    EXPECT_EQ(set.apply("s", std::nullopt).action, record_action::ignored_static);
    ASSERT_TRUE(set.find("s"));
    EXPECT_EQ(set.find("s")->url, "https://static.example.com/");
    EXPECT_EQ(set.stored_count(), 0u);
    EXPECT_EQ(set.static_count(), 1u);
}

TEST(subscription_set, all_merges_static_and_stored_sorted_by_id)
{
    subscription_set set({parse_stored(sub_json("b")), parse_stored(sub_json("d"))}, {});
    set.apply("c", sub_json("c"));
    set.apply("a", sub_json("a"));
    set.apply("e", sub_json("e"));
    EXPECT_EQ(ids(set.all()), (std::vector<std::string>{"a", "b", "c", "d", "e"}));
}

TEST(subscription_set, disabled_subscriptions_are_listed_but_not_routed)
{
    subscription_set set({parse_stored(sub_json("static-off", "https://s.example.com/", false))}, {});
    set.apply("on", sub_json("on"));
    set.apply("off", sub_json("off", "https://off.example.com/", false));
    EXPECT_EQ(ids(set.all()), (std::vector<std::string>{"off", "on", "static-off"}));
    ASSERT_TRUE(set.find("off"));
    EXPECT_FALSE(set.find("off")->enabled);

    const auto table = set.make_routing_table();
    EXPECT_EQ(table->size(), 1u);
    EXPECT_TRUE(table->find("on"));
    EXPECT_FALSE(table->find("off"));
    EXPECT_FALSE(table->find("static-off"));
    std::vector<const subscription*> matched;
    table->match("order.created", nullptr, matched);
    ASSERT_EQ(matched.size(), 1u);
    EXPECT_EQ(matched[0]->id, "on");
}

TEST(subscription_set, duplicate_static_ids_are_refused)
{
    EXPECT_THROW(
        subscription_set({parse_stored(sub_json("s")), parse_stored(sub_json("s"))}, {}),
        std::invalid_argument
    );
}

TEST(static_subscriptions, require_ids_and_secrets)
{
    const auto missing =
        parse_static_subscriptions(R"([{"url":"https://x.example.com/","event_types":["*"]}])");
    ASSERT_FALSE(missing);
    bool id_reported = false;
    bool secret_reported = false;
    for (const auto& p : missing.error()) {
        id_reported = id_reported || p.pointer == "/0/id";
        secret_reported = secret_reported || p.pointer.rfind("/0/secret", 0) == 0;
    }
    EXPECT_TRUE(id_reported) << relay::subscription::to_string(missing.error());
    EXPECT_TRUE(secret_reported) << relay::subscription::to_string(missing.error());

    const auto ok = parse_static_subscriptions("[" + sub_json("s1") + "," + sub_json("s2") + "]");
    ASSERT_TRUE(ok) << relay::subscription::to_string(ok.error());
    EXPECT_EQ(ok->size(), 2u);
}

TEST(static_subscriptions, keep_allow_http_from_the_options)
{
    const std::string json = "[" + sub_json("s", "http://plain.example.com/") + "]";
    EXPECT_FALSE(parse_static_subscriptions(json));
    parse_options options;
    options.allow_http = true;
    EXPECT_TRUE(parse_static_subscriptions(json, options));
}

TEST(subscriptions_topic, spec_is_one_compacted_partition)
{
    const auto spec = relay::subscription::subscriptions_topic_spec("relay.subscriptions", 3);
    EXPECT_EQ(spec.name, "relay.subscriptions");
    EXPECT_EQ(spec.partitions, 1);
    EXPECT_EQ(spec.replication_factor, 3);
    EXPECT_EQ(spec.configs, (std::map<std::string, std::string>{{"cleanup.policy", "compact"}}));
    EXPECT_EQ(relay::subscription::subscriptions_topic_spec("t").replication_factor, -1);
}

TEST(record_action, names)
{
    EXPECT_EQ(to_string(record_action::upserted), "upserted");
    EXPECT_EQ(to_string(record_action::deleted), "deleted");
    EXPECT_EQ(to_string(record_action::ignored_static), "ignored_static");
    EXPECT_EQ(to_string(record_action::invalid), "invalid");
}

} // namespace
