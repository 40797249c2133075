// Retry tiers, the DLQ and redrive as deployed: `relay deliver` and `relay dlq` processes against the real
// broker, with a compressed retry schedule (1s, 2s, 4s) and loopback receivers that fail on purpose.
#include "relay/kafka/admin.hpp"
#include "relay/kafka/producer.hpp"
#include "relay/subscription/codec.hpp"
#include "relay/subscription/store.hpp"
#include "relay/webhook/secret.hpp"

#include "harness.hpp"
#include "support/kafka/kafka.hpp"
#include "support/process/process.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using relay::test::reply;
using relay::test::deliver::deployment;
using relay::test::deliver::subscription_under_test;
using steady = std::chrono::steady_clock;

// The breaker stays out of the way where a test is about the retry schedule itself.
constexpr std::string_view no_breaker =
    R"("circuit_breaker": {"consecutive_failures": 100000, "min_requests": 100000})";

class retry_system : public ::testing::Test
{
protected:
    void SetUp() override
    {
        dir_ = relay::test::deliver::fresh_log_dir();
        d_ = relay::test::deliver::make_deployment();
        tag_ = "r" + std::to_string(::getpid()) + "x" + std::to_string(counter_++);
    }

    subscription_under_test make_sub(std::string id, std::string extra_json)
    {
        subscription_under_test s;
        s.id = std::move(id);
        s.secret = relay::webhook::generate_secret().text;
        s.extra_json = std::move(extra_json);
        relay::test::receiver_options ro;
        ro.threads = 2;
        s.rx = std::make_unique<relay::test::receiver>(ro);
        return s;
    }

    std::string event(const std::string& id, const std::string& type) const
    {
        return R"({"id":")" + id + R"(","type":")" + type + R"(","data":{"tag":")" + tag_ + "\"}}";
    }

    // Produces (key, value) records to the events topic and waits for every acknowledgement.
    void produce(const std::vector<std::pair<std::string, std::string>>& records)
    {
        relay::kafka::producer p(
            {.config = relay::test::producer_config(
                 d_.bootstrap, {{"enable.idempotence", "true"}, {"acks", "all"}}
             )}
        );
        for (const auto& [key, value] : records) {
            relay::kafka::record r;
            r.topic = d_.events_topic;
            r.key = key;
            r.value = value;
            ASSERT_FALSE(p.produce(r, {}));
        }
        ASSERT_FALSE(p.flush(60s));
    }

    relay::test::process start(const fs::path& cfg, const std::string& log_name)
    {
        auto w = relay::test::deliver::start_worker(cfg, dir_ / log_name);
        EXPECT_TRUE(relay::test::deliver::wait_ready(w));
        return w;
    }

    // Runs `relay <args...>` to completion; returns its exit code (-1 when it did not end in 120 s) and
    // leaves its stdout in `out`.
    int run_relay(const std::vector<std::string>& args, std::string& out, const std::string& name)
    {
        relay::test::process_options o;
        o.argv = {relay::test::relay_binary().string()};
        o.argv.insert(o.argv.end(), args.begin(), args.end());
        o.unset_env = {"RELAY_CONFIG"};
        o.log_file = dir_ / (name + ".stderr");
        o.stdout_file = dir_ / (name + ".stdout");
        relay::test::process p(o);
        const auto st = p.wait_for_exit(120s);
        std::ifstream in(o.stdout_file);
        out.assign(std::istreambuf_iterator<char>(in), {});
        if (!st)
            return -1; // the process object kills and reaps it when it goes

        return st->exited_with(0) ? 0 : (st->signal ? -st->signal : st->code);
    }

    std::vector<relay::test::consumed> read(const std::string& topic)
    {
        auto records = relay::test::deliver::read_topic(d_.bootstrap, topic, 60s);
        return records ? *records : std::vector<relay::test::consumed>{};
    }

    fs::path dir_;
    deployment d_;
    std::string tag_;
    static inline int counter_ = 0;
};

using relay::test::deliver::header_of;

