#pragma once

#include "relay/log/log.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

// The settings table below is wider than the column limit: clang-format must not reflow it.
// clang-format off
/// @file
/// Relay's configuration: one plain aggregate with defaults (as Boost.MySQL's `pool_params`), filled by
/// load_config() (load.hpp) from a YAML or JSON file and then from `RELAY_*` environment variables.
///
/// Every setting, its environment variable, type and default. This table is the reference the README is
/// generated from and checked against (tests/unit/config checks that it lists every setting with its
/// variable, type and default, so it cannot drift from the code).
///
/// | key | environment variable | type | default |
/// |---|---|---|---|
/// | `log.level` | `RELAY_LOG_LEVEL` | log level | `info` |
/// | `admin.address` | `RELAY_ADMIN_ADDRESS` | IP address | `0.0.0.0` |
/// | `admin.port` | `RELAY_ADMIN_PORT` | port | `9464` |
/// | `kafka.brokers` | `RELAY_KAFKA_BROKERS` | host:port list | `localhost:9092` |
/// | `kafka.properties` | `RELAY_KAFKA_PROPERTIES_<NAME>` | librdkafka properties | `{}` |
/// | `kafka.consumer_properties` | `RELAY_KAFKA_CONSUMER_PROPERTIES_<NAME>` | librdkafka properties | `{}` |
/// | `kafka.producer_properties` | `RELAY_KAFKA_PRODUCER_PROPERTIES_<NAME>` | librdkafka properties | `{}` |
/// | `kafka.group_id` | `RELAY_KAFKA_GROUP_ID` | string | `relay-delivery` |
/// | `kafka.instance_id` | `RELAY_KAFKA_INSTANCE_ID` | string | `""` |
/// | `kafka.create_topics` | `RELAY_KAFKA_CREATE_TOPICS` | bool | `true` |
/// | `kafka.partitions` | `RELAY_KAFKA_PARTITIONS` | integer | `12` |
/// | `kafka.replication_factor` | `RELAY_KAFKA_REPLICATION_FACTOR` | integer | `-1` |
/// | `kafka.dlq_retention` | `RELAY_KAFKA_DLQ_RETENTION` | duration | `30d` |
/// | `topics.events` | `RELAY_TOPICS_EVENTS` | topic | `relay.events` |
/// | `topics.inputs` | `RELAY_TOPICS_INPUTS` | topic list | `[]` |
/// | `topics.subscriptions` | `RELAY_TOPICS_SUBSCRIPTIONS` | topic | `relay.subscriptions` |
/// | `topics.retry_prefix` | `RELAY_TOPICS_RETRY_PREFIX` | topic prefix | `relay.retry.` |
/// | `topics.dlq` | `RELAY_TOPICS_DLQ` | topic | `relay.dlq` |
/// | `delivery.max_in_flight` | `RELAY_DELIVERY_MAX_IN_FLIGHT` | integer | `2048` |
/// | `delivery.default_max_in_flight` | `RELAY_DELIVERY_DEFAULT_MAX_IN_FLIGHT` | integer | `64` |
/// | `delivery.connect_timeout` | `RELAY_DELIVERY_CONNECT_TIMEOUT` | duration | `5s` |
/// | `delivery.default_timeout` | `RELAY_DELIVERY_DEFAULT_TIMEOUT` | duration | `10s` |
/// | `delivery.max_connections_per_origin` | `RELAY_DELIVERY_MAX_CONNECTIONS_PER_ORIGIN` | integer | `64` |
/// | `delivery.idle_timeout` | `RELAY_DELIVERY_IDLE_TIMEOUT` | duration | `1m` |
/// | `delivery.response_body_limit` | `RELAY_DELIVERY_RESPONSE_BODY_LIMIT` | size | `65536` |
/// | `delivery.max_event_bytes` | `RELAY_DELIVERY_MAX_EVENT_BYTES` | size | `1048576` |
/// | `delivery.max_json_depth` | `RELAY_DELIVERY_MAX_JSON_DEPTH` | integer | `64` |
/// | `delivery.retry_schedule` | `RELAY_DELIVERY_RETRY_SCHEDULE` | duration list | `5s,5m,30m,2h,5h,10h,10h` |
/// | `delivery.retry_jitter` | `RELAY_DELIVERY_RETRY_JITTER` | number | `0.2` |
/// | `delivery.retry_after_cap` | `RELAY_DELIVERY_RETRY_AFTER_CAP` | duration | `1h` |
/// | `delivery.allow_http` | `RELAY_DELIVERY_ALLOW_HTTP` | bool | `false` |
/// | `delivery.allow_loopback` | `RELAY_DELIVERY_ALLOW_LOOPBACK` | bool | `false` |
/// | `delivery.allow_private_networks` | `RELAY_DELIVERY_ALLOW_PRIVATE_NETWORKS` | bool | `false` |
/// | `delivery.allowed_networks` | `RELAY_DELIVERY_ALLOWED_NETWORKS` | CIDR list | `[]` |
/// | `delivery.ca_file` | `RELAY_DELIVERY_CA_FILE` | path | `""` |
/// | `delivery.drain_timeout` | `RELAY_DELIVERY_DRAIN_TIMEOUT` | duration | `25s` |
/// | `delivery.threads` | `RELAY_DELIVERY_THREADS` | integer | `0` |
/// | `delivery.circuit_breaker.consecutive_failures` | `RELAY_DELIVERY_CIRCUIT_BREAKER_CONSECUTIVE_FAILURES` | integer | `5` |
/// | `delivery.circuit_breaker.failure_ratio` | `RELAY_DELIVERY_CIRCUIT_BREAKER_FAILURE_RATIO` | number | `0.5` |
/// | `delivery.circuit_breaker.min_requests` | `RELAY_DELIVERY_CIRCUIT_BREAKER_MIN_REQUESTS` | integer | `20` |
/// | `delivery.circuit_breaker.window` | `RELAY_DELIVERY_CIRCUIT_BREAKER_WINDOW` | duration | `1m` |
/// | `delivery.circuit_breaker.open_duration` | `RELAY_DELIVERY_CIRCUIT_BREAKER_OPEN_DURATION` | duration | `30s` |
/// | `delivery.auto_disable_after` | `RELAY_DELIVERY_AUTO_DISABLE_AFTER` | duration | `5d` |
/// | `delivery.metrics_subscription_labels` | `RELAY_DELIVERY_METRICS_SUBSCRIPTION_LABELS` | bool | `false` |
/// | `delivery.metrics_max_subscription_labels` | `RELAY_DELIVERY_METRICS_MAX_SUBSCRIPTION_LABELS` | integer | `100` |
/// | `api.address` | `RELAY_API_ADDRESS` | IP address | `0.0.0.0` |
/// | `api.port` | `RELAY_API_PORT` | port | `8080` |
/// | `api.tokens` | `RELAY_API_TOKENS` | secret list | `[]` |
/// | `api.max_body_bytes` | `RELAY_API_MAX_BODY_BYTES` | size | `1048576` |
/// | `api.max_header_bytes` | `RELAY_API_MAX_HEADER_BYTES` | size | `16384` |
/// | `api.max_json_depth` | `RELAY_API_MAX_JSON_DEPTH` | integer | `64` |
/// | `api.max_batch` | `RELAY_API_MAX_BATCH` | integer | `500` |
/// | `api.request_timeout` | `RELAY_API_REQUEST_TIMEOUT` | duration | `10s` |
/// | `api.idempotency_window` | `RELAY_API_IDEMPOTENCY_WINDOW` | duration | `1d` |
/// | `api.secret_rotation_overlap` | `RELAY_API_SECRET_ROTATION_OVERLAP` | duration | `1d` |
/// | `subscriptions` | `RELAY_SUBSCRIPTIONS` | list of subscriptions | `[]` |
///
/// Value syntax, the same in the file and in the environment:
///  - duration: "250ms", "5s", "5m", "2h", "1d" or a combination ("1h30m"); a bare whole number is seconds.
///  - size: a whole number of bytes, or with a unit: "64KiB", "1MiB", "1GiB" (also "Ki", "Mi", "Gi");
///    "KB", "MB", "GB" are powers of 1000.
///  - bool: true/false (also yes/no, on/off, 1/0).
///  - list (in the environment): comma-separated ("5s,5m,30m"); in a `_FILE`, one item per line also works.
///  - log level: debug, info, notice, warning, error, crit, alert, emerg (or the syslog number 0 to 7).
///
/// Environment: `RELAY_<KEY>` with the key upper-cased and dots as underscores. Map entries:
/// `RELAY_KAFKA_PROPERTIES_<NAME>` where NAME is the librdkafka property upper-cased with `_` for `.`
/// (`RELAY_KAFKA_PROPERTIES_SASL_MECHANISM` sets `sasl.mechanism`). Every variable also has a `<VAR>_FILE`
/// form whose value is the path of a file holding the value (a trailing newline is dropped): the way to pass
/// secrets from mounted Kubernetes Secrets (`RELAY_API_TOKENS_FILE`, one token per line;
/// `RELAY_KAFKA_PROPERTIES_SASL_PASSWORD_FILE`). The environment overrides the file, entry by entry for maps.
/// Any other `RELAY_*` variable is an error (a typo must not pass silently), except `RELAY_CONFIG` (the path
/// of the config file), `RELAY_TEST_*` (the test suites' own) and Kubernetes service-link variables
/// (`RELAY_*_SERVICE_HOST`, `RELAY_*_PORT=tcp://...`; the chart turns them off: `enableServiceLinks: false`).
// clang-format on

