// The chaos battery (issue 9, scenarios 1, 3 and 4): real broker, real `relay deliver` processes, loopback
// receivers, and a checker comparing what the receivers got with what Kafka acknowledged to the producer.
// Each scenario is bounded in time and prints its figures (events, kills, restarts, lost, duplicates).
#include "relay/kafka/admin.hpp"
#include "relay/kafka/producer.hpp"
#include "relay/webhook/secret.hpp"

#include "harness.hpp"
#include "support/kafka/kafka.hpp"
#include "support/process/process.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using relay::test::process;
using relay::test::reply;
using relay::test::deliver::subscription_under_test;
using steady = std::chrono::steady_clock;

constexpr int partitions = 3; // write_worker_config's kafka.partitions

// Offsets are committed every 200 ms (instead of librdkafka's 5 s), which bounds what a kill re-delivers.
constexpr std::string_view fast_commit = R"("auto.commit.interval.ms": "200")";

class chaos : public ::testing::Test
{
protected:
    void SetUp() override
    {
        dir_ = relay::test::deliver::fresh_log_dir();
        d_ = relay::test::deliver::make_deployment();
        tag_ = "c" + std::to_string(::getpid()) + "x" + std::to_string(counter_++);
        subs_.resize(1);
        subs_[0].id = "sub_chaos";
        subs_[0].secret = relay::webhook::generate_secret().text;
        relay::test::receiver_options ro;
        ro.threads = 2;
        subs_[0].rx = std::make_unique<relay::test::receiver>(ro);
        relay::kafka::admin adm({.config = {{"bootstrap.servers", d_.bootstrap}}});
        adm.ensure_topics({{.name = d_.events_topic, .partitions = partitions}}, 30s);
    }

    std::string event_id(int i) const { return "evt_" + tag_ + "_" + std::to_string(i); }

    // Produces `count` events at about `rate` per second on a thread (keys spread over 50), counting the
    // acknowledged ones: the checker's ground truth is what Kafka acknowledged.
    void start_producer(int count, int rate)
    {
        producer_ = std::thread([this, count, rate] {
            relay::kafka::producer p(
                {.config = relay::test::producer_config(
                     d_.bootstrap, {{"enable.idempotence", "true"}, {"acks", "all"}}
                 )}
            );
            const auto start = steady::now();
            for (int i = 0; i < count && !stop_.load(); ++i) {
                std::this_thread::sleep_until(start + std::chrono::microseconds(1'000'000LL * i / rate));
                relay::kafka::record r;
                r.topic = d_.events_topic;
                r.key = "key-" + std::to_string(i % 50);
                r.value = R"({"id":")" + event_id(i) + R"(","type":"chaos.tick","data":{"i":)" +
                          std::to_string(i) + "}}";
                const auto ec =
                    p.produce(r, [this, i](boost::system::error_code ec, relay::kafka::delivery_info) {
                        if (!ec) {
                            std::lock_guard lock(mutex_);
                            acked_.insert(event_id(i));
                        }
                    });
                if (ec)
                    ADD_FAILURE() << "produce " << i << ": " << ec.message();
            }
            EXPECT_FALSE(p.flush(60s));
        });
    }

    void join_producer()
    {
        if (producer_.joinable())
            producer_.join();
    }

    void TearDown() override
    {
        stop_.store(true);
        join_producer();
    }

    // Distinct acknowledged events that arrived with 2xx, and the total 2xx requests for them. The receiver
    // answered 503 to every request before `since` and to the first request of each id in `failed_first`.
    struct tally
    {
        std::size_t acked = 0;
        std::size_t delivered = 0;
        std::size_t ok_requests = 0;
    };

    tally count(const std::set<std::string>& failed_first = {}, steady::time_point since = {}) const
    {
        std::set<std::string> acked;
        {
            std::lock_guard lock(mutex_);
            acked = acked_;
        }
        std::map<std::string, std::size_t> requests;
        for (const auto& q : subs_[0].rx->requests()) {
            if (q.received_steady >= since)
                ++requests[q.header("webhook-id")];
        }
        tally t;
        t.acked = acked.size();
        for (const auto& [id, n] : requests) {
            const auto ok = n - (failed_first.contains(id) ? 1 : 0);
            if (!acked.contains(id) || ok == 0)
                continue;
            ++t.delivered;
            t.ok_requests += ok;
        }
        return t;
    }

    // Waits until every one of `expected` events was acknowledged and arrived (or the deadline).
    template <class Count>
    tally wait_all_delivered(std::size_t expected, steady::time_point deadline, Count counter)
    {
        tally t = counter();
        while ((t.acked < expected || t.delivered < t.acked) && steady::now() < deadline) {
            subs_[0].rx->wait_for_requests(subs_[0].rx->request_count() + 1, 1s);
            t = counter();
        }
        return t;
    }

    process start_worker(const fs::path& cfg, const std::string& name)
    {
        return relay::test::deliver::start_worker(cfg, dir_ / (name + ".log"));
    }

