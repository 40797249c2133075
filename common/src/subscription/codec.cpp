#include "relay/subscription/codec.hpp"

#include "relay/webhook/headers.hpp"

#include "bounded_json.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <unordered_map>

namespace relay::subscription {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t max_fields = 64;
constexpr std::size_t max_string = 1024;
constexpr std::chrono::milliseconds min_retry_delay = 1s;
constexpr std::chrono::milliseconds max_retry_delay = 24h;
// The problem messages spell these bounds out.
static_assert(subscription::min_timeout == 1s && subscription::max_timeout == 60s);
static_assert(min_retry_delay == 1s && max_retry_delay == 24h);
constexpr std::string_view masked_header_value = "********";

enum class field : std::uint8_t
{
    id,
    url,
    event_types,
    filter,
    secret,
    secrets,
    signing_key,
    headers,
    timeout,
    max_in_flight,
    rate_limit,
    ordering,
    retry_schedule,
    enabled,
    tenant,
    metrics_label,
    created_at,
    updated_at,
    disabled_reason,
    count_,
};

constexpr std::array<std::string_view, static_cast<std::size_t>(field::count_)> field_names{
    "id",
    "url",
    "event_types",
    "filter",
    "secret",
    "secrets",
    "signing_key",
    "headers",
    "timeout",
    "max_in_flight",
    "rate_limit",
    "ordering",
    "retry_schedule",
    "enabled",
    "tenant",
    "metrics_label",
    "created_at",
    "updated_at",
    "disabled_reason",
};

std::string_view view(const rapidjson::Value& v) noexcept
{
    return {v.GetString(), v.GetStringLength()};
}

bool iequals(std::string_view a, std::string_view b) noexcept
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

bool is_valid_tenant(std::string_view t) noexcept
{
    if (t.empty() || t.size() > 128)
        return false;
    return std::all_of(t.begin(), t.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
               c == '-' || c == '.';
    });
}

// Bounds as written in the message: "60s" reads better than format_duration's "1m".
std::string duration_range(std::string_view lo, std::string_view hi)
{
    return std::string("must be a duration from ")
        .append(lo)
        .append(" to ")
        .append(hi)
        .append(" (a string such as \"10s\", \"250ms\", \"5m\", \"2h\", or integer milliseconds)");
}

// Reads a JSON object into a subscription, collecting every problem (up to the cap) instead of stopping.
class decoder
{
public:
    decoder(const parse_options& options, problem_list& problems)
        : options_(options)
        , problems_(problems)
    {}

    void add(std::string pointer, std::string message)
    {
        if (problems_.size() < options_.max_problems) {
            problems_.push_back(problem{std::move(pointer), std::move(message)});
        } else if (!truncated_) {
            truncated_ = true;
            problems_.push_back(problem{
                "",
                "too many problems; only the first " + std::to_string(options_.max_problems) + " are listed"}
            );
        }
    }

    // Returns false when any problem was found in this object.
    bool read(const rapidjson::Value& v, const std::string& pointer, subscription& out)
    {
        const std::size_t problems_before = problems_.size();
        if (!v.IsObject()) {
            add(pointer, "must be a JSON object");
            return false;
        }
        if (v.MemberCount() > max_fields) {
            add(pointer, "has more than " + std::to_string(max_fields) + " fields");
            return false;
        }
        std::array<bool, field_names.size()> seen{};
        for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
            const std::string_view name = view(m->name);
            const std::string ptr = detail::child_pointer(pointer, name);
            const auto* it = std::find(field_names.begin(), field_names.end(), name);
            if (it == field_names.end()) {
                add(ptr, "unknown field");
                continue;
            }
            const auto index = static_cast<std::size_t>(it - field_names.begin());
            if (seen[index]) {
                add(ptr, "duplicate field");
                continue;
            }
            seen[index] = true;
            // null is the same as absent, so clients may send every field.
            if (m->value.IsNull()) {
                seen[index] = false;
                continue;
            }
            read_field(static_cast<field>(index), m->value, ptr, out);
        }
        auto was_seen = [&](field f) { return seen[static_cast<std::size_t>(f)]; };