namespace relay::config {

/// librdkafka configuration properties, passed through as they are ("security.protocol" -> "SASL_SSL").
using property_map = std::map<std::string, std::string>;

/// Section `log`.
struct log_params
{
    /// Most verbose level written (syslog numbering). librdkafka's own logs are routed through the same
    /// logger.
    relay::log::level level = relay::log::level::info;
};

/// Section `admin`: the admin listener of every process (`/metrics`, `/healthz`, `/readyz`).
struct admin_params
{
    /// IP address to listen on ("0.0.0.0" or "::" for all interfaces).
    std::string address = "0.0.0.0";

    /// TCP port; 0 picks a free port (tests).
    std::uint16_t port = 9464;
};

/// Section `kafka`: the cluster and how Relay's clients talk to it.
struct kafka_params
{
    /// Bootstrap servers, "host:port" separated by commas (a YAML list is accepted too). Must not be empty.
    std::string brokers = "localhost:9092";

    /// librdkafka properties for every client Relay creates (consumers, producers, admin): security.protocol,
    /// sasl.*, ssl.*, client.id, statistics.interval.ms, ... Each is checked by librdkafka at start; unknown
    /// properties and invalid values are errors. Properties Relay owns (bootstrap.servers, group.id,
    /// group.instance.id, enable.auto.commit, enable.auto.offset.store; acks and enable.idempotence other
    /// than all/true) are refused.
    property_map properties;

