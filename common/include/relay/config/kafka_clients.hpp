#pragma once

#include "relay/config/config.hpp"

namespace relay::config {

/// Which kind of Kafka client a property map is for.
enum class client_kind
{
    admin,    ///< metadata and topic creation
    consumer, ///< consumers (workers, the subscriptions follower)
    producer, ///< producers (ingest, parking, publish)
};

/// The librdkafka properties of a Relay client: `kafka.properties`, then `kafka.consumer_properties` or
/// `kafka.producer_properties` for that kind (which win), then `bootstrap.servers` = `kafka.brokers`. Callers
/// add what they own (group.id, acks, ...) on top. Pure; thread-safe.
property_map client_properties(const config& cfg, client_kind kind);

} // namespace relay::config