// Events whose endpoint answers 503 three times are attempted at 0, ~1 s, ~3 s and ~7 s (1s, 2s, 4s with
// +-20% jitter), then delivered; every event arrives, every input offset is committed.
TEST_F(retry_system, failing_deliveries_come_back_on_the_compressed_schedule_until_delivered)
{
    std::vector<subscription_under_test> subs;
    subs.push_back(make_sub("sub_retry", R"(,"event_types":["*"])"));
    constexpr int events = 60;
    std::mutex m;
    std::map<std::string, int> failures_left; // event id -> 503s still to answer
    for (int i = 0; i < events; ++i)
        failures_left["evt_" + tag_ + "_" + std::to_string(i)] = i % 3 == 0 ? 3 : (i % 3 == 1 ? 1 : 0);
    subs[0].rx->set_responder([&](const relay::test::recorded_request& q) {
        std::lock_guard lock(m);
        auto& left = failures_left[q.header("webhook-id")];
        if (left > 0) {
            --left;
            return reply::with_status(503);
        }
        return reply::with_status(200);
    });

    const auto cfg = relay::test::deliver::write_worker_config(
        dir_ / "worker.yaml", d_, subs, {}, std::string(no_breaker)
    );
    auto worker = start(cfg, "worker.log");
    std::vector<std::pair<std::string, std::string>> records;
    for (int i = 0; i < events; ++i)
        records.emplace_back(
            "k" + std::to_string(i % 7), event("evt_" + tag_ + "_" + std::to_string(i), "order.created")
        );
    produce(records);

    // 60 events + 20 x 3 + 20 x 1 failures = 140 requests.
    ASSERT_TRUE(subs[0].rx->wait_for_requests(140, 90s)) << subs[0].rx->request_count() << " requests; log:\n"
                                                         << relay::test::log_tail(worker.log_file());
    std::map<std::string, std::vector<steady::time_point>> attempts;
    for (const auto& q : subs[0].rx->requests())
        attempts[q.header("webhook-id")].push_back(q.received_steady);
    ASSERT_EQ(attempts.size(), static_cast<std::size_t>(events));
    const std::chrono::milliseconds schedule[] = {1000ms, 2000ms, 4000ms};
    auto worst_late = std::chrono::milliseconds::min();
    for (int i = 0; i < events; ++i) {
        const auto& times = attempts["evt_" + tag_ + "_" + std::to_string(i)];
        const std::size_t expected = i % 3 == 0 ? 4 : (i % 3 == 1 ? 2 : 1);
        ASSERT_EQ(times.size(), expected) << "event " << i;
        for (std::size_t a = 1; a < times.size(); ++a) {
            const auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(times[a] - times[a - 1]);
            // Never early: the not-before time carries the jittered delay (at least 80% of the tier).
            EXPECT_GE(gap, schedule[a - 1] * 8 / 10) << "event " << i << " attempt " << a + 1;
            // Not much late either: 120% of the delay plus the retry consumer's fetch latency.
            EXPECT_LE(gap, schedule[a - 1] * 12 / 10 + 2000ms) << "event " << i << " attempt " << a + 1;
            worst_late = std::max(worst_late, gap - schedule[a - 1] * 12 / 10);
        }
    }
    std::cout << "[ schedule ] 140 attempts; latest attempt " << worst_late.count()
              << " ms after its window's end (negative: inside the +-20% window)\n";

    // Offsets: everything is done, so the group's committed offsets reach the end of the events topic.
    const auto deadline = steady::now() + 30s;
    std::int64_t committed = -1;
    while (steady::now() < deadline) {
        committed = 0;
        for (int p = 0; p < 3; ++p) {
            committed += std::max<std::int64_t>(
                0, relay::test::deliver::committed_offset(d_.bootstrap, d_.group, d_.events_topic, p)
            );
        }
        if (committed == events)
            break;
        std::this_thread::sleep_for(250ms); // polling the broker: there is no commit notification
    }
    EXPECT_EQ(committed, events);
    worker.send_signal(SIGTERM);
    EXPECT_TRUE(worker.wait_for_exit(30s));
}