        if (!was_seen(field::id)) {
            if (options_.id == when_missing::generate)
                out.id = generate_id();
            else
                add(detail::child_pointer(pointer, "id"), "required");
        }
        if (!was_seen(field::url))
            add(detail::child_pointer(pointer, "url"), "required");
        if (!was_seen(field::event_types))
            add(detail::child_pointer(pointer, "event_types"),
                "required (event type patterns such as \"order.created\", \"order.*\" or \"*\")");
        if (was_seen(field::secret) && was_seen(field::secrets)) {
            add(detail::child_pointer(pointer, "secret"), "give either secret or secrets, not both");
        } else if (!was_seen(field::secret) && !was_seen(field::secrets)) {
            if (options_.secrets == when_missing::generate)
                out.secrets.push_back(secret_entry{webhook::generate_secret(), std::nullopt});
            else
                add(detail::child_pointer(pointer, "secrets"),
                    "required (at least one \"whsec_...\" secret)");
        }
        if (out.disabled_reason && out.enabled)
            add(detail::child_pointer(pointer, "disabled_reason"), "only allowed when enabled is false");
        return problems_.size() == problems_before;
    }

private:
    void read_field(field f, const rapidjson::Value& v, const std::string& ptr, subscription& out)
    {
        switch (f) {
        case field::id:
            if (v.IsString() && is_valid_id(view(v)))
                out.id = view(v);
            else
                add(ptr, "must be 1 to 128 characters of A-Z, a-z, 0-9, '_' and '-'");
            break;
        case field::url:
            read_url(v, ptr, out);
            break;
        case field::event_types:
            read_event_types(v, ptr, out);
            break;
        case field::filter: {
            auto parsed = filter::parse(v, ptr, options_.filter);
            if (parsed) {
                out.payload_filter = std::move(*parsed);
            } else {
                for (problem& p : parsed.error())
                    add(std::move(p.pointer), std::move(p.message));
            }
            break;
        }
        case field::secret:
            if (auto s = read_secret(v, ptr))
                out.secrets.push_back(secret_entry{std::move(*s), std::nullopt});
            break;
        case field::secrets:
            read_secrets(v, ptr, out);
            break;
        case field::signing_key:
            if (v.IsString() && v.GetStringLength() > 5 && v.GetStringLength() <= max_string &&
                view(v).starts_with("whsk_"))
                out.signing_key = std::string(view(v));
            else
                add(ptr, "must be an Ed25519 signing key \"whsk_...\"");
            break;
        case field::headers:
            read_headers(v, ptr, out);
            break;
        case field::timeout:
            if (auto d = read_duration(v);
                d && *d >= subscription::min_timeout && *d <= subscription::max_timeout)
                out.timeout = *d;
            else
                add(ptr, duration_range("1s", "60s"));
            break;
        case field::max_in_flight:
            read_integer(v, ptr, 1, subscription::max_max_in_flight, out.max_in_flight);
            break;
        case field::rate_limit:
            read_integer(v, ptr, 0, subscription::max_rate_limit, out.rate_limit);
            break;
        case field::ordering:
            if (auto o = v.IsString() ? parse_ordering(view(v)) : std::nullopt)
                out.ordering = *o;
            else
                add(ptr, "must be \"none\" or \"key\"");
            break;
        case field::retry_schedule:
            read_retry_schedule(v, ptr, out);
            break;
        case field::enabled:
            read_bool(v, ptr, out.enabled);
            break;
        case field::tenant:
            if (v.IsString() && is_valid_tenant(view(v)))
                out.tenant = std::string(view(v));
            else
                add(ptr, "must be 1 to 128 characters of A-Z, a-z, 0-9, '_', '-' and '.'");
            break;
        case field::metrics_label:
            read_bool(v, ptr, out.metrics_label);
            break;
        case field::created_at:
            read_timestamp(v, ptr, out.created_at);
            break;
        case field::updated_at:
            read_timestamp(v, ptr, out.updated_at);
            break;
        case field::disabled_reason:
            if (!options_.accept_server_fields)
                add(ptr, "is read-only (maintained by Relay)");
            else if (auto r = v.IsString() ? parse_disable_reason(view(v)) : std::nullopt)
                out.disabled_reason = *r;
            else
                add(ptr, "must be \"gone\", \"failing\" or \"manual\"");
            break;
        case field::count_:
            break;
        }
    }

    void read_url(const rapidjson::Value& v, const std::string& ptr, subscription& out)
    {
        if (!v.IsString()) {
            add(ptr, "must be a string");
            return;
        }
        if (v.GetStringLength() > options_.max_url_length) {
            add(ptr, "longer than " + std::to_string(options_.max_url_length) + " bytes");
            return;
        }
        auto parsed = net::parse_url(view(v));
        if (!parsed) {
            add(ptr, parsed.error().message());
            return;
        }
        if (parsed->scheme == "http" && !options_.allow_http) {
            add(ptr, "http is not allowed (set delivery.allow_http)");
            return;
        }
        out.url = view(v);
        out.endpoint = std::move(*parsed);
    }

    void read_event_types(const rapidjson::Value& v, const std::string& ptr, subscription& out)
    {
        if (!v.IsArray() || v.Empty()) {
            add(ptr,
                "must be a non-empty array of event type patterns (\"order.created\", \"order.*\", \"*\")");
            return;
        }
        if (v.Size() > options_.max_event_types) {
            add(ptr, "has more than " + std::to_string(options_.max_event_types) + " patterns");
            return;
        }
        std::vector<std::size_t> source_index; // input index of each accepted pattern, for duplicate messages
        for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
            const std::string item_ptr = detail::child_pointer(ptr, i);
            if (!v[i].IsString() || !is_valid_pattern(view(v[i]))) {
                add(item_ptr,
                    "must be an event type (dot-separated segments of A-Z, a-z, 0-9, '_', '-', ':', '/'), a "
                    "prefix wildcard such as \"order.*\", or \"*\"");
                continue;
            }
            const std::string_view pattern = view(v[i]);
            const auto dup = std::find(out.event_types.begin(), out.event_types.end(), pattern);
            if (dup != out.event_types.end()) {
                const auto first = static_cast<std::size_t>(dup - out.event_types.begin());
                add(item_ptr, "duplicate of " + detail::child_pointer(ptr, source_index[first]));
                continue;
            }
            out.event_types.emplace_back(pattern);
            source_index.push_back(i);
        }
    }

    std::optional<webhook::secret> read_secret(const rapidjson::Value& v, const std::string& ptr)
    {
        if (!v.IsString() || v.GetStringLength() > max_string) {
            add(ptr, "must be a secret \"whsec_...\"");
            return std::nullopt;
        }
        auto parsed = webhook::parse_secret(view(v));
        if (!parsed) {
            add(ptr, parsed.error().message());
            return std::nullopt;
        }
        return std::move(*parsed);
    }

    void read_secrets(const rapidjson::Value& v, const std::string& ptr, subscription& out)
    {
        if (!v.IsArray() || v.Empty()) {
            add(ptr,
                "must be a non-empty array of secrets (\"whsec_...\" or {\"secret\": ..., \"expires_at\": "
                "...})");
            return;
        }
        if (v.Size() > options_.max_secrets) {
            add(ptr, "has more than " + std::to_string(options_.max_secrets) + " secrets");
            return;
        }
        for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
            const std::string item_ptr = detail::child_pointer(ptr, i);
            const rapidjson::Value& item = v[i];
            secret_entry entry;
            if (item.IsString()) {
                auto s = read_secret(item, item_ptr);
                if (!s)
                    continue;
                entry.secret = std::move(*s);
            } else if (item.IsObject()) {
                if (!read_secret_object(item, item_ptr, entry))
                    continue;
            } else {
                add(item_ptr, "must be a secret \"whsec_...\" or {\"secret\": ..., \"expires_at\": ...}");
                continue;
            }
            const bool duplicate =
                std::any_of(out.secrets.begin(), out.secrets.end(), [&](const secret_entry& e) {
                    return e.secret.text == entry.secret.text;
                });
            if (duplicate) {
                add(item_ptr, "duplicate secret");
                continue;
            }
            out.secrets.push_back(std::move(entry));
        }
    }

    bool read_secret_object(const rapidjson::Value& v, const std::string& ptr, secret_entry& entry)
    {
        bool ok = true;
        bool have_secret = false;
        bool have_expiry = false;
        for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
            const std::string_view name = view(m->name);
            const std::string member_ptr = detail::child_pointer(ptr, name);
            if (name == "secret" && !have_secret) {
                have_secret = true;
                if (auto s = read_secret(m->value, member_ptr))
                    entry.secret = std::move(*s);
                else
                    ok = false;
            } else if (name == "expires_at" && !have_expiry) {
                have_expiry = true;
                if (m->value.IsNull())
                    continue;
                auto t = m->value.IsString() ? parse_timestamp(view(m->value)) : std::nullopt;
                if (t) {
                    entry.expires_at = *t;
                } else {
                    add(member_ptr, "must be an RFC 3339 date-time such as \"2024-05-01T12:00:00Z\"");
                    ok = false;
                }
            } else {
                add(member_ptr,
                    name == "secret" || name == "expires_at" ? "duplicate field" : "unknown field");
                ok = false;
            }
        }
        if (!have_secret) {
            add(detail::child_pointer(ptr, "secret"), "required");
            ok = false;
        }
        return ok;
    }

    void read_headers(const rapidjson::Value& v, const std::string& ptr, subscription& out)
    {
        if (!v.IsObject()) {
            add(ptr, "must be an object of header names to string values");
            return;
        }
        if (v.MemberCount() > options_.max_headers) {
            add(ptr, "has more than " + std::to_string(options_.max_headers) + " headers");
            return;
        }
        for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
            const std::string_view name = view(m->name);
            const std::string header_ptr = detail::child_pointer(ptr, name);
            if (!m->value.IsString()) {
                add(header_ptr, "must be a string");
                continue;
            }
            const std::string_view value = view(m->value);
            if (auto message = webhook::validate_custom_header(name, value); !message.empty()) {
                add(header_ptr, std::move(message));
                continue;
            }
            const bool duplicate = std::any_of(out.headers.begin(), out.headers.end(), [&](const auto& h) {
                return iequals(h.first, name);
            });
            if (duplicate) {
                add(header_ptr, "duplicate header (names are case-insensitive)");
                continue;
            }
            out.headers.emplace_back(std::string(name), std::string(value));
        }
    }

    static std::optional<std::chrono::milliseconds> read_duration(const rapidjson::Value& v) noexcept
    {
        if (v.IsString())
            return parse_duration(view(v));
        // Bounded like parse_duration (100 days) so that arithmetic on it cannot overflow.
        if (v.IsUint64() && v.GetUint64() <= 100ULL * 24 * 3600 * 1000)
            return std::chrono::milliseconds(static_cast<std::int64_t>(v.GetUint64()));
        return std::nullopt;
    }

    void read_retry_schedule(const rapidjson::Value& v, const std::string& ptr, subscription& out)
    {
        if (!v.IsArray()) {
            add(ptr, "must be an array of delays (an empty array disables retries)");
            return;
        }
        if (v.Size() > options_.max_retry_schedule) {
            add(ptr, "has more than " + std::to_string(options_.max_retry_schedule) + " delays");
            return;
        }
        std::vector<std::chrono::milliseconds> schedule;
        bool ok = true;
        for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
            auto d = read_duration(v[i]);
            if (!d || *d < min_retry_delay || *d > max_retry_delay) {
                add(detail::child_pointer(ptr, i), duration_range("1s", "24h"));
                ok = false;
                continue;
            }
            schedule.push_back(*d);
        }
        if (ok)
            out.retry_schedule = std::move(schedule);
    }

    void read_integer(
        const rapidjson::Value& v,
        const std::string& ptr,
        std::uint32_t min,
        std::uint32_t max,
        std::uint32_t& out
    )
    {
        if (v.IsUint64() && v.GetUint64() >= min && v.GetUint64() <= max) {
            out = static_cast<std::uint32_t>(v.GetUint64());
            return;
        }
        add(ptr, "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
    }

    void read_bool(const rapidjson::Value& v, const std::string& ptr, bool& out)
    {
        if (v.IsBool())
            out = v.GetBool();
        else
            add(ptr, "must be true or false");
    }

    void read_timestamp(const rapidjson::Value& v, const std::string& ptr, std::optional<timestamp>& out)
    {
        if (!options_.accept_server_fields) {
            add(ptr, "is read-only (maintained by Relay)");
            return;
        }
        if (auto t = v.IsString() ? parse_timestamp(view(v)) : std::nullopt)
            out = *t;
        else
            add(ptr, "must be an RFC 3339 date-time such as \"2024-05-01T12:00:00Z\"");
    }

    const parse_options& options_;
    problem_list& problems_;
    bool truncated_ = false;
};

