// Fuzzes the Kafka-header side of relay::event::parse_event: CloudEvents binary mode (`ce_*` headers,
// content-type) and W3C trace context propagation. Input: header lines "name: value" up to the first empty
// line, then the record value.
// Invariants: no exception escapes; an accepted binary-mode event takes id, type and source from its ce_*
// headers; kept trace context is valid and equals read_trace_context() of the same headers; a kept tracestate
// implies a kept traceparent.

#include "relay/event/envelope.hpp"

#include "fuzz_support.hpp"

#include <strings.h>
#include <vector>

namespace {

using relay::event::record_header;

bool has_header(const std::vector<record_header>& headers, std::string_view name, std::string_view value)
{
    for (const auto& h : headers) {
        if (h.name.size() == name.size() && ::strncasecmp(h.name.data(), name.data(), name.size()) == 0 &&
            h.value == value)
            return true;
    }
    return false;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    relay::fuzz::fields in(relay::fuzz::as_text(data, size));
    std::vector<record_header> headers;
    for (auto line = in.next(); !line.empty(); line = in.next()) {
        const auto colon = line.find(':');
        auto value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
        if (value.starts_with(' '))
            value.remove_prefix(1);
        headers.push_back({line.substr(0, colon), value});
        // The validators must hold up to any header value on their own too.
        (void)relay::event::is_valid_traceparent(value);
        (void)relay::event::is_valid_tracestate(value);
    }
    const auto value = in.rest();

    const auto trace = relay::event::read_trace_context(headers);
    RELAY_FUZZ_CHECK(trace.traceparent.empty() || relay::event::is_valid_traceparent(trace.traceparent));
    RELAY_FUZZ_CHECK(trace.tracestate.empty() || relay::event::is_valid_tracestate(trace.tracestate));
    RELAY_FUZZ_CHECK(trace.tracestate.empty() || !trace.traceparent.empty());
    RELAY_FUZZ_CHECK(trace.traceparent.empty() || has_header(headers, "traceparent", trace.traceparent));
    RELAY_FUZZ_CHECK(trace.tracestate.empty() || has_header(headers, "tracestate", trace.tracestate));

    const relay::event::record_view record{"payments", 0, 7, std::nullopt, value, headers, -1};
    auto parsed = relay::event::parse_event(record);
    if (!parsed) {
        RELAY_FUZZ_CHECK(!parsed.error().reason.empty());
        RELAY_FUZZ_CHECK(relay::fuzz::printable_ascii(parsed.error().reason));
        return 0;
    }
    const auto& e = *parsed;
    RELAY_FUZZ_CHECK(e.traceparent() == trace.traceparent && e.tracestate() == trace.tracestate);
    RELAY_FUZZ_CHECK(!e.kafka_time().has_value());
    RELAY_FUZZ_CHECK(!e.id().empty() && e.id().size() <= 256 && relay::fuzz::visible_ascii(e.id()));
    RELAY_FUZZ_CHECK(e.id().find('.') == std::string_view::npos);
    RELAY_FUZZ_CHECK(!e.type().empty() && e.type().size() <= 256 && relay::fuzz::visible_ascii(e.type()));
    if (e.format() == relay::event::envelope_format::cloudevents_binary) {
        RELAY_FUZZ_CHECK(has_header(headers, "ce_specversion", "1.0"));
        RELAY_FUZZ_CHECK(has_header(headers, "ce_id", e.id()));
        RELAY_FUZZ_CHECK(has_header(headers, "ce_type", e.type()));
        RELAY_FUZZ_CHECK(has_header(headers, "ce_source", e.source()));
        RELAY_FUZZ_CHECK(!e.id_derived());
    }
    return 0;
}
