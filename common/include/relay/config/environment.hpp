#pragma once

#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <utility>

namespace relay::config {

/// A snapshot of environment variables: the process's own (`from_process()`) in production, a map in tests.
/// Thread-safety: a value type; const access is safe from any thread.
class environment
{
public:
    using map_type = std::map<std::string, std::string, std::less<>>;

    /// An empty environment.
    environment() = default;

    /// An environment holding exactly `vars`.
    explicit environment(map_type vars)
        : vars_(std::move(vars))
    {}

    /// An environment holding exactly `vars`: `environment({{"RELAY_KAFKA_BROKERS", "k:9092"}})`.
    environment(std::initializer_list<map_type::value_type> vars)
        : vars_(vars)
    {}

    /// A copy of the process environment (`environ`) taken now. Entries without '=' are skipped.
    static environment from_process();

    /// The value of `name`, or nullptr when unset. The pointer stays valid as long as this object.
    const std::string* find(std::string_view name) const noexcept;

    /// Every variable, sorted by name.
    const map_type& variables() const noexcept { return vars_; }

private:
    map_type vars_;
};

} // namespace relay::config