void write_string(rapidjson::Writer<rapidjson::StringBuffer>& w, std::string_view s)
{
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void write_key(rapidjson::Writer<rapidjson::StringBuffer>& w, std::string_view k)
{
    w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
}

std::string mask_signing_key(const std::string& key)
{
    constexpr std::string_view prefix = "whsk_";
    return std::string(prefix) + key.substr(prefix.size(), 4) + "\xE2\x80\xA6"; // U+2026 HORIZONTAL ELLIPSIS
}

} // namespace

parse_result<subscription>
parse_subscription(const rapidjson::Value& json, const parse_options& options, std::string_view pointer)
{
    problem_list problems;
    subscription out;
    decoder(options, problems).read(json, std::string(pointer), out);
    if (!problems.empty())
        return parse_result<subscription>(boost::system::in_place_error, std::move(problems));
    return out;
}

parse_result<subscription> parse_subscription(std::string_view json, const parse_options& options)
{
    if (json.size() > options.max_bytes)
        return parse_result<subscription>(
            boost::system::in_place_error,
            problem_list{{"", "subscription larger than " + std::to_string(options.max_bytes) + " bytes"}}
        );
    rapidjson::Document doc;
    if (auto error = detail::parse_bounded(json, options.max_depth, doc); !error.empty())
        return parse_result<subscription>(
            boost::system::in_place_error, problem_list{{"", std::move(error)}}
        );
    return parse_subscription(doc, options, "");
}

