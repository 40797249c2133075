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
    dev_cmd->add_option("--api-port", dev.api_port, "port of the API (0: a free one; default api.port)");
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

    relay::cli::dlq_args dlq;
    auto* dlq_cmd = app.add_subcommand("dlq", "Inspect the dead-letter topic and redrive deliveries from it");
    dlq_cmd->require_subcommand(1);
    auto* dlq_list_cmd = dlq_cmd->add_subcommand(
        "list", "List dead-lettered records (table, or JSON lines with --json); values only with --values"
    );
    auto* dlq_redrive_cmd = dlq_cmd->add_subcommand(
        "redrive", "Send matching dead-lettered deliveries back for a fresh first attempt (same webhook-id)"
    );
    // Values stay text: the commands check them and name the flag of every bad one (exit 2).
    for (auto* c : {dlq_list_cmd, dlq_redrive_cmd}) {
        c->add_option("-c,--config", dlq.config_file, "YAML or JSON config file (default: $RELAY_CONFIG)");
        c->add_option("--subscription", dlq.subscription, "only this subscription id");
        c->add_option(
            "--reason",
            dlq.reason,
            "only this reason: exhausted, permanent_status, permanent_error, gone, "
            "disabled, invalid_event, invalid_retry_record"
        );
        c->add_option("--since", dlq.since, "failed at or after: RFC 3339 time or a duration ago (2h, 1d)");
        c->add_option("--until", dlq.until, "failed before: RFC 3339 time or a duration ago (2h, 1d)");
        c->add_option("--limit", dlq.limit, "at most this many matching records");
        c->add_option("--timeout", dlq.timeout, "bound of Kafka requests and stalls (default 30s)");
        c->add_flag("--json", dlq.json, "JSON output");
    }
    dlq_list_cmd->add_flag("--values", dlq.values, "also print record values (customer data)");
    dlq_redrive_cmd->add_flag(
        "--dry-run", dlq.dry_run, "show and count what would be redriven, produce nothing"
    );
    dlq_redrive_cmd->add_option(
        "--rate", dlq.rate, "most records produced per second (default 0 = unlimited)"
    );

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        // `relay dlq` reports every usage error with exit 2, as its own checks do.
        return code != 0 && dlq_cmd->parsed() ? 2 : code;
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
    if (dlq_list_cmd->parsed())
        return relay::cli::run_dlq_list(dlq);
    if (dlq_redrive_cmd->parsed())
        return relay::cli::run_dlq_redrive(dlq);
    std::cout << app.help();
    return 0;
}
