#include "relay/config/load.hpp"

#include "settings.hpp"
#include "yaml_json.hpp"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <utility>

namespace relay::config {
namespace {

using detail::kind;
using detail::setting;

constexpr std::size_t max_file_bytes = 16 * 1024 * 1024;
constexpr std::string_view env_prefix = "RELAY_";
constexpr std::string_view file_suffix = "_FILE";
constexpr std::string_view service_link_hint =
    "; this looks like a Kubernetes service link variable: set enableServiceLinks: false in the pod spec";

std::string summary(const std::vector<std::string>& problems)
{
    std::string out = "invalid configuration (" + std::to_string(problems.size()) +
                      (problems.size() == 1 ? " problem):" : " problems):");
    for (const auto& p : problems)
        out += "\n  - " + p;
    return out;
}

/// Reads a whole file; on failure returns false with the reason in `error`.
bool read_file(const std::filesystem::path& path, std::string& out, std::string& error)
{
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!f) {
        error = std::strerror(errno);
        return false;
    }
    out.clear();
    char buf[8192];
    while (true) {
        const auto n = std::fread(buf, 1, sizeof buf, f.get());
        out.append(buf, n);
        if (out.size() > max_file_bytes) {
            error = "larger than " + std::to_string(max_file_bytes / (1024 * 1024)) + " MiB";
            return false;
        }
        if (n < sizeof buf) {
            if (std::ferror(f.get())) {
                error = std::strerror(errno);
                return false;
            }
            return true;
        }
    }
}

std::string quoted_path(const std::filesystem::path& p)
{
    return detail::quote(p.string());
}

/// Loads the file layer: every known key is applied, every unknown key is a problem.
class file_loader
{
public:
    file_loader(std::filesystem::path path, config& c, std::vector<std::string>& problems)
        : path_(std::move(path))
        , file_(path_.string())
        , config_(c)
        , problems_(problems)
    {
        for (const auto& s : detail::all_settings()) {
            keys_.push_back(s.key);
            for (auto dot = s.key.find('.'); dot != std::string::npos; dot = s.key.find('.', dot + 1))
                sections_.insert(s.key.substr(0, dot));
        }
        keys_.insert(keys_.end(), sections_.begin(), sections_.end());
    }

    void load()
    {
        const auto& path = path_;
        std::string text;
        std::string error;
        if (!read_file(path, text, error)) {
            problems_.push_back("config file " + quoted_path(path) + ": cannot read it: " + error);
            return;
        }
        YAML::Node root;
        try {
            root = YAML::Load(text);
        } catch (const YAML::Exception& e) {
            problems_.push_back("config file " + quoted_path(path) + ": not valid YAML or JSON: " + e.what());
            return;
        }
        if (root.IsNull())
            return; // an empty file (or only comments) means defaults
        if (!root.IsMap()) {
            problems_.push_back(
                "config file " + quoted_path(path) +
                ": must be a mapping of sections (log, admin, kafka, topics, " +
                "delivery, api, subscriptions)"
            );
            return;
        }
        walk(root, "");
    }

private:
    std::string where(const YAML::Node& node) const
    {
        const auto mark = node.Mark();
        if (mark.line < 0)
            return " (in " + file_ + ")";
        return " (" + file_ + " line " + std::to_string(mark.line + 1) + ")";
    }

    void problem(const setting& s, const std::string& message, const YAML::Node& node)
    {
        problems_.push_back(detail::label(s) + ": " + message + where(node));
    }

    void walk(const YAML::Node& map, const std::string& prefix)
    {
        std::set<std::string> seen;
        for (auto it = map.begin(); it != map.end(); ++it) {
            if (!it->first.IsScalar()) {
                problems_.push_back(
                    (prefix.empty() ? std::string("top level") : prefix) + ": keys must be plain names" +
                    where(it->first)
                );
                continue;
            }
            const std::string& name = it->first.Scalar();
            const std::string key = prefix.empty() ? name : prefix + "." + name;
            if (!seen.insert(name).second) {
                problems_.push_back(key + ": set twice" + where(it->first));
                continue;
            }
            if (const auto* s = detail::find_by_key(key)) {
                apply(*s, it->second);
            } else if (sections_.contains(key)) {
                if (it->second.IsMap())
                    walk(it->second, key);
                else if (!it->second.IsNull())
                    problems_.push_back(key + ": must be a mapping of settings" + where(it->second));
            } else {
                std::string message = key + ": unknown key" + where(it->first);
                if (const auto hint = detail::closest(key, keys_); !hint.empty())
                    message += "; did you mean " + hint + "?";
                problems_.push_back(std::move(message));
            }
        }
    }

