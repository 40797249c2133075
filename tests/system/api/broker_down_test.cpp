// System test of ingest while Kafka is down (issue 5, last "Done when"), with a broker of its own (not the
// shared fixture, which it must stop): `relay serve` (api.request_timeout 3s) answers 503 with Retry-After
// within the request timeout for every event published while the broker is stopped; once the broker is
// back on the same ports and data (scripts/kafka-broker restart), retrying the very same requests with the
// same Idempotency-Key publishes each event exactly once (the topic read back holds one record per id), and
// a further repeat is a replay that produces nothing.
#include "harness.hpp"
#include "support/http/connection.hpp"
#include "support/kafka/kafka.hpp"
#include "support/process/process.hpp"

#include <boost/beast/http/field.hpp>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <thread>
#include <unistd.h>

namespace {

using relay::test::deliver::kafka_broker;
using relay::test::deliver::read_first_line;
using relay::test::deliver::stop_broker_process;

namespace fs = std::filesystem;
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr const char* token = "broker-down-token";
constexpr auto request_timeout = 3s;

class broker_down : public ::testing::Test
{
protected:
    void SetUp() override
    {
        dir_ = fs::current_path() / "broker-down-logs";
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        std::cout << "[ logs     ] " << dir_.string() << "\n";
        broker_dir_ = dir_ / "kafka";
        ASSERT_TRUE(kafka_broker("start", broker_dir_, dir_ / "kafka-broker.log"));
        broker_started_ = true;
        bootstrap_ = read_first_line(broker_dir_ / "bootstrap");
        ASSERT_FALSE(bootstrap_.empty());
        topic_ = "broker-down." + std::to_string(::getpid()) + ".events";
    }

    void TearDown() override
    {
        serve_.reset();
        if (broker_started_) {
            kafka_broker("stop", broker_dir_, dir_ / "kafka-broker.log");
        }
    }

    fs::path write_config()
    {
        const auto path = dir_ / "relay.yaml";
        std::ofstream out(path, std::ios::trunc);
        out << R"({"log": {"level": "info"}, "admin": {"address": "127.0.0.1", "port": 0},)"
            << R"( "api": {"address": "127.0.0.1", "port": 0, "request_timeout": "3s"},)"
            << R"( "kafka": {"brokers": ")" << bootstrap_ << R"(", "partitions": 2},)"
            << R"( "topics": {"events": ")" << topic_ << R"(", "subscriptions": ")" << topic_
            << R"(.subscriptions", "retry_prefix": ")" << topic_ << R"(.retry.", "dlq": ")" << topic_
            << R"(.dlq"}})"
            << "\n";
        if (!out.flush()) {
            throw std::runtime_error("cannot write " + path.string());
        }
        return path;
    }

    // Starts `relay serve` and returns its API port (0 with a failure when it did not listen).
    std::uint16_t start_serve()
    {
        relay::test::process_options o;
        o.argv = {relay::test::relay_binary().string(), "serve", "-c", write_config().string()};
        o.env = {{"RELAY_API_TOKENS", token}};
        o.unset_env = {"RELAY_CONFIG", "RELAY_API_TOKENS_FILE"};
        o.log_file = dir_ / "serve.log";
        serve_.emplace(o);
        return relay::test::deliver::wait_api_port(*serve_);
    }

    // One POST with an Idempotency-Key; the response and how long it took.
    std::pair<relay::http::response, steady::duration>
    post(const std::string& target, const std::string& key, const std::string& body)
    {
        const auto start = steady::now();
        relay::test::http_connection c(port_, 30s);
        relay::http::request req{bhttp::verb::post, target, 11};
        req.set(bhttp::field::authorization, std::string("Bearer ") + token);
        req.set(bhttp::field::content_type, "application/json");
        req.set("Idempotency-Key", key);
        req.body() = body;
        auto res = c.roundtrip(std::move(req));
        EXPECT_TRUE(res.has_value()) << (res ? "" : res.error().message());
        return {res ? std::move(*res) : relay::http::response{}, steady::now() - start};
    }

    fs::path dir_;
    fs::path broker_dir_;
    bool broker_started_ = false;
    std::string bootstrap_;
    std::string topic_;
    std::optional<relay::test::process> serve_;
    std::uint16_t port_ = 0;
};

struct request_under_test
{
    std::string target;
    std::string key; ///< Idempotency-Key
    std::string body;
    std::vector<std::string> ids; ///< event ids it publishes
};

