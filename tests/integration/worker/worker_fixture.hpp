#pragma once
// The fixture of the delivery worker's integration tests: the worker in-process against librdkafka's mock
// cluster and loopback receivers.
#include "relay/delivery/parking.hpp"
#include "relay/delivery/worker.hpp"
#include "relay/kafka/consumer.hpp"
#include "relay/kafka/producer.hpp"
#include "relay/subscription/codec.hpp"
#include "relay/webhook/signing.hpp"

#include "support/http/receiver.hpp"
#include "support/kafka/kafka.hpp"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace relay::delivery::test_worker {

using namespace std::chrono_literals;
using test::receiver;
using test::reply;

inline constexpr std::string_view secret_text = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

class WorkerTest : public test::mock_kafka_test
{
protected:
    void SetUp() override
    {
        events_ = make_topic(3, "events");
        cfg_.kafka.brokers = bootstrap();
        cfg_.kafka.group_id = test::unique_group();
        cfg_.kafka.partitions = 3;
        cfg_.kafka.consumer_properties = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
        cfg_.topics.events = events_;
        cfg_.topics.retry_prefix = test::unique_topic("retry") + ".";
        cfg_.topics.dlq = test::unique_topic("dlq");
        cfg_.delivery.allow_http = true;
        cfg_.delivery.allow_loopback = true;
        cfg_.delivery.retry_schedule = {200ms, 400ms};
        cfg_.delivery.drain_timeout = 5s;
        cfg_.delivery.threads = 2;
    }

    void TearDown() override
    {
        if (worker_)
            worker_->stop();
        worker_.reset();
    }

    // Adds a subscription from JSON (without id/secret, which are filled in).
    void add_subscription(std::string id, const std::string& url, std::string_view fields)
    {
        const auto json = "{\"id\":\"" + id + "\",\"url\":\"" + url + "\",\"secret\":\"" +
                          std::string(secret_text) + "\"," + std::string(fields) + "}";
        subscription::parse_options o;
        o.allow_http = true;
        auto s = subscription::parse_subscription(json, o);
        ASSERT_TRUE(s) << subscription::to_string(s.error());
        subs_.push_back(std::make_shared<const subscription::subscription>(std::move(*s)));
    }

    void start_worker()
    {
        cluster_.create_topics(worker_topics(cfg_));
        auto routes = std::make_shared<subscription::atomic_routing_table>();
        routes->store(std::make_shared<const subscription::routing_table>(subs_));
        routes_ = routes;
        worker_ = std::make_unique<worker>(worker_options{
            cfg_,
            routes,
            registry_,
            {},
            [this](const subscription::subscription& sub, auto reason, const auto&) {
                std::lock_guard lock(disabled_mutex_);
                disabled_.emplace_back(sub.id, reason);
            }});
        worker_->start();
    }

    void produce(const std::vector<std::pair<std::string, std::string>>& keyed_values, std::string topic = {})
    {
        kafka::producer p(kafka::client_options{producer_props()});
        for (const auto& [key, value] : keyed_values) {
            kafka::record r;
            r.topic = topic.empty() ? events_ : topic;
            if (!key.empty())
                r.key = key;
            r.value = value;
            ASSERT_FALSE(p.produce(r, {}));
        }
        ASSERT_FALSE(p.flush(30s));
    }

    static std::string event(const std::string& id, const std::string& type, const std::string& data = "{}")
    {
        return R"({"id":")" + id + R"(","type":")" + type + R"(","data":)" + data + "}";
    }

    // Reads every record of `topic` (all partitions) until `n` arrived.
    std::vector<test::consumed> read_topic(const std::string& topic, std::size_t n)
    {
        test::recording_handler h;
        kafka::consumer c({kafka::client_options{consumer_props(test::unique_group("reader"))}}, h);
        EXPECT_FALSE(c.subscribe({topic}));
        EXPECT_TRUE(h.wait_for_messages(n))
            << "got " << h.message_count() << " of " << n << " from " << topic;
        c.close();
        return h.messages();
    }

    // The group's committed offsets summed over the events topic's partitions.
    std::int64_t committed_total()
    {
        test::recording_handler h;
        kafka::consumer c({kafka::client_options{consumer_props(cfg_.kafka.group_id)}}, h);
        std::vector<kafka::topic_partition> parts;
        for (int p = 0; p < 3; ++p)
            parts.push_back({events_, p});
        if (c.committed(parts, 10000))
            return -1;
        c.close();
        std::int64_t total = 0;
        for (const auto& tp : parts)
            total += std::max<std::int64_t>(0, tp.offset);
        return total;
    }

    bool wait_committed(std::int64_t expected, std::chrono::seconds timeout = 30s)
    {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            if (committed_total() == expected)
                return true;
            std::this_thread::sleep_for(200ms); // polling the broker: there is no commit notification
        }
        return false;
    }

    static std::optional<std::string> header(const test::consumed& m, std::string_view name)
    {
        std::optional<std::string> out;
        for (const auto& [n, v] : m.headers) {
            if (n == name)
                out = v;
        }
        return out;
    }

    static void expect_signed(const test::recorded_request& r)
    {
        const auto secret = webhook::parse_secret(secret_text);
        ASSERT_TRUE(secret);
        EXPECT_FALSE(webhook::verify(
            *secret,
            r.header("webhook-id"),
            r.header("webhook-timestamp"),
            r.header("webhook-signature"),
            r.body,
            webhook::unix_now()
        )) << r.body;
    }

    // The value of a counter or gauge of the worker's registry (0 when absent): `labels` must match exactly.
    double metric(std::string_view name, const std::map<std::string, std::string>& labels = {}) const
    {
        for (const auto& family : registry_->Collect()) {
            if (family.name != name)
                continue;
            for (const auto& m : family.metric) {
                std::map<std::string, std::string> got;
                for (const auto& l : m.label)
                    got[l.name] = l.value;
                if (got == labels)
                    return family.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
            }
        }
        return 0;
    }

    std::vector<std::pair<std::string, subscription::disable_reason>> disabled() const
    {
        std::lock_guard lock(disabled_mutex_);
        return disabled_;
    }

    std::string events_;
    config::config cfg_;
    std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
    mutable std::mutex disabled_mutex_;
    std::vector<std::pair<std::string, subscription::disable_reason>> disabled_; // on_disable calls
    std::vector<std::shared_ptr<const subscription::subscription>> subs_;
    std::shared_ptr<subscription::atomic_routing_table> routes_;
    std::unique_ptr<worker> worker_;
};

} // namespace relay::delivery::test_worker
