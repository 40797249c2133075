#include "relay/kafka/error.hpp"
#include "relay/kafka/producer.hpp"

#include "support/kafka/kafka.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

namespace {

namespace asio = boost::asio;
using relay::kafka::delivery_info;
using relay::kafka::producer;
using relay::kafka::record;
using relay::test::mock_kafka_test;

class kafka_producer : public mock_kafka_test
{};

record make_record(const std::string& topic, std::string value = "v")
{
    record r;
    r.topic = topic;
    r.key = "k";
    r.value = std::move(value);
    return r;
}

TEST_F(kafka_producer, co_awaited_delivery_report_resumes_on_the_io_context)
{
    const auto topic = make_topic(3);
    asio::io_context io; // outlives the producer, whose thread may still be posting to it
    producer p({.config = producer_props()});
    boost::system::error_code result = asio::error::would_block;
    delivery_info info;
    std::thread::id resumed_on;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            std::tie(result, info) =
                co_await p.async_produce(make_record(topic), asio::as_tuple(asio::use_awaitable));
            resumed_on = std::this_thread::get_id();
        },
        asio::detached
    );
    // run() returns only when the coroutine finished: the pending delivery counts as outstanding work.
    io.run();
    EXPECT_FALSE(result) << result.message();
    EXPECT_GE(info.partition, 0);
    EXPECT_LT(info.partition, 3);
    EXPECT_EQ(info.offset, 0);
    EXPECT_EQ(resumed_on, std::this_thread::get_id());
}

TEST_F(kafka_producer, offsets_grow_per_partition)
{
    const auto topic = make_topic(1);
    asio::io_context io; // outlives the producer, whose thread may still be posting to it
    producer p({.config = producer_props()});
    std::vector<std::int64_t> offsets;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            for (int i = 0; i < 3; ++i) {
                auto r = make_record(topic);
                r.partition = 0;
                const auto info = co_await p.async_produce(std::move(r), asio::use_awaitable);
                offsets.push_back(info.offset);
            }
        },
        asio::detached
    );
    io.run();
    EXPECT_EQ(offsets, (std::vector<std::int64_t>{0, 1, 2}));
}

TEST_F(kafka_producer, callback_runs_once_on_the_poll_thread)
{
    const auto topic = make_topic(1);
    producer p({.config = producer_props()});
    std::promise<std::pair<boost::system::error_code, std::thread::id>> done;
    const auto ec = p.produce(make_record(topic), [&](boost::system::error_code e, delivery_info) {
        done.set_value({e, std::this_thread::get_id()});
    });
    ASSERT_FALSE(ec) << ec.message();
    auto f = done.get_future();
    ASSERT_EQ(f.wait_for(relay::test::kafka_wait), std::future_status::ready);
    const auto [result, thread] = f.get();
    EXPECT_FALSE(result) << result.message();
    EXPECT_NE(thread, std::this_thread::get_id());
}

TEST_F(kafka_producer, full_queue_is_an_immediate_error_not_a_wait)
{
    const auto topic = make_topic(1);
    // A long linger keeps the first record queued, so the second finds the queue full.
    producer p(
        {.config = producer_props(
             {{"queue.buffering.max.messages", "1"}, {"linger.ms", "30000"}, {"message.timeout.ms", "60000"}}
         )}
    );
    ASSERT_FALSE(p.produce(make_record(topic), {}));
    const auto start = std::chrono::steady_clock::now();
    const auto ec = p.produce(make_record(topic), {});
    EXPECT_EQ(ec, relay::kafka::make_error_code(RD_KAFKA_RESP_ERR__QUEUE_FULL));
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
    p.close(std::chrono::milliseconds(0));
}

TEST_F(kafka_producer, full_queue_completes_async_produce_with_an_error_through_the_executor)
{
    const auto topic = make_topic(1);
    asio::io_context io; // outlives the producer, whose thread may still be posting to it
    producer p(
        {.config = producer_props(
             {{"queue.buffering.max.messages", "1"}, {"linger.ms", "30000"}, {"message.timeout.ms", "60000"}}
         )}
    );
    ASSERT_FALSE(p.produce(make_record(topic), {}));
    boost::system::error_code result;
    bool completed = false;
    p.async_produce(
        make_record(topic),
        asio::bind_executor(
            io,
            [&](boost::system::error_code ec, delivery_info) {
                result = ec;
                completed = true;
            }
        )
    );
    EXPECT_FALSE(completed) << "completed inside the initiating function";
    io.run();
    EXPECT_TRUE(completed);
    EXPECT_EQ(result, relay::kafka::make_error_code(RD_KAFKA_RESP_ERR__QUEUE_FULL));
    p.close(std::chrono::milliseconds(0));
}

