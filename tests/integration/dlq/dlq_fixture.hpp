#pragma once

#include "relay/config/config.hpp"
#include "relay/delivery/dlq.hpp"
#include "relay/delivery/retry_schedule.hpp"
#include "relay/kafka/consumer.hpp"
#include "relay/kafka/producer.hpp"

#include "support/kafka/kafka.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <vector>

namespace relay::test {

/// A mock cluster with a 2-partition DLQ topic and the first retry tier topic (schedule 5s, 1m), plus the
/// records seed() writes: deliveries of two subscriptions dead-lettered for two reasons at known times, an
/// invalid_event and one record that is not a DLQ record.
class dlq_kafka_test : public mock_kafka_test
{
protected:
    /// failed-at of seeded record i is base_ms + i * 1000.
    static constexpr std::int64_t base_ms = 1'700'000'000'000;

    /// A seeded DLQ record.
    struct seeded
    {
        std::string subscription; ///< "" for the invalid event and the foreign record
        std::string event;
        delivery::dlq_reason reason;
        std::string key;
        std::string value;
    };

    void SetUp() override
    {
        cfg_.kafka.brokers = bootstrap();
        cfg_.topics.dlq = make_topic(2, "dlq");
        cfg_.topics.retry_prefix = unique_topic("retry") + ".";
        cfg_.delivery.retry_schedule = {std::chrono::seconds(5), std::chrono::minutes(1)};
        retry_topic_ = delivery::tier_topic(cfg_.topics.retry_prefix, std::chrono::seconds(5));
        ASSERT_FALSE(cluster_.create_topic(retry_topic_, 2));
    }

    /// The records seed() writes, in order (record i failed at base_ms + i * 1000).
    static std::vector<seeded> seeds()
    {
        using r = delivery::dlq_reason;
        return {
            {"sub_a", "evt_0", r::exhausted, "key-0", R"({"type":"order.created","id":"evt_0"})"},
            {"sub_a", "evt_1", r::permanent_status, "key-1", R"({"type":"order.created","id":"evt_1"})"},
            {"sub_b", "evt_2", r::exhausted, "key-2", R"({"type":"order.paid","id":"evt_2"})"},
            {"sub_b", "evt_3", r::permanent_status, "key-3", R"({"type":"order.paid","id":"evt_3"})"},
            {"sub_a", "evt_4", r::exhausted, "key-4", R"({"type":"order.created","id":"evt_4"})"},
            {"", "", r::invalid_event, "key-5", "not json"},
        };
    }

    /// Writes seeds() to the DLQ (alternating partitions) with traceparent headers, plus a record without
    /// Relay's headers, and waits for every acknowledgement.
    void seed()
    {
        std::vector<kafka::record> records;
        const auto all = seeds();
        for (std::size_t i = 0; i < all.size(); ++i) {
            const auto& s = all[i];
            // record_header holds views: the value must outlive `original`.
            const std::string traceparent = "00-trace-" + std::to_string(i);
            const std::vector<event::record_header> original = {{"traceparent", traceparent}};
            delivery::delivery_state st;
            st.subscription_id = s.subscription;
            st.event_id = s.event;
            st.attempts = s.reason == delivery::dlq_reason::exhausted ? 3 : 1;
            st.first_attempt_ms = base_ms - 60'000;
            st.last_status = s.reason == delivery::dlq_reason::invalid_event ? 0 : 500;
            st.origin = {"relay.events", 0, static_cast<std::int64_t>(100 + i)};
            auto rec = delivery::make_dlq_record(
                cfg_.topics.dlq,
                {std::string_view(s.key), std::string_view(s.value), original},
                st,
                {s.reason, "failure " + std::to_string(i), base_ms + static_cast<std::int64_t>(i) * 1000, {}}
            );
            rec.partition = static_cast<std::int32_t>(i % 2);
            records.push_back(std::move(rec));
        }
        kafka::record foreign;
        foreign.topic = cfg_.topics.dlq;
        foreign.key = "foreign";
        foreign.value = "{}";
        foreign.partition = 1;
        records.push_back(std::move(foreign));
        produce(records);
    }

    /// Produces `records` and waits until every one is acknowledged (test failure otherwise).
    void produce(const std::vector<kafka::record>& records)
    {
        kafka::producer p({.config = producer_props()});
        std::atomic<int> failures{0};
        for (const auto& r : records) {
            ASSERT_FALSE(p.produce(r, [&](boost::system::error_code ec, kafka::delivery_info) {
                if (ec)
                    ++failures;
            }));
        }
        ASSERT_FALSE(p.flush(kafka_wait));
        ASSERT_EQ(failures.load(), 0);
    }

    /// Records in `topic` now (sum of high watermarks of its 2 partitions).
    std::int64_t record_count(const std::string& topic)
    {
        kafka::producer p({.config = producer_props()});
        std::int64_t total = 0;
        for (int part = 0; part < 2; ++part) {
            std::int64_t low = 0;
            std::int64_t high = 0;
            const auto err =
                rd_kafka_query_watermark_offsets(p.native_handle(), topic.c_str(), part, &low, &high, 10000);
            EXPECT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(err);
            total += high;
        }
        return total;
    }

    /// Every record of `topic` (both partitions), once all `n` arrived; sorted by event id header.
    std::vector<consumed> read_all(const std::string& topic, std::size_t n)
    {
        recording_handler h;
        kafka::consumer c({.client = {.config = consumer_props(unique_group())}}, h);
        EXPECT_FALSE(c.assign({{topic, 0, RD_KAFKA_OFFSET_BEGINNING}, {topic, 1, RD_KAFKA_OFFSET_BEGINNING}})
        );
        EXPECT_TRUE(h.wait_for_messages(n)) << "only " << h.message_count() << " of " << n << " records";
        c.close();
        auto out = h.messages();
        std::sort(out.begin(), out.end(), [](const consumed& a, const consumed& b) { return a.key < b.key; });
        return out;
    }

    config::config cfg_;
    std::string retry_topic_;
};

/// The last value of header `name` of `m`.
inline std::optional<std::string> header_of(const consumed& m, std::string_view name)
{
    std::optional<std::string> out;
    for (const auto& [n, v] : m.headers) {
        if (n == name)
            out = v;
    }
    return out;
}

} // namespace relay::test