parse_result<std::vector<subscription>>
parse_subscriptions(std::string_view json_array, const parse_options& options)
{
    using result_type = parse_result<std::vector<subscription>>;
    if (json_array.size() > options.max_array_bytes)
        return result_type(
            boost::system::in_place_error,
            problem_list{
                {"", "subscriptions larger than " + std::to_string(options.max_array_bytes) + " bytes"}}
        );
    rapidjson::Document doc;
    if (auto error = detail::parse_bounded(json_array, options.max_depth + 1, doc); !error.empty())
        return result_type(boost::system::in_place_error, problem_list{{"", std::move(error)}});
    if (!doc.IsArray())
        return result_type(
            boost::system::in_place_error, problem_list{{"", "must be a JSON array of subscriptions"}}
        );
    if (doc.Size() > options.max_array_items)
        return result_type(
            boost::system::in_place_error,
            problem_list{{"", "more than " + std::to_string(options.max_array_items) + " subscriptions"}}
        );

    problem_list problems;
    decoder reader(options, problems);
    std::vector<subscription> out;
    out.reserve(doc.Size());
    std::unordered_map<std::string, std::size_t> first_index;
    for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
        const std::string pointer = detail::child_pointer("", i);
        subscription s;
        const bool ok = reader.read(doc[i], pointer, s);
        if (!s.id.empty()) {
            auto [it, inserted] = first_index.emplace(s.id, i);
            if (!inserted) {
                reader.add(
                    detail::child_pointer(pointer, "id"),
                    "duplicate of " + detail::child_pointer("", it->second)
                );
                continue;
            }
        }
        if (ok)
            out.push_back(std::move(s));
    }
    if (!problems.empty())
        return result_type(boost::system::in_place_error, std::move(problems));
    return out;
}

