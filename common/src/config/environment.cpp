#include "relay/config/environment.hpp"

#include <cstring>

extern char** environ; // NOLINT(readability-redundant-declaration): POSIX declares it nowhere in a header

namespace relay::config {

environment environment::from_process()
{
    map_type vars;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        const char* eq = std::strchr(*entry, '=');
        if (eq == nullptr)
            continue;
        vars.emplace(std::string(*entry, static_cast<std::size_t>(eq - *entry)), std::string(eq + 1));
    }
    return environment(std::move(vars));
}

const std::string* environment::find(std::string_view name) const noexcept
{
    const auto it = vars_.find(name);
    return it == vars_.end() ? nullptr : &it->second;
}

} // namespace relay::config
