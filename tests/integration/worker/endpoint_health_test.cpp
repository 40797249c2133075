// Endpoint health in the delivery worker: circuit breaker, stalled and backlogged endpoints, throttling, rate
// limits, auto-disable and targeted records, against the mock cluster and loopback receivers.
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

// Waits until the worker has consumed at least `n` records (input and retry).
bool wait_consumed(const worker& w, std::uint64_t n, std::chrono::seconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (w.stats().records < n) {
        if (std::chrono::steady_clock::now() >= deadline)
            return false;
        std::this_thread::sleep_for(20ms); // stats() has no notification; polled
    }
    return true;
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

// A slow but live endpoint (answers 200 after 700 ms with 2 slots: it drains under 3 deliveries a second,
// yet a slot frees well within every second, so it never counts as stalled) shares partitions with a
// healthy one. Queued, its deliveries would fill the worker's in-flight budget and the poll thread would stop
// fetching for everyone; instead, once its queue is a full round deep and a second old, its new deliveries
// are parked (endpoint_backlog) and come back spread at the pace it drains. So every healthy delivery
// arrives while the slow endpoint has taken only a small part of its events, and in the end each slow event
// arrives exactly once.
//
// The waves make the test deterministic: events fetched in one batch are all dispatched before the budget
// is checked, so healthy events fetched together with the slow ones would flow even without shedding.
TEST_F(WorkerTest, SlowEndpointBacklogIsShedSoHealthyOnesFlowAndEverySlowEventArrivesOnce)
{
    constexpr int slow_first = 40, slow_n = 150, healthy_n = 300;
    receiver slow({2}), healthy({2});
    slow.set_default_reply(reply::with_status(200).delayed(700ms));
    add_subscription("slow", slow.url("/"), R"("event_types":["t.slow"],"timeout":"10s","max_in_flight":2)");
    add_subscription("healthy", healthy.url("/"), R"("event_types":["t.ok"],"max_in_flight":16)");
    cfg_.delivery.retry_schedule = {1s, 2s};
    cfg_.delivery.max_in_flight = 64; // the slow endpoint's events alone could fill it twice over
    start_worker();

    // Wave 1, under the budget: the slow endpoint's queue builds up and its head ages past a second.
    produce(events_of("a", "t.slow", slow_first));
    ASSERT_TRUE(slow.wait_for_requests(1, 30s));
    std::this_thread::sleep_until(slow.request(0).received_steady + 1200ms);
    // Wave 2, interleaved: more slow events than the whole budget, with healthy ones.
    auto records = events_of("b", "t.slow", slow_n - slow_first);
    for (auto& r : events_of("b", "t.ok", healthy_n / 2))
        records.push_back(std::move(r));
    std::shuffle(records.begin(), records.end(), std::mt19937(7));
    produce(records);
    ASSERT_TRUE(wait_consumed(*worker_, slow_n + healthy_n / 2, 30s))
        << "records=" << worker_->stats().records << " in_flight=" << worker_->stats().in_flight;
    // Wave 3, healthy only: fetched after wave 2 was dispatched.
    produce(events_of("c", "t.ok", healthy_n / 2));

    ASSERT_TRUE(healthy.wait_for_requests(healthy_n, 60s))
        << healthy.request_count() << " slow=" << slow.request_count()
        << " in_flight=" << worker_->stats().in_flight;
    const auto slow_seen = slow.request_count();
    EXPECT_EQ(ids_of(healthy).size(), std::size_t{healthy_n});
    // Queued instead, wave 2's slow deliveries would stop fetching (waves 2 and 3) until the slow endpoint
    // had drained the worker to its low-water mark: about 100 slow deliveries first.
    EXPECT_LE(slow_seen, std::size_t{slow_n / 4});
    EXPECT_GT(metric("relay_deliveries_shed_total", {{"reason", "endpoint_backlog"}}), 0);

    // Parked without an attempt and back at the endpoint's pace: each slow event arrives exactly once.
    ASSERT_TRUE(slow.wait_for_requests(slow_n, 120s)) << slow.request_count();
    EXPECT_TRUE(wait_committed(slow_n + healthy_n));
    EXPECT_EQ(slow.request_count(), std::size_t{slow_n});
    EXPECT_EQ(ids_of(slow).size(), std::size_t{slow_n});
    EXPECT_EQ(healthy.request_count(), std::size_t{healthy_n});
    EXPECT_EQ(metric("relay_dlq_records_total", {{"reason", "exhausted"}}), 0);
}

// A burst of a slow endpoint's deliveries larger than the worker's in-flight budget, queued before its head
// is a second old: the worker stops fetching. When a slot frees, the backlogged queue is trimmed to one
// round and the rest parked, so fetching resumes; a healthy subscription's events behind the burst arrive
// long before the slow endpoint has worked through its queue (which takes about 40 s here).
TEST_F(WorkerTest, SlowEndpointBurstBeyondTheBudgetIsTrimmedSoFetchingResumes)
{
    constexpr int slow_n = 100;
    constexpr int healthy_n = 60;
    receiver slow({2}), healthy({2});
    slow.set_default_reply(reply::with_status(200).delayed(1500ms));
    add_subscription("slow", slow.url("/"), R"("event_types":["t.slow"],"timeout":"10s","max_in_flight":4)");
    add_subscription("healthy", healthy.url("/"), R"("event_types":["t.ok"],"max_in_flight":16)");
    cfg_.delivery.retry_schedule = {1s, 2s};
    cfg_.delivery.max_in_flight = 64; // the burst alone is over it
    start_worker();

    produce(events_of("slow", "t.slow", slow_n));
    // Fetched before the healthy events: those fetched in the same batch would be dispatched regardless.
    ASSERT_TRUE(wait_consumed(*worker_, slow_n, 30s)) << "records=" << worker_->stats().records;
    produce(events_of("ok", "t.ok", healthy_n));
    ASSERT_TRUE(healthy.wait_for_requests(healthy_n, 60s))
        << healthy.request_count() << " slow=" << slow.request_count();
    const auto slow_seen = slow.request_count();
    // Queued, the burst would have held fetching until 52 of its deliveries finished (down to 48 in flight).
    EXPECT_LE(slow_seen, 20u);
    EXPECT_GE(metric("relay_deliveries_shed_total", {{"reason", "endpoint_backlog"}}), slow_n / 2); // most
    EXPECT_EQ(ids_of(healthy).size(), std::size_t{healthy_n});
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
