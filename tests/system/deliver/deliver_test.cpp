// System tests of `relay deliver`: real worker processes against the real Kafka broker, delivering to
// loopback receivers (issue 3, "Done when").
#include "relay/kafka/admin.hpp"
#include "relay/kafka/producer.hpp"
#include "relay/webhook/secret.hpp"

#include "harness.hpp"
#include "support/http/receiver.hpp"
#include "support/kafka/kafka.hpp"
#include "support/process/process.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using relay::test::process;
using relay::test::deliver::analysis;
using relay::test::deliver::deployment;
using relay::test::deliver::event_record;
using relay::test::deliver::subscription_under_test;
using relay::test::deliver::workload;
using steady = std::chrono::steady_clock;

constexpr std::size_t event_count = 20'000;
constexpr std::size_t key_count = 300;
constexpr auto delivery_deadline = 180s;

double seconds_since(steady::time_point t)
{
    return std::chrono::duration<double>(steady::now() - t).count();
}

class deliver_system : public ::testing::Test
{
protected:
    void SetUp() override
    {
        dir_ = relay::test::deliver::fresh_log_dir();
        d_ = relay::test::deliver::make_deployment();
        tag_ = "p" + std::to_string(::getpid()) + "x" + std::to_string(counter_++);
    }

    void TearDown() override
    {
        if (HasFailure()) {
            std::cout << "[ logs     ] worker logs and inputs kept in " << dir_.string() << "\n";
        } else { // the signature files are ~10 MB; the logs are small and stay
            std::error_code ec;
            fs::remove(dir_ / "signatures.ndjson", ec);
            fs::remove(dir_ / "signatures.out", ec);
        }
    }

    void create_events_topic(int partitions, std::map<std::string, std::string> configs = {})
    {
        relay::kafka::admin adm({.config = {{"bootstrap.servers", d_.bootstrap}}});
        adm.ensure_topics(
            {{.name = d_.events_topic, .partitions = partitions, .configs = std::move(configs)}}, 30s
        );
    }

    /// Three subscriptions with different type filters, one with key ordering, one with a payload filter.
    static std::vector<subscription_under_test> fan_out_subscriptions()
    {
        std::vector<subscription_under_test> subs(3);
        subs[0].id = "sub_a";
        subs[0].extra_json = R"(,"event_types":["order.*"],"ordering":"key","max_in_flight":64)";
        subs[0].expects = [](const event_record& e) { return e.type.rfind("order.", 0) == 0; };
        subs[0].key_ordering = true;
        subs[1].id = "sub_b";
        subs[1].extra_json = R"(,"event_types":["payment.captured","order.created"],"max_in_flight":64)";
        subs[1].expects = [](const event_record& e) {
            return e.type == "payment.captured" || e.type == "order.created";
        };
        subs[2].id = "sub_c";
        subs[2].extra_json =
            R"(,"event_types":["*"],"max_in_flight":64,)"
            R"("filter":{"data.amount":{"gte":500},"any":[{"data.region":"eu"},{"data.region":"us"}]})";
        subs[2].expects = [](const event_record& e) {
            return e.amount >= 500 && (e.region == "eu" || e.region == "us");
        };
        for (auto& s : subs) {
            s.secret = relay::webhook::generate_secret().text;
            relay::test::receiver_options ro;
            ro.threads = 2;
            s.rx = std::make_unique<relay::test::receiver>(ro);
        }
        return subs;
    }

    /// The fan-out scenario: 2 workers, 3 subscriptions, 20,000 events; optionally one worker is SIGKILLed
    /// part-way and restarted.
    void run_fan_out(bool kill_one);

    fs::path dir_;
    deployment d_;
    std::string tag_;
    static inline int counter_ = 0;
};

