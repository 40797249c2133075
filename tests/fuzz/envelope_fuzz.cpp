// Fuzzes relay::event::parse_event with arbitrary record values (Relay envelopes and structured CloudEvents).
// Invariants: no exception escapes (errors are values); an accepted event satisfies the documented id/type
// rules and keeps the value byte for byte; parse -> serialize the document -> parse gives the same event;
// a rejected record has a non-empty, printable-ASCII reason.

#include "relay/event/envelope.hpp"

#include "fuzz_support.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

namespace {

using relay::event::envelope_format;
using relay::event::record_header;
using relay::event::record_view;

// Structural equality, members in order. Not rapidjson's operator==, which pairs duplicate member names
// wrongly; doubles compare with a relative tolerance because RapidJSON's default (not full-precision) number
// parsing may be off by a few ULPs on long mantissas. Nesting is bounded by max_depth, so recursion is safe.
bool same_json(const rapidjson::Value& a, const rapidjson::Value& b)
{
    if (a.GetType() != b.GetType())
        return false;
    if (a.IsObject()) {
        if (a.MemberCount() != b.MemberCount())
            return false;
        for (auto i = a.MemberBegin(), j = b.MemberBegin(); i != a.MemberEnd(); ++i, ++j) {
            if (i->name != j->name || !same_json(i->value, j->value))
                return false;
        }
        return true;
    }
    if (a.IsArray()) {
        if (a.Size() != b.Size())
            return false;
        for (rapidjson::SizeType i = 0; i < a.Size(); ++i) {
            if (!same_json(a[i], b[i]))
                return false;
        }
        return true;
    }
    if (a.IsNumber()) {
        if (a.IsInt64() && b.IsInt64())
            return a.GetInt64() == b.GetInt64();
        if (a.IsUint64() && b.IsUint64())
            return a.GetUint64() == b.GetUint64();
        const double x = a.GetDouble();
        const double y = b.GetDouble();
        return x == y || std::fabs(x - y) <= 1e-12 * std::max(std::fabs(x), std::fabs(y));
    }
    return a == b; // strings, booleans, null
}

void check_event_rules(const relay::event::event& e, const record_view& r)
{
    RELAY_FUZZ_CHECK(e.body().data() == r.value.data() && e.body().size() == r.value.size());
    RELAY_FUZZ_CHECK(!e.id().empty() && e.id().size() <= 256 && relay::fuzz::visible_ascii(e.id()));
    RELAY_FUZZ_CHECK(e.id().find('.') == std::string_view::npos);
    RELAY_FUZZ_CHECK(!e.type().empty() && e.type().size() <= 256 && relay::fuzz::visible_ascii(e.type()));
    RELAY_FUZZ_CHECK(e.source().size() <= 2048 && relay::fuzz::visible_ascii(e.source()));
    RELAY_FUZZ_CHECK(e.format() != envelope_format::cloudevents_binary); // no ce_* headers given
    RELAY_FUZZ_CHECK(e.format() != envelope_format::relay || e.source().empty());
    RELAY_FUZZ_CHECK(
        e.id_derived() == (e.id() == relay::event::derive_event_id(r.topic, r.partition, r.offset))
    );
    RELAY_FUZZ_CHECK(e.document().IsObject());
}

void check_one(std::string_view value, std::span<const record_header> headers)
{
    const record_view record{"orders", 3, 42, std::string_view("k"), value, headers, 1'700'000'000'000};
    auto parsed = relay::event::parse_event(record);
    if (!parsed) {
        const auto& err = parsed.error();
        RELAY_FUZZ_CHECK(!err.reason.empty() && relay::fuzz::printable_ascii(err.reason));
        RELAY_FUZZ_CHECK(!relay::event::to_string(err.code).empty());
        // Deterministic: the same record fails the same way.
        auto again = relay::event::parse_event(record);
        RELAY_FUZZ_CHECK(!again && again.error().code == err.code && again.error().reason == err.reason);
        return;
    }
    const auto& e = *parsed;
    check_event_rules(e, record);

    // parse -> serialize -> parse: the serialized document is the same event.
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    RELAY_FUZZ_CHECK(e.document().Accept(writer));
    const std::string text(buffer.GetString(), buffer.GetSize());
    record_view second = record;
    second.value = text;
    auto reparsed = relay::event::parse_event(second);
    if (!reparsed) {
        std::fprintf(stderr, "re-parse failed: %s\n", reparsed.error().reason.c_str());
    }
    RELAY_FUZZ_CHECK(reparsed.has_value());
    const auto& r = *reparsed;
    check_event_rules(r, second);
    RELAY_FUZZ_CHECK(r.id() == e.id() && r.id_derived() == e.id_derived());
    RELAY_FUZZ_CHECK(r.type() == e.type() && r.format() == e.format() && r.source() == e.source());
    RELAY_FUZZ_CHECK(r.time() == e.time());
    RELAY_FUZZ_CHECK(same_json(r.document(), e.document()));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto value = relay::fuzz::as_text(data, size);
    check_one(value, {});
    // The content type alone selects structured CloudEvents mode.
    const std::array<record_header, 1> structured{{{"Content-Type", "application/cloudevents+json"}}};
    check_one(value, structured);
    return 0;
}
