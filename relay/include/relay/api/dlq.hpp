#pragma once

#include "relay/api/openapi.hpp"
#include "relay/config/config.hpp"
#include "relay/delivery/dlq.hpp"
#include "relay/http/router.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace prometheus {
class Registry;
} // namespace prometheus

/// @file
/// The dead-letter part of the Relay API (`relay serve`, design.md section 7): the HTTP face of
/// `relay dlq list|redrive`, with the same filters and meanings. Every route needs the bearer token; errors
/// are application/problem+json naming the offending parameter.
///
/// - `GET /v1/dlq?subscription=&reason=&since=&until=&limit=`: 200
///   `{"data":[<entry>...],"scanned":N,"complete":bool}`; each entry is delivery::to_json() of a DLQ record
///   without its value (the customer's data). `since`/`until` are RFC 3339 times or durations ago ("2h"), on
///   relay-failed-at, since inclusive and until exclusive. `limit` 1..1000, default 100; `complete` is false
///   when the listing stopped at the limit. 400 names a bad parameter.
/// - `POST /v1/dlq:redrive`, body `{"subscription","reason","since","until","limit","dry_run","rate"}` (all
///   optional; `{}` selects every redrivable record up to the limit, default and maximum 1000): redrives the
///   matching records onto the first retry tier as fresh first attempts with the same event id (see
///   delivery::redrive_dlq()). 200 with the counts: dry_run, retry_topic, matched, redriven, skipped,
///   skipped_by_reason, failed, first_failure (when failed > 0), complete, and error (when reading the DLQ
///   failed after records were produced). Invalid JSON 400; unknown members and invalid values 422 naming
///   the member; a redrive paced (`rate`) to last longer than dlq_options::max_redrive_duration 422.
///
/// Scans and redrives block on Kafka, so they run on a small thread pool owned by the service, at most
/// dlq_options::max_concurrent at a time (more get 429 with Retry-After); the HTTP sessions' threads only
/// await their results. An unreachable or failing Kafka answers 503 with Retry-After within the Kafka
/// timeout (api.request_timeout minus 1 s).
namespace relay::api {

/// How the DLQ endpoints bound their work. Thread-safety: a value type.
struct dlq_options
{
    /// Accepted bearer tokens (api.tokens).
    std::vector<std::string> tokens;
    /// `limit` of a listing when absent, and its maximum.
    std::size_t default_list_limit = 100;
    std::size_t max_list_limit = 1000;
    /// `limit` of a redrive when absent, and its maximum.
    std::size_t default_redrive_limit = 1000;
    std::size_t max_redrive_limit = 1000;
    /// Scans and redrives running at once (the size of the service's thread pool); more requests get 429.
    std::size_t max_concurrent = 2;
    /// Bound of Kafka's answers during a scan or redrive (no progress for this long: 503).
    std::chrono::milliseconds kafka_timeout = std::chrono::seconds(9);
    /// Longest a paced redrive may take: `limit` / `rate` seconds must not exceed it (422 otherwise), so a
    /// tiny rate cannot hold a worker thread for hours.
    std::chrono::seconds max_redrive_duration = std::chrono::minutes(5);
    /// JSON nesting accepted in the redrive body (api.max_json_depth).
    std::size_t max_json_depth = 64;
    /// The wall clock that durations ago (`since=2h`) count back from; null uses std::chrono::system_clock.
    std::function<std::chrono::system_clock::time_point()> clock{};

    /// Options from the config: api.tokens, api.max_json_depth, and kafka_timeout = api.request_timeout
    /// minus 1 s (at least 1 s), so Kafka's verdict comes before the request times out.
    static dlq_options from_config(const config::config& cfg);
};

/// A request refused: the parameter (query parameter or body member) and what is wrong with it.
struct dlq_request_error
{
    std::string parameter; ///< "" when the request as a whole is wrong
    std::string detail;    ///< names the parameter; never echoes more than 64 bytes of the input
};

/// An RFC 3339 time, or a duration before `now` ("30m", "2h", "1d"), as unix milliseconds (the meaning of
/// `relay dlq --since/--until`). nullopt when `text` is neither. Pure.
std::optional<std::int64_t> parse_dlq_time(std::string_view text, std::chrono::system_clock::time_point now);

/// Parses the query string of `GET /v1/dlq` (without '?', percent-encoded) into a filter whose limit is
/// always set. Errors (400): unknown or repeated parameters, an invalid subscription id, an unknown reason,
/// a time that is neither RFC 3339 nor a duration, since not before until, a limit outside 1..max_limit.
/// Pure.
boost::system::result<delivery::dlq_filter, dlq_request_error> parse_dlq_query(
    std::string_view query,
    std::chrono::system_clock::time_point now,
    std::size_t default_limit,
    std::size_t max_limit
);

/// A parsed `POST /v1/dlq:redrive` body.
struct dlq_redrive_request
{
    delivery::dlq_filter filter; ///< limit always set
    bool dry_run = false;
    double rate = 0; ///< records per second, 0 = unlimited
};

/// Parses the body of `POST /v1/dlq:redrive` (a JSON object; see the file comment), checking nesting against
/// `options.max_json_depth` before parsing. Errors: `parameter` "" for a body that is not a JSON object
/// (400); otherwise the member that is unknown or invalid (422), including a `rate` that would pace the
/// redrive beyond options.max_redrive_duration. Pure.
boost::system::result<dlq_redrive_request, dlq_request_error> parse_redrive_request(
    std::string_view body, std::chrono::system_clock::time_point now, const dlq_options& options
);

/// The 200 body of a redrive: one JSON object with the members listed in the file comment. Pure.
std::string to_json(const delivery::redrive_result& result);

/// The DLQ endpoints. Handlers run on the HTTP sessions' executors and never block: scans and redrives run
/// on the service's own threads.
///
/// Thread-safety: add_routes() before the server starts; handlers may run on any number of threads at once.
/// The service must outlive the server using its routes and every request in progress. The destructor
/// stops listings in progress at their next record and waits for redrives in progress to finish.
class dlq_service
{
public:
    /// Builds the service for the Kafka cluster and topics of `cfg` (copied: topics.dlq, the retry tiers of
    /// delivery.retry_schedule, the client properties) with `options`. `registry` (optional) receives the
    /// API's request metrics (relay_ingest_requests_total{route,code},
    /// relay_ingest_request_duration_seconds{route}) with routes dlq_list and dlq_redrive. Throws
    /// std::invalid_argument on empty tokens, zero limits or concurrency, or a default limit above its
    /// maximum.
    dlq_service(
        boost::asio::any_io_executor executor,
        const config::config& cfg,
        dlq_options options,
        prometheus::Registry* registry = nullptr
    );

    /// As above with dlq_options::from_config(cfg).
    dlq_service(
        boost::asio::any_io_executor executor,
        const config::config& cfg,
        prometheus::Registry* registry = nullptr
    );

    ~dlq_service();
    dlq_service(const dlq_service&) = delete;
    dlq_service& operator=(const dlq_service&) = delete;

    /// Adds GET /v1/dlq and POST /v1/dlq:redrive to `routes`, and their operations to `registered` when not
    /// null.
    void add_routes(http::router& routes, std::vector<route_entry>* registered = nullptr);

    /// Scans and redrives running now.
    std::size_t running() const noexcept;

    /// The options in use.
    const dlq_options& options() const noexcept;

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

} // namespace relay::api