    /// librdkafka properties for consumers only (applied after `properties`): fetch.*, session.timeout.ms,
    /// ...
    property_map consumer_properties;

    /// librdkafka properties for producers only (applied after `properties`): linger.ms, compression.type,
    /// ...
    property_map producer_properties;

    /// Consumer group of the delivery workers. Every `relay deliver` process of one deployment shares it.
    std::string group_id = "relay-delivery";

    /// group.instance.id for static membership (no rebalance on a quick restart); "" = dynamic membership.
    /// The chart sets it to the pod name.
    std::string instance_id;

    /// Create missing topics at start with `partitions` and `replication_factor`; if false, missing topics
    /// are a start-up error.
    bool create_topics = true;

    /// Partitions of topics Relay creates (input, retry and DLQ topics; the subscriptions topic gets 1).
    std::int32_t partitions = 12;

    /// Replication factor of topics Relay creates; -1 = the broker's default.replication.factor.
    std::int16_t replication_factor = -1;

    /// retention.ms of the dead-letter topic when Relay creates it (kept long: it is redrivable).
    std::chrono::milliseconds dlq_retention = std::chrono::hours(24 * 30);
};

/// Section `topics`: topic names (design.md section 3).
struct topic_params
{
    /// The main input topic (the ingest API writes here).
    std::string events = "relay.events";

