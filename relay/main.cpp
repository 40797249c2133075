#include "relay/cli/commands.hpp"
#include "relay/cli/publish_command.hpp"
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

    auto* serve_cmd = app.add_subcommand("serve", "Run the HTTP API (event ingest) on api.port");
    serve_cmd->add_option("-c,--config", config_file, "YAML or JSON config file (default: $RELAY_CONFIG)");

    relay::cli::dev_args dev;
    auto* dev_cmd = app.add_subcommand(
        "dev", "Everything in one process for a first look: mock Kafka, a worker and a demo receiver"
    );
    dev_cmd->add_option("-c,--config", dev.config_file, "optional YAML or JSON config file");
    dev_cmd->add_option(
        "--receiver-port", dev.receiver_port, "port of the demo receiver (default: a free one)"
    );
    dev_cmd->add_flag("!--no-samples", dev.samples, "do not publish sample events at start");

    relay::cli::publish_args pub;
    auto* publish_cmd = app.add_subcommand(
        "publish", "Validate events and publish them to Kafka, waiting for each acknowledgement"
    );
    publish_cmd->add_option(
        "-c,--config", pub.config_file, "YAML or JSON config file (default: $RELAY_CONFIG)"
    );
    publish_cmd->add_option("--brokers", pub.brokers, "bootstrap servers (overrides kafka.brokers)");
    publish_cmd->add_option("--topic", pub.topic, "topic (default: topics.events)");
    publish_cmd->add_option("--type", pub.type, "event type of the event to build, e.g. order.created");
    publish_cmd->add_option("--data", pub.data, "the event's data as JSON (default: {})");
    publish_cmd->add_option("--key", pub.key, "Kafka key (ordering key)");
    publish_cmd->add_option("--id", pub.id, "event id (default: a random evt_...)");
    // run_publish checks ranges and combinations itself (exit 2 with its own messages).
    publish_cmd->add_option(
        "--count", pub.count, "number of events to build (1 to 1000000); data gets \"n\""
    );
    publish_cmd->add_option("--file", pub.file, "NDJSON file of complete event values, '-' for stdin");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    if (config_cmd->parsed())
        return relay::cli::run_config(config_file);
    if (deliver_cmd->parsed())
        return relay::cli::run_deliver(config_file);
    if (serve_cmd->parsed())
        return relay::cli::run_serve(config_file);
    if (dev_cmd->parsed())
        return relay::cli::run_dev(dev);
    if (publish_cmd->parsed())
        return relay::cli::run_publish(pub);
    std::cout << app.help();
    return 0;
}
