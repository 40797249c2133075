#include "relay/event/envelope.hpp"

#include "relay/event/timestamp.hpp"

#include <boost/throw_exception.hpp>
#include <openssl/evp.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace relay::event {
namespace {

constexpr std::size_t max_id_length = 256;
constexpr std::size_t max_type_length = 256;
constexpr std::size_t max_source_length = 2048;

// Boost's error_category has a protected non-virtual destructor by design (categories are never deleted
// through a base pointer); GCC's -Wnon-virtual-dtor flags every derived category anyway.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class event_category_impl final : public boost::system::error_category
{
public:
    const char* name() const noexcept override { return "relay.event"; }
    std::string message(int ev) const override { return std::string(to_string(static_cast<errc>(ev))); }
};
#pragma GCC diagnostic pop

invalid_event fail(errc code, std::string reason)
{
    return invalid_event{code, std::move(reason)};
}

char lower(char c) noexcept
{
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept
{
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

bool istarts_with(std::string_view s, std::string_view prefix) noexcept
{
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// Producer data in a reason: at most 64 characters, non-printable bytes as '?', so the reason is always a
// safe header value and log field.
std::string quote(std::string_view s)
{
    constexpr std::size_t max = 64;
    std::string out = "'";
    for (std::size_t i = 0; i < s.size() && i < max; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
    }
    if (s.size() > max)
        out += "...";
    out += "'";
    return out;
}

std::string hex_byte(unsigned char c)
{
    static constexpr char digits[] = "0123456789abcdef";
    return {'0', 'x', digits[c >> 4], digits[c & 0xf]};
}

// `what` is "field 'id'" or "header 'ce_id'". Empty when acceptable.
std::string
check_visible_ascii(std::string_view what, std::string_view v, std::size_t max_len, bool allow_dot)
{
    if (v.empty())
        return std::string(what) + " is empty";
    if (v.size() > max_len)
        return std::string(what) + " is " + std::to_string(v.size()) + " characters, limit " +
               std::to_string(max_len);
    for (std::size_t i = 0; i < v.size(); ++i) {
        const auto c = static_cast<unsigned char>(v[i]);
        const auto at = " at position " + std::to_string(i);
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
            return std::string(what) + " contains whitespace" + at;
        if (c < 0x20 || c == 0x7f)
            return std::string(what) + " contains control character " + hex_byte(c) + at;
        if (c >= 0x80)
            return std::string(what) + " contains non-ASCII byte " + hex_byte(c) + at;
        if (c == '.' && !allow_dot)
            return std::string(what) + " contains '.'" + at + " (not allowed in event ids)";
    }
    return {};
}

std::string_view json_type_name(const rapidjson::Value& v) noexcept
{
    switch (v.GetType()) {
    case rapidjson::kNullType:
        return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
        return "boolean";
    case rapidjson::kObjectType:
        return "object";
    case rapidjson::kArrayType:
        return "array";
    case rapidjson::kStringType:
        return "string";
    case rapidjson::kNumberType:
        return "number";
    }
    return "unknown";
}

bool is_lower_hex(std::string_view s) noexcept
{
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    });
}

bool all_zero(std::string_view s) noexcept
{
    return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; });
}

// Forwards SAX events to the document while counting depth, so no value deeper than the limit is ever built.
// Together with kParseIterativeFlag (an explicit heap stack instead of recursion) no input can exhaust the
// call stack: a 100,000-deep array stops at bracket max_depth + 1.
struct depth_limited_handler
{
    rapidjson::Document& doc;
    unsigned max_depth;
    unsigned depth = 0;
    bool too_deep = false;

    bool Null() { return doc.Null(); }
    bool Bool(bool b) { return doc.Bool(b); }
    bool Int(int i) { return doc.Int(i); }
    bool Uint(unsigned u) { return doc.Uint(u); }
    bool Int64(std::int64_t i) { return doc.Int64(i); }
    bool Uint64(std::uint64_t u) { return doc.Uint64(u); }
    bool Double(double d) { return doc.Double(d); }
    bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) { return doc.RawNumber(s, n, copy); }
    bool String(const char* s, rapidjson::SizeType n, bool copy) { return doc.String(s, n, copy); }
    bool Key(const char* s, rapidjson::SizeType n, bool copy) { return doc.Key(s, n, copy); }
    bool StartObject() { return enter() && doc.StartObject(); }
    bool EndObject(rapidjson::SizeType n)
    {
        --depth;
        return doc.EndObject(n);
    }
    bool StartArray() { return enter() && doc.StartArray(); }
    bool EndArray(rapidjson::SizeType n)
    {
        --depth;
        return doc.EndArray(n);
    }

    bool enter() noexcept
    {
        if (++depth > max_depth) {
            too_deep = true;
            return false;
        }
        return true;
    }
};