void deliver_system::run_fan_out(bool kill_one)
{
    // RELAY_TEST_SEED replays a run (the workload and the kill point; not the timing).
    const char* seed_env = std::getenv("RELAY_TEST_SEED"); // NOLINT(concurrency-mt-unsafe): read-only
    const auto seed = seed_env != nullptr ? static_cast<std::uint32_t>(std::strtoul(seed_env, nullptr, 10))
                                          : std::random_device{}();
    std::cout << "[ workload ] " << event_count << " events, " << key_count << " keys, seed " << seed << "\n";
    RecordProperty("seed", std::to_string(seed));
    const auto w = workload::make(event_count, key_count, seed, tag_);
    auto subs = fan_out_subscriptions();
    std::vector<std::vector<bool>> expected(subs.size(), std::vector<bool>(w.events.size()));
    for (std::size_t s = 0; s < subs.size(); ++s) {
        for (std::size_t e = 0; e < w.events.size(); ++e) {
            expected[s][e] = subs[s].expects(w.events[e]);
        }
    }
    relay::test::deliver::delivery_tracker tracker(w, expected);
    for (std::size_t s = 0; s < subs.size(); ++s) {
        subs[s].rx->set_responder([&tracker, s](const relay::test::recorded_request& r) {
            tracker.record(s, r.body);
            return relay::test::reply{};
        });
    }
    std::cout << "[ expected ] " << tracker.expected_total() << " deliveries (";
    for (std::size_t s = 0; s < subs.size(); ++s) {
        std::cout << (s ? ", " : "") << subs[s].id << ": "
                  << std::count(expected[s].begin(), expected[s].end(), true);
    }
    std::cout << ")\n";

    create_events_topic(6);
    // Static membership when a worker is killed: its restart takes its partitions back without a rebalance.
    std::vector<fs::path> configs;
    std::vector<process> workers;
    for (int i = 0; i < 2; ++i) {
        const auto name = "worker-" + std::to_string(i);
        configs.push_back(relay::test::deliver::write_worker_config(
            dir_ / (name + ".yaml"), d_, subs, kill_one ? name : std::string()
        ));
        workers.push_back(relay::test::deliver::start_worker(configs.back(), dir_ / (name + ".log")));
    }
    for (auto& wk : workers) {
        ASSERT_TRUE(relay::test::deliver::wait_ready(wk));
    }
    // Both workers share the partitions before the load starts (the second one's join takes a rebalance).
    const auto group =
        relay::test::deliver::wait_for_balanced_group(d_.bootstrap, d_.group, d_.events_topic, 2, 6, 60s);
    ASSERT_TRUE(group.has_value());
    for (const auto& m : group->members) {
        std::cout << "[ member   ] " << (m.instance_id.empty() ? m.member_id : m.instance_id) << ": "
                  << m.partitions << " partitions, " << m.of_topic.size() << " of the events topic\n";
    }

    const auto start = steady::now();
    ASSERT_TRUE(relay::test::deliver::produce_workload(d_.bootstrap, d_.events_topic, w, 60s));
    std::cout << "[ produced ] in " << seconds_since(start) << " s\n";
    const auto deadline = start + delivery_deadline;
    auto last_print = steady::now();
    bool worker_died = false;
    auto tick = [&] {
        for (auto& wk : workers) {
            if (!wk.running()) {
                ADD_FAILURE() << "worker " << wk.pid() << " ended with " << wk.status()->describe()
                              << "; log tail:\n"
                              << relay::test::log_tail(wk.log_file());
                worker_died = true;
                return false;
            }
        }
        if (steady::now() - last_print >= 10s) {
            last_print = steady::now();
            std::cout << "[ progress ] " << tracker.distinct() << " of " << tracker.expected_total()
                      << " after " << seconds_since(start) << " s\n";
        }
        return true;
    };

    if (kill_one) {
        std::mt19937 rng(seed);
        const double fraction = std::uniform_real_distribution<double>(0.2, 0.6)(rng);
        const auto threshold =
            static_cast<std::size_t>(fraction * static_cast<double>(tracker.expected_total()));
        ASSERT_TRUE(tracker.wait_for_distinct(threshold, deadline, tick))
            << "only " << tracker.distinct() << " of " << threshold << " deliveries before the kill";
        // The victim is the worker holding most partitions of the events topic now.
        const auto now = relay::test::deliver::describe_group(d_.bootstrap, d_.group, d_.events_topic);
        ASSERT_TRUE(now.has_value());
        std::size_t victim = 0;
        std::size_t most = 0;
        for (const auto& m : now->members) {
            for (std::size_t i = 0; i < workers.size(); ++i) {
                if (m.instance_id == "worker-" + std::to_string(i) && m.of_topic.size() > most) {
                    victim = i;
                    most = m.of_topic.size();
                }
            }
        }
        ASSERT_GT(most, 0U) << "no worker holds a partition of the events topic";
        ASSERT_TRUE(workers[victim].send_signal(SIGKILL));
        const auto st = workers[victim].wait_for_exit(10s);
        ASSERT_TRUE(st.has_value());
        EXPECT_TRUE(st->killed_by(SIGKILL)) << st->describe();
        std::cout << "[ kill -9  ] worker-" << victim << " (pid " << workers[victim].pid() << ", " << most
                  << " events partitions) at " << tracker.distinct() << " of " << tracker.expected_total()
                  << " (" << static_cast<int>(fraction * 100) << "% target), " << seconds_since(start)
                  << " s\n";
        RecordProperty("killed_at_distinct", std::to_string(tracker.distinct()));
        const auto name = "worker-" + std::to_string(victim);
        workers[victim] =
            relay::test::deliver::start_worker(configs[victim], dir_ / (name + ".restarted.log"));
        ASSERT_TRUE(relay::test::deliver::wait_ready(workers[victim]));
        std::cout << "[ restart  ] " << name << " (pid " << workers[victim].pid() << ") ready at "
                  << seconds_since(start) << " s\n";
    }

    const bool complete = tracker.wait_for_distinct(tracker.expected_total(), deadline, tick);
    const double elapsed = seconds_since(start);
    std::cout << "[ arrived  ] " << tracker.distinct() << " of " << tracker.expected_total() << " pairs, "
              << tracker.requests() << " requests, in " << elapsed << " s ("
              << static_cast<double>(tracker.distinct()) / elapsed << " deliveries/s)\n";
    RecordProperty("seconds_to_all_delivered", std::to_string(elapsed));
    EXPECT_TRUE(complete) << "not every expected delivery arrived within " << delivery_deadline.count()
                          << " s";
    ASSERT_FALSE(worker_died);

    // Graceful shutdown: drain, commit, exit 0. Then nothing can arrive any more.
    for (auto& wk : workers) {
        EXPECT_TRUE(wk.send_signal(SIGTERM));
    }
    for (auto& wk : workers) {
        const auto st = wk.wait_for_exit(60s);
        EXPECT_TRUE(st && st->exited_with(0))
            << "worker " << wk.pid()
            << " after SIGTERM: " << (st ? st->describe() : std::string("still running")) << "; log tail:\n"
            << relay::test::log_tail(wk.log_file());
    }

    std::vector<std::vector<relay::test::recorded_request>> requests;
    for (const auto& s : subs) {
        requests.push_back(s.rx->requests());
    }
    // Signatures first: the official library rejects timestamps older than 5 minutes.
    const auto v = relay::test::deliver::verify_signatures(dir_, subs, requests);
    std::cout << "[ verified ] " << v.ok << " of " << v.lines << " signatures with the official library\n";
    EXPECT_EQ(v.ok, v.lines);
    EXPECT_TRUE(v.status && v.status->exited_with(0));
    for (const auto& f : v.failures) {
        ADD_FAILURE() << "signature: " << f;
    }

    const analysis a = relay::test::deliver::analyze(w, subs, requests);
    std::cout << "[ results  ] requests " << a.requests << ", distinct " << a.distinct << ", duplicates "
              << a.duplicates;
    for (const auto& [id, n] : a.duplicates_by_subscription) {
        std::cout << " (" << id << ": " << n << ")";
    }
    std::cout << ", missing " << a.missing << ", unexpected " << a.unexpected << ", order violations "
              << a.order_violations << "\n";
    RecordProperty("requests", std::to_string(a.requests));
    RecordProperty("duplicates", std::to_string(a.duplicates));
    EXPECT_EQ(a.missing, 0U);
    EXPECT_EQ(a.unexpected, 0U);
    EXPECT_EQ(a.unknown_body, 0U);
    EXPECT_EQ(a.wrong_webhook_id, 0U);
    EXPECT_EQ(a.bad_headers, 0U);
    EXPECT_EQ(a.order_violations, 0U);
    EXPECT_EQ(a.distinct, tracker.expected_total());
    for (const auto& ex : a.examples) {
        ADD_FAILURE() << ex;
    }

    // Every delivery succeeded at once: nothing may have been dead-lettered.
    const auto dlq = relay::test::deliver::read_topic(d_.bootstrap, d_.dlq_topic, 30s);
    ASSERT_TRUE(dlq.has_value());
    EXPECT_EQ(dlq->size(), 0U) << "records on the DLQ although every delivery got 200";
}

