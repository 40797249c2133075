#pragma once

#include "relay/kafka/handles.hpp"

#include <boost/system/error_code.hpp>

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace relay::kafka {

/// librdkafka configuration properties ("bootstrap.servers" -> "host:9092"), as in CONFIGURATION.md.
using properties = std::map<std::string, std::string>;

/// Called once when librdkafka reports a fatal error (e.g. an idempotent producer's lost sequence, a fenced
/// static group member). The client is unusable afterwards: the application should flip readiness and exit.
/// Runs on the client's poll thread; must not block or destroy the client.
using fatal_handler = std::function<void(boost::system::error_code ec, std::string_view reason)>;

/// Receives librdkafka's statistics JSON (STATISTICS.md) every `statistics.interval.ms`. Runs on the client's
/// poll thread; the view is valid during the call only.
using statistics_handler = std::function<void(std::string_view json)>;

/// What every client (producer, consumer, admin) is built from.
struct client_options
{
    /// librdkafka properties; every key must be known to librdkafka and every value valid.
    properties config{};
    /// Fatal error hook (after the error is logged at crit). Optional.
    fatal_handler on_fatal{};
    /// Statistics hook; only called when `config` sets statistics.interval.ms > 0. Optional.
    statistics_handler on_statistics{};
};

/// Checks every property against librdkafka without creating a client. Returns one message per rejected key
/// ("<key>: <librdkafka's reason>"), empty when all are accepted. Values of secret-looking keys (password,
/// secret, key material) are never echoed. Cross-property rules (checked only by rd_kafka_new) are not
/// covered.
std::vector<std::string> validate_properties(const properties& props);

/// Builds a configuration object from `props`.
/// Throws config_error listing every rejected key (see validate_properties).
conf_ptr make_conf(const properties& props);

/// True for keys whose values are credentials and must never be logged ("sasl.password", "ssl.key.pem", ...).
bool is_secret_property(std::string_view key) noexcept;

} // namespace relay::kafka
