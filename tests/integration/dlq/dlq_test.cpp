// scan_dlq() and redrive_dlq() against the mock cluster: filters select exactly the expected records, a scan
// ends at the watermarks of its start, redrive produces fresh first attempts on the first retry tier (or
// nothing in a dry run), respects its rate cap and skips what it cannot redrive.
#include "relay/delivery/dlq.hpp"

#include "dlq_fixture.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace relay::test {
namespace {

using delivery::dlq_errc;
using delivery::dlq_filter;
using delivery::dlq_reason;
namespace header = delivery::header;

class dlq_scan : public dlq_kafka_test
{
protected:
    /// The event ids (or "key:<key>" for records without one) a scan with `filter` reports, sorted.
    std::vector<std::string> list(const dlq_filter& filter, delivery::scan_summary* summary = nullptr)
    {
        std::vector<std::string> ids;
        const auto r = delivery::scan_dlq(cfg_, filter, [&](const delivery::dlq_entry& e) {
            if (e.record && !e.record->state.event_id.empty())
                ids.push_back(e.record->state.event_id);
            else
                ids.push_back("key:" + e.key.value_or(""));
            return true;
        });
        EXPECT_TRUE(r) << (r ? "" : r.error().message);
        if (r && summary != nullptr)
            *summary = *r;
        std::sort(ids.begin(), ids.end());
        return ids;
    }
};

using ids = std::vector<std::string>;

TEST_F(dlq_scan, WithoutFilterReportsEveryRecordAndTheInvalidOne)
{
    seed();
    delivery::scan_summary s;
    EXPECT_EQ(list({}, &s), (ids{"evt_0", "evt_1", "evt_2", "evt_3", "evt_4", "key:foreign", "key:key-5"}));
    EXPECT_EQ(s.scanned, 7u);
    EXPECT_EQ(s.matched, 7u);
    EXPECT_EQ(s.invalid, 1u);
    EXPECT_TRUE(s.complete);
}

TEST_F(dlq_scan, EntriesCarryTheRecordAsWritten)
{
    seed();
    std::vector<delivery::dlq_entry> entries;
    ASSERT_TRUE(delivery::scan_dlq(
        cfg_,
        {.subscription_id = "sub_b", .reason = dlq_reason::permanent_status},
        [&](const auto& e) {
            entries.push_back(e);
            return true;
        }
    ));
    ASSERT_EQ(entries.size(), 1u);
    const auto& e = entries.front();
    EXPECT_EQ(e.partition, 1);
    EXPECT_EQ(e.key, "key-3");
    EXPECT_EQ(e.value, seeds()[3].value);
    EXPECT_EQ(e.value_size, seeds()[3].value.size());
    EXPECT_EQ(e.headers, (std::vector<std::pair<std::string, std::string>>{{"traceparent", "00-trace-3"}}));
    ASSERT_TRUE(e.record) << e.problem;
    EXPECT_EQ(e.record->state.event_id, "evt_3");
    EXPECT_EQ(e.record->state.attempts, 1u);
    EXPECT_EQ(e.record->state.last_status, 500u);
    EXPECT_EQ(e.record->state.origin.offset, 103);
    EXPECT_EQ(e.record->details.error, "failure 3");
    EXPECT_EQ(e.record->details.failed_at_ms, base_ms + 3000);
}

TEST_F(dlq_scan, FiltersBySubscription)
{
    seed();
    EXPECT_EQ(list({.subscription_id = "sub_a"}), (ids{"evt_0", "evt_1", "evt_4"}));
    EXPECT_EQ(list({.subscription_id = "sub_b"}), (ids{"evt_2", "evt_3"}));
    EXPECT_EQ(list({.subscription_id = "sub_c"}), ids{});
}

TEST_F(dlq_scan, FiltersByReason)
{
    seed();
    EXPECT_EQ(list({.reason = dlq_reason::exhausted}), (ids{"evt_0", "evt_2", "evt_4"}));
    EXPECT_EQ(list({.reason = dlq_reason::permanent_status}), (ids{"evt_1", "evt_3"}));
    EXPECT_EQ(list({.reason = dlq_reason::invalid_event}), (ids{"key:key-5"}));
    EXPECT_EQ(list({.reason = dlq_reason::gone}), ids{});
}

TEST_F(dlq_scan, FiltersByFailedAtSinceInclusiveUntilExclusive)
{
    seed();
    EXPECT_EQ(
        list({.since_ms = base_ms + 1000, .until_ms = base_ms + 4000}), (ids{"evt_1", "evt_2", "evt_3"})
    );
    EXPECT_EQ(list({.since_ms = base_ms + 4000}), (ids{"evt_4", "key:key-5"}));
    EXPECT_EQ(list({.until_ms = base_ms + 1000}), (ids{"evt_0"}));
}

TEST_F(dlq_scan, CombinesFilters)
{
    seed();
    EXPECT_EQ(list({.subscription_id = "sub_a", .reason = dlq_reason::exhausted}), (ids{"evt_0", "evt_4"}));
    EXPECT_EQ(
        list({.subscription_id = "sub_a", .reason = dlq_reason::exhausted, .since_ms = base_ms + 1}),
        (ids{"evt_4"})
    );
}

TEST_F(dlq_scan, StopsAtTheLimit)
{
    seed();
    delivery::scan_summary s;
    EXPECT_EQ(list({.subscription_id = "sub_a", .limit = 2}, &s).size(), 2u);
    EXPECT_EQ(s.matched, 2u);
    EXPECT_FALSE(s.complete);
}

TEST_F(dlq_scan, CallbackCanStopTheScan)
{
    seed();
    int calls = 0;
    const auto r = delivery::scan_dlq(cfg_, {}, [&](const auto&) { return ++calls < 3; });
    ASSERT_TRUE(r);
    EXPECT_EQ(calls, 3);
    EXPECT_FALSE(r->complete);
}

TEST_F(dlq_scan, EmptyTopicEndsAtOnce)
{
    delivery::scan_summary s;
    EXPECT_EQ(list({}, &s), ids{});
    EXPECT_TRUE(s.complete);
    EXPECT_EQ(s.scanned, 0u);
}

TEST_F(dlq_scan, EndsAtTheWatermarksOfItsStartWhileRecordsKeepArriving)
{
    seed();
    std::atomic<bool> stop{false};
    std::atomic<int> written{0};
    std::thread writer([&] {
        kafka::producer p({.config = producer_props()});
        while (!stop.load()) {
            delivery::delivery_state st;
            st.subscription_id = "sub_late";
            st.event_id = "evt_late";
            const auto r = delivery::make_dlq_record(
                cfg_.topics.dlq,
                {std::string_view("late"), std::string_view("{}"), {}},
                st,
                {dlq_reason::exhausted, "late", base_ms, {}}
            );
            if (!p.produce(r, {}))
                ++written;
            p.flush(std::chrono::seconds(5));
        }
    });
    // Wait until late records are really flowing before the scan starts.
    const auto deadline = std::chrono::steady_clock::now() + kafka_wait;
    while (record_count(cfg_.topics.dlq) < 10 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const auto before = record_count(cfg_.topics.dlq);

    delivery::scan_summary s;
    const auto found = list({}, &s);
    const auto after = record_count(cfg_.topics.dlq);
    stop = true;
    writer.join();

    EXPECT_TRUE(s.complete);
    EXPECT_GE(static_cast<std::int64_t>(s.scanned), before);
    EXPECT_LE(static_cast<std::int64_t>(s.scanned), after);
    EXPECT_GT(written.load(), 0);
}

TEST_F(dlq_scan, ReadsEverythingOnceInOrderWhenTheCallbackLags)
{
    // More records than the scan queues before it pauses reading, and a callback that stalls at first.
    constexpr int n = 5000;
    std::vector<kafka::record> records;
    for (int i = 0; i < n; ++i) {
        delivery::delivery_state st;
        st.subscription_id = "sub_bulk";
        st.event_id = "evt_" + std::to_string(i);
        const std::string value(256, 'x');
        auto r = delivery::make_dlq_record(
            cfg_.topics.dlq,
            {std::nullopt, std::string_view(value), {}},
            st,
            {dlq_reason::gone, "", base_ms, {}}
        );
        r.partition = i % 2;
        records.push_back(std::move(r));
    }
    produce(records);

    std::vector<std::int64_t> next(2, 0);
    int seen = 0;
    bool in_order = true;
    const auto r =
        delivery::scan_dlq(cfg_, {.subscription_id = "sub_bulk"}, [&](const delivery::dlq_entry& e) {
            if (seen++ == 0)
                std::this_thread::sleep_for(std::chrono::milliseconds(500));
            auto& expected = next[static_cast<std::size_t>(e.partition)];
            in_order = in_order && e.offset == expected;
            expected = e.offset + 1;
            return true;
        });
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->complete);
    EXPECT_EQ(r->matched, static_cast<std::uint64_t>(n));
    EXPECT_EQ(seen, n);
    EXPECT_TRUE(in_order);
    EXPECT_EQ(next, (std::vector<std::int64_t>{n / 2, n / 2}));
}

TEST_F(dlq_scan, MissingTopicIsNamed)
{
    cfg_.topics.dlq = unique_topic("missing");
    const auto r =
        delivery::scan_dlq(cfg_, {}, [](const auto&) { return true; }, {.timeout = std::chrono::seconds(10)});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, dlq_errc::topic_not_found);
    EXPECT_NE(r.error().message.find(cfg_.topics.dlq), std::string::npos) << r.error().message;
}

