#include "relay/subscription/codec.hpp"
#include "relay/subscription/routing_table.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

namespace {

using relay::subscription::atomic_routing_table;
using relay::subscription::routing_table;
using relay::subscription::subscription;

// A valid subscription with the given id, patterns and optional filter JSON.
subscription
make(const std::string& id, const std::vector<std::string>& types, const std::string& filter = "")
{
    std::string json = R"({"id": ")" + id + R"(", "url": "https://e.com/)" + id + R"(", "event_types": [)";
    for (std::size_t i = 0; i < types.size(); ++i)
        json += (i ? ",\"" : "\"") + types[i] + "\"";
    json += "]";
    if (!filter.empty())
        json += R"(, "filter": )" + filter;
    json += R"(, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})";
    auto parsed = relay::subscription::parse_subscription(json);
    if (!parsed)
        throw std::runtime_error(relay::subscription::to_string(parsed.error()));
    return std::move(*parsed);
}

// The sorted ids of the subscriptions matching `type` (and `event`).
std::vector<std::string>
ids(const routing_table& table, std::string_view type, const rapidjson::Value* event = nullptr)
{
    std::vector<const subscription*> found;
    table.match(type, event, found);
    std::vector<std::string> out;
    for (const subscription* s : found)
        out.push_back(s->id);
    std::sort(out.begin(), out.end());
    return out;
}

using id_list = std::vector<std::string>;

TEST(routing_table, exact_types)
{
    const routing_table table(std::vector<subscription>{
        make("a", {"order.created"}), make("b", {"order.paid"})});
    EXPECT_EQ(ids(table, "order.created"), id_list{"a"});
    EXPECT_EQ(ids(table, "order.paid"), id_list{"b"});
    EXPECT_EQ(ids(table, "order"), id_list{});
    EXPECT_EQ(ids(table, "order.created.v2"), id_list{});
}

TEST(routing_table, prefix_wildcards)
{
    const routing_table table(std::vector<subscription>{
        make("order", {"order.*"}), make("line", {"order.line.*"})});
    EXPECT_EQ(ids(table, "order.created"), id_list{"order"});
    EXPECT_EQ(ids(table, "order.line.added"), (id_list{"line", "order"}));
    EXPECT_EQ(ids(table, "order"), id_list{});
    EXPECT_EQ(ids(table, "orders.x"), id_list{});
    EXPECT_EQ(ids(table, "order."), id_list{});
    EXPECT_EQ(ids(table, "order.line"), id_list{"order"});
    EXPECT_EQ(ids(table, "x.order.created"), id_list{});
}

TEST(routing_table, star_matches_every_type)
{
    const routing_table table(std::vector<subscription>{make("all", {"*"}), make("a", {"a"})});
    EXPECT_EQ(ids(table, "a"), (id_list{"a", "all"}));
    EXPECT_EQ(ids(table, "anything.at.all"), id_list{"all"});
}

TEST(routing_table, overlapping_patterns_of_one_subscription_match_once)
{
    const routing_table table(std::vector<subscription>{
        make("s", {"order.created", "order.*", "order.line.*", "*"}),
        make("t", {"order.line.added", "order.*"}),
    });
    EXPECT_EQ(ids(table, "order.created"), (id_list{"s", "t"}));
    EXPECT_EQ(ids(table, "order.line.added"), (id_list{"s", "t"}));
    EXPECT_EQ(ids(table, "payment.created"), id_list{"s"});
}

TEST(routing_table, disabled_subscriptions_are_left_out)
{
    subscription off = make("off", {"a"});
    off.enabled = false;
    const routing_table table(std::vector<subscription>{off, make("on", {"a"})});
    EXPECT_EQ(ids(table, "a"), id_list{"on"});
    EXPECT_EQ(table.size(), 1u);
    EXPECT_EQ(table.find("off"), nullptr);
    ASSERT_NE(table.find("on"), nullptr);
    EXPECT_EQ((*table.find("on"))->id, "on");
}

TEST(routing_table, last_subscription_with_an_id_wins)
{
    const routing_table table(std::vector<subscription>{make("s", {"a"}), make("s", {"b"})});
    EXPECT_EQ(ids(table, "a"), id_list{});
    EXPECT_EQ(ids(table, "b"), id_list{"s"});
}

TEST(routing_table, filters_select_by_payload)
{
    const routing_table table(std::vector<subscription>{
        make("eur", {"order.*"}, R"({"data.currency": "EUR"})"),
        make("usd", {"order.*"}, R"({"data.currency": "USD"})"),
        make("any", {"order.*"}),
    });
    rapidjson::Document event;
    event.Parse(R"({"type": "order.created", "data": {"currency": "EUR"}})");
    EXPECT_EQ(ids(table, "order.created", &event), (id_list{"any", "eur"}));
    // Without a payload, filtered subscriptions do not match.
    EXPECT_EQ(ids(table, "order.created", nullptr), id_list{"any"});
}

TEST(routing_table, empty_table_matches_nothing)
{
    const routing_table table;
    EXPECT_EQ(ids(table, "a"), id_list{});
    EXPECT_EQ(table.size(), 0u);
}

TEST(routing_table, matches_keep_their_subscription_alive_after_the_table_goes)
{
    routing_table::subscription_ptr kept;
    {
        const routing_table table(std::vector<subscription>{make("s", {"a"})});
        table.for_each_match("a", nullptr, [&](const routing_table::subscription_ptr& s) { kept = s; });
    }
    ASSERT_TRUE(kept);
    EXPECT_EQ(kept->id, "s");
}

TEST(routing_table, ten_thousand_subscriptions_many_matches)
{
    std::vector<routing_table::subscription_ptr> subs;
    const subscription base = make("base", {"x"});
    const auto filter = relay::subscription::filter::parse(R"({"data.currency": {"in": ["EUR", "GBP"]}})");
    ASSERT_TRUE(filter);
    constexpr int count = 10'000;
    std::mt19937 rng(42);
    // 2000 event types: 100 domains of 20 events each.
    auto random_type = [&rng] {
        return std::string("domain")
            .append(std::to_string(rng() % 100))
            .append(".event")
            .append(std::to_string(rng() % 20));
    };
    for (int i = 0; i < count; ++i) {
        auto s = std::make_shared<subscription>(base);
        s->id = std::string("s").append(std::to_string(i));
        // Mostly exact types, some prefixes over the domains, a few catch-alls.
        if (i % 10 < 8)
            s->event_types = {random_type()};
        else if (i % 1000 != 9)
            s->event_types = {std::string("domain").append(std::to_string(rng() % 100)).append(".*")};
        else
            s->event_types = {"*"};
        if (i % 7 == 0)
            s->payload_filter = *filter;
        subs.push_back(std::move(s));
    }
    const routing_table table(std::move(subs));
    ASSERT_EQ(table.size(), static_cast<std::size_t>(count));

    std::vector<std::string> types;
    for (int i = 0; i < 4096; ++i)
        types.push_back(random_type());
    rapidjson::Document event;
    event.Parse(R"({"type": "t", "id": "e1", "data": {"currency": "EUR", "amount": 10}})");

    // 1M in optimized builds; fewer where -O0 or sanitizers would make the unit suite slow.
#if defined(NDEBUG) && !defined(RELAY_SANITIZED)
    constexpr int matches = 1'000'000;
#else
    constexpr int matches = 100'000;
#endif
    std::vector<const subscription*> out;
    std::size_t total = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < matches; ++i) {
        out.clear();
        table.match(types[static_cast<std::size_t>(i) & 4095], &event, out);
        total += out.size();
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    std::printf(
        "[ figure   ] %d matches over %d subscriptions: %lld ms, %.1f subscriptions matched per event\n",
        matches,
        count,
        static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()),
        static_cast<double>(total) / matches
    );
    // About 4 exact, 20 prefix and 10 catch-all subscribers per event type.
    EXPECT_GT(total, static_cast<std::size_t>(matches) * 10);
}

