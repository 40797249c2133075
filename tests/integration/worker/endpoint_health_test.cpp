// Endpoint health in the delivery worker: circuit breaker, stalled endpoints, throttling, rate limits,
// auto-disable and targeted records, against the mock cluster and loopback receivers.
#include "worker_fixture.hpp"

#include <algorithm>
#include <random>
#include <set>

namespace relay::delivery {
namespace {

using namespace std::chrono_literals;
using test::receiver;
using test::reply;
using test_worker::WorkerTest;

std::vector<std::pair<std::string, std::string>>
events_of(std::string_view prefix, std::string_view type, int n)
{
    std::vector<std::pair<std::string, std::string>> out;
    for (int i = 0; i < n; ++i) {
        const auto id = std::string(prefix) + std::to_string(i);
        out.emplace_back(
            "k" + std::to_string(i), R"({"id":")" + id + R"(","type":")" + std::string(type) + "\"}"
        );
    }
    return out;
}

std::set<std::string> ids_of(const receiver& r)
{
    std::set<std::string> ids;
    for (const auto& q : r.requests())
        ids.insert(q.header("webhook-id"));
    return ids;
}

// A dead endpoint (holds every request past the subscription's timeout) shares partitions with a healthy one:
// the healthy deliveries all complete before the first dead attempt has even timed out, and the dead
// endpoint's deliveries end up parked on retry topics, not held in memory.
TEST_F(WorkerTest, DeadEndpointNeverHoldsUpHealthyOnesAndItsDeliveriesParkOnRetryTopics)
{
    receiver dead({2}), healthy({2});
    dead.set_default_reply(reply::with_status(200).delayed(30s));
    add_subscription("dead", dead.url("/"), R"("event_types":["t.dead"],"timeout":"8s","max_in_flight":16)");
    add_subscription("healthy", healthy.url("/"), R"("event_types":["t.ok"],"max_in_flight":16)");
    cfg_.delivery.retry_schedule = {1s, 2s};
    cfg_.delivery.circuit_breaker.consecutive_failures = 3;
    cfg_.delivery.circuit_breaker.open_duration = 60s; // no probe during the test
    cfg_.delivery.max_in_flight = 256;
    start_worker();

    auto mixed = [](std::string_view wave, int dead_n, int ok_n) {
        auto records = events_of(std::string(wave) + "dead", "t.dead", dead_n);
        for (auto& r : events_of(std::string(wave) + "ok", "t.ok", ok_n))
            records.push_back(std::move(r));
        std::shuffle(records.begin(), records.end(), std::mt19937(1)); // interleaved on the same partitions
        return records;
    };
    produce(mixed("a", 100, 200));
    ASSERT_TRUE(dead.wait_for_requests(1, 30s));
    const auto first_dead = dead.request(0).received_steady; // its attempts time out from about here
    // 8 s is the dead endpoint's timeout: waiting behind even one of its attempts would take longer.
    ASSERT_TRUE(healthy.wait_for_requests(200, 7s)) << healthy.request_count();

    // Wave 2 once its 16 slots have been busy for over a second with nothing finished: the endpoint is
    // stalled, and its new deliveries go straight to a retry topic instead of queueing in memory.
    std::this_thread::sleep_until(first_dead + 1500ms);
    produce(mixed("b", 50, 50));
    ASSERT_TRUE(healthy.wait_for_requests(250, 5s))
        << healthy.request_count() << " records=" << worker_->stats().records
        << " in_flight=" << worker_->stats().in_flight;
    EXPECT_LT(std::chrono::steady_clock::now() - first_dead, 8s);
    EXPECT_EQ(ids_of(healthy).size(), 250u);

    // Its attempts time out, the breaker opens, and every dead delivery sits on a retry topic: nothing in
    // memory, every input offset committed.
    EXPECT_TRUE(wait_committed(400, 40s));
    EXPECT_GE(metric("relay_deliveries_shed_total", {{"reason", "endpoint_stalled"}}), 50);
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (worker_->stats().in_flight != 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(100ms); // stats() has no notification; polled
    EXPECT_EQ(worker_->stats().in_flight, 0u);
    EXPECT_EQ(metric("relay_circuit_breakers_open"), 1);
    EXPECT_EQ(metric("relay_circuit_breaker_transitions_total", {{"state", "open"}}), 1);
    EXPECT_EQ(worker_->stats().delivered, 250u);
    // Its 16 slots, plus at most the 2 attempts that a slot freed by one of the first two timeouts could
    // start before the third opened the circuit.
    EXPECT_LE(dead.request_count(), 18u);
}

// Consecutive failures open the circuit: later deliveries are parked without an attempt (relay-attempt 1,
// last error circuit_open); after open_duration one probe goes, succeeds, closes the circuit and everything
// is delivered.
TEST_F(WorkerTest, CircuitOpensParksWithoutAttemptsThenAProbeClosesIt)
{
    receiver r;
    r.enqueue({reply::with_status(503), reply::with_status(503), reply::with_status(503)});
    add_subscription("s", r.url("/"), R"("event_types":["*"],"max_in_flight":1)");
    cfg_.delivery.retry_schedule = {300ms, 300ms, 300ms, 300ms, 300ms};
    cfg_.delivery.circuit_breaker.consecutive_failures = 3;
    cfg_.delivery.circuit_breaker.open_duration = 1500ms;
    start_worker();
    produce(events_of("e", "t", 10));

    // Each event reaches the endpoint successfully once, plus the three 503s.
    ASSERT_TRUE(r.wait_for_requests(13, 40s)) << r.request_count();
    EXPECT_EQ(ids_of(r).size(), 10u);
    ASSERT_TRUE(wait_committed(10));
    const auto reqs = r.requests();
    // Three 503s, then nothing until the circuit's open_duration passed.
    ASSERT_GE(reqs.size(), 4u);
    EXPECT_GE(reqs[3].received_steady - reqs[2].received_steady, 1400ms);
    // Each event reached the endpoint successfully once; the 503s were 3 extra requests; no request was
    // spent while the circuit was open.
    EXPECT_EQ(reqs.size(), 13u);
    EXPECT_EQ(metric("relay_circuit_breaker_transitions_total", {{"state", "open"}}), 1);
    EXPECT_EQ(metric("relay_circuit_breaker_transitions_total", {{"state", "closed"}}), 1);
    EXPECT_EQ(metric("relay_circuit_breakers_open"), 0);
    EXPECT_GT(metric("relay_deliveries_shed_total", {{"reason", "circuit_open"}}), 0);
    EXPECT_GE(metric("relay_endpoint_throttles_total"), 1);

    bool saw_unattempted = false;
    for (const auto& m : read_topic(cfg_.topics.retry_prefix + "300ms", 4)) {
        if (header(m, header::last_error) == "circuit_open" && header(m, header::attempt) == "1")
            saw_unattempted = true;
    }
    EXPECT_TRUE(saw_unattempted);
}

TEST_F(WorkerTest, RateLimitPacesDeliveries)
{
    receiver r;
    add_subscription("paced", r.url("/"), R"("event_types":["*"],"rate_limit":20)");
    start_worker();
    produce(events_of("e", "t", 21));
    ASSERT_TRUE(r.wait_for_requests(21, 30s));
    const auto reqs = r.requests();
    // 21 deliveries at 20 per second span at least 20 intervals of 50 ms.
    EXPECT_GE(reqs.back().received_steady - reqs.front().received_steady, 950ms);
}

TEST_F(WorkerTest, SubscriptionFailingForAutoDisableAfterIsDisabledAndItsRetriesDeadLettered)
{
    receiver r;
    r.set_default_reply(reply::with_status(500));
    add_subscription("failing", r.url("/"), R"("event_types":["*"])");
    cfg_.delivery.retry_schedule = std::vector<std::chrono::milliseconds>(20, 300ms);
    cfg_.delivery.circuit_breaker.consecutive_failures = 1000;
    cfg_.delivery.circuit_breaker.min_requests = 1000;
    cfg_.delivery.auto_disable_after = 1s;
    start_worker();
    produce(events_of("e", "t", 1));

    const auto dlq = read_topic(cfg_.topics.dlq, 1);
    ASSERT_EQ(dlq.size(), 1u);
    EXPECT_EQ(header(dlq[0], header::reason), "disabled");
    EXPECT_EQ(header(dlq[0], header::event_id), "e0");
    const auto calls = disabled();
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0].first, "failing");
    EXPECT_EQ(calls[0].second, subscription::disable_reason::failing);
    EXPECT_EQ(metric("relay_subscriptions_disabled_total", {{"reason", "failing"}}), 1);
    // Failing for 1 s at 300 ms per retry: a handful of attempts, far fewer than the 21 of the schedule.
    EXPECT_LE(r.request_count(), 8u);
    EXPECT_TRUE(wait_committed(1));
}

