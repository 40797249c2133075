#include "relay/kafka/message.hpp"

namespace relay::kafka {

topic_partition_list_ptr to_list(const std::vector<topic_partition>& partitions)
{
    topic_partition_list_ptr list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
    for (const auto& tp : partitions) {
        rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset = tp.offset;
    }
    return list;
}

std::vector<topic_partition> from_list(const rd_kafka_topic_partition_list_t* list)
{
    std::vector<topic_partition> out;
    if (list == nullptr) {
        return out;
    }
    out.reserve(static_cast<std::size_t>(list->cnt));
    for (int i = 0; i < list->cnt; ++i) {
        const auto& e = list->elems[i];
        out.push_back({e.topic, e.partition, e.offset});
    }
    return out;
}

std::string_view topic_name(const rd_kafka_message_t& m) noexcept
{
    return m.rkt != nullptr ? std::string_view(rd_kafka_topic_name(m.rkt)) : std::string_view();
}

std::optional<std::string_view> value(const rd_kafka_message_t& m) noexcept
{
    if (m.payload == nullptr) {
        return std::nullopt;
    }
    return std::string_view(static_cast<const char*>(m.payload), m.len);
}

std::optional<std::string_view> key(const rd_kafka_message_t& m) noexcept
{
    if (m.key == nullptr) {
        return std::nullopt;
    }
    return std::string_view(static_cast<const char*>(m.key), m.key_len);
}

std::optional<std::string_view> header(const rd_kafka_message_t& m, std::string_view name) noexcept
{
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(&m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR || hdrs == nullptr) {
        return std::nullopt;
    }
    // Scanned with get_all rather than get_last: `name` is not NUL-terminated.
    std::optional<std::string_view> found;
    const char* n = nullptr;
    const void* v = nullptr;
    std::size_t size = 0;
    for (std::size_t i = 0; rd_kafka_header_get_all(hdrs, i, &n, &v, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
        if (std::string_view(n) == name) {
            found = v != nullptr ? std::string_view(static_cast<const char*>(v), size) : std::string_view();
        }
    }
    return found;
}

std::vector<std::pair<std::string_view, std::string_view>> headers(const rd_kafka_message_t& m)
{
    std::vector<std::pair<std::string_view, std::string_view>> out;
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(&m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR || hdrs == nullptr) {
        return out;
    }
    const char* n = nullptr;
    const void* v = nullptr;
    std::size_t size = 0;
    for (std::size_t i = 0; rd_kafka_header_get_all(hdrs, i, &n, &v, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
        out.emplace_back(
            n, v != nullptr ? std::string_view(static_cast<const char*>(v), size) : std::string_view()
        );
    }
    return out;
}

std::int64_t timestamp_ms(const rd_kafka_message_t& m) noexcept
{
    rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    const auto ts = rd_kafka_message_timestamp(&m, &type);
    return type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : ts;
}

} // namespace relay::kafka