TEST_F(dlq_scan, UnreachableClusterFailsWithinTheTimeout)
{
    cfg_.kafka.brokers = "127.0.0.1:1";
    const auto start = std::chrono::steady_clock::now();
    const auto r = delivery::scan_dlq(
        cfg_, {}, [](const auto&) { return true; }, {.timeout = std::chrono::milliseconds(1500)}
    );
    const auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, dlq_errc::kafka_unavailable) << r.error().message;
    EXPECT_LT(elapsed, std::chrono::seconds(15));
}

TEST_F(dlq_scan, BadKafkaPropertyIsAConfigError)
{
    cfg_.kafka.consumer_properties["fetch.wait.max.ms"] = "soon";
    const auto r = delivery::scan_dlq(cfg_, {}, [](const auto&) { return true; });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, dlq_errc::invalid_config);
}

class dlq_redrive : public dlq_kafka_test
{};

TEST_F(dlq_redrive, DryRunCountsAndProducesNothing)
{
    seed();
    std::vector<std::string> decisions;
    delivery::redrive_options o;
    o.dry_run = true;
    o.on_entry = [&](const delivery::dlq_entry& e, std::string_view skip) {
        decisions.push_back(e.key.value_or("") + "=" + (skip.empty() ? "redrive" : std::string(skip)));
    };
    const auto r = delivery::redrive_dlq(cfg_, {}, o);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->dry_run);
    EXPECT_EQ(r->retry_topic, retry_topic_);
    EXPECT_EQ(r->matched, 7u);
    EXPECT_EQ(r->redriven, 5u);
    EXPECT_EQ(r->skipped, 2u);
    EXPECT_EQ(
        r->skipped_by_reason,
        (std::map<std::string, std::uint64_t>{{"invalid_record", 1}, {"no_subscription", 1}})
    );
    EXPECT_EQ(r->failed, 0u);
    EXPECT_TRUE(r->complete);
    std::sort(decisions.begin(), decisions.end());
    EXPECT_EQ(
        decisions,
        (ids{
            "foreign=invalid_record",
            "key-0=redrive",
            "key-1=redrive",
            "key-2=redrive",
            "key-3=redrive",
            "key-4=redrive",
            "key-5=no_subscription"})
    );
    EXPECT_EQ(record_count(retry_topic_), 0);
}

