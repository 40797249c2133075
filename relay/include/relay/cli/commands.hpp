#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

/// @file
/// The subcommands of the `relay` executable. main.cpp parses the command line into these argument structs
/// and calls one function; each returns the process exit status (0 success, 1 runtime failure, 2 bad
/// configuration or usage).
namespace relay::cli {

/// `relay config`: loads the config file and RELAY_* environment exactly as the services do and prints the
/// effective configuration with secrets masked (exit 0), or every problem found (exit 2).
int run_config(const std::optional<std::string>& config_file);

/// `relay deliver`: the delivery worker (design.md sections 4 to 8). Loads the configuration and the static
/// subscriptions, creates missing topics, serves /metrics /healthz /readyz on the admin port, and delivers
/// until SIGTERM or SIGINT, then drains gracefully (exit 0). Exit 2 on a bad configuration, 1 when start-up
/// fails (Kafka unreachable, topics missing) or a Kafka client reports a fatal error.
int run_deliver(const std::optional<std::string>& config_file);

/// `relay serve`: the HTTP API (event ingest: POST /v1/events and /v1/events:batch; subscription management:
/// /v1/subscriptions) on api.port, with /metrics /healthz /readyz on the admin port. The subscriptions topic
/// is read completely before the API reports ready. Refuses to start without api.tokens (exit 2). Runs until
/// SIGTERM/SIGINT, then stops accepting, lets requests finish and flushes the producer.
int run_serve(const std::optional<std::string>& config_file);

/// Options of `relay dev`.
struct dev_args
{
    std::optional<std::string> config_file; ///< optional: extra settings and subscriptions
    std::uint16_t receiver_port = 0;        ///< the demo receiver's port; 0 picks a free one
    bool samples = true;                    ///< publish a few sample events at start
    /// The API's port (ingest and subscriptions); nullopt uses api.port of the config (default 8080), 0
    /// picks a free one.
    std::optional<std::uint16_t> api_port;
};

/// `relay dev`: everything in one process for a first look (design.md section 11): librdkafka's mock
/// cluster as Kafka, the delivery worker, the API of `relay serve` (ingest and subscriptions, bearer token
/// `dev-token` unless api.tokens is set; on 127.0.0.1 unless a config file or RELAY_API_ADDRESS says
/// otherwise), and a demo receiver on loopback that prints every webhook and whether its signature verified.
/// Demo subscriptions (static, read-only) point at the receiver; sample events are published at start, and
/// the banner shows the API URL with ready-to-paste curl commands and the `relay publish` command. Runs
/// until SIGINT/SIGTERM.
int run_dev(const dev_args& args);

/// The command line of `relay dlq list` and `relay dlq redrive`. Values are kept as text and checked by the
/// commands, which name the flag of every bad value (exit 2). Empty optionals were not given.
struct dlq_args
{
    /// -c/--config: YAML or JSON config file (default: $RELAY_CONFIG). Supplies kafka.*, topics.dlq,
    /// topics.retry_prefix and delivery.retry_schedule.
    std::optional<std::string> config_file;
    std::optional<std::string> subscription; ///< --subscription: only this subscription id
    std::optional<std::string> reason;       ///< --reason: only this DLQ reason (exhausted, gone, ...)
    /// --since / --until: failed-at bounds, an RFC 3339 time or a duration ago ("30m", "2h", "1d"); since is
    /// inclusive, until exclusive.
    std::optional<std::string> since;
    std::optional<std::string> until; ///< see `since`
    std::optional<std::string> limit; ///< --limit: at most this many matching records (a positive integer)
    /// --timeout: bound of Kafka requests and of stalls while reading (a duration, default 30s).
    std::optional<std::string> timeout;
    bool json = false;               ///< --json: list: one JSON object per line; redrive: a JSON summary
    bool values = false;             ///< --values (list): include record values, which are customer data
    bool dry_run = false;            ///< --dry-run (redrive): decide and count, produce nothing
    std::optional<std::string> rate; ///< --rate (redrive): most records produced per second; 0 = unlimited
};

/// `relay dlq list`: prints the DLQ records matching the filters, as a table (default) or JSON lines
/// (--json), read from the beginning of the DLQ topic up to its end at the start; values only with --values.
/// A summary goes to standard error. Exit 0 on success, 1 when Kafka cannot be read (unreachable, topic
/// missing), 2 on bad flags or a bad configuration.
int run_dlq_list(const dlq_args& args);

/// run_dlq_list() writing to `out` and `err` (for tests).
int run_dlq_list(const dlq_args& args, std::ostream& out, std::ostream& err);

/// `relay dlq redrive`: turns the matching DLQ records back into fresh deliveries (attempt 1, same
/// webhook-id, same subscription only) on the first retry tier topic, at most --rate per second, and waits
/// for every acknowledgement; records without a subscription (invalid_event) are skipped and counted. Prints
/// one line per matching record and the counts (or a JSON summary with --json); --dry-run produces nothing.
/// Exit 0 when nothing failed, 1 when a record was not acknowledged or Kafka cannot be read, 2 on bad flags
/// or a bad configuration (including an empty retry schedule).
int run_dlq_redrive(const dlq_args& args);

/// run_dlq_redrive() writing to `out` and `err` (for tests).
int run_dlq_redrive(const dlq_args& args, std::ostream& out, std::ostream& err);

} // namespace relay::cli