TEST_F(broker_down, PublishingWhileTheBrokerIsDownIs503AndRetriesPublishEachEventOnce)
{
    port_ = start_serve();
    ASSERT_NE(port_, 0);
    const std::string tag = "p" + std::to_string(::getpid());

    // Sanity: with the broker up, an event is accepted.
    const auto [up, up_took] =
        post("/v1/events", tag + "-up", R"({"id":"evt_)" + tag + R"(_up","type":"t"})");
    ASSERT_EQ(up.result_int(), 202u) << up.body();

    std::vector<request_under_test> requests;
    for (int i = 0; i < 4; ++i) {
        const auto id = "evt_" + tag + "_" + std::to_string(i);
        requests.push_back(
            {"/v1/events",
             tag + "-single-" + std::to_string(i),
             R"({"id":")" + id + R"(","type":"order.created"})",
             {id}}
        );
    }
    {
        request_under_test batch{"/v1/events:batch", tag + "-batch", R"({"events":[)", {}};
        for (int i = 0; i < 3; ++i) {
            const auto id = "evt_" + tag + "_b" + std::to_string(i);
            batch.body += (i == 0 ? "" : ",") + std::string(R"({"key":"k","event":{"id":")") + id +
                          R"(","type":"order.paid"}})";
            batch.ids.push_back(id);
        }
        batch.body += "]}";
        requests.push_back(std::move(batch));
    }

    ASSERT_TRUE(stop_broker_process(broker_dir_)) << "the broker did not stop";
    for (const auto& r : requests) {
        const auto [res, took] = post(r.target, r.key, r.body);
        SCOPED_TRACE(r.key);
        EXPECT_EQ(res.result_int(), 503u) << res.body();
        EXPECT_EQ(res[bhttp::field::content_type], "application/problem+json");
        EXPECT_FALSE(res[bhttp::field::retry_after].empty());
        // Within api.request_timeout (plus scheduling slack on a loaded machine).
        EXPECT_LE(took, request_timeout + 1s)
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
    }
    ASSERT_TRUE(serve_->running()) << "relay serve exited while the broker was down; log tail:\n"
                                   << relay::test::log_tail(serve_->log_file());

    // The same broker again: same ports, same data (the topic and the first event survive).
    ASSERT_TRUE(kafka_broker("restart", broker_dir_, dir_ / "kafka-broker.log"));
    ASSERT_EQ(read_first_line(broker_dir_ / "bootstrap"), bootstrap_);

    // Retry every request, with its own Idempotency-Key, until it is accepted (the producer reconnects).
    for (const auto& r : requests) {
        SCOPED_TRACE(r.key);
        const auto deadline = steady::now() + 120s;
        unsigned status = 0;
        while (steady::now() < deadline) {
            const auto [res, took] = post(r.target, r.key, r.body);
            status = res.result_int();
            if (status == 202) {
                EXPECT_TRUE(res["Idempotent-Replayed"].empty()) << "a failure must not be remembered";
                break;
            }
            EXPECT_EQ(status, 503u) << res.body();
            std::this_thread::sleep_for(500ms);
        }
        ASSERT_EQ(status, 202u) << "not accepted within 120 s after the broker came back";
        // A further repeat is a replay: nothing more is produced.
        const auto [again, took] = post(r.target, r.key, r.body);
        EXPECT_EQ(again.result_int(), 202u) << again.body();
        EXPECT_EQ(again["Idempotent-Replayed"], "true");
    }

    // Every event exactly once (and the one published before the outage still there).
    const auto records = relay::test::deliver::read_topic(bootstrap_, topic_, 60s);
    ASSERT_TRUE(records);
    std::map<std::string, int> count;
    for (const auto& m : *records) {
        rapidjson::Document d;
        d.Parse(m.value.value_or("").c_str());
        ASSERT_TRUE(d.IsObject() && d.HasMember("id") && d["id"].IsString()) << m.value.value_or("null");
        ++count[d["id"].GetString()];
    }
    std::size_t expected = 1;
    EXPECT_EQ(count["evt_" + tag + "_up"], 1);
    for (const auto& r : requests) {
        for (const auto& id : r.ids) {
            EXPECT_EQ(count[id], 1) << id;
            ++expected;
        }
    }
    EXPECT_EQ(records->size(), expected);
}

} // namespace
