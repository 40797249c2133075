#pragma once

#include "relay/api/dlq.hpp"
#include "relay/api/ingest.hpp"
#include "relay/config/config.hpp"
#include "relay/http/router.hpp"
#include "relay/kafka/producer.hpp"
#include "relay/net/address_policy.hpp"
#include "relay/subscription/codec.hpp"
#include "relay/subscription/problem.hpp"
#include "relay/subscription/store.hpp"
#include "relay/subscription/subscription.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/system/result.hpp>
#include <rapidjson/document.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace prometheus {
class Registry;
} // namespace prometheus

/// @file
/// The subscription management part of the Relay API (`relay serve`, design.md sections 5 and 9). Every
/// route needs the bearer token; errors are application/problem+json naming the offending field.
///
/// - `POST /v1/subscriptions`: creates one (201, `Location`). Absent `id` and secret are generated; the
///   answer is the only place besides rotation where the secrets appear in full. 409 when the id exists.
/// - `GET /v1/subscriptions/{id}`: 200 with secrets masked ("whsec_abcd…") and header values "********".
/// - `GET /v1/subscriptions?limit=N&after=<cursor>&tenant=<t>`: `{"data":[...],"next":"<cursor>"|null}`,
///   ordered by id, masked; limit 1..500, default 50.
/// - `PATCH /v1/subscriptions/{id}`: JSON merge patch (RFC 7396) over the stored form, validated again; `id`
///   is immutable, secrets change only through rotation, server fields are read-only. 200, masked.
/// - `DELETE /v1/subscriptions/{id}`: 204 (a tombstone on the compacted topic).
/// - `POST /v1/subscriptions/{id}:rotate-secret`, optional body `{"secret":"whsec_...","overlap":"1h"}`: the
/// new
///   secret goes first; the previous unexpired ones expire after the overlap (default
///   api.secret_rotation_overlap); expired ones are dropped. 200 with the secrets in full.
/// - `POST /v1/subscriptions/{id}:enable` / `:disable`: 200, masked (disabled_reason `manual`).
/// - `POST /v1/subscriptions/{id}:test`: produces one `relay.test` event keyed by the id with the Kafka
/// header
///   `relay-target-subscription: <id>`; 202 `{"event_id": ...}` after Kafka acknowledged it.
///
/// Every write goes through the store writer and then waits until the service's own follower applied it, so
/// a read right after a 2xx reflects the change. Kafka failures answer 503 with Retry-After; a write that
/// Kafka acknowledged but the follower did not read back in time answers 504 (the change is durable and
/// takes effect). Static subscriptions (config file) are read-only: writes answer 409.
namespace relay::api {

/// The Kafka header that makes the workers deliver a record to one subscription only.
inline constexpr std::string_view target_subscription_header = "relay-target-subscription";

/// What the subscription endpoints accept and how they bound work. Thread-safety: a value type.
struct subscriptions_options
{
    /// Accepted bearer tokens (api.tokens).
    std::vector<std::string> tokens;
    /// Where `:test` events go (topics.events).
    std::string events_topic = "relay.events";
    /// How request bodies are parsed: allow_http and the codec's limits. id/secrets/server-field settings are
    /// set by the service per operation.
    subscription::parse_options parse{};
    /// Literal IP hosts of subscriber URLs must pass this policy (the workers check resolved addresses at
    /// connect time as well).
    net::address_policy address_policy{};
    /// Bound of Kafka's acknowledgement plus the follower's read-back of each write.
    std::chrono::milliseconds request_timeout = std::chrono::seconds(10);
    /// Default overlap of a secret rotation.
    std::chrono::milliseconds secret_rotation_overlap = std::chrono::hours(24);
    /// Largest `overlap` a rotation request may ask for.
    std::chrono::milliseconds max_rotation_overlap = std::chrono::hours(24 * 30);
    /// JSON nesting accepted in request bodies (api.max_json_depth).
    std::size_t max_json_depth = 64;
    /// Page size of listings when `limit` is absent, and its maximum.
    std::size_t default_page_size = 50;
    std::size_t max_page_size = 500;
    /// The wall clock (tests inject a fixed one); null uses std::chrono::system_clock.
    std::function<subscription::timestamp()> clock{};