// Parses `value` into `doc`; nullopt when it is one JSON text within the limits.
std::optional<invalid_event> parse_json(std::string_view value, unsigned max_depth, rapidjson::Document& doc)
{
    constexpr unsigned flags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
    rapidjson::MemoryStream ms(value.data(), value.size());
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> is(ms);
    rapidjson::Reader reader;
    rapidjson::ParseResult result;
    bool too_deep = false;
    auto generator = [&](rapidjson::Document& d) {
        depth_limited_handler handler{d, max_depth};
        result = reader.Parse<flags>(is, handler);
        too_deep = handler.too_deep;
        return !result.IsError();
    };
    doc.Populate(generator);
    if (result.IsError()) {
        if (too_deep)
            return fail(errc::too_deep, "nesting deeper than " + std::to_string(max_depth));
        const auto at = std::to_string(result.Offset());
        if (result.Code() == rapidjson::kParseErrorStringInvalidEncoding)
            return fail(errc::invalid_utf8, "invalid UTF-8 in string at offset " + at);
        return fail(
            errc::invalid_json,
            "invalid JSON at offset " + at + ": " + rapidjson::GetParseError_En(result.Code())
        );
    }
    // The stream reports end of input at a NUL byte, so "{...}\0junk" would otherwise pass.
    if (is.Tell() != value.size())
        return fail(errc::invalid_json, "invalid JSON at offset " + std::to_string(is.Tell()) + ": NUL byte");
    return std::nullopt;
}

// The top-level members the envelope reads, found in one pass.
struct envelope_fields
{
    const rapidjson::Value* type = nullptr;
    const rapidjson::Value* id = nullptr;
    const rapidjson::Value* timestamp = nullptr;
    const rapidjson::Value* specversion = nullptr;
    const rapidjson::Value* source = nullptr;
    const rapidjson::Value* time = nullptr;
};

std::optional<invalid_event> collect_fields(const rapidjson::Value& object, envelope_fields& f)
{
    for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
        const std::string_view name(it->name.GetString(), it->name.GetStringLength());
        const rapidjson::Value** slot = nullptr;
        if (name == "type")
            slot = &f.type;
        else if (name == "id")
            slot = &f.id;
        else if (name == "timestamp")
            slot = &f.timestamp;
        else if (name == "specversion")
            slot = &f.specversion;
        else if (name == "source")
            slot = &f.source;
        else if (name == "time")
            slot = &f.time;
        if (!slot)
            continue;
        if (*slot)
            return fail(errc::duplicate_field, "duplicate field '" + std::string(name) + "'");
        *slot = &it->value;
    }
    return std::nullopt;
}

// Reads an optional string field: absent and null give nullopt with no error.
std::optional<invalid_event>
optional_string(const rapidjson::Value* v, std::string_view name, std::optional<std::string_view>& out)
{
    out.reset();
    if (!v || v->IsNull())
        return std::nullopt;
    if (!v->IsString())
        return fail(
            errc::invalid_field,
            "field '" + std::string(name) + "' must be a string, got " + std::string(json_type_name(*v))
        );
    out = std::string_view(v->GetString(), v->GetStringLength());
    return std::nullopt;
}

std::optional<invalid_event>
required_string(const rapidjson::Value* v, std::string_view name, std::string_view& out)
{
    if (!v)
        return fail(errc::missing_field, "missing required field '" + std::string(name) + "'");
    if (!v->IsString())
        return fail(
            errc::invalid_field,
            "field '" + std::string(name) + "' must be a string, got " + std::string(json_type_name(*v))
        );
    out = std::string_view(v->GetString(), v->GetStringLength());
    return std::nullopt;
}

std::optional<invalid_event> check_type(std::string_view what, std::string_view v)
{
    if (auto problem = check_visible_ascii(what, v, max_type_length, true); !problem.empty())
        return fail(errc::invalid_field, std::move(problem));
    return std::nullopt;
}

