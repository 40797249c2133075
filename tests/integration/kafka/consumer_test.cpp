#include "relay/kafka/consumer.hpp"
#include "relay/kafka/error.hpp"
#include "relay/kafka/producer.hpp"

#include "support/kafka/kafka.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <set>
#include <tuple>

namespace {

using relay::kafka::consumer;
using relay::kafka::consumer_options;
using relay::kafka::producer;
using relay::kafka::record;
using relay::kafka::topic_partition;
using relay::test::consumed;
using relay::test::recording_handler;

// Long enough that a message would have arrived if fetching went on (the mock answers in milliseconds).
constexpr std::chrono::milliseconds quiet_period{1500};

class kafka_consumer : public relay::test::mock_kafka_test
{
protected:
    consumer_options options(const std::string& group, const relay::kafka::properties& extra = {}) const
    {
        return {.client = {.config = consumer_props(group, extra)}};
    }

    producer make_producer() const { return producer({.config = producer_props()}); }
};

std::set<std::int64_t> offsets_of(const std::vector<consumed>& msgs)
{
    std::set<std::int64_t> out;
    for (const auto& m : msgs) {
        out.insert(m.offset);
    }
    return out;
}

TEST_F(kafka_consumer, round_trip_keeps_key_value_headers_and_tombstones)
{
    const auto topic = make_topic(1);
    auto p = make_producer();
    record r;
    r.topic = topic;
    r.key = "order-1";
    r.value = R"({"type":"order.created"})";
    r.headers = {{"traceparent", "00-abc-def-01"}, {"empty", ""}};
    r.timestamp_ms = 1700000000123;
    ASSERT_FALSE(p.produce(r, {}));
    record tombstone;
    tombstone.topic = topic;
    tombstone.key = "order-1";
    ASSERT_FALSE(p.produce(tombstone, {}));
    ASSERT_FALSE(p.flush(relay::test::kafka_wait));

    recording_handler h;
    consumer c(options(relay::test::unique_group()), h);
    ASSERT_FALSE(c.subscribe({topic}));
    ASSERT_TRUE(h.wait_for_messages(2));
    const auto msgs = h.messages();
    EXPECT_EQ(msgs[0].topic, topic);
    EXPECT_EQ(msgs[0].key, "order-1");
    EXPECT_EQ(msgs[0].value, R"({"type":"order.created"})");
    EXPECT_EQ(msgs[0].headers, r.headers);
    EXPECT_EQ(msgs[1].key, "order-1");
    EXPECT_FALSE(msgs[1].value.has_value()) << "a tombstone must stay null, not become an empty value";
}

TEST_F(kafka_consumer, message_accessors_read_headers_and_timestamp)
{
    const auto topic = make_topic(1);
    auto p = make_producer();
    record r;
    r.topic = topic;
    r.value = "v";
    r.headers = {{"a", "1"}, {"b", "2"}, {"a", "3"}};
    r.timestamp_ms = 1700000000123;
    ASSERT_FALSE(p.produce(r, {}));
    ASSERT_FALSE(p.flush(relay::test::kafka_wait));

    std::promise<std::tuple<std::optional<std::string>, std::optional<std::string>, std::int64_t>> seen;
    std::atomic<bool> once{false};
    recording_handler h;
    h.on_batch = [&](const std::vector<relay::kafka::message_ptr>& batch) {
        if (!once.exchange(true)) {
            const auto& m = *batch.front();
            auto last_a = relay::kafka::header(m, "a");
            auto missing = relay::kafka::header(m, "zzz");
            seen.set_value(
                {last_a ? std::optional<std::string>(*last_a) : std::nullopt,
                 missing ? std::optional<std::string>(*missing) : std::nullopt,
                 relay::kafka::timestamp_ms(m)}
            );
        }
    };
    consumer c(options(relay::test::unique_group()), h);
    ASSERT_FALSE(c.subscribe({topic}));
    auto f = seen.get_future();
    ASSERT_EQ(f.wait_for(relay::test::kafka_wait), std::future_status::ready);
    const auto [a, missing, ts] = f.get();
    EXPECT_EQ(a, "3") << "the last header of a name wins";
    EXPECT_EQ(missing, std::nullopt);
    EXPECT_EQ(ts, 1700000000123);
}

TEST_F(kafka_consumer, pause_stops_delivery_and_resume_restarts_it)
{
    const auto topic = make_topic(1);
    auto p = make_producer();
    recording_handler h;
    consumer c(options(relay::test::unique_group()), h);
    ASSERT_FALSE(c.subscribe({topic}));
    ASSERT_TRUE(h.wait_for_assignment());
    ASSERT_TRUE(relay::test::produce_records(p, topic, 1));
    ASSERT_TRUE(h.wait_for_messages(1));

    ASSERT_FALSE(c.pause({{topic, 0}}));
    ASSERT_TRUE(relay::test::produce_records(p, topic, 3));
    EXPECT_FALSE(h.wait_for_messages(2, quiet_period)) << "a paused partition delivered a message";
    EXPECT_EQ(h.message_count(), 1U);

    ASSERT_FALSE(c.resume({{topic, 0}}));
    ASSERT_TRUE(h.wait_for_messages(4));
    EXPECT_EQ(offsets_of(h.messages()), (std::set<std::int64_t>{0, 1, 2, 3}));
}

TEST_F(kafka_consumer, seek_while_paused_redelivers_from_the_offset)
{
    const auto topic = make_topic(1);
    auto p = make_producer();
    ASSERT_TRUE(relay::test::produce_records(p, topic, 3));
    recording_handler h;
    consumer c(options(relay::test::unique_group()), h);
    ASSERT_FALSE(c.subscribe({topic}));
    ASSERT_TRUE(h.wait_for_messages(3));

    ASSERT_FALSE(c.pause({{topic, 0}}));
    const auto ec = c.seek({{topic, 0, 1}});
    ASSERT_FALSE(ec) << relay::kafka::error_name(ec) << ": " << ec.message();
    ASSERT_FALSE(c.resume({{topic, 0}}));
    ASSERT_TRUE(h.wait_for_messages(5));
    const auto msgs = h.messages();
    EXPECT_EQ(msgs[3].offset, 1);
    EXPECT_EQ(msgs[4].offset, 2);
}

TEST_F(kafka_consumer, second_member_takes_partitions_after_a_cooperative_revoke)
{
    const auto topic = make_topic(4);
    const auto group = relay::test::unique_group();
    recording_handler first;
    consumer a(options(group), first);
    ASSERT_FALSE(a.subscribe({topic}));
    ASSERT_TRUE(first.wait_for([&] { return first.assigned_locked().size() == 4; }));

    recording_handler second;
    consumer b(options(group), second);
    ASSERT_FALSE(b.subscribe({topic}));
    ASSERT_TRUE(second.wait_for_assignment());
    ASSERT_TRUE(first.wait_for([&] { return first.assigned_locked().size() == 2; }));

    EXPECT_GE(first.revoke_events(), 1);
    EXPECT_EQ(first.lost_events(), 0);
    EXPECT_EQ(second.assigned().size(), 2U);
    std::set<std::int32_t> all;
    for (const auto& tp : first.assigned()) {
        all.insert(tp.partition);
    }
    for (const auto& tp : second.assigned()) {
        all.insert(tp.partition);
    }
    EXPECT_EQ(all, (std::set<std::int32_t>{0, 1, 2, 3})) << "every partition has exactly one owner";
    // Cooperative: the first member kept two partitions throughout instead of giving up all four.
    EXPECT_EQ(first.assign_events(), 1);
}

TEST_F(kafka_consumer, eager_assignors_rebalance_too)
{
    const auto topic = make_topic(4);
    const auto group = relay::test::unique_group();
    const relay::kafka::properties eager{{"partition.assignment.strategy", "range"}};
    recording_handler first;
    consumer a(options(group, eager), first);
    ASSERT_FALSE(a.subscribe({topic}));
    ASSERT_TRUE(first.wait_for([&] { return first.assigned_locked().size() == 4; }));

    recording_handler second;
    consumer b(options(group, eager), second);
    ASSERT_FALSE(b.subscribe({topic}));
    ASSERT_TRUE(second.wait_for_assignment());
    ASSERT_TRUE(first.wait_for([&] { return first.assigned_locked().size() == 2; }));
    // Eager: everything was revoked, then a new assignment came.
    EXPECT_GE(first.revoke_events(), 1);
    EXPECT_GE(first.assign_events(), 2);
    EXPECT_EQ(second.assigned().size(), 2U);
}

TEST_F(kafka_consumer, stored_offsets_are_committed_on_close_and_a_new_member_starts_after_them)
{
    const auto topic = make_topic(1);
    const auto group = relay::test::unique_group();
    auto p = make_producer();
    ASSERT_TRUE(relay::test::produce_records(p, topic, 5));
    {
        recording_handler h;
        consumer c(options(group), h);
        ASSERT_FALSE(c.subscribe({topic}));
        ASSERT_TRUE(h.wait_for_messages(5));
        // Only the first three are done.
        ASSERT_FALSE(c.store_offset(topic, 0, 3));
        c.close();
        EXPECT_EQ(h.revoke_events(), 1);
        EXPECT_EQ(h.lost_events(), 0);
    }
    recording_handler h;
    consumer c(options(group), h);
    ASSERT_FALSE(c.subscribe({topic}));
    ASSERT_TRUE(h.wait_for_messages(2));
    EXPECT_EQ(offsets_of(h.messages()), (std::set<std::int64_t>{3, 4}));
}

TEST_F(kafka_consumer, commit_sync_commits_the_stored_offset_now)
{
    const auto topic = make_topic(1);
    auto p = make_producer();
    ASSERT_TRUE(relay::test::produce_records(p, topic, 3));
    recording_handler h(true);
    consumer c(options(relay::test::unique_group(), {{"enable.auto.commit", "false"}}), h);
    h.attach(&c);
    ASSERT_FALSE(c.subscribe({topic}));
    ASSERT_TRUE(h.wait_for_messages(3));
    ASSERT_FALSE(c.commit_sync());
    std::vector<topic_partition> committed{{topic, 0}};
    ASSERT_FALSE(c.committed(committed, 10000));
    EXPECT_EQ(committed[0].offset, 3);
}

TEST_F(kafka_consumer, storing_an_offset_of_an_unassigned_partition_fails)
{
    const auto topic = make_topic(1);
    recording_handler h;
    consumer c(options(relay::test::unique_group()), h);
    EXPECT_TRUE(c.store_offset(topic, 0, 1).failed());
}

TEST_F(kafka_consumer, manual_assignment_reads_from_the_given_offset)
{
    const auto topic = make_topic(2);
    auto p = make_producer();
    ASSERT_TRUE(relay::test::produce_records(p, topic, 4, 1));
    recording_handler h;
    consumer c(options(relay::test::unique_group()), h);
    ASSERT_FALSE(c.assign({{topic, 1, 2}}));
    ASSERT_TRUE(h.wait_for_messages(2));
    EXPECT_EQ(offsets_of(h.messages()), (std::set<std::int64_t>{2, 3}));
    const auto assignment = c.assignment();
    ASSERT_EQ(assignment.size(), 1U);
    EXPECT_EQ(assignment[0].topic, topic);
    EXPECT_EQ(assignment[0].partition, 1);
}

TEST_F(kafka_consumer, close_is_prompt_and_idempotent)
{
    recording_handler h;
    consumer c(options(relay::test::unique_group()), h);
    const auto start = std::chrono::steady_clock::now();
    c.close();
    c.close();
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

} // namespace