    /// Options from the config: api.tokens, topics.events, delivery.allow_http, delivery.allow_loopback,
    /// delivery.allow_private_networks, delivery.allowed_networks, api.request_timeout,
    /// api.secret_rotation_overlap, api.max_json_depth. Throws std::invalid_argument naming an invalid
    /// network of delivery.allowed_networks.
    static subscriptions_options from_config(const config::config& cfg);
};

/// A parsed listing query.
struct list_query
{
    std::size_t limit = 50;
    std::optional<std::string> after;  ///< the cursor: the id after which the page starts
    std::optional<std::string> tenant; ///< only subscriptions of this tenant
};

/// Parses `limit`, `after` and `tenant` from a query string (without '?', percent-encoded). Errors (a message
/// naming the parameter): unknown or repeated parameters, a limit outside 1..`max_limit`, an invalid cursor
/// or tenant. Pure.
boost::system::result<list_query, std::string>
parse_list_query(std::string_view query, std::size_t default_limit, std::size_t max_limit);

/// Applies an RFC 7396 JSON merge patch to `target` in place: object members of `patch` replace or (when
/// null) remove those of `target`, recursively; a non-object patch replaces `target` as a whole. Recursion
/// follows the patch's depth: bound it first (json_depth_within()). Allocates with `allocator`.
void merge_patch(
    rapidjson::Value& target, const rapidjson::Value& patch, rapidjson::Document::AllocatorType& allocator
);

/// True when the JSON text `json` nests arrays and objects at most `max_depth` deep. A linear scan that
/// needs no valid JSON (strings and escapes are skipped); use before parsing untrusted text recursively.
bool json_depth_within(std::string_view json, std::size_t max_depth) noexcept;

/// The secrets after rotating in `fresh` at `now`: `fresh` first (no expiry), then each previous secret still
/// active at `now` with expires_at = now + overlap (kept when it already expires sooner), at most
/// `max_secrets` in all (the ones expiring last are dropped first). Pure.
std::vector<subscription::secret_entry> rotate_secrets(
    const std::vector<subscription::secret_entry>& current,
    webhook::secret fresh,
    subscription::timestamp now,
    std::chrono::milliseconds overlap,
    std::size_t max_secrets
);

/// Checks the subscriber URL of `s` against `policy` when its host is an IP literal (or "localhost"):
/// a problem at "/url" naming the class ("link-local", ...) when refused; nullopt when allowed or when the
/// host is a name (names are checked at connect time). Pure.
std::optional<subscription::problem>
check_url_policy(const subscription::subscription& s, const net::address_policy& policy);

/// The subscription endpoints. Handlers run on the HTTP sessions' executors and never block.
///
/// Thread-safety: add_routes() before the server starts; handlers may run on any number of threads at once.
/// Changes to one id are serialized within the service (a concurrent second change gets 409); replicas of
/// `relay serve` do not coordinate (last write wins). The service must outlive the server using its routes
/// and every request in progress; `writer`, `follower` and `producer` must outlive the service.
class subscriptions_service
{
public:
    /// Builds the service from explicit options. `writer` stores changes, `follower` (started) answers reads
    /// and confirms writes, `producer` (acks=all) sends `:test` events. `registry` (optional) receives the
    /// ingest API's request metrics (relay_ingest_requests_total{route,code},
    /// relay_ingest_request_duration_seconds{route}) with one route label per endpoint.
    /// Throws std::invalid_argument on empty tokens, an empty events topic or a zero page size.
    subscriptions_service(
        boost::asio::any_io_executor executor,
        subscriptions_options options,
        subscription::writer& writer,
        subscription::follower& follower,
        kafka::producer& producer,
        prometheus::Registry* registry = nullptr
    );

    /// As above with subscriptions_options::from_config(cfg).
    subscriptions_service(
        boost::asio::any_io_executor executor,
        const config::config& cfg,
        subscription::writer& writer,
        subscription::follower& follower,
        kafka::producer& producer,
        prometheus::Registry* registry = nullptr
    );

    ~subscriptions_service();
    subscriptions_service(const subscriptions_service&) = delete;
    subscriptions_service& operator=(const subscriptions_service&) = delete;

    /// Adds GET/POST /v1/subscriptions and GET/PATCH/DELETE/POST /v1/subscriptions/{id} (POST carries the
    /// `:action` suffix) to `routes`. Appends the operations to `registered` when not null, each action as
    /// its own path (`/v1/subscriptions/{id}:rotate-secret`, ...), as the OpenAPI document lists them.
    void add_routes(http::router& routes, std::vector<route_entry>* registered = nullptr);

    /// The options in use.
    const subscriptions_options& options() const noexcept;

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

/// The API router: the ingest, subscription and DLQ routes and GET /openapi.json. Appends every operation
/// to `registered` when not null.
http::router make_api_router(
    ingest_service& ingest,
    subscriptions_service& subscriptions,
    dlq_service& dlq,
    std::vector<route_entry>* registered = nullptr
);

} // namespace relay::api
