#include "relay/cli/commands.hpp"
#include "relay/config/load.hpp"

#include <filesystem>
#include <iostream>

namespace relay::cli {

int run_config(const std::optional<std::string>& config_file)
{
    try {
        const auto cfg = config::load_config(
            config_file ? std::optional<std::filesystem::path>(*config_file) : std::nullopt,
            config::environment::from_process()
        );
        std::cout << config::to_json(cfg, true) << '\n';
        return 0;
    } catch (const config::config_error& e) {
        std::cerr << e.what() << '\n';
        return 2;
    }
}

} // namespace relay::cli