TEST_F(WorkerTest, GoneDisablesThroughTheHook)
{
    receiver r;
    r.set_default_reply(reply::with_status(410));
    add_subscription("gone", r.url("/"), R"("event_types":["*"])");
    start_worker();
    produce(events_of("e", "t", 1));
    const auto dlq = read_topic(cfg_.topics.dlq, 1);
    ASSERT_EQ(dlq.size(), 1u);
    EXPECT_EQ(header(dlq[0], header::reason), "gone");
    const auto calls = disabled();
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0].second, subscription::disable_reason::gone);
}

TEST_F(WorkerTest, TargetedRecordGoesOnlyToItsSubscriptionWhateverItsTypes)
{
    receiver a, b;
    add_subscription("a", a.url("/"), R"("event_types":["*"])");
    add_subscription("b", b.url("/"), R"("event_types":["order.created"])");
    start_worker();
    kafka::producer p(kafka::client_options{producer_props()});
    kafka::record rec;
    rec.topic = events_;
    rec.value = R"({"id":"evt_test_1","type":"relay.test","data":{}})";
    rec.headers = {{std::string(header::target_subscription), "b"}};
    ASSERT_FALSE(p.produce(rec, {}));
    produce({{"", R"({"id":"after","type":"x"})"}}, events_); // untargeted: only a ("*") wants it
    ASSERT_FALSE(p.flush(30s));

    ASSERT_TRUE(b.wait_for_requests(1, 30s));
    ASSERT_TRUE(a.wait_for_requests(1, 30s));
    EXPECT_TRUE(wait_committed(2));
    EXPECT_EQ(ids_of(b), std::set<std::string>{"evt_test_1"});
    EXPECT_EQ(ids_of(a), std::set<std::string>{"after"});
}

} // namespace
} // namespace relay::delivery