TEST(atomic_routing_table, starts_empty_and_publishes_new_tables)
{
    atomic_routing_table current;
    EXPECT_EQ(current.load()->size(), 0u);
    current.store(std::make_shared<const routing_table>(std::vector<subscription>{make("s", {"a"})}));
    EXPECT_EQ(current.load()->size(), 1u);
    current.store(nullptr);
    ASSERT_NE(current.load(), nullptr);
    EXPECT_EQ(current.load()->size(), 0u);
}

TEST(atomic_routing_table, readers_see_whole_tables_while_a_writer_swaps)
{
    const auto one = std::make_shared<const routing_table>(std::vector<subscription>{make("a", {"t"})});
    const auto two =
        std::make_shared<const routing_table>(std::vector<subscription>{make("a", {"t"}), make("b", {"t"})});
    atomic_routing_table current;
    current.store(one);
    std::atomic<bool> stop{false};
    std::atomic<int> bad{0};
    std::thread reader([&] {
        std::vector<const subscription*> out;
        while (!stop.load()) {
            const auto table = current.load();
            out.clear();
            table->match("t", nullptr, out);
            if (out.size() != table->size())
                bad.fetch_add(1);
        }
    });
    for (int i = 0; i < 20'000; ++i)
        current.store(i % 2 ? one : two);
    stop = true;
    reader.join();
    EXPECT_EQ(bad.load(), 0);
}

} // namespace
