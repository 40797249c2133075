#include "settings.hpp"

#include "relay/config/load.hpp"
#include "relay/config/units.hpp"

#include "yaml_json.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

namespace relay::config {
namespace detail {
namespace {

constexpr std::string_view duration_hint =
    "must be a duration like \"250ms\", \"5s\", \"5m\", \"2h\" or \"1d\" (a bare number is seconds)";
constexpr std::string_view size_hint = "must be a size in bytes, or with a unit like \"64KiB\" or \"1MiB\"";

std::string lower(std::string_view s)
{
    std::string out(s);
    for (auto& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string_view trim(std::string_view s) noexcept
{
    constexpr std::string_view space = " \t\r\n";
    const auto first = s.find_first_not_of(space);
    if (first == std::string_view::npos)
        return {};
    const auto last = s.find_last_not_of(space);
    return s.substr(first, last - first + 1);
}

std::vector<setting> make_settings()
{
    std::vector<setting> t;
    const auto add =
        [&t](std::string key, kind k, field_ref f, std::string_view type = {}, bool secret = false) {
            std::string env = env_name(key);
            t.push_back(setting{
                std::move(key), std::move(env), k, f, type.empty() ? type_name(k) : type, secret});
        };
    // A captureless lambda returning a reference to one field, converted to a plain function pointer.
    // clang-format off
#define RELAY_FIELD(member) +[](config& c) -> auto& { return c.member; }
    // clang-format on
    add("log.level", kind::log_level, RELAY_FIELD(log.level));
    add("admin.address", kind::text, RELAY_FIELD(admin.address), "IP address");
    add("admin.port", kind::port, RELAY_FIELD(admin.port));
    add("kafka.brokers", kind::brokers, RELAY_FIELD(kafka.brokers));
    add("kafka.properties", kind::properties, RELAY_FIELD(kafka.properties));
    add("kafka.consumer_properties", kind::properties, RELAY_FIELD(kafka.consumer_properties));
    add("kafka.producer_properties", kind::properties, RELAY_FIELD(kafka.producer_properties));
    add("kafka.group_id", kind::text, RELAY_FIELD(kafka.group_id));
    add("kafka.instance_id", kind::text, RELAY_FIELD(kafka.instance_id));
    add("kafka.create_topics", kind::boolean, RELAY_FIELD(kafka.create_topics));
    add("kafka.partitions", kind::int32, RELAY_FIELD(kafka.partitions));
    add("kafka.replication_factor", kind::int16, RELAY_FIELD(kafka.replication_factor));
    add("kafka.dlq_retention", kind::duration, RELAY_FIELD(kafka.dlq_retention));
    add("topics.events", kind::text, RELAY_FIELD(topics.events), "topic");
    add("topics.inputs", kind::text_list, RELAY_FIELD(topics.inputs), "topic list");
    add("topics.subscriptions", kind::text, RELAY_FIELD(topics.subscriptions), "topic");
    add("topics.retry_prefix", kind::text, RELAY_FIELD(topics.retry_prefix), "topic prefix");
    add("topics.dlq", kind::text, RELAY_FIELD(topics.dlq), "topic");
    add("delivery.max_in_flight", kind::count, RELAY_FIELD(delivery.max_in_flight));
    add("delivery.default_max_in_flight", kind::count, RELAY_FIELD(delivery.default_max_in_flight));
    add("delivery.connect_timeout", kind::duration, RELAY_FIELD(delivery.connect_timeout));
    add("delivery.default_timeout", kind::duration, RELAY_FIELD(delivery.default_timeout));
    add("delivery.max_connections_per_origin", kind::count, RELAY_FIELD(delivery.max_connections_per_origin));
    add("delivery.idle_timeout", kind::duration, RELAY_FIELD(delivery.idle_timeout));
    add("delivery.response_body_limit", kind::size, RELAY_FIELD(delivery.response_body_limit));
    add("delivery.max_event_bytes", kind::size, RELAY_FIELD(delivery.max_event_bytes));
    add("delivery.max_json_depth", kind::count, RELAY_FIELD(delivery.max_json_depth));
    add("delivery.retry_schedule", kind::duration_list, RELAY_FIELD(delivery.retry_schedule));
    add("delivery.retry_jitter", kind::number, RELAY_FIELD(delivery.retry_jitter));
    add("delivery.retry_after_cap", kind::duration, RELAY_FIELD(delivery.retry_after_cap));
    add("delivery.allow_http", kind::boolean, RELAY_FIELD(delivery.allow_http));
    add("delivery.allow_loopback", kind::boolean, RELAY_FIELD(delivery.allow_loopback));
    add("delivery.allow_private_networks", kind::boolean, RELAY_FIELD(delivery.allow_private_networks));
    add("delivery.allowed_networks", kind::text_list, RELAY_FIELD(delivery.allowed_networks), "CIDR list");
    add("delivery.ca_file", kind::text, RELAY_FIELD(delivery.ca_file), "path");
    add("delivery.drain_timeout", kind::duration, RELAY_FIELD(delivery.drain_timeout));
    add("delivery.threads", kind::count, RELAY_FIELD(delivery.threads));
    add("delivery.circuit_breaker.consecutive_failures",
        kind::count,
        RELAY_FIELD(delivery.circuit_breaker.consecutive_failures));
    add("delivery.circuit_breaker.failure_ratio",
        kind::number,
        RELAY_FIELD(delivery.circuit_breaker.failure_ratio));
    add("delivery.circuit_breaker.min_requests",
        kind::count,
        RELAY_FIELD(delivery.circuit_breaker.min_requests));
    add("delivery.circuit_breaker.window", kind::duration, RELAY_FIELD(delivery.circuit_breaker.window));
    add("delivery.circuit_breaker.open_duration",
        kind::duration,
        RELAY_FIELD(delivery.circuit_breaker.open_duration));
    add("delivery.auto_disable_after", kind::duration, RELAY_FIELD(delivery.auto_disable_after));
    add("delivery.metrics_subscription_labels",
        kind::boolean,
        RELAY_FIELD(delivery.metrics_subscription_labels));
    add("delivery.metrics_max_subscription_labels",
        kind::count,
        RELAY_FIELD(delivery.metrics_max_subscription_labels));
    add("api.address", kind::text, RELAY_FIELD(api.address), "IP address");
    add("api.port", kind::port, RELAY_FIELD(api.port));
    add("api.tokens", kind::text_list, RELAY_FIELD(api.tokens), "secret list", true);
    add("api.max_body_bytes", kind::size, RELAY_FIELD(api.max_body_bytes));
    add("api.max_header_bytes", kind::size, RELAY_FIELD(api.max_header_bytes));
    add("api.max_json_depth", kind::count, RELAY_FIELD(api.max_json_depth));
    add("api.max_batch", kind::count, RELAY_FIELD(api.max_batch));
    add("api.request_timeout", kind::duration, RELAY_FIELD(api.request_timeout));
    add("api.idempotency_window", kind::duration, RELAY_FIELD(api.idempotency_window));
    add("api.secret_rotation_overlap", kind::duration, RELAY_FIELD(api.secret_rotation_overlap));
    add("subscriptions", kind::json_list, RELAY_FIELD(static_subscriptions_json));
#undef RELAY_FIELD
    return t;
}

/// "got \"x\"" for ordinary settings; nothing for secrets, whose values never appear in messages.
std::string got(const setting& s, std::string_view text)
{
    if (s.secret)
        return "";
    return ", got " + quote(text);
}

bool parse_bool(std::string_view text, bool& out)
{
    const std::string v = lower(trim(text));
    if (v == "true" || v == "yes" || v == "on" || v == "1") {
        out = true;
        return true;
    }
    if (v == "false" || v == "no" || v == "off" || v == "0") {
        out = false;
        return true;
    }
    return false;
}

template <class Int>
bool parse_int(std::string_view text, Int& out)
{
    text = trim(text);
    if (!text.empty() && text.front() == '+')
        text.remove_prefix(1);
    if (text.empty())
        return false;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && ptr == text.data() + text.size();
}

bool parse_number(std::string_view text, double& out)
{
    text = trim(text);
    if (!text.empty() && text.front() == '+')
        text.remove_prefix(1);
    if (text.empty())
        return false;
    double v = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(v))
        return false;
    out = v;
    return true;
}

template <class Int>
std::optional<std::string>
assign_int(const setting& s, Int& field, std::string_view text, std::string_view what)
{
    Int v{};
    if (!parse_int(text, v))
        return std::string(what) + got(s, text);
    field = v;
    return std::nullopt;
}

std::string number_text(double v)
{
    std::array<char, 32> buf{};
    const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    return std::string(buf.data(), res.ptr);
}

} // namespace

const std::vector<setting>& all_settings()
{
    static const std::vector<setting> table = make_settings();
    return table;
}

const setting* find_by_key(std::string_view key)
{
    for (const auto& s : all_settings())
        if (s.key == key)
            return &s;
    return nullptr;
}

const setting* find_by_env(std::string_view env)
{
    for (const auto& s : all_settings())
        if (s.env == env)
            return &s;
    return nullptr;
}

std::string label(const setting& s)
{
    if (s.type == kind::properties)
        return s.key + " (" + s.env + "_<NAME>)";
    return s.key + " (" + s.env + ")";
}

std::string property_label(const setting& map, std::string_view name)
{
    std::string env = map.env + "_";
    for (char c : name)
        env.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    return map.key + "." + std::string(name) + " (" + env + ")";
}

std::string_view type_name(kind k)
{
    switch (k) {
    case kind::text:
        return "string";
    case kind::brokers:
        return "host:port list";
    case kind::boolean:
        return "bool";
    case kind::port:
        return "port";
    case kind::count:
        return "integer";
    case kind::size:
        return "size";
    case kind::int32:
        return "integer";
    case kind::int16:
        return "integer";
    case kind::number:
        return "number";
    case kind::duration:
        return "duration";
    case kind::text_list:
        return "list";
    case kind::duration_list:
        return "duration list";
    case kind::properties:
        return "librdkafka properties";
    case kind::log_level:
        return "log level";
    case kind::json_list:
        return "list of subscriptions";
    }
    return "value";
}

std::string env_text(const setting& s, const config& c)
{
    const auto join = [](const auto& items, auto&& fmt) {
        if (items.empty())
            return std::string("[]");
        std::string out;
        for (const auto& item : items) {
            if (!out.empty())
                out += ',';
            out += fmt(item);
        }
        return out;
    };
    switch (s.type) {
    case kind::text:
    case kind::brokers: {
        const auto& v = s.get<std::string>(c);
        return v.empty() ? std::string("\"\"") : v;
    }
    case kind::json_list:
        return s.get<std::string>(c);
    case kind::boolean:
        return s.get<bool>(c) ? "true" : "false";
    case kind::port:
        return std::to_string(s.get<std::uint16_t>(c));
    case kind::count:
    case kind::size:
        return std::to_string(s.get<std::size_t>(c));
    case kind::int32:
        return std::to_string(s.get<std::int32_t>(c));
    case kind::int16:
        return std::to_string(s.get<std::int16_t>(c));
    case kind::number:
        return number_text(s.get<double>(c));
    case kind::duration:
        return format_duration(s.get<std::chrono::milliseconds>(c));
    case kind::text_list:
        return join(s.get<std::vector<std::string>>(c), [](const std::string& v) { return v; });
    case kind::duration_list:
        return join(s.get<std::vector<std::chrono::milliseconds>>(c), [](std::chrono::milliseconds d) {
            return format_duration(d);
        });
    case kind::properties: {
        const auto& m = s.get<property_map>(c);
        if (m.empty())
            return "{}";
        std::string out;
        for (const auto& [k, v] : m)
            out += (out.empty() ? "" : ",") + k + "=" + (is_secret_property(k) ? "***" : v);
        return out;
    }
    case kind::log_level:
        return std::string(relay::log::to_string(s.get<relay::log::level>(c)));
    }
    return "";
}

std::optional<std::string> assign_items(const setting& s, config& c, const std::vector<std::string>& items)
{
    if (s.type == kind::text_list) {
        s.get<std::vector<std::string>>(c) = items;
        return std::nullopt;
    }
    if (s.type == kind::duration_list) {
        std::vector<std::chrono::milliseconds> out;
        out.reserve(items.size());
        for (std::size_t i = 0; i < items.size(); ++i) {
            const auto d = parse_duration(items[i]);
            if (!d)
                return "item " + std::to_string(i + 1) + " " + std::string(duration_hint) + got(s, items[i]);
            out.push_back(*d);
        }
        s.get<std::vector<std::chrono::milliseconds>>(c) = std::move(out);
        return std::nullopt;
    }
    if (s.type == kind::brokers) {
        std::string joined;
        for (const auto& item : items) {
            const auto t = trim(item);
            if (t.empty())
                continue;
            if (!joined.empty())
                joined += ',';
            joined += t;
        }
        s.get<std::string>(c) = std::move(joined);
        return std::nullopt;
    }
    return std::string("must be a single value, not a list");
}

std::optional<std::string> assign_text(const setting& s, config& c, std::string_view text, bool multiline)
{
    switch (s.type) {
    case kind::text:
        s.get<std::string>(c) = std::string(text);
        return std::nullopt;
    case kind::brokers:
        return assign_items(s, c, split_list(text, multiline));
    case kind::boolean:
        if (!parse_bool(text, s.get<bool>(c)))
            return "must be true or false" + got(s, text);
        return std::nullopt;
    case kind::port:
        return assign_int(s, s.get<std::uint16_t>(c), text, "must be a port number from 0 to 65535");
    case kind::count:
        return assign_int(s, s.get<std::size_t>(c), text, "must be a whole number, 0 or more");
    case kind::size: {
        const auto v = parse_size(text);
        if (!v || *v > std::numeric_limits<std::size_t>::max())
            return std::string(size_hint) + got(s, text);
        s.get<std::size_t>(c) = static_cast<std::size_t>(*v);
        return std::nullopt;
    }
    case kind::int32:
        return assign_int(
            s, s.get<std::int32_t>(c), text, "must be a whole number from -2147483648 to 2147483647"
        );
    case kind::int16:
        return assign_int(s, s.get<std::int16_t>(c), text, "must be a whole number from -32768 to 32767");
    case kind::number: {
        double v = 0;
        if (!parse_number(text, v))
            return "must be a number" + got(s, text);
        s.get<double>(c) = v;
        return std::nullopt;
    }
    case kind::duration: {
        const auto d = parse_duration(text);
        if (!d)
            return std::string(duration_hint) + got(s, text);
        s.get<std::chrono::milliseconds>(c) = *d;
        return std::nullopt;
    }
    case kind::text_list:
    case kind::duration_list:
        return assign_items(s, c, split_list(text, multiline));
    case kind::properties:
        return std::string("set one property per variable: ") + s.env + "_<NAME>";
    case kind::log_level: {
        relay::log::level l{};
        if (!relay::log::parse_level(trim(text), l))
            return "must be one of debug, info, notice, warning, error, crit, alert, emerg (or 0 to 7)" +
                   got(s, text);
        s.get<relay::log::level>(c) = l;
        return std::nullopt;
    }
    case kind::json_list: {
        std::vector<std::string> problems;
        auto json = subscriptions_yaml_to_json(text, problems);
        if (!problems.empty()) {
            std::string joined;
            for (const auto& p : problems)
                joined += (joined.empty() ? "" : "; ") + p;
            return joined;
        }
        s.get<std::string>(c) = std::move(json);
        return std::nullopt;
    }
    }
    return std::string("cannot be set");
}

std::string quote(std::string_view text)
{
    constexpr std::size_t max_chars = 80;
    std::string out = "\"";
    std::size_t n = 0;
    for (char ch : text) {
        if (n++ == max_chars) {
            out += "...";
            break;
        }
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c < 0x20 || c == 0x7f) {
            constexpr std::string_view hex = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        } else {
            out += ch;
        }
    }
    out += '"';
    return out;
}

std::vector<std::string> split_list(std::string_view text, bool multiline)
{
    std::vector<std::string> out;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= text.size(); ++i) {
        const bool end = i == text.size();
        if (end || text[i] == ',' || (multiline && (text[i] == '\n' || text[i] == '\r'))) {
            const auto item = trim(text.substr(start, i - start));
            if (!item.empty())
                out.emplace_back(item);
            start = i + 1;
        }
    }
    return out;
}

bool is_secret_property(std::string_view name)
{
    const std::string n = lower(name);
    for (std::string_view word : {"password", "secret", "key", "credential", "oauthbearer.config"})
        if (n.find(word) != std::string::npos)
            return true;
    return false;
}

std::size_t edit_distance(std::string_view a, std::string_view b)
{
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::string closest(std::string_view word, const std::vector<std::string>& candidates)
{
    const std::size_t limit = std::max<std::size_t>(2, word.size() / 5);
    std::string best;
    std::size_t best_distance = limit + 1;
    for (const auto& c : candidates) {
        const auto d = edit_distance(lower(word), lower(c));
        if (d < best_distance) {
            best_distance = d;
            best = c;
        }
    }
    return best;
}

} // namespace detail

std::string env_name(std::string_view key)
{
    std::string out = "RELAY_";
    for (char c : key)
        out.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    return out;
}

const std::vector<setting_info>& settings()
{
    static const std::vector<setting_info> rows = [] {
        std::vector<setting_info> out;
        const config defaults;
        for (const auto& s : detail::all_settings()) {
            setting_info row;
            row.key = s.key;
            row.env = s.type == detail::kind::properties ? s.env + "_<NAME>" : s.env;
            row.type = std::string(s.type_label);
            row.default_value = detail::env_text(s, defaults);
            row.secret = s.secret;
            out.push_back(std::move(row));
        }
        return out;
    }();
    return rows;
}

} // namespace relay::config
