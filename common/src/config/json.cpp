#include "relay/config/load.hpp"
#include "relay/config/units.hpp"

#include "settings.hpp"
#include "yaml_json.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>
#include <charconv>
#include <cstdint>
#include <set>

namespace relay::config {
namespace detail {
namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr int max_depth = 100;
constexpr std::size_t max_output = 16 * 1024 * 1024;

bool is_digit(char c) noexcept
{
    return c >= '0' && c <= '9';
}

/// RFC 8259's number grammar, exactly.
bool is_json_number(std::string_view s) noexcept
{
    std::size_t i = 0;
    const std::size_t n = s.size();
    if (i < n && s[i] == '-')
        ++i;
    if (i >= n)
        return false;
    if (s[i] == '0') {
        ++i;
    } else if (is_digit(s[i])) {
        while (i < n && is_digit(s[i]))
            ++i;
    } else {
        return false;
    }
    if (i < n && s[i] == '.') {
        ++i;
        if (i >= n || !is_digit(s[i]))
            return false;
        while (i < n && is_digit(s[i]))
            ++i;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            ++i;
        if (i >= n || !is_digit(s[i]))
            return false;
        while (i < n && is_digit(s[i]))
            ++i;
    }
    return i == n;
}

/// "0x1F" / "0o17" (YAML 1.2 core schema integers) as an unsigned value.
bool parse_prefixed_int(std::string_view s, std::uint64_t& out) noexcept
{
    int base = 0;
    if (s.starts_with("0x"))
        base = 16;
    else if (s.starts_with("0o"))
        base = 8;
    else
        return false;
    s.remove_prefix(2);
    if (s.empty())
        return false;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
    return ec == std::errc() && ptr == s.data() + s.size();
}

void write_string(json_writer& w, std::string_view s)
{
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()), true);
}

/// YAML 1.2 core schema resolution of a scalar, with JSON's spelling of the result.
void write_scalar(json_writer& w, const YAML::Node& node)
{
    const std::string& tag = node.Tag();
    const std::string& v = node.Scalar();
    if (tag == "!" || tag == "tag:yaml.org,2002:str") {
        write_string(w, v);
        return;
    }
    if (v.empty() || v == "~" || v == "null" || v == "Null" || v == "NULL") {
        w.Null();
    } else if (v == "true" || v == "True" || v == "TRUE") {
        w.Bool(true);
    } else if (v == "false" || v == "False" || v == "FALSE") {
        w.Bool(false);
    } else if (is_json_number(v)) {
        w.RawValue(v.data(), v.size(), rapidjson::kNumberType);
    } else if (v.size() > 1 && v.front() == '+' && is_json_number(std::string_view(v).substr(1))) {
        w.RawValue(v.data() + 1, v.size() - 1, rapidjson::kNumberType);
    } else if (std::uint64_t n = 0; parse_prefixed_int(v, n)) {
        w.Uint64(n);
    } else {
        write_string(w, v);
    }
}

struct converter
{
    explicit converter(std::vector<std::string>& p)
        : problems(p)
    {}

    rapidjson::StringBuffer buffer;
    json_writer writer{buffer};
    std::vector<std::string>& problems;
    bool stopped = false;

    void fail(std::string message) { problems.push_back(std::move(message)); }

    void convert(const YAML::Node& node, const std::string& path, int depth)
    {
        if (stopped)
            return;
        if (depth > max_depth) {
            fail(path + ": nested deeper than " + std::to_string(max_depth) + " levels" + line_of(node));
            stopped = true;
            return;
        }
        if (buffer.GetSize() > max_output) {
            fail(path + ": larger than " + std::to_string(max_output / (1024 * 1024)) + " MiB as JSON");
            stopped = true;
            return;
        }
        switch (node.Type()) {
        case YAML::NodeType::Undefined:
        case YAML::NodeType::Null:
            writer.Null();
            return;
        case YAML::NodeType::Scalar:
            write_scalar(writer, node);
            return;
        case YAML::NodeType::Sequence: {
            writer.StartArray();
            std::size_t i = 0;
            for (const auto& item : node)
                convert(item, path + "[" + std::to_string(i++) + "]", depth + 1);
            writer.EndArray();
            return;
        }
        case YAML::NodeType::Map: {
            writer.StartObject();
            std::set<std::string> seen;
            for (auto it = node.begin(); it != node.end(); ++it) {
                if (!it->first.IsScalar()) {
                    fail(path + ": keys must be plain strings" + line_of(it->first));
                    continue;
                }
                const std::string& key = it->first.Scalar();
                if (!seen.insert(key).second) {
                    fail(path + "." + key + ": key set twice" + line_of(it->first));
                    continue;
                }
                write_string(writer, key);
                convert(it->second, path + "." + key, depth + 1);
            }
            writer.EndObject();
            return;
        }
        }
    }
};

