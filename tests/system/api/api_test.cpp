// System test of the API as deployed (issue 5, "Done when"): `relay serve` and `relay deliver` processes
// against the real broker, a loopback receiver in this process. A subscription created over HTTP (secret
// generated) gets 5,000 events published through the API in batches, all delivered and signed with the secret
// the API returned; a rotation shows both signatures during the overlap; a delete stops deliveries within
// seconds. (Publishing while the broker is stopped: broker_down_test.cpp, with a broker of its own.)
#include "relay/webhook/secret.hpp"
#include "relay/webhook/signing.hpp"

#include "harness.hpp"
#include "support/http/connection.hpp"
#include "support/http/receiver.hpp"
#include "support/kafka/kafka.hpp"
#include "support/process/process.hpp"

#include <boost/beast/http/field.hpp>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <csignal>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <thread>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr const char* token = "system-test-token";
constexpr std::size_t event_count = 5'000;
constexpr std::size_t batch_size = 500;

std::string quote(std::string_view s)
{
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\') {
            out.push_back('\\');
        }
        out.push_back(c);
    }
    return out + "\"";
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout)
{
    const auto deadline = steady::now() + timeout;
    while (!pred()) {
        if (steady::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(20ms);
    }
    return true;
}

rapidjson::Document parse(const std::string& text)
{
    rapidjson::Document d;
    d.Parse(text.c_str());
    return d;
}

// What one receiver saw, by webhook-id. Thread-safe (the receiver's responder runs on its threads).
class inbox
{
public:
    void record(const relay::test::recorded_request& r)
    {
        std::lock_guard lock(mutex_);
        by_id_[r.header("webhook-id")].push_back(r);
        ++total_;
    }
    bool has(const std::string& id) const
    {
        std::lock_guard lock(mutex_);
        return by_id_.contains(id);
    }
    std::size_t count_of(const std::vector<std::string>& ids) const
    {
        std::lock_guard lock(mutex_);
        std::size_t n = 0;
        for (const auto& id : ids) {
            n += by_id_.contains(id) ? 1 : 0;
        }
        return n;
    }
    std::vector<relay::test::recorded_request> of(const std::string& id) const
    {
        std::lock_guard lock(mutex_);
        const auto it = by_id_.find(id);
        return it == by_id_.end() ? std::vector<relay::test::recorded_request>{} : it->second;
    }
    std::size_t total() const
    {
        std::lock_guard lock(mutex_);
        return total_;
    }

private:
    mutable std::mutex mutex_;
    std::map<std::string, std::vector<relay::test::recorded_request>> by_id_;
    std::size_t total_ = 0;
};

class api_system : public ::testing::Test
{
protected:
    void SetUp() override
    {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        dir_ = fs::current_path() / "api-logs" / info->name();
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        std::cout << "[ logs     ] " << dir_.string() << "\n";
        bootstrap_ = relay::test::real_broker_bootstrap();
        base_ = relay::test::unique_topic();
        tag_ = "p" + std::to_string(::getpid());
    }

    // One config for both processes (each uses its part); the token comes from the environment.
    fs::path write_config()
    {
        const auto path = dir_ / "relay.yaml";
        std::ofstream out(path, std::ios::trunc);
        out << "{\n"
            << R"(  "log": {"level": "info"},)"
            << "\n"
            << R"(  "admin": {"address": "127.0.0.1", "port": 0},)"
            << "\n"
            << R"(  "api": {"address": "127.0.0.1", "port": 0, "request_timeout": "10s"},)"
            << "\n"
            << R"(  "kafka": {"brokers": )" << quote(bootstrap_) << R"(, "group_id": )"
            << quote(relay::test::unique_group()) << R"(, "partitions": 3,)"
            << R"( "consumer_properties": {"session.timeout.ms": "6000"}},)"
            << "\n"
            << R"(  "topics": {"events": )" << quote(base_ + ".events") << R"(, "subscriptions": )"
            << quote(base_ + ".subscriptions") << R"(, "retry_prefix": )" << quote(base_ + ".retry.")
            << R"(, "dlq": )" << quote(base_ + ".dlq") << "},\n"
            << R"(  "delivery": {"allow_http": true, "allow_loopback": true, "retry_schedule": ["1s", "2s"]})"
            << "\n}\n";
        if (!out.flush()) {
            throw std::runtime_error("cannot write " + path.string());
        }
        return path;
    }

    relay::test::process start(const std::string& command, const fs::path& config)
    {
        relay::test::process_options o;
        o.argv = {relay::test::relay_binary().string(), command, "-c", config.string()};
        o.env = {{"RELAY_API_TOKENS", token}};
        o.unset_env = {"RELAY_CONFIG", "RELAY_API_TOKENS_FILE"};
        o.log_file = dir_ / (command + ".log");
        return relay::test::process(o);
    }

    // The API port `relay serve` logged ("api listening"), 0 when it did not become ready.
    static std::uint16_t wait_api_port(relay::test::process& serve)
    {
        return relay::test::deliver::wait_api_port(serve, 60s);
    }

    relay::http::response call(bhttp::verb method, const std::string& target, std::string body = {})
    {
        relay::test::http_connection c(port_);
        relay::http::request req{method, target, 11};
        req.set(bhttp::field::authorization, std::string("Bearer ") + token);
        if (!body.empty()) {
            req.set(bhttp::field::content_type, "application/json");
        }
        req.body() = std::move(body);
        auto res = c.roundtrip(std::move(req));
        EXPECT_TRUE(res.has_value()) << (res ? "" : res.error().message());
        return res ? std::move(*res) : relay::http::response{};
    }

    // Publishes `ids` (type order.created, key k<i % 50>) through POST /v1/events:batch; the values by id go
    // to `values`. False (with a failure) when a batch is not answered 202.
    bool publish(const std::vector<std::string>& ids, std::map<std::string, std::string>& values)
    {
        for (std::size_t first = 0; first < ids.size(); first += batch_size) {
            std::string body = R"({"events":[)";
            for (std::size_t i = first; i < std::min(ids.size(), first + batch_size); ++i) {
                const auto value = R"({"id":)" + quote(ids[i]) + R"(,"type":"order.created","data":{"n":)" +
                                   std::to_string(i) + "}}";
                values[ids[i]] = value;
                body += (i == first ? "" : ",") + std::string(R"({"key":"k)") + std::to_string(i % 50) +
                        R"(","event":)" + value + "}";
            }
            body += "]}";
            const auto res = call(bhttp::verb::post, "/v1/events:batch", body);
            if (res.result_int() != 202) {
                ADD_FAILURE() << "batch answered " << res.result_int() << ": " << res.body();
                return false;
            }
        }
        return true;
    }

    std::vector<std::string> make_ids(std::string_view what, std::size_t n)
    {
        std::vector<std::string> ids;
        for (std::size_t i = 0; i < n; ++i) {
            ids.push_back("evt_" + tag_ + "_" + std::string(what) + "_" + std::to_string(i));
        }
        return ids;
    }

    // The secrets of a subscription answer, in order.
    static std::vector<std::string> secrets_of(const relay::http::response& res)
    {
        std::vector<std::string> out;
        const auto d = parse(res.body());
        if (d.IsObject() && d.HasMember("secrets") && d["secrets"].IsArray()) {
            for (const auto& e : d["secrets"].GetArray()) {
                out.emplace_back(e["secret"].GetString());
            }
        }
        return out;
    }

    static bool verifies(const relay::test::recorded_request& r, const std::string& secret)
    {
        const auto key = relay::webhook::parse_secret(secret);
        if (!key) {
            return false;
        }
        return !relay::webhook::verify(
            *key,
            r.header("webhook-id"),
            r.header("webhook-timestamp"),
            r.header("webhook-signature"),
            r.body,
            relay::webhook::unix_now()
        );
    }

    // Creates `id` delivering order.* to `rx` and waits until the worker routes to it (a :test event
    // arrives). The create answer's secret, "" on failure.
    std::string create_and_await(const std::string& id, relay::test::receiver& rx, const inbox& in)
    {
        const auto res = call(
            bhttp::verb::post,
            "/v1/subscriptions",
            R"({"id":)" + quote(id) + R"(,"url":)" + quote(rx.url("/" + id)) +
                R"(,"event_types":["order.*"]})"
        );
        EXPECT_EQ(res.result_int(), 201u) << res.body();
        EXPECT_EQ(res[bhttp::field::location], "/v1/subscriptions/" + id);
        const auto secrets = secrets_of(res);
        if (secrets.size() != 1 || !secrets[0].starts_with("whsec_")) {
            ADD_FAILURE() << "no generated secret in " << res.body();
            return {};
        }
        // The worker follows the subscriptions topic on its own: a :test event reaches the subscription only
        // once the worker has applied it, so send one until one arrives.
        const auto deadline = steady::now() + 60s;
        while (steady::now() < deadline) {
            const auto t = call(bhttp::verb::post, "/v1/subscriptions/" + id + ":test");
            EXPECT_EQ(t.result_int(), 202u) << t.body();
            const auto d = parse(t.body());
            if (!d.IsObject() || !d.HasMember("event_id")) {
                return {};
            }
            const std::string event_id = d["event_id"].GetString();
            if (eventually([&] { return in.has(event_id); }, 3s)) {
                const auto got = in.of(event_id);
                EXPECT_TRUE(verifies(got.front(), secrets[0]));
                return secrets[0];
            }
        }
        ADD_FAILURE() << "the worker never delivered a test event to " << id;
        return {};
    }

    fs::path dir_;
    std::string bootstrap_;
    std::string base_;
    std::string tag_;
    std::uint16_t port_ = 0;
};