std::optional<invalid_event> check_id(std::string_view what, std::string_view v)
{
    if (auto problem = check_visible_ascii(what, v, max_id_length, false); !problem.empty())
        return fail(errc::invalid_field, std::move(problem));
    return std::nullopt;
}

std::optional<invalid_event> check_source(std::string_view what, std::string_view v)
{
    if (auto problem = check_visible_ascii(what, v, max_source_length, true); !problem.empty())
        return fail(errc::invalid_field, std::move(problem));
    return std::nullopt;
}

std::optional<invalid_event> parse_time(
    std::string_view what, std::string_view v, std::optional<std::chrono::system_clock::time_point>& out
)
{
    out = parse_rfc3339(v);
    if (!out)
        return fail(errc::invalid_field, std::string(what) + " is not an RFC 3339 date-time: " + quote(v));
    return std::nullopt;
}

std::optional<invalid_event> check_specversion(std::string_view what, std::string_view v)
{
    if (v != "1.0")
        return fail(
            errc::unsupported_specversion,
            "unsupported CloudEvents " + std::string(what) + " " + quote(v) + " (only 1.0 is supported)"
        );
    return std::nullopt;
}

// "application/json", "application/json; charset=utf-8", "application/problem+json", ...
bool is_json_media_type(std::string_view ct) noexcept
{
    auto media = ct.substr(0, ct.find(';'));
    while (!media.empty() && (media.back() == ' ' || media.back() == '\t'))
        media.remove_suffix(1);
    while (!media.empty() && (media.front() == ' ' || media.front() == '\t'))
        media.remove_prefix(1);
    if (iequals(media, "application/json"))
        return true;
    const auto slash = media.find('/');
    return slash != std::string_view::npos && slash > 0 && media.size() > slash + 1 + 5 &&
           iequals(media.substr(media.size() - 5), "+json");
}

// The record headers the parser reads; the last occurrence of a name wins (as rd_kafka_header_get_last).
struct known_headers
{
    std::optional<std::string_view> content_type;
    std::optional<std::string_view> ce_specversion;
    std::optional<std::string_view> ce_id;
    std::optional<std::string_view> ce_type;
    std::optional<std::string_view> ce_source;
    std::optional<std::string_view> ce_time;
    std::optional<std::string_view> traceparent;
    std::optional<std::string_view> tracestate;
};

known_headers scan_headers(std::span<const record_header> headers) noexcept
{
    known_headers h;
    for (const auto& [name, value] : headers) {
        if (iequals(name, "content-type"))
            h.content_type = value;
        else if (iequals(name, "traceparent"))
            h.traceparent = value;
        else if (iequals(name, "tracestate"))
            h.tracestate = value;
        else if (istarts_with(name, "ce_")) {
            const auto rest = name.substr(3);
            if (iequals(rest, "specversion"))
                h.ce_specversion = value;
            else if (iequals(rest, "id"))
                h.ce_id = value;
            else if (iequals(rest, "type"))
                h.ce_type = value;
            else if (iequals(rest, "source"))
                h.ce_source = value;
            else if (iequals(rest, "time"))
                h.ce_time = value;
        }
    }
    return h;
}

trace_context trace_of(const known_headers& h) noexcept
{
    trace_context t;
    if (h.traceparent && is_valid_traceparent(*h.traceparent)) {
        t.traceparent = *h.traceparent;
        if (h.tracestate && is_valid_tracestate(*h.tracestate))
            t.tracestate = *h.tracestate;
    }
    return t;
}

const EVP_MD* sha256() noexcept
{
    // Fetched once: an implicit fetch on every digest costs a provider lookup.
    static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return md;
}

} // namespace

trace_context read_trace_context(std::span<const record_header> headers) noexcept
{
    return trace_of(scan_headers(headers));
}

std::string_view to_string(envelope_format f) noexcept
{
    switch (f) {
    case envelope_format::relay:
        return "relay";
    case envelope_format::cloudevents_structured:
        return "cloudevents_structured";
    case envelope_format::cloudevents_binary:
        return "cloudevents_binary";
    }
    return "unknown";
}

