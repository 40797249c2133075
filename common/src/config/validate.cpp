#include "relay/config/load.hpp"
#include "relay/config/units.hpp"

#include "settings.hpp"

#include <librdkafka/rdkafka.h>
#include <rapidjson/document.h>

#include <arpa/inet.h>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>

namespace relay::config {
namespace {

using detail::kind;
using detail::setting;
using std::chrono::milliseconds;

template <auto Destroy>
struct c_deleter
{
    template <class T>
    void operator()(T* p) const noexcept
    {
        Destroy(p);
    }
};
using conf_ptr = std::unique_ptr<rd_kafka_conf_t, c_deleter<&rd_kafka_conf_destroy>>;

constexpr std::size_t max_topic_length = 249;

std::string number_text(double v)
{
    std::array<char, 32> buf{};
    const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    return std::string(buf.data(), res.ptr);
}

class validator
{
public:
    explicit validator(const config& c)
        : c_(c)
    {}

    std::vector<std::string> run()
    {
        check_log();
        check_listeners();
        check_kafka();
        check_topics();
        check_delivery();
        check_api();
        check_subscriptions();
        return std::move(problems_);
    }

private:
    void add(std::string_view key, const std::string& message)
    {
        const auto* s = detail::find_by_key(key);
        problems_.push_back((s ? detail::label(*s) : std::string(key)) + ": " + message);
    }

    template <class T>
    const T& get(std::string_view key) const
    {
        return detail::find_by_key(key)->get<T>(c_);
    }

    void at_least(std::string_view key, std::size_t min)
    {
        const auto v = get<std::size_t>(key);
        if (v < min)
            add(key, "must be at least " + std::to_string(min) + ", got " + std::to_string(v));
    }

    void in_range(std::string_view key, std::size_t min, std::size_t max)
    {
        const auto v = get<std::size_t>(key);
        if (v < min || v > max)
            add(key,
                "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
                    std::to_string(v));
    }

    void positive(std::string_view key)
    {
        const auto v = get<milliseconds>(key);
        if (v <= milliseconds::zero())
            add(key, "must be longer than 0, got " + format_duration(v));
    }

    void not_negative(std::string_view key)
    {
        const auto v = get<milliseconds>(key);
        if (v < milliseconds::zero())
            add(key, "must not be negative, got " + format_duration(v));
    }

    void check_log()
    {
        const auto level = static_cast<int>(c_.log.level);
        if (level < 0 || level > 7)
            add("log.level", "must be one of debug, info, notice, warning, error, crit, alert, emerg");
    }

    static bool is_ip(const std::string& text)
    {
        std::array<unsigned char, 16> buf{};
        return inet_pton(AF_INET, text.c_str(), buf.data()) == 1 ||
               inet_pton(AF_INET6, text.c_str(), buf.data()) == 1;
    }

    static bool is_wildcard(const std::string& address) { return address == "0.0.0.0" || address == "::"; }

    void check_listeners()
    {
        for (const char* key : {"admin.address", "api.address"}) {
            const auto& address = get<std::string>(key);
            if (!is_ip(address))
                add(key,
                    "must be an IP address such as 0.0.0.0, :: or 127.0.0.1, got " + detail::quote(address));
        }
        const auto& admin = c_.admin;
        const auto& api = c_.api;
        if (admin.port != 0 && admin.port == api.port &&
            (admin.address == api.address || is_wildcard(admin.address) || is_wildcard(api.address)))
            add("api.port",
                "must differ from admin.port (" + std::to_string(admin.port) +
                    "): the API and the admin listener cannot share a port");
    }

    void check_kafka()
    {
        const auto& k = c_.kafka;
        if (detail::split_list(k.brokers, false).empty())
            add("kafka.brokers",
                "must not be empty: list the bootstrap servers, e.g. \"kafka-0:9092,kafka-1:9092\"");
        for (const char* key : {"kafka.properties", "kafka.consumer_properties", "kafka.producer_properties"})
            check_properties(*detail::find_by_key(key));
        if (k.group_id.empty())
            add("kafka.group_id", "must not be empty");
        if (k.partitions < 1)
            add("kafka.partitions", "must be at least 1, got " + std::to_string(k.partitions));
        if (k.replication_factor != -1 && k.replication_factor < 1)
            add("kafka.replication_factor",
                "must be -1 (the broker's default) or at least 1, got " + std::to_string(k.replication_factor)
            );
        positive("kafka.dlq_retention");
    }

    /// Properties Relay sets itself; the value given, when it is the one Relay needs anyway, is accepted.
    static std::optional<std::string> reserved(const std::string& name, const std::string& value)
    {
        if (name == "bootstrap.servers" || name == "metadata.broker.list")
            return "set kafka.brokers (RELAY_KAFKA_BROKERS) instead";
        if (name == "group.id")
            return "set kafka.group_id (RELAY_KAFKA_GROUP_ID) instead";
        if (name == "group.instance.id")
            return "set kafka.instance_id (RELAY_KAFKA_INSTANCE_ID) instead";
        if (name == "enable.auto.commit" || name == "enable.auto.offset.store")
            return "Relay manages offsets itself (an offset is committed only once every delivery of its "
                   "event "
                   "is done); remove it";
        if ((name == "acks" || name == "request.required.acks") && value != "all" && value != "-1")
            return "Relay requires acks=all (an event is acknowledged only once Kafka has replicated it); "
                   "remove it";
        if (name == "enable.idempotence" && value != "true")
            return "Relay requires the idempotent producer (no duplicates or reordering on producer "
                   "retries); "
                   "remove it";
        return std::nullopt;
    }

