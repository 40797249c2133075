#include "relay/kafka/config.hpp"

#include "relay/kafka/error.hpp"

#include <array>

namespace relay::kafka {
namespace {

// Sets every property on `conf`, returning one message per rejected key.
std::vector<std::string> apply(rd_kafka_conf_t* conf, const properties& props)
{
    std::vector<std::string> problems;
    std::array<char, 512> errstr{};
    for (const auto& [key, value] : props) {
        errstr[0] = '\0';
        const auto res = rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr.data(), errstr.size());
        if (res == RD_KAFKA_CONF_OK) {
            continue;
        }
        // librdkafka echoes invalid values in its message; a credential must not reach logs that way.
        if (res == RD_KAFKA_CONF_INVALID && is_secret_property(key)) {
            problems.push_back(key + ": invalid value (not shown: secret)");
        } else {
            problems.push_back(key + ": " + errstr.data());
        }
    }
    return problems;
}

} // namespace

bool is_secret_property(std::string_view key) noexcept
{
    constexpr std::array<std::string_view, 6> markers{
        "password", "secret", "ssl.key.pem", "sasl.oauthbearer.config", "ssl_key", "sasl.jaas"};
    for (auto m : markers) {
        if (key.find(m) != std::string_view::npos) {
            return true;
        }
    }
    return false;
}

std::vector<std::string> validate_properties(const properties& props)
{
    const conf_ptr scratch(rd_kafka_conf_new());
    return apply(scratch.get(), props);
}

conf_ptr make_conf(const properties& props)
{
    conf_ptr conf(rd_kafka_conf_new());
    auto problems = apply(conf.get(), props);
    if (!problems.empty()) {
        throw config_error(std::move(problems));
    }
    return conf;
}

} // namespace relay::kafka