std::string_view to_string(errc e) noexcept
{
    switch (e) {
    case errc::empty:
        return "empty";
    case errc::too_large:
        return "too_large";
    case errc::invalid_json:
        return "invalid_json";
    case errc::invalid_utf8:
        return "invalid_utf8";
    case errc::too_deep:
        return "too_deep";
    case errc::not_an_object:
        return "not_an_object";
    case errc::missing_field:
        return "missing_field";
    case errc::invalid_field:
        return "invalid_field";
    case errc::duplicate_field:
        return "duplicate_field";
    case errc::unsupported_specversion:
        return "unsupported_specversion";
    case errc::unsupported_content_type:
        return "unsupported_content_type";
    }
    return "unknown";
}

const boost::system::error_category& event_category() noexcept
{
    static const event_category_impl instance;
    return instance;
}

void throw_exception_from_error(const invalid_event& e, const boost::source_location& loc)
{
    boost::throw_exception(std::invalid_argument(e.reason), loc);
}

bool is_valid_traceparent(std::string_view v) noexcept
{
    // version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2
    if (v.size() < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-')
        return false;
    const auto version = v.substr(0, 2);
    const auto trace_id = v.substr(3, 32);
    const auto parent_id = v.substr(36, 16);
    const auto flags = v.substr(53, 2);
    if (!is_lower_hex(version) || !is_lower_hex(trace_id) || !is_lower_hex(parent_id) || !is_lower_hex(flags))
        return false;
    if (version == "ff" || all_zero(trace_id) || all_zero(parent_id))
        return false;
    if (version == "00")
        return v.size() == 55;
    return v.size() == 55 || v[55] == '-';
}

bool is_valid_tracestate(std::string_view v) noexcept
{
    if (v.size() > 512)
        return false;
    std::size_t members = 0;
    while (true) {
        const auto comma = v.find(',');
        auto member = v.substr(0, comma);
        while (!member.empty() && (member.front() == ' ' || member.front() == '\t'))
            member.remove_prefix(1);
        while (!member.empty() && (member.back() == ' ' || member.back() == '\t'))
            member.remove_suffix(1);
        if (!member.empty()) {
            if (++members > 32)
                return false;
            const auto eq = member.find('=');
            if (eq == 0 || eq == std::string_view::npos || eq + 1 == member.size())
                return false;
            for (char c : member) {
                const auto u = static_cast<unsigned char>(c);
                if (u < 0x20 || u > 0x7e || c == ',')
                    return false;
            }
        }
        if (comma == std::string_view::npos)
            break;
        v.remove_prefix(comma + 1);
    }
    return true;
}

std::string derive_event_id(std::string_view topic, std::int32_t partition, std::int64_t offset)
{
    std::string input;
    input.reserve(topic.size() + 32);
    input.append(topic)
        .append("/")
        .append(std::to_string(partition))
        .append("/")
        .append(std::to_string(offset));
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (EVP_Digest(input.data(), input.size(), digest.data(), &length, sha256(), nullptr) != 1 || length < 16)
        throw std::runtime_error("SHA-256 is unavailable in OpenSSL");
    static constexpr char hex[] = "0123456789abcdef";
    std::string id = "evt_";
    id.reserve(4 + 32);
    for (std::size_t i = 0; i < 16; ++i) {
        id.push_back(hex[digest[i] >> 4]);
        id.push_back(hex[digest[i] & 0xf]);
    }
    return id;
}

event::event(std::size_t pool_chunk_bytes)
    : allocator_(std::make_unique<rapidjson::MemoryPoolAllocator<>>(pool_chunk_bytes))
    , document_(allocator_.get())
{}

boost::system::result<event, invalid_event>
parse_event(const record_view& record, const envelope_options& options)
{
    const auto value = record.value;
    if (value.empty())
        return fail(errc::empty, "event value is empty (null or zero-length record)");
    if (value.size() > options.max_event_bytes)
        return fail(
            errc::too_large,
            "event is " + std::to_string(value.size()) + " bytes, limit " +
                std::to_string(options.max_event_bytes)
        );

    const auto headers = scan_headers(record.headers);
    envelope_format format = envelope_format::relay;
    if (headers.content_type && istarts_with(*headers.content_type, "application/cloudevents")) {
        if (istarts_with(*headers.content_type, "application/cloudevents-batch"))
            return fail(errc::unsupported_content_type, "CloudEvents batch mode is not supported");
        format = envelope_format::cloudevents_structured;
    } else if (headers.ce_specversion) {
        format = envelope_format::cloudevents_binary;
        if (headers.content_type && !is_json_media_type(*headers.content_type))
            return fail(
                errc::unsupported_content_type,
                "content-type " + quote(*headers.content_type) +
                    " is not JSON (binary CloudEvents data must be JSON)"
            );
    }

    // The DOM is a little larger than the text; sizing the pool from the value avoids RapidJSON's default 64
    // KiB first chunk for every small event in flight, and more than one chunk for large ones.
    const std::size_t chunk = std::clamp<std::size_t>(value.size() * 2 + 256, 1024, 256 * 1024);
    event ev(chunk);
    if (auto err = parse_json(value, options.max_depth, ev.document_))
        return std::move(*err);
    const rapidjson::Value& root = ev.document_;

    std::optional<std::string_view> id;
    std::string_view type;
    std::string_view source;
    if (format == envelope_format::cloudevents_binary) {
        if (auto err = check_specversion("header 'ce_specversion'", *headers.ce_specversion))
            return std::move(*err);
        if (!headers.ce_id)
            return fail(errc::missing_field, "missing required header 'ce_id'");
        if (!headers.ce_type)
            return fail(errc::missing_field, "missing required header 'ce_type'");
        if (!headers.ce_source)
            return fail(errc::missing_field, "missing required header 'ce_source'");
        if (auto err = check_id("header 'ce_id'", *headers.ce_id))
            return std::move(*err);
        if (auto err = check_type("header 'ce_type'", *headers.ce_type))
            return std::move(*err);
        if (auto err = check_source("header 'ce_source'", *headers.ce_source))
            return std::move(*err);
        if (headers.ce_time)
            if (auto err = parse_time("header 'ce_time'", *headers.ce_time, ev.time_))
                return std::move(*err);
        id = headers.ce_id;
        type = *headers.ce_type;
        source = *headers.ce_source;
    } else {
        if (!root.IsObject())
            return fail(
                errc::not_an_object, "event must be a JSON object, got " + std::string(json_type_name(root))
            );
        envelope_fields f;
        if (auto err = collect_fields(root, f))
            return std::move(*err);
        if (format == envelope_format::relay && f.specversion)
            format = envelope_format::cloudevents_structured;

        std::optional<std::string_view> time;
        if (format == envelope_format::cloudevents_structured) {
            std::string_view specversion;
            if (auto err = required_string(f.specversion, "specversion", specversion))
                return std::move(*err);
            if (auto err = check_specversion("specversion", specversion))
                return std::move(*err);
            std::string_view required_id;
            if (auto err = required_string(f.id, "id", required_id))
                return std::move(*err);
            id = required_id;
            if (auto err = required_string(f.type, "type", type))
                return std::move(*err);
            if (auto err = required_string(f.source, "source", source))
                return std::move(*err);
            if (auto err = check_source("field 'source'", source))
                return std::move(*err);
            if (auto err = optional_string(f.time, "time", time))
                return std::move(*err);
            if (time)
                if (auto err = parse_time("field 'time'", *time, ev.time_))
                    return std::move(*err);
        } else {
            if (auto err = required_string(f.type, "type", type))
                return std::move(*err);
            if (auto err = optional_string(f.id, "id", id))
                return std::move(*err);
            if (auto err = optional_string(f.timestamp, "timestamp", time))
                return std::move(*err);
            if (time)
                if (auto err = parse_time("field 'timestamp'", *time, ev.time_))
                    return std::move(*err);
        }
        if (auto err = check_type("field 'type'", type))
            return std::move(*err);
        if (id)
            if (auto err = check_id("field 'id'", *id))
                return std::move(*err);
    }

    ev.format_ = format;
    ev.type_.assign(type);
    ev.source_.assign(source);
    if (id) {
        ev.id_.assign(*id);
    } else {
        ev.id_ = derive_event_id(record.topic, record.partition, record.offset);
        ev.id_derived_ = true;
    }
    const auto trace = trace_of(headers);
    ev.traceparent_.assign(trace.traceparent);
    ev.tracestate_.assign(trace.tracestate);
    // A producer may set any CreateTime; beyond the clock's range (year 2262) it is ignored, not overflowed.
    if (record.timestamp_ms >= 0 && record.timestamp_ms < 9'000'000'000'000)
        ev.kafka_time_ =
            std::chrono::system_clock::time_point{std::chrono::milliseconds{record.timestamp_ms}};
    ev.body_ = value;
    ev.key_ = record.key;
    ev.topic_.assign(record.topic);
    ev.partition_ = record.partition;
    ev.offset_ = record.offset;
    return ev;
}

} // namespace relay::event
