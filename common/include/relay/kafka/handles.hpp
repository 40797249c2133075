#pragma once

#include <librdkafka/rdkafka.h>

#include <memory>

namespace relay::kafka {

/// Calls the librdkafka destroy function `Destroy` on a non-null pointer; one deleter type per C type.
template <auto Destroy>
struct c_deleter
{
    template <class T>
    void operator()(T* p) const noexcept
    {
        Destroy(p);
    }
};

namespace detail {
// rd_kafka_metadata_destroy takes a pointer to const; unique_ptr<const T> passes const T*.
inline void destroy_metadata(const rd_kafka_metadata_t* md) noexcept
{
    rd_kafka_metadata_destroy(md);
}
} // namespace detail

/// A client instance (producer, consumer or admin). Destroying it blocks until librdkafka's threads stop.
using handle_ptr = std::unique_ptr<rd_kafka_t, c_deleter<&rd_kafka_destroy>>;
/// A configuration object; ownership passes to librdkafka only when rd_kafka_new succeeds.
using conf_ptr = std::unique_ptr<rd_kafka_conf_t, c_deleter<&rd_kafka_conf_destroy>>;
/// A queue reference; must be destroyed before the handle it belongs to.
using queue_ptr = std::unique_ptr<rd_kafka_queue_t, c_deleter<&rd_kafka_queue_destroy>>;
/// A consumed message; must be destroyed before the consumer that returned it.
using message_ptr = std::unique_ptr<rd_kafka_message_t, c_deleter<&rd_kafka_message_destroy>>;
/// A topic+partition list.
using topic_partition_list_ptr =
    std::unique_ptr<rd_kafka_topic_partition_list_t, c_deleter<&rd_kafka_topic_partition_list_destroy>>;
/// A header list; rd_kafka_produceva takes ownership only when it succeeds.
using headers_ptr = std::unique_ptr<rd_kafka_headers_t, c_deleter<&rd_kafka_headers_destroy>>;
/// A topic object (used for targeted metadata requests).
using topic_ptr = std::unique_ptr<rd_kafka_topic_t, c_deleter<&rd_kafka_topic_destroy>>;
/// A metadata snapshot.
using metadata_ptr = std::unique_ptr<const rd_kafka_metadata_t, c_deleter<&detail::destroy_metadata>>;
/// An event from a queue (admin results).
using event_ptr = std::unique_ptr<rd_kafka_event_t, c_deleter<&rd_kafka_event_destroy>>;
/// An error object returned by the newer librdkafka APIs.
using error_ptr = std::unique_ptr<rd_kafka_error_t, c_deleter<&rd_kafka_error_destroy>>;
/// Admin request options.
using admin_options_ptr = std::unique_ptr<rd_kafka_AdminOptions_t, c_deleter<&rd_kafka_AdminOptions_destroy>>;
/// A CreateTopics request entry.
using new_topic_ptr = std::unique_ptr<rd_kafka_NewTopic_t, c_deleter<&rd_kafka_NewTopic_destroy>>;
/// A DescribeConfigs/AlterConfigs resource.
using config_resource_ptr =
    std::unique_ptr<rd_kafka_ConfigResource_t, c_deleter<&rd_kafka_ConfigResource_destroy>>;

} // namespace relay::kafka