TEST_F(deliver_system, two_workers_fan_out_to_three_subscriptions_with_verified_signatures)
{
    run_fan_out(false);
}

TEST_F(deliver_system, a_worker_killed_with_sigkill_and_restarted_loses_nothing)
{
    run_fan_out(true);
}

TEST_F(deliver_system, poison_records_go_to_the_dlq_and_never_block_the_partition)
{
    create_events_topic(1, {{"max.message.bytes", "16777216"}});
    std::vector<subscription_under_test> subs(1);
    subs[0].id = "sub_all";
    subs[0].secret = relay::webhook::generate_secret().text;
    subs[0].extra_json = R"(,"event_types":["*"])";
    subs[0].rx = std::make_unique<relay::test::receiver>();

    // Offsets 0..8 on the single partition, in this order.
    auto valid = [&](int i) {
        return R"({"id":"evt_)" + tag_ + "_" + std::to_string(i) +
               R"(","type":"order.created","timestamp":"2024-05-01T12:00:00Z","data":{"n":)" +
               std::to_string(i) + "}}";
    };
    const std::string not_json = "this is not JSON {";
    const std::string big = R"({"id":"evt_)" + tag_ + R"(_big","type":"order.created","data":")" +
                            std::string(10 * 1024 * 1024, 'x') + "\"}";
    constexpr std::size_t depth = 100'000;
    const std::string deep = R"({"id":"evt_)" + tag_ + R"(_deep","type":"order.created","data":)" +
                             std::string(depth, '[') + std::string(depth, ']') + "}";
    struct poison
    {
        std::int64_t offset;
        const std::string* value;
        std::vector<std::string> error_mentions; ///< relay-error contains one of these (case-insensitive)
        bool omitted;
    };
    const std::vector<std::string> values{
        valid(0), not_json, big, deep, valid(4), valid(5), valid(6), valid(7), valid(8)};
    const std::vector<poison> poisons{
        {1, &values[1], {"json"}, false},
        {2, &values[2], {"bytes", "large", "limit", "size"}, true},
        {3, &values[3], {"deep", "depth", "nest"}, false},
    };
    const std::vector<std::size_t> valid_offsets{0, 4, 5, 6, 7, 8};

    {
        relay::kafka::producer p(
            {.config = relay::test::producer_config(
                 d_.bootstrap,
                 {{"enable.idempotence", "true"},
                  {"acks", "all"},
                  {"message.max.bytes", "16777216"},
                  {"batch.size", "16777216"}}
             )}
        );
        std::mutex m;
        std::condition_variable cv;
        std::size_t done = 0;
        std::vector<std::string> errors;
        for (std::size_t i = 0; i < values.size(); ++i) {
            relay::kafka::record rec;
            rec.topic = d_.events_topic;
            rec.partition = 0;
            rec.key = "key-" + std::to_string(i);
            rec.value = values[i];
            const auto ec =
                p.produce(rec, [&, i](boost::system::error_code ec, relay::kafka::delivery_info info) {
                    std::lock_guard lock(m);
                    if (ec || info.offset != static_cast<std::int64_t>(i)) {
                        errors.push_back(
                            "record " + std::to_string(i) + ": " + (ec ? ec.message() : "") + " offset " +
                            std::to_string(info.offset)
                        );
                    }
                    ++done;
                    cv.notify_all();
                });
            ASSERT_FALSE(ec) << "enqueue record " << i << ": " << ec.message();
        }
        std::unique_lock lock(m);
        ASSERT_TRUE(cv.wait_for(lock, 60s, [&] { return done == values.size(); }));
        ASSERT_TRUE(errors.empty()) << errors.front();
    }

    const auto cfg = relay::test::deliver::write_worker_config(dir_ / "worker.yaml", d_, subs);
    auto worker = relay::test::deliver::start_worker(cfg, dir_ / "worker.log");
    ASSERT_TRUE(relay::test::deliver::wait_ready(worker));
    const auto start = steady::now();

    // The valid events before and after the poison ones all arrive.
    auto valid_arrived = [&] {
        std::set<std::string> bodies;
        for (const auto& r : subs[0].rx->requests()) {
            bodies.insert(r.body);
        }
        return std::all_of(valid_offsets.begin(), valid_offsets.end(), [&](std::size_t o) {
            return bodies.contains(values[o]);
        });
    };
    bool arrived = false;
    while (!(arrived = valid_arrived()) && steady::now() - start < 60s && worker.running()) {
        subs[0].rx->wait_for_requests(subs[0].rx->request_count() + 1, 1s);
    }
    ASSERT_TRUE(worker.running()) << "the worker ended: " << worker.status()->describe() << "\n"
                                  << relay::test::log_tail(worker.log_file());
    ASSERT_TRUE(arrived) << "valid events missing after 60 s; log tail:\n"
                         << relay::test::log_tail(worker.log_file());
    std::cout << "[ arrived  ] the 6 valid events in " << seconds_since(start) << " s\n";
    for (const auto& r : subs[0].rx->requests()) {
        EXPECT_NE(r.body.find("\"type\":\"order.created\""), std::string::npos);
        EXPECT_LT(r.body.size(), 1000U) << "a poison record was delivered";
    }

    // The three poison records reach the DLQ (acknowledged by Kafka), while the worker keeps running.
    std::optional<std::size_t> dlq_size;
    while ((dlq_size = relay::test::deliver::topic_size(d_.bootstrap, d_.dlq_topic)).value_or(0) <
               poisons.size() &&
           steady::now() - start < 60s && worker.running()) {
        std::this_thread::sleep_for(100ms);
    }
    ASSERT_GE(dlq_size.value_or(0), poisons.size()) << "DLQ records after 60 s; log tail:\n"
                                                    << relay::test::log_tail(worker.log_file());
    ASSERT_TRUE(worker.running()) << "the worker ended: " << worker.status()->describe() << "\n"
                                  << relay::test::log_tail(worker.log_file());

    // Everything is finished: on SIGTERM the worker commits all 9 records and exits 0.
    ASSERT_TRUE(worker.send_signal(SIGTERM));
    const auto st = worker.wait_for_exit(60s);
    ASSERT_TRUE(st.has_value()) << "still running 60 s after SIGTERM";
    EXPECT_TRUE(st->exited_with(0)) << st->describe() << "\n" << relay::test::log_tail(worker.log_file());
    EXPECT_EQ(
        relay::test::deliver::committed_offset(d_.bootstrap, d_.group, d_.events_topic, 0),
        static_cast<std::int64_t>(values.size())
    ) << "the committed offset after a graceful shutdown";

    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()
    )
                            .count();
    const auto dlq = relay::test::deliver::read_topic(d_.bootstrap, d_.dlq_topic, 30s);
    ASSERT_TRUE(dlq.has_value());
    ASSERT_EQ(dlq->size(), poisons.size()) << "the DLQ must hold exactly the poison records";
    for (const auto& p : poisons) {
        SCOPED_TRACE("poison record at offset " + std::to_string(p.offset));
        const auto it = std::find_if(dlq->begin(), dlq->end(), [&](const relay::test::consumed& c) {
            return relay::test::deliver::header_of(c, "relay-origin-offset") == std::to_string(p.offset);
        });
        ASSERT_NE(it, dlq->end()) << "no DLQ record with relay-origin-offset " << p.offset;
        const auto h = [&](std::string_view name) { return relay::test::deliver::header_of(*it, name); };
        EXPECT_EQ(h("relay-reason"), "invalid_event");
        EXPECT_EQ(h("relay-origin-topic"), d_.events_topic);
        EXPECT_EQ(h("relay-origin-partition"), "0");
        EXPECT_EQ(it->key, "key-" + std::to_string(p.offset));
        EXPECT_FALSE(h("relay-subscription-id").has_value());
        EXPECT_FALSE(h("relay-event-id").has_value());
        const auto error = h("relay-error").value_or("");
        std::string lower = error;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) {
            return std::tolower(c);
        });
        EXPECT_TRUE(std::any_of(
            p.error_mentions.begin(),
            p.error_mentions.end(),
            [&](const std::string& w) { return lower.find(w) != std::string::npos; }
        )) << "relay-error does not name the problem: '"
           << error << "'";
        EXPECT_LT(error.size(), 2000U) << "relay-error quotes too much of the record";
        std::cout << "[ dlq      ] offset " << p.offset << ": relay-error '" << error << "'\n";
        for (const char* name : {"relay-failed-at", "relay-first-attempt"}) {
            const auto v = h(name);
            ASSERT_TRUE(v.has_value()) << name << " missing";
            const auto ms = std::strtoll(v->c_str(), nullptr, 10);
            EXPECT_GT(ms, now_ms - 10 * 60 * 1000) << name << " = " << *v;
            EXPECT_LE(ms, now_ms + 60 * 1000) << name << " = " << *v;
        }
        if (p.omitted) {
            EXPECT_TRUE(h("relay-value-omitted").has_value());
            EXPECT_TRUE(!it->value || it->value->empty())
                << "the 10 MB value was copied to the DLQ (" << it->value->size() << " bytes)";
        } else {
            EXPECT_FALSE(h("relay-value-omitted").has_value());
            EXPECT_EQ(it->value, *p.value) << "the DLQ value is not the original, byte for byte";
        }
    }
}

} // namespace