    /// The scalar texts of a sequence, or nullopt (with a problem) when an item is not a scalar.
    std::optional<std::vector<std::string>> items(const setting& s, const YAML::Node& seq)
    {
        std::vector<std::string> out;
        for (const auto& item : seq) {
            if (!item.IsScalar()) {
                problem(s, "list items must be single values", item);
                return std::nullopt;
            }
            out.push_back(item.Scalar());
        }
        return out;
    }

    void apply(const setting& s, const YAML::Node& node)
    {
        switch (s.type) {
        case kind::properties:
            apply_properties(s, node);
            return;
        case kind::json_list:
            if (node.IsNull()) {
                s.get<std::string>(config_) = "[]";
            } else if (!node.IsSequence()) {
                problem(s, "must be a list of subscriptions", node);
            } else {
                std::vector<std::string> conversion;
                auto json = detail::node_to_json(node, s.key, conversion);
                for (auto& p : conversion)
                    problems_.push_back(p + " (in " + file_ + ")");
                if (conversion.empty())
                    s.get<std::string>(config_) = std::move(json);
            }
            return;
        case kind::text_list:
        case kind::duration_list:
        case kind::brokers:
            if (node.IsSequence() || node.IsNull()) {
                if (const auto list = node.IsNull() ? std::vector<std::string>{} : items(s, node))
                    if (const auto error = detail::assign_items(s, config_, *list))
                        problem(s, *error, node);
                return;
            }
            break;
        default:
            break;
        }
        if (node.IsNull()) {
            problem(s, "has no value", node);
        } else if (node.IsSequence()) {
            problem(s, "must be a single " + std::string(s.type_label) + ", not a list", node);
        } else if (node.IsMap()) {
            problem(s, "must be a single " + std::string(s.type_label) + ", not a mapping", node);
        } else if (const auto error = detail::assign_text(s, config_, node.Scalar(), false)) {
            problem(s, *error, node);
        }
    }

    void apply_properties(const setting& s, const YAML::Node& node)
    {
        if (node.IsNull())
            return;
        if (!node.IsMap()) {
            problem(s, "must be a mapping of librdkafka property names to values", node);
            return;
        }
        auto& map = s.get<property_map>(config_);
        std::set<std::string> seen;
        for (auto it = node.begin(); it != node.end(); ++it) {
            if (!it->first.IsScalar()) {
                problem(s, "property names must be plain strings", it->first);
                continue;
            }
            const std::string& name = it->first.Scalar();
            if (!seen.insert(name).second) {
                problems_.push_back(detail::property_label(s, name) + ": set twice" + where(it->first));
                continue;
            }
            if (!it->second.IsScalar()) {
                problems_.push_back(
                    detail::property_label(s, name) + ": must be a single value (string, number or bool)" +
                    where(it->second)
                );
                continue;
            }
            map[name] = it->second.Scalar();
        }
    }

    std::filesystem::path path_;
    std::string file_;
    config& config_;
    std::vector<std::string>& problems_;
    std::set<std::string> sections_;
    std::vector<std::string> keys_;
};

/// Where one environment variable goes.
struct env_target
{
    const setting* s = nullptr;
    std::string property; ///< map entries only
    bool from_file = false;
};

std::optional<env_target> resolve(std::string_view name)
{
    if (const auto* s = detail::find_by_env(name); s && s->type != kind::properties)
        return env_target{s, "", false};
    for (const auto& s : detail::all_settings()) {
        if (s.type != kind::properties)
            continue;
        if (name == s.env || name == s.env + std::string(file_suffix))
            return env_target{&s, "", false}; // the whole map: refused by assign_text with a hint
        if (!name.starts_with(s.env + "_"))
            continue;
        auto rest = name.substr(s.env.size() + 1);
        env_target t{&s, "", false};
        if (rest.ends_with(file_suffix)) {
            t.from_file = true;
            rest.remove_suffix(file_suffix.size());
        }
        for (char c : rest)
            t.property.push_back(
                c == '_' ? '.' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
            );
        return t;
    }
    if (name.ends_with(file_suffix)) {
        const auto base = name.substr(0, name.size() - file_suffix.size());
        if (const auto* s = detail::find_by_env(base); s && s->type != kind::properties)
            return env_target{s, "", true};
    }
    return std::nullopt;
}

bool is_allowed_extra(std::string_view name)
{
    return name == config_file_variable || name.starts_with("RELAY_TEST_");
}

bool looks_like_service_link_value(std::string_view value)
{
    return value.starts_with("tcp://") || value.starts_with("udp://") || value.starts_with("sctp://");
}

/// Kubernetes injects <SERVICE>_SERVICE_HOST, <SERVICE>_SERVICE_PORT[_<NAME>], <SERVICE>_PORT and
/// <SERVICE>_PORT_<n>_<PROTO>[_PROTO|_PORT|_ADDR] for every Service in the namespace; a Service whose name
/// starts with "relay" produces RELAY_* variables that are not Relay's settings.
bool looks_like_service_link(std::string_view name, std::string_view value)
{
    if (looks_like_service_link_value(value))
        return true;
    if (name.ends_with("_SERVICE_HOST") || name.find("_SERVICE_PORT") != std::string_view::npos)
        return true;
    for (auto pos = name.find("_PORT_"); pos != std::string_view::npos; pos = name.find("_PORT_", pos + 1)) {
        auto rest = name.substr(pos + 6);
        std::size_t digits = 0;
        while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits])))
            ++digits;
        rest.remove_prefix(digits);
        if (digits > 0 && (rest.starts_with("_TCP") || rest.starts_with("_UDP") || rest.starts_with("_SCTP")))
            return true;
    }
    return false;
}