bool is_secret_member(std::string_view name)
{
    std::string n(name);
    for (auto& c : n)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (std::string_view word :
         {"secret", "password", "token", "signing_key", "private_key", "api_key", "credential"})
        if (n.find(word) != std::string::npos)
            return true;
    return false;
}

/// "https://user:pw@host/p?q#f" -> "https://***@host/p?***": credentials and query strings stay out of logs.
std::string redact_url(std::string_view url)
{
    std::string out;
    const auto scheme_end = url.find("://");
    std::size_t authority_start = 0;
    if (scheme_end != std::string_view::npos) {
        authority_start = scheme_end + 3;
        out.append(url.substr(0, authority_start));
    }
    auto rest = url.substr(authority_start);
    const auto authority_end = rest.find_first_of("/?#");
    const auto authority = rest.substr(0, authority_end);
    const auto at = authority.rfind('@');
    if (at != std::string_view::npos) {
        out += "***@";
        out.append(authority.substr(at + 1));
    } else {
        out.append(authority);
    }
    if (authority_end == std::string_view::npos)
        return out;
    rest.remove_prefix(authority_end);
    const auto fragment = rest.find('#');
    if (fragment != std::string_view::npos)
        rest = rest.substr(0, fragment);
    const auto query = rest.find('?');
    if (query == std::string_view::npos) {
        out.append(rest);
    } else {
        out.append(rest.substr(0, query));
        out += "?***";
    }
    return out;
}

using json_value = rapidjson::Value;
using json_allocator = rapidjson::Document::AllocatorType;

void mask_all(json_value& v, json_allocator& a)
{
    if (v.IsString()) {
        v.SetString("***", a);
    } else if (v.IsArray()) {
        for (auto& item : v.GetArray())
            mask_all(item, a);
    } else if (v.IsObject()) {
        for (rapidjson::SizeType i = 0; i < v.MemberCount(); ++i) {
            auto& m = *(v.MemberBegin() + i);
            // Timestamps (a rotated secret's `expires_at`) say nothing secret and help to debug rotation.
            if (!std::string_view(m.name.GetString(), m.name.GetStringLength()).ends_with("_at"))
                mask_all(m.value, a);
        }
    }
}

void mask_secrets(json_value& v, json_allocator& a)
{
    if (v.IsArray()) {
        for (auto& item : v.GetArray())
            mask_secrets(item, a);
        return;
    }
    if (!v.IsObject())
        return;
    // Indexed, not iterated: RapidJSON's member iterator operator!= is ambiguous in C++20 (clang warns).
    for (rapidjson::SizeType i = 0; i < v.MemberCount(); ++i) {
        auto& m = *(v.MemberBegin() + i);
        const std::string_view name(m.name.GetString(), m.name.GetStringLength());
        if (is_secret_member(name) || name == "headers") {
            // Custom headers are where receivers' credentials live (Authorization, X-Api-Key): all masked.
            mask_all(m.value, a);
        } else if (name == "url" && m.value.IsString()) {
            const auto redacted =
                redact_url(std::string_view(m.value.GetString(), m.value.GetStringLength()));
            m.value.SetString(redacted.data(), static_cast<rapidjson::SizeType>(redacted.size()), a);
        } else {
            mask_secrets(m.value, a);
        }
    }
}

void write_subscriptions(json_writer& w, const std::string& text, bool mask)
{
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
    if (doc.HasParseError()) {
        write_string(w, mask ? "*** (not valid JSON)" : text);
        return;
    }
    if (mask)
        mask_secrets(doc, doc.GetAllocator());
    doc.Accept(w);
}