TEST_F(kafka_producer, close_fails_undeliverable_records_with_operation_aborted)
{
    const auto topic = make_topic(1);
    asio::io_context io; // outlives the producer, whose thread may still be posting to it
    producer p({.config = producer_props({{"message.timeout.ms", "60000"}})});
    ASSERT_FALSE(cluster_.set_broker_down(1));
    boost::system::error_code result;
    p.async_produce(
        make_record(topic),
        asio::bind_executor(io, [&](boost::system::error_code ec, delivery_info) { result = ec; })
    );
    std::thread closer([&] { p.close(std::chrono::milliseconds(200)); });
    io.run();
    closer.join();
    EXPECT_EQ(result, asio::error::operation_aborted);
}

TEST_F(kafka_producer, produce_after_close_is_refused)
{
    const auto topic = make_topic(1);
    producer p({.config = producer_props()});
    p.close(std::chrono::seconds(5));
    EXPECT_EQ(p.produce(make_record(topic), {}), asio::error::operation_aborted);
}

TEST_F(kafka_producer, destructor_flushes_outstanding_records)
{
    const auto topic = make_topic(1);
    std::atomic<int> delivered{0};
    {
        producer p({.config = producer_props({{"linger.ms", "200"}})});
        for (int i = 0; i < 10; ++i) {
            ASSERT_FALSE(p.produce(make_record(topic), [&](boost::system::error_code ec, delivery_info) {
                if (!ec) {
                    ++delivered;
                }
            }));
        }
    }
    EXPECT_EQ(delivered.load(), 10);
}

TEST_F(kafka_producer, broker_errors_reach_the_handler_as_kafka_codes)
{
    const auto topic = make_topic(1);
    // A non-retriable broker error on the next Produce request.
    cluster_.push_request_errors(
        relay::kafka::api_key::produce, {RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED}
    );
    asio::io_context io; // outlives the producer, whose thread may still be posting to it
    producer p({.config = producer_props()});
    boost::system::error_code result;
    p.async_produce(
        make_record(topic),
        asio::bind_executor(io, [&](boost::system::error_code ec, delivery_info) { result = ec; })
    );
    io.run();
    EXPECT_EQ(result, relay::kafka::make_error_code(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED));
    EXPECT_EQ(result.message(), "Broker: Topic authorization failed");
}

TEST_F(kafka_producer, records_time_out_when_the_broker_is_down)
{
    const auto topic = make_topic(1);
    asio::io_context io; // outlives the producer, whose thread may still be posting to it
    producer p({.config = producer_props({{"message.timeout.ms", "500"}})});
    ASSERT_FALSE(cluster_.set_broker_down(1));
    boost::system::error_code result;
    p.async_produce(
        make_record(topic),
        asio::bind_executor(io, [&](boost::system::error_code ec, delivery_info) { result = ec; })
    );
    io.run();
    EXPECT_EQ(result, relay::kafka::make_error_code(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT));
}

TEST_F(kafka_producer, statistics_arrive_when_an_interval_is_set)
{
    std::promise<std::string> first;
    std::atomic<bool> set{false};
    producer p({
        .config = producer_props({{"statistics.interval.ms", "100"}}),
        .on_statistics =
            [&](std::string_view json) {
                if (!set.exchange(true)) {
                    first.set_value(std::string(json));
                }
            },
    });
    auto f = first.get_future();
    ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    EXPECT_NE(f.get().find("\"type\": \"producer\""), std::string::npos);
}

TEST_F(kafka_producer, idempotent_producer_fatal_error_reaches_on_fatal)
{
    const auto topic = make_topic(1);
    std::promise<boost::system::error_code> fatal;
    producer p({
        .config = producer_props({{"enable.idempotence", "true"}}),
        .on_fatal = [&](boost::system::error_code ec, std::string_view) { fatal.set_value(ec); },
    });
    // Let the producer get its producer id first.
    ASSERT_TRUE(relay::test::produce_records(p, topic, 1));
    // An out-of-order sequence on an idempotent producer is fatal.
    cluster_.push_request_errors(
        relay::kafka::api_key::produce, {RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER}
    );
    ASSERT_FALSE(p.produce(make_record(topic), {}));
    auto f = fatal.get_future();
    ASSERT_EQ(f.wait_for(relay::test::kafka_wait), std::future_status::ready);
    EXPECT_EQ(f.get(), relay::kafka::make_error_code(RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER));
    EXPECT_TRUE(p.fatal());
    // Every later record is refused at once with the fatal error.
    EXPECT_EQ(
        p.produce(make_record(topic), {}),
        relay::kafka::make_error_code(RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER)
    );
}

} // namespace
