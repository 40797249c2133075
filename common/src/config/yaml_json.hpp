#pragma once

// Internal to the config area: YAML to JSON conversion shared by the loader and yaml_to_json().

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>
#include <vector>

namespace relay::config::detail {

/// Converts `node` to JSON text. Problems (non-scalar or duplicate keys, nesting deeper than 100, output over
/// 16 MiB) are appended to `problems`, each prefixed with the JSON path of the offending node under `path`
/// ("subscriptions[0].headers") and followed by its line; the returned text is meaningless when any was
/// added.
std::string node_to_json(const YAML::Node& node, std::string_view path, std::vector<std::string>& problems);

/// Parses `text` as YAML or JSON that must be a list (or empty) and converts it to a JSON array text ("[]"
/// when empty). Problems as for node_to_json(), plus syntax errors and a document that is not a list.
std::string subscriptions_yaml_to_json(std::string_view text, std::vector<std::string>& problems);

/// Line number (1-based) of a node, for messages: " (line 12)"; "" when unknown.
std::string line_of(const YAML::Node& node);

} // namespace relay::config::detail