    /// Further input topics that producers write to directly; consumed like `events`.
    std::vector<std::string> inputs;

    /// The compacted subscription store (key = subscription id, tombstone = deleted).
    std::string subscriptions = "relay.subscriptions";

    /// Retry topics are `<retry_prefix><delay>`, one per distinct delay of the schedule ("relay.retry.5m").
    std::string retry_prefix = "relay.retry.";

    /// The dead-letter topic.
    std::string dlq = "relay.dlq";
};

/// Section `delivery.circuit_breaker`: per-endpoint circuit breaker (design.md section 8). The circuit opens
/// after `consecutive_failures` failures in a row, or when at least `min_requests` attempts within `window`
/// failed in a proportion of at least `failure_ratio`. While open, the endpoint's deliveries are parked on
/// retry topics; after `open_duration` one probe is let through (half-open) and its outcome closes or reopens
/// it.
struct circuit_breaker_params
{
    /// Failures in a row that open the circuit.
    std::size_t consecutive_failures = 5;

    /// Failure proportion within `window` that opens the circuit, in (0, 1].
    double failure_ratio = 0.5;

    /// Attempts within `window` needed before `failure_ratio` is considered.
    std::size_t min_requests = 20;

    /// Sliding window over which `failure_ratio` is measured.
    std::chrono::milliseconds window = std::chrono::minutes(1);

    /// How long the circuit stays open before a probe.
    std::chrono::milliseconds open_duration = std::chrono::seconds(30);
};

/// Section `delivery`: the delivery workers (`relay deliver`).
struct delivery_params
{
    /// Deliveries in flight per worker process, all endpoints together (the worker's budget).
    std::size_t max_in_flight = 2048;

    /// Concurrent deliveries per subscription when the subscription sets no `max_in_flight`.
    std::size_t default_max_in_flight = 64;

    /// TCP connect plus TLS handshake timeout.
    std::chrono::milliseconds connect_timeout = std::chrono::seconds(5);

    /// Whole-attempt timeout when the subscription sets no `timeout` (1s to 60s, as for subscriptions).
    std::chrono::milliseconds default_timeout = std::chrono::seconds(10);

    /// Connections kept per origin (scheme, host, port), busy and idle together.
    std::size_t max_connections_per_origin = 64;

    /// Idle keep-alive connections are closed after this long.
    std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);

    /// Bytes of a response body read (and kept for the DLQ record); the rest is discarded.
    std::size_t response_body_limit = 64 * 1024;

    /// Events larger than this go to the DLQ as `invalid_event`; the ingest API refuses them with 413.
    std::size_t max_event_bytes = 1024 * 1024;

    /// JSON nesting depth accepted in events; deeper events are `invalid_event`.
    std::size_t max_json_depth = 64;

    /// Delays before attempts 2, 3, ... (design.md section 7); after the last one, the DLQ. Empty = no
    /// retries. Each distinct delay is a retry topic (`topics.retry_prefix` + the delay, e.g.
    /// "relay.retry.5m").
    std::vector<std::chrono::milliseconds> retry_schedule = {
        std::chrono::seconds(5),
        std::chrono::minutes(5),
        std::chrono::minutes(30),
        std::chrono::hours(2),
        std::chrono::hours(5),
        std::chrono::hours(10),
        std::chrono::hours(10),
    };

    /// Random spread of each retry delay, as a fraction: 0.2 = +-20%. In [0, 1].
    double retry_jitter = 0.2;