    void check_properties(const setting& s)
    {
        const auto& props = s.get<property_map>(c_);
        if (props.empty())
            return;
        const conf_ptr conf(rd_kafka_conf_new());
        for (const auto& [name, value] : props) {
            std::array<char, 512> errstr{};
            const auto res =
                rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), errstr.data(), errstr.size());
            if (res != RD_KAFKA_CONF_OK) {
                std::string message = errstr.data();
                if (message.empty())
                    message = res == RD_KAFKA_CONF_UNKNOWN ? "unknown property" : "invalid value";
                if (detail::is_secret_property(name)) {
                    // librdkafka quotes the rejected value; a secret's value must not reach the logs.
                    for (auto pos = value.empty() ? std::string::npos : message.find(value);
                         pos != std::string::npos;
                         pos = message.find(value, pos))
                        message.replace(pos, value.size(), "***");
                } else if (res == RD_KAFKA_CONF_INVALID && message.find(value) == std::string::npos) {
                    message += ", got " + detail::quote(value);
                }
                problems_.push_back(detail::property_label(s, name) + ": librdkafka: " + message);
                continue;
            }
            if (const auto why = reserved(name, value))
                problems_.push_back(detail::property_label(s, name) + ": " + *why);
        }
    }

    /// Kafka's rule: 1 to 249 characters of [a-zA-Z0-9._-], and not "." or "..".
    static std::optional<std::string>
    topic_problem(const std::string& name, std::size_t max = max_topic_length)
    {
        if (name.empty())
            return std::string("must not be empty");
        if (name.size() > max)
            return "must be at most " + std::to_string(max) + " characters long, got " +
                   std::to_string(name.size());
        if (name == "." || name == "..")
            return "cannot be \".\" or \"..\"";
        for (char ch : name) {
            const auto c = static_cast<unsigned char>(ch);
            if (!(std::isalnum(c) || c == '.' || c == '_' || c == '-'))
                return "may contain only letters, digits, '.', '_' and '-', got " + detail::quote(name);
        }
        return std::nullopt;
    }

    void check_topics()
    {
        const auto& t = c_.topics;
        for (const char* key : {"topics.events", "topics.subscriptions", "topics.dlq"})
            if (const auto p = topic_problem(get<std::string>(key)))
                add(key, *p);
        std::set<std::string> inputs;
        for (const auto& input : t.inputs) {
            if (const auto p = topic_problem(input))
                add("topics.inputs", detail::quote(input) + " " + *p);
            else if (input == t.events)
                add("topics.inputs", detail::quote(input) + " is already the input topic topics.events");
            else if (!inputs.insert(input).second)
                add("topics.inputs", detail::quote(input) + " is listed twice");
        }
        const auto& prefix = t.retry_prefix;
        if (prefix.empty())
            add("topics.retry_prefix", "must not be empty");
        else if (const auto p = topic_problem(prefix, max_topic_length - 16))
            add("topics.retry_prefix", *p);

        // Every role needs its own topic: one topic in two roles would loop records or corrupt the store.
        std::map<std::string, std::string> roles;
        const auto claim = [&](const std::string& topic, const std::string& role, std::string_view key) {
            const auto [it, inserted] = roles.emplace(topic, role);
            if (!inserted && it->second != role)
                add(key,
                    detail::quote(topic) + " is also " + it->second + "; every role needs its own topic");
        };
        claim(t.events, "topics.events", "topics.events");
        claim(t.subscriptions, "topics.subscriptions", "topics.subscriptions");
        claim(t.dlq, "topics.dlq", "topics.dlq");
        for (const auto& input : t.inputs)
            if (input != t.events)
                claim(input, "an input topic (topics.inputs)", "topics.inputs");
        if (!prefix.empty()) {
            std::set<milliseconds> delays(
                c_.delivery.retry_schedule.begin(), c_.delivery.retry_schedule.end()
            );
            for (const auto d : delays)
                if (d > milliseconds::zero())
                    claim(prefix + format_duration(d), "a retry topic", "topics.retry_prefix");
        }
    }

    static bool is_cidr(const std::string& text)
    {
        const auto slash = text.find('/');
        const std::string address = text.substr(0, slash);
        std::array<unsigned char, 16> buf{};
        unsigned max_prefix = 0;
        if (inet_pton(AF_INET, address.c_str(), buf.data()) == 1)
            max_prefix = 32;
        else if (inet_pton(AF_INET6, address.c_str(), buf.data()) == 1)
            max_prefix = 128;
        else
            return false;
        if (slash == std::string::npos)
            return true;
        const std::string_view digits = std::string_view(text).substr(slash + 1);
        unsigned prefix = 0;
        const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
        return !digits.empty() && digits.size() <= 3 && ec == std::errc() &&
               ptr == digits.data() + digits.size() && prefix <= max_prefix;
    }

