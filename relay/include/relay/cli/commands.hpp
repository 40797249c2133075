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

} // namespace relay::cli
