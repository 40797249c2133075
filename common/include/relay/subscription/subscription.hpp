#pragma once

#include "relay/net/url.hpp"
#include "relay/subscription/filter.hpp"
#include "relay/subscription/time.hpp"
#include "relay/webhook/secret.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace relay::subscription {

/// Delivery order guarantee of a subscription (design.md section 8).
enum class ordering_mode
{
    none, ///< maximum throughput, no order
    key,  ///< events with the same Kafka key arrive in order; other keys keep flowing
};

/// Why a subscription is disabled.
enum class disable_reason
{
    gone,    ///< the endpoint answered 410 Gone
    failing, ///< disabled automatically after failing for too long
    manual,  ///< an operator disabled it
};

/// "none" / "key".
std::string_view to_string(ordering_mode o) noexcept;
/// "gone" / "failing" / "manual".
std::string_view to_string(disable_reason r) noexcept;
/// Parses "none" / "key"; nullopt otherwise.
std::optional<ordering_mode> parse_ordering(std::string_view text) noexcept;
/// Parses "gone" / "failing" / "manual"; nullopt otherwise.
std::optional<disable_reason> parse_disable_reason(std::string_view text) noexcept;

/// A signing secret and, during rotation, when it stops being used. Every unexpired secret signs each
/// request.
struct secret_entry
{
    webhook::secret secret;
    std::optional<timestamp> expires_at; ///< absent: does not expire

    /// True when the secret still signs at `now`.
    bool active_at(timestamp now) const noexcept { return !expires_at || now < *expires_at; }

    friend bool operator==(const secret_entry& a, const secret_entry& b) noexcept
    {
        return a.secret.text == b.secret.text && a.expires_at == b.expires_at;
    }
};

/// Where, what and how to deliver (design.md section 5). Build one with parse_subscription() (codec.hpp),
/// which validates every field; the invariants below hold for any value it returns. Thread-safety: a value
/// type; share immutable copies (std::shared_ptr<const subscription>) across threads.
struct subscription
{
    static constexpr std::chrono::milliseconds default_timeout{10'000};
    static constexpr std::chrono::milliseconds min_timeout{1'000};
    static constexpr std::chrono::milliseconds max_timeout{60'000};
    static constexpr std::uint32_t default_max_in_flight = 64;
    static constexpr std::uint32_t max_max_in_flight = 10'000;
    static constexpr std::uint32_t max_rate_limit = 1'000'000;

    std::string id;                       ///< [A-Za-z0-9_-]{1,128}; generated "sub_<26 chars>" when absent
    std::string url;                      ///< as given (https, or http where allowed)
    net::url endpoint;                    ///< `url` parsed
    std::vector<std::string> event_types; ///< patterns: "order.created", "order.*", "*" (see pattern_matches)
    std::optional<filter> payload_filter; ///< JSON field `filter`
    std::vector<secret_entry> secrets;    ///< at least one
    std::optional<std::string> signing_key; ///< Ed25519 key "whsk_..." (reserved; v1a signatures)
    std::vector<std::pair<std::string, std::string>> headers; ///< custom headers, names unique ignoring case
    std::chrono::milliseconds timeout = default_timeout;      ///< per attempt, 1 s to 60 s
    std::uint32_t max_in_flight = default_max_in_flight;      ///< concurrent deliveries, 1 to 10000
    std::uint32_t rate_limit = 0;                             ///< deliveries per second; 0 = unlimited
    ordering_mode ordering = ordering_mode::none;
    /// Delays before attempts 2, 3, ... overriding the configured schedule; an empty list means no retries.
    std::optional<std::vector<std::chrono::milliseconds>> retry_schedule;
    bool enabled = true;
    std::optional<std::string> tenant; ///< [A-Za-z0-9_.-]{1,128}
    bool metrics_label = false; ///< give this subscription its own `subscription` label value in metrics
    std::optional<timestamp> created_at;
    std::optional<timestamp> updated_at;
    std::optional<disable_reason> disabled_reason; ///< only when !enabled

    /// Field-wise equality (`endpoint` follows from `url` and is not compared).
    friend bool operator==(const subscription& a, const subscription& b);
};

/// True for a valid subscription id: 1 to 128 characters of [A-Za-z0-9_-].
bool is_valid_id(std::string_view id) noexcept;

/// A new random id "sub_" + 26 characters of [0-9a-z] (about 134 bits from the OS CSPRNG, OpenSSL
/// RAND_bytes). Throws std::runtime_error if the CSPRNG fails.
std::string generate_id();

/// True for a valid event type pattern: "*"; an exact type (at most 256 bytes of dot-separated non-empty
/// segments of [A-Za-z0-9_:/-]); or such a type followed by ".*" (a prefix wildcard).
bool is_valid_pattern(std::string_view pattern) noexcept;

/// True when `type` matches `pattern`: "*" matches every type; "order.*" matches every type that starts with
/// "order." and has at least one more character ("order.created", "order.a.b", but not "order" or
/// "orders.x"); any other pattern matches only itself.
bool pattern_matches(std::string_view pattern, std::string_view type) noexcept;

} // namespace relay::subscription