// 400 goes to the DLQ after one attempt; 410 disables the subscription (stored in the subscriptions topic);
// Retry-After: 3 delays the next attempt by at least 3 s; exhausted deliveries are redriven by `relay dlq
// redrive` once the receiver is fixed, with the same webhook-id, and --dry-run changes nothing.
TEST_F(retry_system, dlq_reasons_gone_disable_retry_after_and_redrive)
{
    std::vector<subscription_under_test> subs;
    subs.push_back(make_sub("sub_bad", R"(,"event_types":["t.bad"])"));
    subs.push_back(make_sub("sub_after", R"(,"event_types":["t.after"])"));
    subs.push_back(make_sub("sub_down", R"(,"event_types":["t.down"])"));
    subs[0].rx->set_default_reply(reply::with_status(400));
    subs[1].rx->enqueue(reply::with_status(503).header("Retry-After", "3"));
    std::atomic<bool> fixed{false};
    subs[2].rx->set_responder([&](const relay::test::recorded_request&) {
        return reply::with_status(fixed.load() ? 200 : 500);
    });
    // sub_gone lives in the subscriptions topic (as if created through the API), so its disable is stored.
    relay::test::receiver gone_rx;
    gone_rx.set_default_reply(reply::with_status(410));
    {
        relay::kafka::admin adm({.config = {{"bootstrap.servers", d_.bootstrap}}});
        adm.ensure_topics(
            {{.name = d_.subscriptions_topic, .partitions = 1, .configs = {{"cleanup.policy", "compact"}}}},
            30s
        );
        relay::subscription::parse_options po;
        po.allow_http = true;
        auto gone = relay::subscription::parse_subscription(
            R"({"id":"sub_gone","url":")" + gone_rx.url("/gone") + R"(","event_types":["t.gone"]})", po
        );
        ASSERT_TRUE(gone);
        auto producer = relay::subscription::make_writer_producer({{"bootstrap.servers", d_.bootstrap}});
        relay::subscription::writer w(producer, d_.subscriptions_topic);
        std::promise<boost::system::error_code> done;
        w.async_put(*gone, [&](boost::system::error_code ec, relay::kafka::delivery_info) {
            done.set_value(ec);
        });
        ASSERT_FALSE(done.get_future().get());
    }

    const auto cfg = relay::test::deliver::write_worker_config(
        dir_ / "worker.yaml", d_, subs, {}, std::string(no_breaker)
    );
    auto worker = start(cfg, "worker.log");
    produce(
        {{"a", event("evt_" + tag_ + "_bad", "t.bad")},
         {"b", event("evt_" + tag_ + "_after", "t.after")},
         {"c", event("evt_" + tag_ + "_down1", "t.down")},
         {"d", event("evt_" + tag_ + "_down2", "t.down")},
         {"e", event("evt_" + tag_ + "_gone1", "t.gone")}}
    );

    // Retry-After: 3 on the first attempt: the second comes at least 3 s later (the schedule says 1 s).
    ASSERT_TRUE(subs[1].rx->wait_for_requests(2, 30s));
    const auto after = subs[1].rx->requests();
    EXPECT_GE(after[1].received_steady - after[0].received_steady, 3s);
    EXPECT_EQ(after[1].header("webhook-id"), after[0].header("webhook-id"));

    // The DLQ: bad (permanent_status, 1 attempt), gone (gone), down x2 (exhausted after 4 attempts).
    std::map<std::string, relay::test::consumed> dlq;
    const auto deadline = steady::now() + 60s;
    while (dlq.size() < 4 && steady::now() < deadline) {
        dlq.clear();
        for (auto& r : read(d_.dlq_topic))
            dlq[header_of(r, "relay-event-id").value_or("?")] = r;
        if (dlq.size() < 4)
            std::this_thread::sleep_for(500ms); // the DLQ fills as the 1s+2s+4s schedule runs out
    }
    ASSERT_EQ(dlq.size(), 4u) << relay::test::log_tail(worker.log_file());
    const auto& bad = dlq["evt_" + tag_ + "_bad"];
    EXPECT_EQ(header_of(bad, "relay-reason"), "permanent_status");
    EXPECT_EQ(header_of(bad, "relay-attempt"), "1");
    EXPECT_EQ(header_of(bad, "relay-last-status"), "400");
    EXPECT_EQ(subs[0].rx->request_count(), 1u);
    EXPECT_EQ(header_of(dlq["evt_" + tag_ + "_gone1"], "relay-reason"), "gone");
    EXPECT_EQ(header_of(dlq["evt_" + tag_ + "_down1"], "relay-reason"), "exhausted");
    EXPECT_EQ(header_of(dlq["evt_" + tag_ + "_down1"], "relay-attempt"), "4");
    EXPECT_EQ(subs[2].rx->request_count(), 8u);

    // 410 disabled sub_gone, and the disable is in the subscriptions topic for every worker and the API.
    bool stored_disabled = false;
    for (int i = 0; i < 60 && !stored_disabled; ++i) {
        for (const auto& r : read(d_.subscriptions_topic)) {
            if (r.key == "sub_gone" && r.value && r.value->find("\"enabled\":false") != std::string::npos &&
                r.value->find("\"gone\"") != std::string::npos)
                stored_disabled = true;
        }
        if (!stored_disabled)
            std::this_thread::sleep_for(500ms);
    }
    EXPECT_TRUE(stored_disabled) << relay::test::log_tail(worker.log_file());
    produce({{"e", event("evt_" + tag_ + "_gone2", "t.gone")}, {"a", event("evt_" + tag_ + "_bad2", "t.bad")}}
    );
    ASSERT_TRUE(subs[0].rx->wait_for_requests(2, 30s)); // bad2 went through the same partitions
    EXPECT_EQ(gone_rx.request_count(), 1u);

    // Redrive: --dry-run counts and sends nothing; the real one delivers both exhausted events, same ids.
    fixed.store(true);
    std::string out;
    const std::vector<std::string> filter{
        "-c", cfg.string(), "--subscription", "sub_down", "--reason", "exhausted"};
    auto args = std::vector<std::string>{"dlq", "redrive"};
    args.insert(args.end(), filter.begin(), filter.end());
    auto dry = args;
    dry.push_back("--dry-run");
    ASSERT_EQ(run_relay(dry, out, "redrive-dry"), 0) << out;
    std::cout << "[ dry-run  ] " << out;
    EXPECT_NE(out.find('2'), std::string::npos) << out;
    std::this_thread::sleep_for(3s); // a dry run must not cause deliveries: give any a chance to show
    EXPECT_EQ(subs[2].rx->request_count(), 8u);
    args.push_back("--rate");
    args.push_back("10");
    ASSERT_EQ(run_relay(args, out, "redrive"), 0) << out;
    std::cout << "[ redrive  ] " << out;
    ASSERT_TRUE(subs[2].rx->wait_for_requests(10, 30s)) << relay::test::log_tail(worker.log_file());
    std::set<std::string> redriven;
    const auto reqs = subs[2].rx->requests();
    for (std::size_t i = 8; i < reqs.size(); ++i)
        redriven.insert(reqs[i].header("webhook-id"));
    EXPECT_EQ(redriven, (std::set<std::string>{"evt_" + tag_ + "_down1", "evt_" + tag_ + "_down2"}));

    std::string listed;
    ASSERT_EQ(
        run_relay({"dlq", "list", "-c", cfg.string(), "--reason", "gone", "--json"}, listed, "list"), 0
    );
    EXPECT_NE(listed.find("sub_gone"), std::string::npos) << listed;
    EXPECT_EQ(listed.find("sub_down"), std::string::npos) << listed;
    worker.send_signal(SIGTERM);
    EXPECT_TRUE(worker.wait_for_exit(30s));
}

