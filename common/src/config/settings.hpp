#pragma once

// Internal to the config area: the table that drives loading, validation messages and to_json().

#include "relay/config/config.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace relay::config::detail {

/// How a setting's value is written and parsed.
enum class kind
{
    text,          ///< std::string
    brokers,       ///< std::string; a YAML list is joined with ','
    boolean,       ///< bool
    port,          ///< std::uint16_t
    count,         ///< std::size_t, a plain number
    size,          ///< std::size_t, bytes with optional unit
    int32,         ///< std::int32_t
    int16,         ///< std::int16_t
    number,        ///< double
    duration,      ///< std::chrono::milliseconds
    text_list,     ///< std::vector<std::string>
    duration_list, ///< std::vector<std::chrono::milliseconds>
    properties,    ///< property_map
    log_level,     ///< relay::log::level
    json_list,     ///< std::string holding a JSON array
};

template <class T>
using getter = T& (*)(config&);

using field_ref = std::variant<
    getter<std::string>,
    getter<bool>,
    getter<std::uint16_t>,
    getter<std::size_t>,
    getter<std::int32_t>,
    getter<std::int16_t>,
    getter<double>,
    getter<std::chrono::milliseconds>,
    getter<std::vector<std::string>>,
    getter<std::vector<std::chrono::milliseconds>>,
    getter<property_map>,
    getter<relay::log::level>>;

struct setting
{
    std::string key; ///< "delivery.retry_jitter"
    std::string env; ///< "RELAY_DELIVERY_RETRY_JITTER" (for maps, the prefix without the trailing '_')
    kind type;
    field_ref field;
    std::string_view type_label; ///< the table's type column: "duration", "topic", "CIDR list", ...
    bool secret = false;

    /// The field in `c`. T must be the field's type.
    template <class T>
    T& get(config& c) const
    {
        return std::get<getter<T>>(field)(c);
    }

    /// Read-only access; the getters never modify.
    template <class T>
    const T& get(const config& c) const
    {
        return std::get<getter<T>>(field)(const_cast<config&>(c)); // NOLINT: read only
    }
};

/// Every setting, in the order of the table in config.hpp (sections contiguous).
const std::vector<setting>& all_settings();

/// The setting with this key or environment variable, or nullptr.
const setting* find_by_key(std::string_view key);
const setting* find_by_env(std::string_view env);

/// "delivery.retry_jitter (RELAY_DELIVERY_RETRY_JITTER)".
std::string label(const setting& s);

/// "kafka.properties.sasl.password (RELAY_KAFKA_PROPERTIES_SASL_PASSWORD)".
std::string property_label(const setting& map, std::string_view name);

/// The table's type column: "duration", "size", ...
std::string_view type_name(kind k);

/// The value as an environment variable would spell it (used for defaults in the table).
std::string env_text(const setting& s, const config& c);

/// Parses `text` into the setting's field. `multiline` (text read from a `_FILE`) also splits lists on line
/// breaks. Returns the problem (without the label) or nullopt.
std::optional<std::string> assign_text(const setting& s, config& c, std::string_view text, bool multiline);

/// Sets a list-valued setting (lists, duration lists, brokers) from items. Returns the problem or nullopt.
std::optional<std::string> assign_items(const setting& s, config& c, const std::vector<std::string>& items);

/// `text` in double quotes, control characters escaped, cut at 80 characters: for echoing bad values.
std::string quote(std::string_view text);

/// Splits on ',' (and line breaks when `multiline`), trims spaces, drops empty items.
std::vector<std::string> split_list(std::string_view text, bool multiline);

/// True for librdkafka property names that hold secrets (shown masked).
bool is_secret_property(std::string_view name);

/// Levenshtein distance, for "did you mean" hints.
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The closest candidate when it is close enough to be a likely typo, else "".
std::string closest(std::string_view word, const std::vector<std::string>& candidates);

} // namespace relay::config::detail
