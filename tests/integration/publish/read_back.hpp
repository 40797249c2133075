#pragma once

#include "relay/kafka/consumer.hpp"

#include "support/kafka/kafka.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace relay::test {

/// A mock cluster fixture that reads topics back.
class publish_kafka_test : public mock_kafka_test
{
protected:
    /// Every record of `topic` (partitions 0..partitions-1) from the beginning, once at least `n` arrived;
    /// sorted by partition and offset. Fails the test when they do not arrive in time.
    std::vector<consumed> read_back(const std::string& topic, int partitions, std::size_t n)
    {
        recording_handler h;
        relay::kafka::consumer c({.client = {.config = consumer_props(unique_group())}}, h);
        std::vector<relay::kafka::topic_partition> tps;
        for (int p = 0; p < partitions; ++p) {
            tps.push_back({topic, p, RD_KAFKA_OFFSET_BEGINNING});
        }
        EXPECT_FALSE(c.assign(tps));
        EXPECT_TRUE(h.wait_for_messages(n)) << "only " << h.message_count() << " of " << n << " records";
        c.close();
        auto out = h.messages();
        std::sort(out.begin(), out.end(), [](const consumed& a, const consumed& b) {
            return a.partition != b.partition ? a.partition < b.partition : a.offset < b.offset;
        });
        return out;
    }

    /// Number of records in `topic` (sum of high watermarks; nothing is ever deleted on the mock).
    std::int64_t record_count(const std::string& topic, int partitions)
    {
        relay::kafka::producer p({.config = producer_props()});
        std::int64_t total = 0;
        for (int part = 0; part < partitions; ++part) {
            std::int64_t low = 0;
            std::int64_t high = 0;
            const auto err =
                rd_kafka_query_watermark_offsets(p.native_handle(), topic.c_str(), part, &low, &high, 10000);
            EXPECT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(err);
            total += high;
        }
        return total;
    }
};

} // namespace relay::test
