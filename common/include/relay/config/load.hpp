#pragma once

#include "relay/config/config.hpp"
#include "relay/config/environment.hpp"

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace relay::config {

/// The configuration is unusable. what() lists every problem found, one per line after a summary line; each
/// problem names the setting by its key and environment variable, e.g.
/// "delivery.retry_jitter (RELAY_DELIVERY_RETRY_JITTER): must be between 0 and 1, got 1.5".
/// Messages never contain secret values.
class config_error : public std::runtime_error
{
public:
    /// `problems` must not be empty.
    explicit config_error(std::vector<std::string> problems);

    /// Every problem, in the order found (file, environment, then validation).
    const std::vector<std::string>& problems() const noexcept { return problems_; }

private:
    std::vector<std::string> problems_;
};

/// Environment variable naming the config file when load_config() is given none.
inline constexpr std::string_view config_file_variable = "RELAY_CONFIG";

/// Loads the configuration: defaults, then `file` (or the file named by RELAY_CONFIG when `file` is empty; no
/// file at all is fine), then `RELAY_*` variables of `env` (see config.hpp for the rules), then validate().
/// The file may be YAML or JSON; unknown keys, wrong types and bad values are problems, as are unknown
/// `RELAY_*` variables. Reads the files that `*_FILE` variables name.
/// @throws config_error listing every problem found, if there is any.
config load_config(const std::optional<std::filesystem::path>& file, const environment& env);

/// Every problem of `c`, each naming its setting: ranges, empty names, listen addresses, CIDRs, topic names,
/// API token syntax, the static subscriptions' JSON shape, an unreadable `delivery.ca_file`, and every
/// librdkafka property that librdkafka rejects (with librdkafka's message) or that Relay owns. Empty when
/// valid. Thread-safe (creates a throwaway librdkafka configuration object per property map).
std::vector<std::string> validate(const config& c);

/// The effective configuration as one line of JSON, in the file's layout (durations as "5s", sizes in bytes),
/// for logging at start. With `mask_secrets`, every API token, every librdkafka property whose name contains
/// "password", "secret", "key" or "credential" (sasl.password, ssl.key.pem, sasl.oauthbearer.client.secret,
/// ...) and every secret in the static subscriptions (`secret`, `secrets`, `signing_key` and other members
/// named like secrets, sensitive custom header values, and the userinfo and query of URLs) is shown as "***".
/// Without masking, the output loads back through load_config() as the same configuration.
std::string to_json(const config& c, bool mask_secrets = true);

/// Converts a YAML (or JSON) document to JSON text. Quoted scalars become strings; plain scalars that YAML
/// reads as null, true/false or a number become JSON null, booleans and numbers ("0x1F" and "0o17" become
/// decimal, "+5" becomes 5); every other scalar is a string ("yes", "1.2.3", "0123"). Mapping keys must be
/// scalars and unique. An empty document is null.
/// @throws config_error on a YAML syntax error, a non-scalar or duplicate key, or nesting deeper than 100.
std::string yaml_to_json(std::string_view yaml_text);

/// One row of the settings table (config.hpp): what the README documents.
struct setting_info
{
    std::string key;  ///< YAML path: "delivery.retry_jitter"
    std::string env;  ///< "RELAY_DELIVERY_RETRY_JITTER"; maps: "RELAY_KAFKA_PROPERTIES_<NAME>"
    std::string type; ///< "duration", "size", "integer", ...
    std::string
        default_value;   ///< as the environment would spell it: "5s", "65536", "5s,5m", "[]", "{}", "\"\""
    bool secret = false; ///< shown masked by to_json()
};

/// Every setting in table order.
const std::vector<setting_info>& settings();

/// The environment variable of a key: "delivery.retry_jitter" -> "RELAY_DELIVERY_RETRY_JITTER".
std::string env_name(std::string_view key);

} // namespace relay::config