// SIGKILL while every delivery sits on a retry tier: the restarted worker delivers them all.
TEST_F(retry_system, sigkill_while_deliveries_sit_on_retry_tiers_loses_none)
{
    std::vector<subscription_under_test> subs;
    subs.push_back(make_sub("sub_kill", R"(,"event_types":["*"],"max_in_flight":200)"));
    std::atomic<bool> healthy{false};
    subs[0].rx->set_responder([&](const relay::test::recorded_request&) {
        return reply::with_status(healthy.load() ? 200 : 503);
    });
    // A long first tier, so that the kill surely finds the deliveries parked and not yet due.
    const auto cfg = relay::test::deliver::write_worker_config(
        dir_ / "worker.yaml", d_, subs, "worker-kill", std::string(no_breaker)
    );
    auto worker = start(cfg, "worker.log");
    constexpr int events = 300;
    std::vector<std::pair<std::string, std::string>> records;
    for (int i = 0; i < events; ++i)
        records.emplace_back(
            "k" + std::to_string(i % 11), event("evt_" + tag_ + "_" + std::to_string(i), "t")
        );
    produce(records);

    // Every first attempt failed and was parked on the 1s tier (the input offsets are committed then).
    ASSERT_TRUE(subs[0].rx->wait_for_requests(events, 60s)) << relay::test::log_tail(worker.log_file());
    ASSERT_TRUE(worker.send_signal(SIGKILL));
    const auto st = worker.wait_for_exit(10s);
    ASSERT_TRUE(st && st->killed_by(SIGKILL));
    const auto before_kill = subs[0].rx->request_count();
    healthy.store(true);

    auto restarted = start(cfg, "worker.restarted.log");
    std::set<std::string> delivered;
    const auto deadline = steady::now() + 120s;
    while (delivered.size() < static_cast<std::size_t>(events) && steady::now() < deadline) {
        subs[0].rx->wait_for_requests(subs[0].rx->request_count() + 1, 1s);
        delivered.clear();
        const auto reqs = subs[0].rx->requests();
        for (std::size_t i = before_kill; i < reqs.size(); ++i)
            delivered.insert(reqs[i].header("webhook-id"));
    }
    EXPECT_EQ(delivered.size(), static_cast<std::size_t>(events))
        << relay::test::log_tail(restarted.log_file());
    std::cout << "[ kill -9  ] " << events << " events parked, worker killed after " << before_kill
              << " requests; after restart " << delivered.size() << " delivered, lost "
              << events - static_cast<int>(delivered.size()) << ", requests after restart "
              << subs[0].rx->request_count() - before_kill << "\n";
    restarted.send_signal(SIGTERM);
    EXPECT_TRUE(restarted.wait_for_exit(30s));
}

} // namespace
