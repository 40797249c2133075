#include "relay/kafka/producer.hpp"
#include "relay/subscription/store.hpp"

#include "support/kafka/kafka.hpp"
#include "support/subscription/subscriptions.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <future>
#include <optional>
#include <string>
#include <thread>

namespace {

using namespace std::chrono_literals;
using relay::kafka::delivery_info;
using relay::kafka::producer;
using relay::kafka::record;
using relay::subscription::atomic_routing_table;
using relay::subscription::follower;
using relay::subscription::follower_options;
using relay::subscription::subscription;
using relay::subscription::writer;

using relay::test::ids;
using relay::test::parse_stored;
using relay::test::sub_json;
constexpr const char* secret = relay::test::subscription_secret;

// Waits (bounded) until `pred` holds, checking every few milliseconds.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = relay::test::kafka_wait)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

class subscription_store : public relay::test::mock_kafka_test
{
protected:
    void SetUp() override { topic_ = make_topic(1, "subscriptions"); }

    follower_options options(std::vector<subscription> statics = {}) const
    {
        follower_options o;
        o.kafka = {{"bootstrap.servers", bootstrap()}, {"fetch.wait.max.ms", "50"}};
        o.topic = topic_;
        o.static_subscriptions = std::move(statics);
        o.start_timeout = 10s;
        return o;
    }

    // Produces a raw record (nullopt value = tombstone) and waits for its acknowledgement.
    delivery_info produce_raw(std::optional<std::string> key, std::optional<std::string> value)
    {
        record r;
        r.topic = topic_;
        r.key = std::move(key);
        r.value = std::move(value);
        auto f = raw_producer_.async_produce(std::move(r), boost::asio::use_future);
        EXPECT_EQ(f.wait_for(relay::test::kafka_wait), std::future_status::ready);
        return f.get();
    }

    void put_raw(const std::string& id, const std::string& json) { produce_raw(id, json); }