TEST_F(dlq_redrive, ProducesExactlyTheMatchedOnesAsFreshFirstAttempts)
{
    seed();
    const auto before_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch()
    )
                               .count();
    const auto r = delivery::redrive_dlq(cfg_, {.subscription_id = "sub_a", .reason = dlq_reason::exhausted});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_FALSE(r->dry_run);
    EXPECT_EQ(r->matched, 2u);
    EXPECT_EQ(r->redriven, 2u);
    EXPECT_EQ(r->skipped, 0u);
    EXPECT_EQ(r->failed, 0u);
    EXPECT_EQ(record_count(retry_topic_), 2);

    const auto got = read_all(retry_topic_, 2);
    ASSERT_EQ(got.size(), 2u);
    const auto all = seeds();
    for (std::size_t i = 0; i < 2; ++i) {
        const auto& m = got[i];
        const auto& s = all[i == 0 ? 0 : 4];
        SCOPED_TRACE(s.event);
        EXPECT_EQ(m.key, s.key);
        EXPECT_EQ(m.value, s.value);
        EXPECT_EQ(header_of(m, header::attempt), "1");
        EXPECT_EQ(header_of(m, header::event_id), s.event);
        EXPECT_EQ(header_of(m, header::subscription_id), "sub_a");
        EXPECT_EQ(header_of(m, "traceparent"), "00-trace-" + std::to_string(i == 0 ? 0 : 4));
        EXPECT_EQ(header_of(m, header::origin_topic), "relay.events");
        EXPECT_EQ(header_of(m, header::origin_offset), std::to_string(i == 0 ? 100 : 104));
        EXPECT_FALSE(header_of(m, header::reason));
        const auto not_before = std::stoll(header_of(m, header::not_before).value_or("0"));
        EXPECT_GE(not_before, before_ms);
        EXPECT_LE(not_before, before_ms + 60'000);
        std::vector<event::record_header> views;
        for (const auto& [n, v] : m.headers)
            views.push_back({n, v});
        const auto parsed = delivery::parse_retry_record(views);
        ASSERT_TRUE(parsed) << parsed.error();
        EXPECT_EQ(parsed->state.attempts, 0u);
    }
}

