#include "relay/log/log.hpp"
#include "relay/version.hpp"

#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>
#include <string>

int main(int argc, char** argv)
{
    CLI::App app{"Relay delivers Kafka events as signed webhooks (Standard Webhooks v1).", "relay"};
    app.set_version_flag("--version", std::string("relay ") + relay::version);
    app.footer("Documentation: README.md in the source tree.");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    if (app.get_subcommands().empty()) {
        std::cout << app.help();
        return 0;
    }
    return 0;
}
