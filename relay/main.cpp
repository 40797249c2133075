#include "relay/config/load.hpp"
#include "relay/log/log.hpp"
#include "relay/version.hpp"

#include <CLI/CLI.hpp>

#include <iostream>
#include <optional>
#include <string>

namespace {

// `relay config`: loads the config file and RELAY_* environment exactly as the services will, and prints the
// effective configuration with secrets masked, or every problem found.
int run_config(const std::optional<std::string>& file)
{
    try {
        const auto cfg = relay::config::load_config(
            file ? std::optional<std::filesystem::path>(*file) : std::nullopt,
            relay::config::environment::from_process()
        );
        std::cout << relay::config::to_json(cfg, true) << '\n';
        return 0;
    } catch (const relay::config::config_error& e) {
        std::cerr << e.what() << '\n';
        return 2;
    }
}

} // namespace

int main(int argc, char** argv)
{
    CLI::App app{"Relay delivers Kafka events as signed webhooks (Standard Webhooks v1).", "relay"};
    app.set_version_flag("--version", std::string("relay ") + relay::version);
    app.footer(
        "Configuration: a YAML or JSON file (--config or RELAY_CONFIG) plus RELAY_* environment variables."
    );

    std::optional<std::string> config_file;
    auto* config_cmd = app.add_subcommand(
        "config", "Validate the configuration (file + RELAY_* environment) and print it with secrets masked"
    );
    config_cmd->add_option("-c,--config", config_file, "YAML or JSON config file (default: $RELAY_CONFIG)");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    if (config_cmd->parsed())
        return run_config(config_file);
    std::cout << app.help();
    return 0;
}
