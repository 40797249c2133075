// The delivery worker in-process against librdkafka's mock cluster and loopback receivers.
#include "relay/log/log.hpp"

#include "worker_fixture.hpp"

#include <random>

namespace relay::delivery {
namespace {

using namespace std::chrono_literals;
using test::receiver;
using test::reply;
using test_worker::WorkerTest;

TEST_F(WorkerTest, DeliversEveryEventToEveryMatchingSubscriptionSignedAndCommits)
{
    receiver orders, payments, big;
    add_subscription("orders", orders.url("/o"), R"("event_types":["order.*"])");
    add_subscription("payments", payments.url("/p"), R"("event_types":["payment.captured","order.created"])");
    add_subscription("big", big.url("/b"), R"("event_types":["*"],"filter":{"data.amount":{"gte":100}})");
    start_worker();

    std::vector<std::pair<std::string, std::string>> records;
    std::map<std::string, std::set<std::string>> expected; // subscription -> event ids
    const char* types[] = {"order.created", "order.paid", "payment.captured", "user.signed_up"};
    for (int i = 0; i < 200; ++i) {
        const std::string id = "evt_" + std::to_string(i);
        const std::string type = types[i % 4];
        const int amount = (i * 37) % 200;
        records.emplace_back(
            "k" + std::to_string(i % 7), event(id, type, R"({"amount":)" + std::to_string(amount) + "}")
        );
        if (type.starts_with("order."))
            expected["orders"].insert(id);
        if (type == "payment.captured" || type == "order.created")
            expected["payments"].insert(id);
        if (amount >= 100)
            expected["big"].insert(id);
    }
    produce(records);

    const std::pair<receiver*, std::string> targets[] = {
        {&orders, "orders"}, {&payments, "payments"}, {&big, "big"}};
    for (const auto& [recv, name] : targets) {
        ASSERT_TRUE(recv->wait_for_requests(expected[name].size(), 30s)) << name;
        std::set<std::string> got;
        for (const auto& r : recv->requests()) {
            expect_signed(r);
            EXPECT_EQ(r.header("content-type"), "application/json");
            EXPECT_TRUE(r.header("user-agent").starts_with("relay/"));
            got.insert(r.header("webhook-id"));
        }
        EXPECT_EQ(got, expected[name]) << name;
    }
    EXPECT_TRUE(wait_committed(200));
    std::this_thread::sleep_for(300ms); // nothing more may arrive
    EXPECT_EQ(orders.request_count(), expected["orders"].size());
    EXPECT_EQ(payments.request_count(), expected["payments"].size());
    EXPECT_EQ(big.request_count(), expected["big"].size());
}

TEST_F(WorkerTest, RetryableFailureComesBackFromTheRetryTierWithTheSameWebhookId)
{
    receiver r;
    r.enqueue({reply::with_status(503), reply::with_status(500)});
    add_subscription("s", r.url("/"), R"("event_types":["*"])");
    start_worker();
    produce({{"k", event("evt_retry", "a.b")}});

    ASSERT_TRUE(r.wait_for_requests(3, 30s));
    const auto reqs = r.requests();
    for (const auto& q : reqs) {
        EXPECT_EQ(q.header("webhook-id"), "evt_retry");
        expect_signed(q);
    }
    // 200 ms and 400 ms with 20% jitter.
    EXPECT_GE(reqs[1].received_steady - reqs[0].received_steady, 160ms);
    EXPECT_GE(reqs[2].received_steady - reqs[1].received_steady, 320ms);
    EXPECT_TRUE(wait_committed(1));
    const auto parked = read_topic(cfg_.topics.retry_prefix + "200ms", 1);
    ASSERT_EQ(parked.size(), 1u);
    EXPECT_EQ(header(parked[0], header::attempt), "2");
    EXPECT_EQ(header(parked[0], header::last_status), "503");
    EXPECT_EQ(header(parked[0], header::subscription_id), "s");
    EXPECT_EQ(parked[0].key, "k");
}

TEST_F(WorkerTest, PermanentFailuresAndExhaustionGoToTheDlqWithTheirReason)
{
    receiver bad, gone, down;
    bad.set_default_reply(reply::with_status(400));
    gone.set_default_reply(reply::with_status(410));
    down.set_default_reply(reply::with_status(503));
    add_subscription("bad", bad.url("/"), R"("event_types":["t.bad"])");
    add_subscription("gone", gone.url("/"), R"("event_types":["t.gone"])");
    add_subscription("down", down.url("/"), R"("event_types":["t.down"])");
    start_worker();
    produce({{"", event("e1", "t.bad")}, {"", event("e2", "t.gone")}, {"", event("e3", "t.down")}});

    const auto dlq = read_topic(cfg_.topics.dlq, 3);
    std::map<std::string, test::consumed> by_sub;
    for (const auto& m : dlq)
        by_sub[header(m, header::subscription_id).value_or("?")] = m;
    ASSERT_EQ(by_sub.size(), 3u);
    EXPECT_EQ(header(by_sub["bad"], header::reason), "permanent_status");
    EXPECT_EQ(header(by_sub["bad"], header::last_status), "400");
    EXPECT_EQ(header(by_sub["bad"], header::attempt), "1");
    EXPECT_EQ(header(by_sub["gone"], header::reason), "gone");
    EXPECT_EQ(header(by_sub["down"], header::reason), "exhausted");
    EXPECT_EQ(header(by_sub["down"], header::attempt), "3");
    EXPECT_EQ(header(by_sub["down"], header::event_id), "e3");
    EXPECT_EQ(by_sub["down"].value, event("e3", "t.down"));
    EXPECT_EQ(bad.request_count(), 1u);
    EXPECT_EQ(down.request_count(), 3u);
    EXPECT_TRUE(wait_committed(3));

    // 410 disabled the subscription: later events are not sent to it.
    produce({{"", event("e4", "t.gone")}, {"", event("e5", "t.bad")}});
    ASSERT_TRUE(bad.wait_for_requests(2, 30s));
    EXPECT_TRUE(wait_committed(5));
    EXPECT_EQ(gone.request_count(), 1u);
}

TEST_F(WorkerTest, InvalidEventsAreDeadLetteredWhileThePartitionKeepsFlowing)
{
    receiver r;
    add_subscription("s", r.url("/"), R"("event_types":["*"])");
    cfg_.delivery.max_event_bytes = 8192;
    start_worker();
    const std::string deep(5000, '[');
    const std::string big = R"({"type":"x","data":")" + std::string(10000, 'a') + "\"}";
    produce(
        {{"p", event("ok1", "a")},
         {"p", "not json"},
         {"p", R"({"data":1})"},
         {"p", deep},
         {"p", big},
         {"p", event("ok2", "a")}}
    );
    ASSERT_TRUE(r.wait_for_requests(2, 30s));
    const auto dlq = read_topic(cfg_.topics.dlq, 4);
    ASSERT_EQ(dlq.size(), 4u);
    std::set<std::string> errors;
    for (const auto& m : dlq) {
        EXPECT_EQ(header(m, header::reason), "invalid_event");
        EXPECT_EQ(header(m, header::origin_topic), events_);
        EXPECT_FALSE(header(m, header::subscription_id));
        errors.insert(header(m, header::error).value_or(""));
        if (m.value == std::nullopt) {
            EXPECT_EQ(header(m, header::value_omitted), std::to_string(big.size()));
        }
    }
    EXPECT_EQ(errors.size(), 4u);
    EXPECT_TRUE(wait_committed(6));
}

TEST_F(WorkerTest, KeyOrderingHoldsUnderDelaysAndInPlaceRetries)
{
    receiver r({4});
    std::mt19937 rng(7);
    std::mutex mu;
    std::set<std::string> failed_once;
    r.set_responder([&](const test::recorded_request& q) {
        std::lock_guard lock(mu);
        const auto id = q.header("webhook-id");
        if (rng() % 10 == 0 && failed_once.insert(id).second)
            return reply::with_status(503);
        return reply::with_status(200).delayed(std::chrono::milliseconds(rng() % 4));
    });
    add_subscription("ordered", r.url("/"), R"("event_types":["*"],"ordering":"key","max_in_flight":8)");
    start_worker();
    std::vector<std::pair<std::string, std::string>> records;
    for (int i = 0; i < 300; ++i) {
        const int key = i % 10;
        records.emplace_back(
            "key" + std::to_string(key),
            event(
                "e" + std::to_string(i),
                "t",
                R"({"key":)" + std::to_string(key) + R"(,"seq":)" + std::to_string(i) + "}"
            )
        );
    }
    produce(records);
    ASSERT_TRUE(r.wait_for_requests(300 + failed_once.size(), 60s));
    ASSERT_TRUE(wait_committed(300));
    std::map<int, int> last_seq;
    std::size_t success = 0;
    for (const auto& q : r.requests()) {
        const auto kpos = q.body.find("\"key\":");
        const auto spos = q.body.find("\"seq\":");
        const int key = std::stoi(q.body.substr(kpos + 6));
        const int seq = std::stoi(q.body.substr(spos + 6));
        auto it = last_seq.find(key);
        if (it != last_seq.end()) {
            EXPECT_GE(seq, it->second) << "key " << key << " went backwards";
        }
        last_seq[key] = seq;
        ++success;
    }
    EXPECT_GE(success, 300u);
    EXPECT_GT(failed_once.size(), 0u);
}

TEST_F(WorkerTest, TinyBudgetAndSubscriptionCapStillDeliverEverything)
{
    receiver r({4});
    r.set_default_reply(reply::with_status(200).delayed(20ms));
    add_subscription("capped", r.url("/"), R"("event_types":["*"],"max_in_flight":3)");
    cfg_.delivery.max_in_flight = 4;
    start_worker();
    std::vector<std::pair<std::string, std::string>> records;
    for (int i = 0; i < 60; ++i)
        records.emplace_back("", event("e" + std::to_string(i), "t"));
    produce(records);
    ASSERT_TRUE(r.wait_for_requests(60, 60s));
    EXPECT_TRUE(wait_committed(60));
    // At most 3 requests of the subscription at once: any 4 consecutive arrivals span at least one reply
    // delay.
    const auto reqs = r.requests();
    for (std::size_t i = 3; i < reqs.size(); ++i)
        EXPECT_GE(reqs[i].received_steady - reqs[i - 3].received_steady, 15ms) << i;
    std::set<std::string> ids;
    for (const auto& q : reqs)
        ids.insert(q.header("webhook-id"));
    EXPECT_EQ(ids.size(), 60u);
}

TEST_F(WorkerTest, StopDrainsInFlightDeliveriesAndCommitsThem)
{
    receiver r;
    r.set_default_reply(reply::with_status(200).delayed(500ms));
    add_subscription("slow", r.url("/"), R"("event_types":["*"])");
    start_worker();
    produce({{"", event("e1", "t")}, {"", event("e2", "t")}});
    ASSERT_TRUE(r.wait_for_requests(2, 30s));
    worker_->stop(); // the two replies are still 500 ms away
    EXPECT_EQ(worker_->stats().delivered, 2u);
    EXPECT_TRUE(wait_committed(2, 10s));
}

// Every delivery outcome is one JSON log line with its context (at debug level for successes, which are the
// bulk of the traffic), and no line ever carries the signing secret.
TEST_F(WorkerTest, DeliveryLogLinesCarryContextAndNoSecrets)
{
    struct capture : relay::log::sink
    {
        void write(relay::log::level, std::string_view line) override
        {
            std::lock_guard lock(mutex);
            lines.emplace_back(line);
        }
        std::vector<std::string> snapshot()
        {
            std::lock_guard lock(mutex);
            return lines;
        }
        std::mutex mutex;
        std::vector<std::string> lines;
    };
    auto sink = std::make_shared<capture>();
    const auto before = relay::log::current_level();
    relay::log::set_sink(sink);
    relay::log::set_level(relay::log::level::debug);
    struct restore
    {
        relay::log::level l;
        ~restore()
        {
            relay::log::set_sink(nullptr);
            relay::log::set_level(l);
        }
    } restore_log{before};

    receiver ok, bad;
    bad.set_default_reply(reply::with_status(400));
    add_subscription("ok", ok.url("/"), R"("event_types":["t.ok"])");
    add_subscription("bad", bad.url("/"), R"("event_types":["t.bad"])");
    start_worker();
    produce({{"", event("evt_ok", "t.ok")}, {"", event("evt_bad", "t.bad")}});
    ASSERT_TRUE(ok.wait_for_requests(1, 30s));
    ASSERT_TRUE(wait_committed(2));
    worker_->stop();

    const auto lines = sink->snapshot();
    auto find = [&](std::string_view msg, std::string_view event) -> std::string {
        for (const auto& l : lines) {
            if (l.find("\"msg\":\"" + std::string(msg) + "\"") != std::string::npos &&
                l.find(std::string(event)) != std::string::npos)
                return l;
        }
        return {};
    };
    const auto delivered = find("delivered", "evt_ok");
    ASSERT_FALSE(delivered.empty());
    for (const auto* key : {"\"subscription\":\"ok\"", "\"attempt\":1", "\"status\":200", "\"duration_ms\":"})
        EXPECT_NE(delivered.find(key), std::string::npos) << key << " in " << delivered;
    const auto dead = find("delivery dead-lettered", "evt_bad");
    ASSERT_FALSE(dead.empty());
    for (const auto* key :
         {"\"subscription\":\"bad\"",
          "\"status\":400",
          "\"reason\":\"permanent_status\"",
          "\"duration_ms\":"})
        EXPECT_NE(dead.find(key), std::string::npos) << key << " in " << dead;
    const std::string key_part(test_worker::secret_text.substr(6));
    for (const auto& l : lines)
        EXPECT_EQ(l.find(key_part), std::string::npos) << "a secret in the log: " << l;
}

} // namespace
} // namespace relay::delivery
