#pragma once

#include "relay/kafka/handles.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace relay::kafka {

/// A partition of a topic, with an offset where the operation needs one (assign, seek, committed offsets).
struct topic_partition
{
    std::string topic{};
    std::int32_t partition = 0;
    /// RD_KAFKA_OFFSET_INVALID means "not set" (assign: the committed offset, else auto.offset.reset).
    std::int64_t offset = RD_KAFKA_OFFSET_INVALID;

    friend bool operator==(const topic_partition&, const topic_partition&) = default;
};

/// A record to produce. Empty optionals are Kafka nulls: a null value on a compacted topic is a tombstone.
struct record
{
    std::string topic{};
    std::optional<std::string> key{};
    std::optional<std::string> value{};
    std::vector<std::pair<std::string, std::string>> headers{};
    /// RD_KAFKA_PARTITION_UA lets the partitioner choose (by key hash when there is a key).
    std::int32_t partition = RD_KAFKA_PARTITION_UA;
    /// Milliseconds since the epoch; 0 means "now".
    std::int64_t timestamp_ms = 0;
};

/// Where an acknowledged record was written.
struct delivery_info
{
    std::int32_t partition = RD_KAFKA_PARTITION_UA;
    std::int64_t offset = RD_KAFKA_OFFSET_INVALID;
};

/// Converts to a librdkafka list (offsets copied).
topic_partition_list_ptr to_list(const std::vector<topic_partition>& partitions);

/// Converts from a librdkafka list (offsets copied); a null list gives an empty vector.
std::vector<topic_partition> from_list(const rd_kafka_topic_partition_list_t* list);

/// The message's topic name.
std::string_view topic_name(const rd_kafka_message_t& m) noexcept;

/// The value, or nullopt for a null value (tombstone).
std::optional<std::string_view> value(const rd_kafka_message_t& m) noexcept;

/// The key, or nullopt for a null key.
std::optional<std::string_view> key(const rd_kafka_message_t& m) noexcept;

/// The last header named `name` (case-sensitive, as Kafka headers are), nullopt when absent; a header with a
/// null value reads as an empty string.
std::optional<std::string_view> header(const rd_kafka_message_t& m, std::string_view name) noexcept;

/// All headers in order; null header values read as empty strings.
std::vector<std::pair<std::string_view, std::string_view>> headers(const rd_kafka_message_t& m);

/// The message timestamp in milliseconds since the epoch, or -1 when the broker/producer gave none.
std::int64_t timestamp_ms(const rd_kafka_message_t& m) noexcept;

} // namespace relay::kafka