    std::string topic_;
    producer raw_producer_{{.config = producer_props()}};
    atomic_routing_table table_;
};

TEST_F(subscription_store, loads_existing_records_with_overrides_and_tombstones)
{
    put_raw("a", sub_json("a", "https://a1.example.com/"));
    put_raw("b", sub_json("b"));
    put_raw("a", sub_json("a", "https://a2.example.com/"));
    put_raw("c", sub_json("c"));
    produce_raw("b", std::nullopt);

    follower f(options(), table_);
    EXPECT_FALSE(f.loaded());
    f.start();
    ASSERT_TRUE(f.wait_until_loaded(relay::test::kafka_wait));

    EXPECT_EQ(ids(f.snapshot()), (std::vector<std::string>{"a", "c"}));
    ASSERT_TRUE(f.find("a"));
    EXPECT_EQ(f.find("a")->url, "https://a2.example.com/");
    EXPECT_FALSE(f.find("b"));
    const auto table = table_.load();
    EXPECT_EQ(table->size(), 2u);
    ASSERT_TRUE(table->find("a"));
    EXPECT_EQ((*table->find("a"))->url, "https://a2.example.com/");
    EXPECT_FALSE(table->find("b"));
    EXPECT_EQ(f.stats().records, 5u);
}

TEST_F(subscription_store, empty_topic_is_loaded_at_once_with_the_static_subscriptions)
{
    follower f(options({parse_stored(sub_json("s"))}), table_);
    f.start();
    EXPECT_TRUE(f.loaded());
    EXPECT_TRUE(f.wait_until_loaded(0ms));
    ASSERT_TRUE(table_.load()->find("s"));
}

TEST_F(subscription_store, follows_changes_made_after_start)
{
    follower f(options(), table_);
    f.start();
    ASSERT_TRUE(f.wait_until_loaded(relay::test::kafka_wait));
    EXPECT_EQ(table_.load()->size(), 0u);

    put_raw("late", sub_json("late", "https://v1.example.com/"));
    ASSERT_TRUE(eventually([&] { return table_.load()->find("late") != nullptr; }));

    put_raw("late", sub_json("late", "https://v2.example.com/"));
    ASSERT_TRUE(eventually([&] {
        const auto t = table_.load();
        return t->find("late") && (*t->find("late"))->url == "https://v2.example.com/";
    }));

    produce_raw("late", std::nullopt);
    ASSERT_TRUE(eventually([&] { return table_.load()->find("late") == nullptr; }));
    EXPECT_FALSE(f.find("late"));
}

TEST_F(subscription_store, skips_garbage_records_and_keeps_following)
{
    put_raw("good-1", sub_json("good-1"));
    put_raw("good-1", "this is not json");
    put_raw("x", R"({"id":"x","url":"ftp://nope","event_types":[]})");
    put_raw("mismatch", sub_json("other"));
    produce_raw(std::nullopt, sub_json("no-key"));
    produce_raw("bad key!", sub_json("good-2"));
    put_raw("deep", std::string(10000, '[') + std::string(10000, ']'));
    put_raw("good-2", sub_json("good-2"));

    follower f(options(), table_);
    f.start();
    ASSERT_TRUE(f.wait_until_loaded(relay::test::kafka_wait));
    EXPECT_EQ(ids(f.snapshot()), (std::vector<std::string>{"good-1", "good-2"}));
    EXPECT_EQ(f.stats().invalid, 6u);

    // Still following after the garbage.
    put_raw("good-3", "{");
    put_raw("good-3", sub_json("good-3"));
    ASSERT_TRUE(eventually([&] { return table_.load()->find("good-3") != nullptr; }));
    EXPECT_EQ(f.stats().invalid, 7u);
}

TEST_F(subscription_store, static_subscriptions_win_over_topic_records)
{
    put_raw("s", sub_json("s", "https://from-topic.example.com/"));
    follower f(options({parse_stored(sub_json("s", "https://static.example.com/"))}), table_);
    f.start();
    ASSERT_TRUE(f.wait_until_loaded(relay::test::kafka_wait));
    EXPECT_TRUE(f.is_static("s"));
    ASSERT_TRUE(f.find("s"));
    EXPECT_EQ(f.find("s")->url, "https://static.example.com/");

    const auto del = produce_raw("s", std::nullopt);
    ASSERT_TRUE(f.wait_applied(del.partition, del.offset, relay::test::kafka_wait));
    ASSERT_TRUE(table_.load()->find("s"));
    EXPECT_EQ((*table_.load()->find("s"))->url, "https://static.example.com/");
    EXPECT_EQ(ids(f.snapshot()), std::vector<std::string>{"s"});
    EXPECT_EQ(f.stats().ignored_static, 2u);
}

TEST_F(subscription_store, disabled_subscriptions_are_listed_but_not_routed)
{
    put_raw("on", sub_json("on"));
    put_raw("off", sub_json("off", "https://off.example.com/", false));
    follower f(options(), table_);
    f.start();
    ASSERT_TRUE(f.wait_until_loaded(relay::test::kafka_wait));
    EXPECT_EQ(ids(f.snapshot()), (std::vector<std::string>{"off", "on"}));
    ASSERT_TRUE(f.find("off"));
    EXPECT_FALSE(f.find("off")->enabled);
    EXPECT_TRUE(table_.load()->find("on"));
    EXPECT_FALSE(table_.load()->find("off"));
}

TEST_F(subscription_store, writer_then_wait_applied_reads_your_writes)
{
    follower f(options(), table_);
    f.start();
    ASSERT_TRUE(f.wait_until_loaded(relay::test::kafka_wait));
    auto wp =
        relay::subscription::make_writer_producer({{"bootstrap.servers", bootstrap()}, {"linger.ms", "1"}});
    writer w(wp, topic_);

    auto put = w.async_put(parse_stored(sub_json("rw", "https://rw.example.com/")), boost::asio::use_future);
    ASSERT_EQ(put.wait_for(relay::test::kafka_wait), std::future_status::ready);
    const delivery_info at = put.get();
    EXPECT_EQ(at.partition, 0);
    EXPECT_GE(at.offset, 0);
    ASSERT_TRUE(f.wait_applied(at.partition, at.offset, relay::test::kafka_wait));
    ASSERT_TRUE(f.find("rw")); // visible immediately after the wait, no polling
    EXPECT_TRUE(table_.load()->find("rw"));

    // The stored value carries the secrets (secret_mode::full) and parses back to the same subscription.
    EXPECT_EQ(f.find("rw")->secrets.at(0).secret.text, secret);

    auto del = w.async_remove("rw", boost::asio::use_future);
    ASSERT_EQ(del.wait_for(relay::test::kafka_wait), std::future_status::ready);
    const delivery_info gone = del.get();
    EXPECT_GT(gone.offset, at.offset);
    auto waited =
        f.async_wait_applied(gone.partition, gone.offset, relay::test::kafka_wait, boost::asio::use_future);
    ASSERT_EQ(waited.wait_for(relay::test::kafka_wait), std::future_status::ready);
    EXPECT_NO_THROW(waited.get());
    EXPECT_FALSE(f.find("rw"));
    EXPECT_FALSE(table_.load()->find("rw"));
}

TEST_F(subscription_store, async_wait_completes_on_the_handlers_io_context)
{
    // The io_context outlives the follower and the writer's producer, whose threads may still be posting to
    // it.
    boost::asio::io_context io;
    follower f(options(), table_);
    f.start();
    ASSERT_TRUE(f.wait_until_loaded(relay::test::kafka_wait));
    auto wp =
        relay::subscription::make_writer_producer({{"bootstrap.servers", bootstrap()}, {"linger.ms", "1"}});
    writer w(wp, topic_);

    std::optional<boost::system::error_code> result;
    std::thread::id ran_on;
    w.async_put(
        parse_stored(sub_json("io")),
        boost::asio::bind_executor(
            io,
            [&](boost::system::error_code ec, delivery_info at) {
                ASSERT_FALSE(ec) << ec.message();
                f.async_wait_applied(
                    at.partition,
                    at.offset,
                    10s,
                    boost::asio::bind_executor(
                        io,
                        [&](boost::system::error_code e) {
                            result = e;
                            ran_on = std::this_thread::get_id();
                        }
                    )
                );
            }
        )
    );
    // Nothing else keeps `io` busy: run() returns only because the operations track work on it.
    io.run_for(relay::test::kafka_wait);
    ASSERT_TRUE(result.has_value());
    EXPECT_FALSE(*result) << result->message();
    EXPECT_EQ(ran_on, std::this_thread::get_id());
    EXPECT_TRUE(f.find("io"));
}

TEST_F(subscription_store, waits_time_out_and_reject_unknown_partitions)
{
    follower f(options(), table_);
    f.start();
    ASSERT_TRUE(f.wait_until_loaded(relay::test::kafka_wait));

    EXPECT_FALSE(f.wait_applied(0, 1000, 50ms));
    EXPECT_FALSE(f.wait_applied(7, 0, 50ms));

    boost::asio::io_context io;
    std::promise<boost::system::error_code> timed_out;
    std::optional<boost::system::error_code> bad_partition;
    const auto begun = std::chrono::steady_clock::now();
    f.async_wait_applied(0, 1000, 100ms, [&](boost::system::error_code ec) { timed_out.set_value(ec); });
    f.async_wait_applied(7, 0, 100ms, boost::asio::bind_executor(io, [&](boost::system::error_code ec) {
                             bad_partition = ec;
                         }));
    EXPECT_FALSE(bad_partition) << "never completes inside the initiating function";
    io.run_for(5s);
    EXPECT_EQ(bad_partition, boost::asio::error::invalid_argument);
    auto expired = timed_out.get_future();
    ASSERT_EQ(expired.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(expired.get(), boost::asio::error::timed_out);
    EXPECT_GE(std::chrono::steady_clock::now() - begun, 100ms);
}

TEST_F(subscription_store, stop_aborts_pending_waits_and_keeps_the_state)
{
    put_raw("kept", sub_json("kept"));
    follower f(options(), table_);
    f.start();
    ASSERT_TRUE(f.wait_until_loaded(relay::test::kafka_wait));
    auto pending = f.async_wait_applied(0, 1000, relay::test::kafka_wait, boost::asio::use_future);
    f.stop();
    ASSERT_EQ(pending.wait_for(5s), std::future_status::ready);
    try {
        pending.get();
        ADD_FAILURE() << "expected operation_aborted";
    } catch (const boost::system::system_error& e) {
        EXPECT_EQ(e.code(), boost::asio::error::operation_aborted);
    }
    EXPECT_TRUE(f.find("kept"));
    EXPECT_TRUE(table_.load()->find("kept"));
    f.stop(); // idempotent
    auto after = f.async_wait_applied(0, 0, 1s, boost::asio::use_future);
    ASSERT_EQ(after.wait_for(5s), std::future_status::ready);
    EXPECT_THROW(after.get(), boost::system::system_error);
}

TEST_F(subscription_store, start_fails_clearly_when_the_topic_is_missing)
{
    auto o = options();
    o.topic = relay::test::unique_topic("missing");
    o.start_timeout = 3s;
    follower f(std::move(o), table_);
    try {
        f.start();
        ADD_FAILURE() << "start() must throw for a missing topic";
    } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("cannot read the subscriptions topic"), std::string::npos) << what;
        EXPECT_NE(what.find("UNKNOWN_TOPIC_OR_PART"), std::string::npos) << what;
    }
    EXPECT_FALSE(f.wait_until_loaded(10ms));
}

TEST_F(subscription_store, writer_refuses_invalid_ids_without_producing)
{
    auto wp = relay::subscription::make_writer_producer({{"bootstrap.servers", bootstrap()}});
    writer w(wp, topic_);
    auto r = w.async_remove("not an id", boost::asio::use_future);
    ASSERT_EQ(r.wait_for(5s), std::future_status::ready);
    try {
        r.get();
        ADD_FAILURE() << "expected invalid_argument";
    } catch (const boost::system::system_error& e) {
        EXPECT_EQ(e.code(), boost::asio::error::invalid_argument);
    }
    const auto rec = w.put_record(parse_stored(sub_json("p")));
    EXPECT_EQ(rec.topic, topic_);
    EXPECT_EQ(rec.key, "p");
    ASSERT_TRUE(rec.value);
    EXPECT_NE(rec.value->find(secret), std::string::npos);
    EXPECT_FALSE(w.remove_record("p").value.has_value());
}

TEST_F(subscription_store, ensure_topic_finds_the_existing_topic)
{
    // The mock cannot create topics; with an existing one ensure_topics creates nothing.
    EXPECT_TRUE(
        relay::subscription::ensure_subscriptions_topic(raw_producer_.native_handle(), topic_, -1, 10s)
            .empty()
    );
}

} // namespace