    /// Longest `Retry-After` honoured; longer values are capped to this.
    std::chrono::milliseconds retry_after_cap = std::chrono::hours(1);

    /// Accept http:// subscriber URLs (otherwise https only).
    bool allow_http = false;

    /// Allow connecting to loopback addresses (`relay dev` sets it).
    bool allow_loopback = false;

    /// Allow private, CGNAT and link-local destinations (cloud metadata addresses stay refused).
    bool allow_private_networks = false;

    /// Networks always allowed as destinations, in CIDR form ("10.20.0.0/16", "fd00::/8"; a bare address is a
    /// single host).
    std::vector<std::string> allowed_networks;

    /// PEM bundle of CA certificates to trust for subscriber TLS instead of the system store; "" = system
    /// store.
    std::string ca_file;

    /// On SIGTERM: how long in-flight deliveries get to finish or park; what is unfinished then is not
    /// committed and is delivered again by the partition's next owner.
    std::chrono::milliseconds drain_timeout = std::chrono::seconds(25);

    /// I/O threads; 0 = one per CPU core.
    std::size_t threads = 0;

    /// Per-endpoint circuit breaker.
    circuit_breaker_params circuit_breaker;

    /// A subscription whose deliveries have all failed for this long is disabled (reason `failing`);
    /// 0 = never.
    std::chrono::milliseconds auto_disable_after = std::chrono::hours(24 * 5);

    /// Label delivery metrics with the subscription id for every subscription; when false, only subscriptions
    /// whose `metrics_label` is set get their own label value. Either way at most
    /// `metrics_max_subscription_labels` values exist; the rest are counted as `other`.
    bool metrics_subscription_labels = false;

    /// Distinct `subscription` label values in metrics (bounded cardinality); the rest are `other`.
    std::size_t metrics_max_subscription_labels = 100;
};

/// Section `api`: the HTTP API (`relay serve`).
struct api_params
{
    /// IP address to listen on.
    std::string address = "0.0.0.0";

    /// TCP port; 0 picks a free port (tests).
    std::uint16_t port = 8080;

    /// Accepted bearer tokens (several, for rotation). Secret: set them from the environment or a mounted
    /// file (RELAY_API_TOKENS_FILE, one per line); shown masked. `relay serve` refuses to start without one.
    std::vector<std::string> tokens;

    /// Largest request body.
    std::size_t max_body_bytes = 1024 * 1024;

    /// Largest request header section.
    std::size_t max_header_bytes = 16 * 1024;

    /// JSON nesting depth accepted in request bodies.
    std::size_t max_json_depth = 64;

    /// Events in one batch ingest request.
    std::size_t max_batch = 500;

    /// Time to read a request and answer it (including waiting for Kafka's acknowledgement).
    std::chrono::milliseconds request_timeout = std::chrono::seconds(10);

    /// How long an `Idempotency-Key` is remembered by the ingest API.
    std::chrono::milliseconds idempotency_window = std::chrono::hours(24);

    /// When a subscription's secret is rotated, how long the previous secret keeps signing alongside the new
    /// one.
    std::chrono::milliseconds secret_rotation_overlap = std::chrono::hours(24);
};

/// Everything Relay reads at start. A plain aggregate: a default-constructed value is the documented
/// defaults, which are valid except for what each deployment must provide (brokers reachable, API tokens for
/// `relay serve`). Thread-safety: a value type; share a const copy.
struct config
{
    log_params log;
    admin_params admin;
    kafka_params kafka;
    topic_params topics;
    delivery_params delivery;
    api_params api;

    /// Static subscriptions from the config file (key `subscriptions`, a list) or RELAY_SUBSCRIPTIONS(_FILE),
    /// as the text of a JSON array, ready for relay::subscription::parse_subscriptions(). They may hold
    /// secrets: never log this text, log to_json(config) instead.
    std::string static_subscriptions_json = "[]";
};

} // namespace relay::config