    void check_delivery()
    {
        const auto& d = c_.delivery;
        at_least("delivery.max_in_flight", 1);
        in_range("delivery.default_max_in_flight", 1, 10'000);
        if (d.default_max_in_flight > d.max_in_flight && d.max_in_flight >= 1)
            add("delivery.default_max_in_flight",
                "must not exceed delivery.max_in_flight (" + std::to_string(d.max_in_flight) + "), got " +
                    std::to_string(d.default_max_in_flight));
        positive("delivery.connect_timeout");
        if (d.default_timeout < std::chrono::seconds(1) || d.default_timeout > std::chrono::seconds(60))
            add("delivery.default_timeout",
                "must be between 1s and 1m, got " + format_duration(d.default_timeout));
        at_least("delivery.max_connections_per_origin", 1);
        positive("delivery.idle_timeout");
        in_range("delivery.response_body_limit", 0, 16 * 1024 * 1024);
        in_range("delivery.max_event_bytes", 1, 256 * 1024 * 1024);
        in_range("delivery.max_json_depth", 1, 1024);
        for (std::size_t i = 0; i < d.retry_schedule.size(); ++i)
            if (d.retry_schedule[i] <= milliseconds::zero())
                add("delivery.retry_schedule",
                    "item " + std::to_string(i + 1) + " must be longer than 0, got " +
                        format_duration(d.retry_schedule[i]));
        if (!(d.retry_jitter >= 0.0 && d.retry_jitter <= 1.0))
            add("delivery.retry_jitter", "must be between 0 and 1, got " + number_text(d.retry_jitter));
        positive("delivery.retry_after_cap");
        for (const auto& network : d.allowed_networks)
            if (!is_cidr(network))
                add("delivery.allowed_networks",
                    detail::quote(network) +
                        " is not an IPv4 or IPv6 network in CIDR form (\"10.0.0.0/8\", " +
                        "\"fd00::/8\", or a single address)");
        if (!d.ca_file.empty()) {
            const std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(
                std::fopen(d.ca_file.c_str(), "rb"), &std::fclose
            );
            if (!f)
                add("delivery.ca_file",
                    "cannot read " + detail::quote(d.ca_file) + ": " + std::strerror(errno));
        }
        positive("delivery.drain_timeout");
        in_range("delivery.threads", 0, 1024);
        const auto& cb = d.circuit_breaker;
        at_least("delivery.circuit_breaker.consecutive_failures", 1);
        if (!(cb.failure_ratio > 0.0 && cb.failure_ratio <= 1.0))
            add("delivery.circuit_breaker.failure_ratio",
                "must be greater than 0 and at most 1, got " + number_text(cb.failure_ratio));
        at_least("delivery.circuit_breaker.min_requests", 1);
        positive("delivery.circuit_breaker.window");
        positive("delivery.circuit_breaker.open_duration");
        not_negative("delivery.auto_disable_after");
        at_least("delivery.metrics_max_subscription_labels", 1);
    }

    /// RFC 6750 b64token: what an Authorization: Bearer header can carry.
    static bool is_b64token(const std::string& token)
    {
        std::size_t i = 0;
        for (; i < token.size(); ++i) {
            const auto c = static_cast<unsigned char>(token[i]);
            if (!(std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'))
                break;
        }
        if (i == 0)
            return false;
        while (i < token.size() && token[i] == '=')
            ++i;
        return i == token.size();
    }

    void check_api()
    {
        const auto& tokens = c_.api.tokens;
        for (std::size_t i = 0; i < tokens.size(); ++i)
            if (!is_b64token(tokens[i]))
                add("api.tokens",
                    "token " + std::to_string(i + 1) + " of " + std::to_string(tokens.size()) +
                        " is not a valid bearer token (letters, digits, '-', '.', '_', '~', '+', '/', then "
                        "optional '=')");
        in_range("api.max_body_bytes", 1, 256 * 1024 * 1024);
        in_range("api.max_header_bytes", 1024, 1024 * 1024);
        in_range("api.max_json_depth", 1, 1024);
        in_range("api.max_batch", 1, 100'000);
        positive("api.request_timeout");
        not_negative("api.idempotency_window");
        not_negative("api.secret_rotation_overlap");
    }

    void check_subscriptions()
    {
        const auto& text = c_.static_subscriptions_json;
        rapidjson::Document doc;
        doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
        if (doc.HasParseError()) {
            add("subscriptions", "is not valid JSON");
            return;
        }
        if (!doc.IsArray()) {
            add("subscriptions", "must be a list of subscriptions");
            return;
        }
        for (rapidjson::SizeType i = 0; i < doc.Size(); ++i)
            if (!doc[i].IsObject())
                add("subscriptions",
                    "item " + std::to_string(i + 1) + " must be a mapping (one subscription)");
    }

    const config& c_;
    std::vector<std::string> problems_;
};

} // namespace

std::vector<std::string> validate(const config& c)
{
    return validator(c).run();
}

} // namespace relay::config