std::vector<std::string> env_candidates()
{
    std::vector<std::string> out;
    for (const auto& s : detail::all_settings())
        out.push_back(s.type == kind::properties ? s.env + "_" : s.env);
    return out;
}

void apply_environment(const environment& env, config& c, std::vector<std::string>& problems)
{
    struct assignment
    {
        env_target target;
        std::string variable;
        const std::string* value;
    };
    std::map<std::string, assignment> assignments; // by setting key (+ property), so X and X_FILE collide
    for (const auto& [name, value] : env.variables()) {
        if (!name.starts_with(env_prefix) || is_allowed_extra(name))
            continue;
        auto target = resolve(name);
        if (!target) {
            if (looks_like_service_link(name, value))
                continue;
            std::string message = name + ": no such setting";
            if (const auto hint = detail::closest(name, env_candidates()); !hint.empty())
                message += "; did you mean " + hint + "?";
            problems.push_back(std::move(message));
            continue;
        }
        if (target->s->type == kind::properties && target->property.empty() &&
            (name == target->s->env || name == target->s->env + std::string(file_suffix))) {
            problems.push_back(name + ": set one property per variable: " + target->s->env + "_<NAME>");
            continue;
        }
        if (target->s->type == kind::properties && target->property.empty()) {
            problems.push_back(name + ": the property name after " + target->s->env + "_ is empty");
            continue;
        }
        const std::string id = target->s->key + "\n" + target->property;
        if (const auto it = assignments.find(id); it != assignments.end()) {
            problems.push_back(it->second.variable + " and " + name + " are both set; set only one");
            continue;
        }
        assignments.emplace(id, assignment{std::move(*target), name, &value});
    }

    for (const auto& [id, a] : assignments) {
        const setting& s = *a.target.s;
        const std::string who = s.type == kind::properties
                                    ? s.key + "." + a.target.property + " (" + a.variable + ")"
                                    : s.key + " (" + a.variable + ")";
        std::string text = *a.value;
        if (a.target.from_file) {
            std::string error;
            if (!read_file(*a.value, text, error)) {
                problems.push_back(who + ": cannot read " + detail::quote(*a.value) + ": " + error);
                continue;
            }
            // Files written by editors and `echo` end in a newline that is not part of the value.
            while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
                text.pop_back();
        }
        if (s.type == kind::properties) {
            s.get<property_map>(c)[a.target.property] = std::move(text);
            continue;
        }
        if (auto error = detail::assign_text(s, c, text, a.target.from_file)) {
            if (!s.secret && looks_like_service_link_value(text))
                *error += service_link_hint;
            problems.push_back(who + ": " + *error);
        }
    }
}

} // namespace

config_error::config_error(std::vector<std::string> problems)
    : std::runtime_error(summary(problems))
    , problems_(std::move(problems))
{}

config load_config(const std::optional<std::filesystem::path>& file, const environment& env)
{
    config c;
    std::vector<std::string> problems;
    std::optional<std::filesystem::path> path = file;
    if (!path) {
        if (const auto* named = env.find(config_file_variable); named != nullptr && !named->empty())
            path = *named;
    }
    if (path) {
        file_loader(*path, c, problems).load();
    }
    apply_environment(env, c, problems);
    auto more = validate(c);
    problems.insert(
        problems.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end())
    );
    if (!problems.empty())
        throw config_error(std::move(problems));
    return c;
}

} // namespace relay::config