    fs::path dir_;
    relay::test::deliver::deployment d_;
    std::string tag_;
    std::vector<subscription_under_test> subs_;
    std::thread producer_;
    std::atomic<bool> stop_{false};
    mutable std::mutex mutex_;
    std::set<std::string> acked_;
    static inline int counter_ = 0;
};

// Scenario 1: 3 workers under a steady workload, 10 SIGKILLs of random workers at random moments (some while
// deliveries sit on retry tiers: 1 in 10 events fails its first attempt), each restarted at once.
TEST_F(chaos, ten_sigkills_of_random_workers_lose_nothing)
{
    std::mutex m;
    std::set<std::string> failed_once;
    std::atomic<std::size_t> failures{0};
    subs_[0].extra_json = R"(,"event_types":["*"],"max_in_flight":64)";
    subs_[0].rx->set_responder([&](const relay::test::recorded_request& q) {
        const auto id = q.header("webhook-id");
        std::lock_guard lock(m);
        if (std::hash<std::string>{}(id) % 10 == 0 && failed_once.insert(id).second) {
            failures.fetch_add(1);
            return reply::with_status(503);
        }
        return reply::with_status(200);
    });
    constexpr int events = 6000;
    constexpr int rate = 200; // events per second: 30 s of production
    constexpr int kills = 10;
    std::vector<fs::path> cfgs;
    std::vector<process> workers;
    for (int w = 0; w < 3; ++w) {
        const auto name = "worker-" + std::to_string(w);
        cfgs.push_back(relay::test::deliver::write_worker_config(
            dir_ / (name + ".yaml"),
            d_,
            subs_,
            name,
            R"("circuit_breaker": {"consecutive_failures": 100000, "min_requests": 100000})",
            std::string(fast_commit)
        ));
        workers.push_back(start_worker(cfgs.back(), name));
    }
    for (auto& w : workers)
        ASSERT_TRUE(relay::test::deliver::wait_ready(w));

    start_producer(events, rate);
    std::mt19937 rng(static_cast<unsigned>(::getpid()));
    std::map<int, int> restarts;
    for (int k = 0; k < kills; ++k) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1500 + rng() % 1500)); // random moments
        const int victim = static_cast<int>(rng() % workers.size());
        ASSERT_TRUE(workers[victim].send_signal(SIGKILL));
        const auto st = workers[victim].wait_for_exit(10s);
        ASSERT_TRUE(st && st->killed_by(SIGKILL));
        const auto name =
            "worker-" + std::to_string(victim) + ".restart" + std::to_string(++restarts[victim]);
        workers[victim] = start_worker(cfgs[victim], name);
    }
    join_producer();
    const auto t = wait_all_delivered(events, steady::now() + 120s, [&] {
        std::lock_guard lock(m);
        return count(failed_once);
    });
    std::size_t lost = 0;
    {
        std::lock_guard lock(mutex_);
        lost = acked_.size() - t.delivered;
    }
    const auto duplicates = t.ok_requests - t.delivered;
    std::cout << "[ chaos    ] workers 3, events acked " << t.acked << ", kills " << kills << ", restarts "
              << kills << ", first-attempt 503s " << failures.load() << ", delivered " << t.delivered
              << ", lost " << lost << ", duplicates " << duplicates << "\n";
    EXPECT_EQ(t.acked, static_cast<std::size_t>(events));
    EXPECT_EQ(lost, 0u);
    // What a kill can re-deliver: the victim's uncommitted window (200 ms of commits at 200 events/s, shared
    // by 3 workers) plus its in-flight deliveries (one subscription, max_in_flight 64) and parked retries.
    EXPECT_LE(duplicates, static_cast<std::size_t>(kills) * (64 + rate)) << "duplicates beyond the bound";
    for (auto& w : workers) {
        w.send_signal(SIGTERM);
        EXPECT_TRUE(w.wait_for_exit(30s));
    }
}

