#pragma once

#include <cstdint>
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

/// `relay serve`: the HTTP API (so far event ingest: POST /v1/events and /v1/events:batch) on api.port, with
/// /metrics /healthz /readyz on the admin port. Refuses to start without api.tokens (exit 2). Runs until
/// SIGTERM/SIGINT, then stops accepting, lets requests finish and flushes the producer.
int run_serve(const std::optional<std::string>& config_file);

/// Options of `relay dev`.
struct dev_args
{
    std::optional<std::string> config_file; ///< optional: extra settings and subscriptions
    std::uint16_t receiver_port = 0;        ///< the demo receiver's port; 0 picks a free one
    bool samples = true;                    ///< publish a few sample events at start
};

/// `relay dev`: everything in one process for a first look (design.md section 11): librdkafka's mock
/// cluster as Kafka, the delivery worker, and a demo receiver on loopback that prints every webhook and
/// whether its signature verified. Demo subscriptions point at the receiver; sample events are published
/// at start, and the banner shows the `relay publish` command for more. Runs until SIGINT/SIGTERM.
int run_dev(const dev_args& args);

} // namespace relay::cli