void write_json(rapidjson::Writer<rapidjson::StringBuffer>& w, const subscription& s, secret_mode mode)
{
    const bool full = mode == secret_mode::full;
    w.StartObject();
    write_key(w, "id");
    write_string(w, s.id);
    write_key(w, "url");
    write_string(w, s.url);
    write_key(w, "event_types");
    w.StartArray();
    for (const std::string& t : s.event_types)
        write_string(w, t);
    w.EndArray();
    if (s.payload_filter) {
        write_key(w, "filter");
        const std::string& text = s.payload_filter->json();
        w.RawValue(text.data(), text.size(), rapidjson::kObjectType);
    }
    write_key(w, "secrets");
    w.StartArray();
    for (const secret_entry& e : s.secrets) {
        w.StartObject();
        write_key(w, "secret");
        write_string(w, full ? e.secret.text : e.secret.masked());
        if (e.expires_at) {
            write_key(w, "expires_at");
            write_string(w, format_timestamp(*e.expires_at));
        }
        w.EndObject();
    }
    w.EndArray();
    if (s.signing_key) {
        write_key(w, "signing_key");
        write_string(w, full ? *s.signing_key : mask_signing_key(*s.signing_key));
    }
    write_key(w, "headers");
    w.StartObject();
    for (const auto& [name, value] : s.headers) {
        write_key(w, name);
        // Custom headers often carry credentials for the receiver (Authorization, API keys).
        write_string(w, full ? std::string_view(value) : masked_header_value);
    }
    w.EndObject();
    write_key(w, "timeout");
    write_string(w, format_duration(s.timeout));
    write_key(w, "max_in_flight");
    w.Uint(s.max_in_flight);
    write_key(w, "rate_limit");
    w.Uint(s.rate_limit);
    write_key(w, "ordering");
    write_string(w, to_string(s.ordering));
    if (s.retry_schedule) {
        write_key(w, "retry_schedule");
        w.StartArray();
        for (const auto d : *s.retry_schedule)
            write_string(w, format_duration(d));
        w.EndArray();
    }
    write_key(w, "enabled");
    w.Bool(s.enabled);
    if (s.tenant) {
        write_key(w, "tenant");
        write_string(w, *s.tenant);
    }
    write_key(w, "metrics_label");
    w.Bool(s.metrics_label);
    if (s.disabled_reason) {
        write_key(w, "disabled_reason");
        write_string(w, to_string(*s.disabled_reason));
    }
    if (s.created_at) {
        write_key(w, "created_at");
        write_string(w, format_timestamp(*s.created_at));
    }
    if (s.updated_at) {
        write_key(w, "updated_at");
        write_string(w, format_timestamp(*s.updated_at));
    }
    w.EndObject();
}

std::string to_json(const subscription& s, secret_mode mode)
{
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    write_json(writer, s, mode);
    return std::string(buffer.GetString(), buffer.GetSize());
}

} // namespace relay::subscription