// Scenario 3: the group scales 1 -> 3 -> 1 -> 3 -> 1 every few seconds during a run: nothing lost, and no
// partition's committed offset ever moves backwards.
TEST_F(chaos, rebalance_churn_loses_nothing_and_offsets_never_move_backwards)
{
    subs_[0].extra_json = R"(,"event_types":["*"],"max_in_flight":64)";
    constexpr int events = 4000;
    constexpr int rate = 200;
    std::vector<fs::path> cfgs;
    for (int w = 0; w < 3; ++w) {
        const auto name = "worker-" + std::to_string(w);
        cfgs.push_back(relay::test::deliver::write_worker_config(
            dir_ / (name + ".yaml"), d_, subs_, {}, {}, std::string(fast_commit)
        ));
    }
    auto first = start_worker(cfgs[0], "worker-0");
    ASSERT_TRUE(relay::test::deliver::wait_ready(first));

    std::atomic<bool> watching{true};
    std::atomic<int> backwards{0};
    std::atomic<int> samples{0};
    std::thread watcher([&] {
        std::vector<std::int64_t> last(partitions, -1);
        while (watching.load()) {
            for (int p = 0; p < partitions; ++p) {
                const auto off =
                    relay::test::deliver::committed_offset(d_.bootstrap, d_.group, d_.events_topic, p);
                if (off >= 0) {
                    if (off < last[p]) {
                        backwards.fetch_add(1);
                        std::cout << "[ backward ] partition " << p << ": " << last[p] << " -> " << off
                                  << "\n";
                    }
                    last[p] = std::max(last[p], off);
                }
            }
            samples.fetch_add(1);
            std::this_thread::sleep_for(200ms
            ); // sampling the broker's committed offsets: no notification exists
        }
    });

    start_producer(events, rate);
    int scale_events = 0;
    for (int round = 0; round < 2; ++round) {
        std::this_thread::sleep_for(3s);
        std::vector<process> extra;
        for (int w = 1; w < 3; ++w)
            extra.push_back(
                start_worker(cfgs[w], "worker-" + std::to_string(w) + ".round" + std::to_string(round))
            );
        ++scale_events;
        std::this_thread::sleep_for(4s);
        for (auto& w : extra)
            w.send_signal(SIGTERM);
        for (auto& w : extra)
            EXPECT_TRUE(w.wait_for_exit(40s));
        ++scale_events;
    }
    join_producer();
    const auto t = wait_all_delivered(events, steady::now() + 120s, [&] { return count(); });
    watching.store(false);
    watcher.join();
    const auto lost = t.acked - t.delivered;
    std::cout << "[ chaos    ] rebalance churn: events acked " << t.acked << ", scale changes "
              << scale_events << ", delivered " << t.delivered << ", lost " << lost << ", duplicates "
              << t.ok_requests - t.delivered << ", offset samples " << samples.load() << ", backwards "
              << backwards.load() << "\n";
    EXPECT_EQ(t.acked, static_cast<std::size_t>(events));
    EXPECT_EQ(lost, 0u);
    EXPECT_EQ(backwards.load(), 0);
    first.send_signal(SIGTERM);
    EXPECT_TRUE(first.wait_for_exit(30s));
}

// Scenario 4: the receiver is down (503) for 10 s, longer than several tiers of a 1s,2s,4s,8s,16s schedule,
// then back: everything is delivered, and the recovering endpoint never gets more than its rate_limit.
TEST_F(chaos, receiver_outage_recovers_everything_without_a_retry_storm)
{
    constexpr int rate_limit = 50;
    subs_[0].extra_json =
        R"(,"event_types":["*"],"max_in_flight":64,"rate_limit":)" + std::to_string(rate_limit);
    std::atomic<bool> down{true};
    subs_[0].rx->set_responder([&](const relay::test::recorded_request&) {
        return reply::with_status(down.load() ? 503 : 200);
    });
    const auto cfg = relay::test::deliver::write_worker_config(
        dir_ / "worker.yaml",
        d_,
        subs_,
        {},
        R"("retry_schedule": ["1s", "2s", "4s", "8s", "16s"], )"
        R"("circuit_breaker": {"consecutive_failures": 5, "open_duration": "3s"})",
        std::string(fast_commit)
    );
    auto worker = start_worker(cfg, "worker");
    ASSERT_TRUE(relay::test::deliver::wait_ready(worker));
    constexpr int events = 500;
    start_producer(events, 100);
    std::this_thread::sleep_for(10s); // the outage
    down.store(false);
    const auto back = steady::now();
    join_producer();
    const auto t = wait_all_delivered(events, steady::now() + 90s, [&] { return count({}, back); });

    // Peak rate to the recovering endpoint: the most 2xx requests in any 1 s window after it came back.
    std::vector<steady::time_point> after;
    for (const auto& q : subs_[0].rx->requests()) {
        if (q.received_steady >= back)
            after.push_back(q.received_steady);
    }
    std::sort(after.begin(), after.end());
    // The most requests in any window of `w` after it came back.
    auto peak_in = [&](std::chrono::milliseconds w) {
        std::size_t peak = 0;
        for (std::size_t i = 0, j = 0; j < after.size(); ++j) {
            while (after[j] - after[i] >= w)
                ++i;
            peak = std::max(peak, j - i + 1);
        }
        return peak;
    };
    const auto peak = peak_in(1s);
    // Sends are paced exactly; arrivals jitter by a few ms (connections, two I/O threads), which can squeeze
    // a few more into one 1 s window. Over 2 s windows that jitter is small against the count.
    const auto peak2 = peak_in(2s);
    const auto lost = t.acked - t.delivered;
    std::cout << "[ chaos    ] receiver outage 10 s: events acked " << t.acked
              << ", requests during the outage " << subs_[0].rx->request_count() - after.size()
              << ", delivered " << t.delivered << ", lost " << lost << ", peak requests after recovery "
              << peak << " in 1 s, " << peak2 << " in 2 s (rate_limit " << rate_limit << "/s)\n";
    EXPECT_EQ(lost, 0u);
    EXPECT_EQ(t.acked, static_cast<std::size_t>(events));
    // rate_limit over 2 s, with a few requests of slack for arrival jitter.
    EXPECT_LE(peak2, static_cast<std::size_t>(2 * rate_limit + 5));
    worker.send_signal(SIGTERM);
    EXPECT_TRUE(worker.wait_for_exit(30s));
}

} // namespace
