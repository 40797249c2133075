#pragma once

#include "relay/subscription/filter.hpp"
#include "relay/subscription/problem.hpp"
#include "relay/subscription/subscription.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace relay::subscription {

/// What to do when an optional-on-create field is absent.
enum class when_missing
{
    generate, ///< make one (API create requests)
    require,  ///< report a problem (stored records, static config: values must be stable across restarts)
};

/// How parse_subscription() treats its (untrusted) input.
struct parse_options
{
    bool allow_http = false;                       ///< accept http:// URLs (config `delivery.allow_http`)
    when_missing id = when_missing::generate;      ///< absent `id`
    when_missing secrets = when_missing::generate; ///< absent `secret`/`secrets`
    /// Accept `created_at`, `updated_at` and `disabled_reason`, which Relay maintains itself. True for stored
    /// records; false for API requests (the fields are then reported as read-only).
    bool accept_server_fields = true;
    std::size_t max_bytes = 64 * 1024;              ///< text of one subscription
    std::size_t max_array_bytes = 16 * 1024 * 1024; ///< text of an array of subscriptions
    std::size_t max_array_items = 100'000;          ///< subscriptions in an array
    std::size_t max_depth = 32;                     ///< JSON nesting
    std::size_t max_event_types = 256;
    std::size_t max_headers = 64;
    std::size_t max_secrets = 10;
    std::size_t max_retry_schedule = 25;
    std::size_t max_url_length = 2048;
    std::size_t max_problems = 100; ///< further problems are summarized by one last entry
    filter_limits filter;
};

/// How to_json() writes secrets (symmetric secrets and the signing key).
enum class secret_mode
{
    full, ///< everything, secrets included: only for the compacted subscriptions topic
    /// For API listings and logs: secrets and the signing key in masked form ("whsec_abcd…"), custom header
    /// values as "********" (they often carry the receiver's credentials). The URL is kept whole: log
    /// `endpoint.redacted()` instead when a query string might carry a token.
    masked,
};

/// Parses and validates one subscription from JSON text (an object). Every field is checked and every problem
/// reported, each named by its JSON Pointer: "/url: http is not allowed (set delivery.allow_http)",
/// "/headers/Host: ...", "/colour: unknown field". The JSON schema is to_json()'s output; in addition
///  - `secret` (one "whsec_..." string) is accepted instead of `secrets`;
///  - `secrets` items may be plain strings instead of {"secret": ..., "expires_at": ...} objects;
///  - durations (`timeout`, `retry_schedule` items) are strings ("250ms", "5s", "5m", "2h") or integer
///    milliseconds;
///  - a field whose value is null counts as absent.
/// Absent fields take the defaults of `subscription`; absent `id`/secrets are generated or reported as
/// `options` say. Thread-safe (no shared state).
parse_result<subscription> parse_subscription(std::string_view json, const parse_options& options = {});

/// As above, from an already parsed value; problem pointers start with `pointer` (e.g. "/3").
parse_result<subscription>
parse_subscription(const rapidjson::Value& json, const parse_options& options, std::string_view pointer = "");

/// Parses a JSON array of subscriptions (static subscriptions from the config file). Problems are prefixed by
/// the item's index ("/0/url: required"); ids must be unique ("/3/id: duplicate of /1").
parse_result<std::vector<subscription>>
parse_subscriptions(std::string_view json_array, const parse_options& options = {});

/// Serializes a subscription as a compact JSON object, fields in a fixed order, defaults written out, absent
/// optional fields omitted. With secret_mode::full, parse_subscription(to_json(s, full)) == s.
std::string to_json(const subscription& s, secret_mode mode);

/// Writes the JSON object of to_json() into a larger document (API listings).
void write_json(rapidjson::Writer<rapidjson::StringBuffer>& writer, const subscription& s, secret_mode mode);

} // namespace relay::subscription
