#include "relay/cli/commands.hpp"
#include "relay/version.hpp"

#include <CLI/CLI.hpp>

#include <iostream>
#include <optional>
#include <string>

int main(int argc, char** argv)
{
    CLI::App app{"Relay delivers Kafka events as signed webhooks (Standard Webhooks v1).", "relay"};
    app.set_version_flag("--version", std::string("relay ") + relay::version);
    app.footer(
        "Configuration: a YAML or JSON file (--config or RELAY_CONFIG) plus RELAY_* environment variables."
    );
    app.require_subcommand(0, 1);

    std::optional<std::string> config_file;
    auto* config_cmd = app.add_subcommand(
        "config", "Validate the configuration (file + RELAY_* environment) and print it with secrets masked"
    );
    config_cmd->add_option("-c,--config", config_file, "YAML or JSON config file (default: $RELAY_CONFIG)");

    auto* deliver_cmd = app.add_subcommand(
        "deliver", "Run a delivery worker: consume events, deliver signed webhooks, retry and dead-letter"
    );
    deliver_cmd->add_option("-c,--config", config_file, "YAML or JSON config file (default: $RELAY_CONFIG)");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    if (config_cmd->parsed())
        return relay::cli::run_config(config_file);
    if (deliver_cmd->parsed())
        return relay::cli::run_deliver(config_file);
    std::cout << app.help();
    return 0;
}