void write_value(json_writer& w, const setting& s, const config& c, bool mask)
{
    const auto masked = [&](const std::string& v) { return mask && s.secret && !v.empty() ? "***" : v; };
    switch (s.type) {
    case kind::text:
    case kind::brokers:
        write_string(w, masked(s.get<std::string>(c)));
        return;
    case kind::boolean:
        w.Bool(s.get<bool>(c));
        return;
    case kind::port:
        w.Uint(s.get<std::uint16_t>(c));
        return;
    case kind::count:
    case kind::size:
        w.Uint64(s.get<std::size_t>(c));
        return;
    case kind::int32:
        w.Int(s.get<std::int32_t>(c));
        return;
    case kind::int16:
        w.Int(s.get<std::int16_t>(c));
        return;
    case kind::number:
        w.Double(s.get<double>(c));
        return;
    case kind::duration:
        write_string(w, format_duration(s.get<std::chrono::milliseconds>(c)));
        return;
    case kind::text_list:
        w.StartArray();
        for (const auto& item : s.get<std::vector<std::string>>(c))
            write_string(w, masked(item));
        w.EndArray();
        return;
    case kind::duration_list:
        w.StartArray();
        for (const auto d : s.get<std::vector<std::chrono::milliseconds>>(c))
            write_string(w, format_duration(d));
        w.EndArray();
        return;
    case kind::properties:
        w.StartObject();
        for (const auto& [name, value] : s.get<property_map>(c)) {
            write_string(w, name);
            write_string(w, mask && is_secret_property(name) && !value.empty() ? "***" : value);
        }
        w.EndObject();
        return;
    case kind::log_level:
        write_string(w, relay::log::to_string(s.get<relay::log::level>(c)));
        return;
    case kind::json_list:
        write_subscriptions(w, s.get<std::string>(c), mask);
        return;
    }
}

std::vector<std::string> split_key(std::string_view key)
{
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (true) {
        const auto dot = key.find('.', start);
        parts.emplace_back(key.substr(start, dot - start));
        if (dot == std::string_view::npos)
            break;
        start = dot + 1;
    }
    return parts;
}

} // namespace

std::string line_of(const YAML::Node& node)
{
    const auto mark = node.Mark();
    if (mark.line < 0)
        return "";
    return " (line " + std::to_string(mark.line + 1) + ")";
}

std::string node_to_json(const YAML::Node& node, std::string_view path, std::vector<std::string>& problems)
{
    converter conv(problems);
    conv.convert(node, std::string(path), 0);
    return std::string(conv.buffer.GetString(), conv.buffer.GetSize());
}

std::string subscriptions_yaml_to_json(std::string_view text, std::vector<std::string>& problems)
{
    YAML::Node node;
    try {
        node = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
        problems.push_back(std::string("not valid YAML or JSON: ") + e.what());
        return "[]";
    }
    if (node.IsNull())
        return "[]";
    if (!node.IsSequence()) {
        problems.push_back("must be a list of subscriptions");
        return "[]";
    }
    return node_to_json(node, "subscriptions", problems);
}

} // namespace detail

std::string yaml_to_json(std::string_view yaml_text)
{
    YAML::Node node;
    try {
        node = YAML::Load(std::string(yaml_text));
    } catch (const YAML::Exception& e) {
        throw config_error({std::string("not valid YAML or JSON: ") + e.what()});
    }
    std::vector<std::string> problems;
    auto json = detail::node_to_json(node, "$", problems);
    if (!problems.empty())
        throw config_error(std::move(problems));
    return json;
}

std::string to_json(const config& c, bool mask_secrets)
{
    rapidjson::StringBuffer buffer;
    detail::json_writer w(buffer);
    w.StartObject();
    std::vector<std::string> open; // sections currently open, outermost first
    for (const auto& s : detail::all_settings()) {
        auto parts = detail::split_key(s.key);
        const std::string leaf = parts.back();
        parts.pop_back();
        std::size_t common = 0;
        while (common < open.size() && common < parts.size() && open[common] == parts[common])
            ++common;
        while (open.size() > common) {
            w.EndObject();
            open.pop_back();
        }
        while (open.size() < parts.size()) {
            detail::write_string(w, parts[open.size()]);
            w.StartObject();
            open.push_back(parts[open.size()]);
        }
        detail::write_string(w, leaf);
        detail::write_value(w, s, c, mask_secrets);
    }
    while (!open.empty()) {
        w.EndObject();
        open.pop_back();
    }
    w.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
}

} // namespace relay::config