TEST_F(dlq_redrive, RateCapSpacesTheProduces)
{
    seed();
    delivery::redrive_options o;
    o.rate = 10; // 5 records: at least 0.4 s
    const auto start = std::chrono::steady_clock::now();
    const auto r = delivery::redrive_dlq(cfg_, {.reason = dlq_reason::exhausted}, o);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->redriven, 3u);
    EXPECT_GE(elapsed, std::chrono::milliseconds(200)); // (3 - 1) / 10 s

    const auto start_all = std::chrono::steady_clock::now();
    const auto all = delivery::redrive_dlq(cfg_, {}, o);
    const auto elapsed_all = std::chrono::steady_clock::now() - start_all;
    ASSERT_TRUE(all) << all.error().message;
    EXPECT_EQ(all->redriven, 5u);
    EXPECT_GE(elapsed_all, std::chrono::milliseconds(400)); // (5 - 1) / 10 s: skipped records cost nothing
    EXPECT_EQ(record_count(retry_topic_), 8);
}

TEST_F(dlq_redrive, InvalidEventsAreSkipped)
{
    seed();
    const auto r = delivery::redrive_dlq(cfg_, {.reason = dlq_reason::invalid_event});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->matched, 1u);
    EXPECT_EQ(r->redriven, 0u);
    EXPECT_EQ(r->skipped, 1u);
    EXPECT_EQ(r->skipped_by_reason, (std::map<std::string, std::uint64_t>{{"no_subscription", 1}}));
    EXPECT_EQ(record_count(retry_topic_), 0);
}

TEST_F(dlq_redrive, EmptyScheduleIsAClearError)
{
    seed();
    cfg_.delivery.retry_schedule.clear();
    const auto r = delivery::redrive_dlq(cfg_, {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, dlq_errc::no_retry_tiers);
    EXPECT_NE(r.error().message.find("delivery.retry_schedule"), std::string::npos) << r.error().message;
}

TEST_F(dlq_redrive, MissingRetryTopicIsRefusedBeforeProducing)
{
    seed();
    cfg_.topics.retry_prefix = unique_topic("absent") + ".";
    const auto r = delivery::redrive_dlq(cfg_, {}, {.timeout = std::chrono::seconds(10)});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, dlq_errc::topic_not_found);
    EXPECT_NE(r.error().message.find(cfg_.topics.retry_prefix + "5s"), std::string::npos)
        << r.error().message;
}

} // namespace
} // namespace relay::test
