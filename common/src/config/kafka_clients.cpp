#include "relay/config/kafka_clients.hpp"

namespace relay::config {

property_map client_properties(const config& cfg, client_kind kind)
{
    property_map props = cfg.kafka.properties;
    const property_map* specific = kind == client_kind::consumer   ? &cfg.kafka.consumer_properties
                                   : kind == client_kind::producer ? &cfg.kafka.producer_properties
                                                                   : nullptr;
    if (specific) {
        for (const auto& [k, v] : *specific)
            props[k] = v;
    }
    props["bootstrap.servers"] = cfg.kafka.brokers;
    return props;
}

} // namespace relay::config
