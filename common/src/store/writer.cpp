#include "relay/subscription/store.hpp"

#include <utility>

namespace relay::subscription {

kafka::topic_spec subscriptions_topic_spec(std::string topic, int replication_factor)
{
    return {
        .name = std::move(topic),
        .partitions = 1,
        .replication_factor = replication_factor,
        .configs = {{"cleanup.policy", "compact"}},
    };
}

std::vector<std::string> ensure_subscriptions_topic(
    rd_kafka_t* rk, std::string topic, int replication_factor, std::chrono::milliseconds timeout
)
{
    return kafka::ensure_topics(
        rk, {subscriptions_topic_spec(std::move(topic), replication_factor)}, timeout
    );
}

writer::writer(kafka::producer& producer, std::string topic)
    : producer_(&producer)
    , topic_(std::move(topic))
{}

kafka::record writer::put_record(const subscription& s) const
{
    kafka::record rec;
    rec.topic = topic_;
    rec.key = s.id;
    rec.value = to_json(s, secret_mode::full);
    return rec;
}

kafka::record writer::remove_record(std::string_view id) const
{
    kafka::record rec;
    rec.topic = topic_;
    rec.key = std::string(id);
    return rec; // no value: a tombstone
}

kafka::producer make_writer_producer(kafka::properties props, kafka::fatal_handler on_fatal)
{
    // An acknowledged change must survive the loss of the leader, and a retried send must not reorder
    // two changes of the same subscription.
    props["acks"] = "all";
    props["enable.idempotence"] = "true";
    return kafka::producer({.config = std::move(props), .on_fatal = std::move(on_fatal)});
}

} // namespace relay::subscription