TEST_F(api_system, publish_through_the_api_rotate_and_delete)
{
    relay::test::receiver_options ro;
    ro.threads = 2;
    relay::test::receiver rx(ro);
    relay::test::receiver sentinel_rx(ro);
    inbox in;
    inbox sentinel;
    rx.set_responder([&in](const relay::test::recorded_request& r) {
        in.record(r);
        return relay::test::reply{};
    });
    sentinel_rx.set_responder([&sentinel](const relay::test::recorded_request& r) {
        sentinel.record(r);
        return relay::test::reply{};
    });

    const auto config = write_config();
    auto serve = start("serve", config);
    port_ = wait_api_port(serve);
    ASSERT_NE(port_, 0);
    auto worker = start("deliver", config);
    ASSERT_TRUE(relay::test::deliver::wait_ready(worker));

    // 1. A subscription over HTTP with a generated secret; a second one (sentinel) sees the same events.
    const std::string id = "sub_api_" + tag_;
    const auto secret = create_and_await(id, rx, in);
    ASSERT_FALSE(secret.empty());
    const auto sentinel_secret = create_and_await("sub_sentinel_" + tag_, sentinel_rx, sentinel);
    ASSERT_FALSE(sentinel_secret.empty());

    // 2. 5,000 events through the API in batches of 500: all delivered, byte for byte, signed with the secret
    // the API returned (verified here and with the official Standard Webhooks library).
    const auto ids = make_ids("main", event_count);
    std::map<std::string, std::string> values;
    const auto start_publish = steady::now();
    ASSERT_TRUE(publish(ids, values));
    const bool all = eventually([&] { return in.count_of(ids) == ids.size(); }, 120s);
    std::cout << "[ arrived  ] " << in.count_of(ids) << " of " << ids.size() << " in "
              << std::chrono::duration<double>(steady::now() - start_publish).count() << " s\n";
    ASSERT_TRUE(all);
    std::vector<relay::test::recorded_request> main_requests;
    std::size_t bad = 0;
    for (const auto& e : ids) {
        for (auto& r : in.of(e)) {
            bad += r.body != values[e] || !verifies(r, secret) ? 1 : 0;
            main_requests.push_back(std::move(r));
        }
    }
    EXPECT_EQ(bad, 0u) << "deliveries with a wrong body or signature";
    {
        std::vector<relay::test::deliver::subscription_under_test> subs(1);
        subs[0].id = id;
        subs[0].secret = secret;
        const auto v = relay::test::deliver::verify_signatures(dir_, subs, {main_requests});
        EXPECT_EQ(v.lines, main_requests.size());
        EXPECT_EQ(v.ok, main_requests.size()) << (v.failures.empty() ? "" : v.failures.front());
    }

    // 3. Rotation with an overlap: the new secret signs first and the old one keeps signing; once the worker
    // has the rotation, every delivery carries both signatures.
    const auto rotated =
        call(bhttp::verb::post, "/v1/subscriptions/" + id + ":rotate-secret", R"({"overlap":"1h"})");
    ASSERT_EQ(rotated.result_int(), 200u) << rotated.body();
    const auto secrets = secrets_of(rotated);
    ASSERT_EQ(secrets.size(), 2u) << rotated.body();
    const auto& fresh = secrets[0];
    EXPECT_EQ(secrets[1], secret);
    EXPECT_NE(fresh, secret);
    bool both = false;
    std::vector<std::string> rotation_ids;
    for (int round = 0; round < 30 && !both; ++round) {
        auto round_ids = make_ids("rot" + std::to_string(round), 20);
        ASSERT_TRUE(publish(round_ids, values));
        ASSERT_TRUE(eventually([&] { return in.count_of(round_ids) == round_ids.size(); }, 30s));
        both = true;
        for (const auto& e : round_ids) {
            for (const auto& r : in.of(e)) {
                // Two v1 entries, one per secret.
                const auto sig = r.header("webhook-signature");
                both &=
                    verifies(r, fresh) && verifies(r, secret) && std::count(sig.begin(), sig.end(), ' ') == 1;
            }
        }
        rotation_ids.insert(rotation_ids.end(), round_ids.begin(), round_ids.end());
    }
    EXPECT_TRUE(both) << "deliveries never carried both the old and the new signature";
    for (const auto& e : rotation_ids) { // during the overlap the old secret always verifies
        for (const auto& r : in.of(e)) {
            EXPECT_TRUE(verifies(r, secret)) << e;
        }
    }

    // 4. Delete: once the worker applied it (a round reaches the sentinel but not the deleted subscription),
    // nothing more arrives for the deleted one.
    const auto removed = call(bhttp::verb::delete_, "/v1/subscriptions/" + id);
    ASSERT_EQ(removed.result_int(), 204u) << removed.body();
    EXPECT_EQ(call(bhttp::verb::get, "/v1/subscriptions/" + id).result_int(), 404u);
    const auto deleted_at = steady::now();
    bool applied = false;
    std::vector<std::string> applied_ids;
    for (int round = 0; round < 50 && !applied; ++round) {
        applied_ids = make_ids("del" + std::to_string(round), 20);
        ASSERT_TRUE(publish(applied_ids, values));
        ASSERT_TRUE(eventually([&] { return sentinel.count_of(applied_ids) == applied_ids.size(); }, 30s));
        applied = in.count_of(applied_ids) == 0;
    }
    const double seconds = std::chrono::duration<double>(steady::now() - deleted_at).count();
    std::cout << "[ deleted  ] applied by the worker within " << seconds << " s\n";
    ASSERT_TRUE(applied) << "deliveries to the deleted subscription did not stop";
    EXPECT_LT(seconds, 15.0);
    const auto after_ids = make_ids("after", 200);
    ASSERT_TRUE(publish(after_ids, values));
    ASSERT_TRUE(eventually([&] { return sentinel.count_of(after_ids) == after_ids.size(); }, 30s));
    EXPECT_EQ(in.count_of(after_ids), 0u) << "deliveries arrived after the delete was applied";
    EXPECT_EQ(in.count_of(applied_ids), 0u) << "deliveries arrived after the delete was applied";

    // Both processes shut down cleanly.
    EXPECT_TRUE(worker.send_signal(SIGTERM));
    EXPECT_TRUE(serve.send_signal(SIGTERM));
    for (auto* p : {&worker, &serve}) {
        const auto st = p->wait_for_exit(60s);
        EXPECT_TRUE(st && st->exited_with(0))
            << (st ? st->describe() : std::string("still running")) << "; log tail:\n"
            << relay::test::log_tail(p->log_file());
    }
}

} // namespace
