#include "relay/event/envelope.hpp"
#include "relay/event/timestamp.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

namespace {

using relay::event::envelope_format;
using relay::event::errc;
using relay::event::parse_event;
using relay::event::read_trace_context;
using relay::event::record_header;
using relay::event::record_view;

constexpr auto valid_traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

record_view record(std::string_view value, std::span<const record_header> headers = {})
{
    record_view r;
    r.topic = "relay.events";
    r.partition = 3;
    r.offset = 42;
    r.value = value;
    r.headers = headers;
    return r;
}

// The reason of a rejected value, or "accepted".
std::string reason_of(std::string_view value, std::span<const record_header> headers = {})
{
    auto r = parse_event(record(value, headers));
    return r ? std::string("accepted") : r.error().reason;
}

errc code_of(std::string_view value, std::span<const record_header> headers = {})
{
    auto r = parse_event(record(value, headers));
    EXPECT_FALSE(r) << "accepted: " << value;
    return r ? errc{} : r.error().code;
}

TEST(envelope, minimal_event_is_accepted_with_its_exact_bytes)
{
    const std::string value = R"({ "type" : "order.created", "id":"ord_1",  "data":{"total":12.50} } )";
    auto r = parse_event(record(value));
    ASSERT_TRUE(r) << r.error().reason;
    EXPECT_EQ(r->type(), "order.created");
    EXPECT_EQ(r->id(), "ord_1");
    EXPECT_FALSE(r->id_derived());
    EXPECT_EQ(r->format(), envelope_format::relay);
    EXPECT_EQ(r->body().data(), value.data()); // a view, not a copy
    EXPECT_EQ(r->body(), value);
    EXPECT_EQ(r->topic(), "relay.events");
    EXPECT_EQ(r->partition(), 3);
    EXPECT_EQ(r->offset(), 42);
    ASSERT_TRUE(r->document().IsObject());
    EXPECT_DOUBLE_EQ(r->document()["data"]["total"].GetDouble(), 12.5);
}

TEST(envelope, event_stays_valid_after_moves)
{
    const std::string value =
        R"({"type":"order.created","data":{"a_fairly_long_member_name":"a fairly long value"}})";
    auto r = parse_event(record(value));
    ASSERT_TRUE(r);
    relay::event::event moved = std::move(*r);
    std::vector<relay::event::event> events;
    events.push_back(std::move(moved));
    events.reserve(16); // reallocates: moves again
    EXPECT_EQ(events[0].type(), "order.created");
    EXPECT_STREQ(
        events[0].document()["data"]["a_fairly_long_member_name"].GetString(), "a fairly long value"
    );
}

TEST(envelope, derived_id_is_stable_dot_free_and_depends_on_coordinates)
{
    const std::string value = R"({"type":"order.created"})";
    auto a = parse_event(record(value));
    auto b = parse_event(record(value));
    ASSERT_TRUE(a && b);
    EXPECT_TRUE(a->id_derived());
    EXPECT_EQ(a->id(), b->id());
    EXPECT_EQ(a->id().size(), 4u + 32u);
    EXPECT_TRUE(a->id().starts_with("evt_"));
    EXPECT_EQ(a->id().find('.'), std::string_view::npos);
    EXPECT_EQ(a->id(), relay::event::derive_event_id("relay.events", 3, 42));

    std::set<std::string> ids;
    for (std::int64_t offset = 0; offset < 100; ++offset)
        ids.insert(relay::event::derive_event_id("relay.events", 0, offset));
    ids.insert(relay::event::derive_event_id("relay.events", 1, 0));
    ids.insert(relay::event::derive_event_id("other", 0, 0));
    EXPECT_EQ(ids.size(), 102u);
}

TEST(envelope, derived_id_matches_reference_digest)
{
    // Pinned: the id must never change between versions, or receivers would take redeliveries for new events.
    // printf 'relay.events/3/42' | sha256sum | cut -c1-32
    EXPECT_EQ(relay::event::derive_event_id("relay.events", 3, 42), "evt_4260b349503b1c752ee21042968802cf");
}

TEST(envelope, empty_value_is_rejected)
{
    EXPECT_EQ(code_of(""), errc::empty);
    EXPECT_EQ(reason_of(""), "event value is empty (null or zero-length record)");
}

TEST(envelope, value_over_the_size_limit_is_rejected_before_parsing)
{
    const std::string value(10 * 1024 * 1024, ' ');
    EXPECT_EQ(code_of(value), errc::too_large);
    EXPECT_EQ(reason_of(value), "event is 10485760 bytes, limit 1048576");
}

TEST(envelope, value_at_the_size_limit_is_accepted)
{
    relay::event::envelope_options options;
    options.max_event_bytes = 64;
    std::string value = R"({"type":"a"})";
    value.resize(64, ' ');
    EXPECT_TRUE(parse_event(record(value), options));
    value.push_back(' ');
    EXPECT_FALSE(parse_event(record(value), options));
}

TEST(envelope, syntax_error_names_offset_and_problem)
{
    EXPECT_EQ(code_of(R"({"type":"a" "id":"b"})"), errc::invalid_json);
    EXPECT_EQ(
        reason_of(R"({"type":"a" "id":"b"})"),
        "invalid JSON at offset 12: Missing a comma or '}' after an object member."
    );
}

TEST(envelope, trailing_data_is_rejected)
{
    EXPECT_EQ(code_of(R"({"type":"a"} {})"), errc::invalid_json);
    EXPECT_EQ(code_of(R"({"type":"a"}x)"), errc::invalid_json);
}

TEST(envelope, nul_byte_after_the_document_is_rejected)
{
    const std::string value("{\"type\":\"a\"}\0{\"junk\":1}", 24);
    EXPECT_EQ(code_of(value), errc::invalid_json);
    EXPECT_EQ(reason_of(value), "invalid JSON at offset 12: NUL byte");
}

TEST(envelope, value_is_parsed_with_its_length_not_up_to_a_terminator)
{
    // The record's bytes are not NUL-terminated: a view into a larger buffer must parse only its own bytes.
    const std::string buffer = R"({"type":"a"}{"type":"b"})";
    auto r = parse_event(record(std::string_view(buffer).substr(0, 12)));
    ASSERT_TRUE(r) << r.error().reason;
    EXPECT_EQ(r->type(), "a");
}

TEST(envelope, invalid_utf8_is_rejected)
{
    EXPECT_EQ(code_of("{\"type\":\"a\",\"data\":\"\xc3\x28\"}"), errc::invalid_utf8);
    EXPECT_EQ(reason_of("{\"type\":\"a\",\"data\":\"\xc3\x28\"}"), "invalid UTF-8 in string at offset 20");
    EXPECT_EQ(code_of("{\"type\":\"a\",\"data\":\"\xed\xa0\x80\"}"), errc::invalid_utf8); // a lone surrogate
}

TEST(envelope, valid_utf8_is_accepted)
{
    EXPECT_EQ(reason_of(R"({"type":"a","data":"grüße, 東京 🚀"})"), "accepted");
}

TEST(envelope, nesting_at_the_limit_is_accepted)
{
    // The envelope object is level 1: 63 more arrays reach exactly 64.
    const std::string value = R"({"type":"a","data":)" + std::string(63, '[') + std::string(63, ']') + "}";
    EXPECT_EQ(reason_of(value), "accepted");
}

TEST(envelope, nesting_one_past_the_limit_is_rejected)
{
    const std::string value = R"({"type":"a","data":)" + std::string(64, '[') + std::string(64, ']') + "}";
    EXPECT_EQ(code_of(value), errc::too_deep);
    EXPECT_EQ(reason_of(value), "nesting deeper than 64");
}

TEST(envelope, hundred_thousand_deep_nesting_is_rejected_without_crashing)
{
    const std::string arrays(100'000, '[');
    EXPECT_EQ(reason_of(arrays), "nesting deeper than 64");
    std::string objects;
    for (int i = 0; i < 100'000; ++i)
        objects += R"({"a":)";
    EXPECT_EQ(reason_of(objects), "nesting deeper than 64");
    // Closed as well, so it is valid JSON apart from the depth.
    EXPECT_EQ(reason_of(arrays + std::string(100'000, ']')), "nesting deeper than 64");
}

TEST(envelope, depth_limit_is_configurable)
{
    relay::event::envelope_options options;
    options.max_depth = 2;
    EXPECT_TRUE(parse_event(record(R"({"type":"a","data":[1]})"), options));
    auto r = parse_event(record(R"({"type":"a","data":[[1]]})"), options);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().reason, "nesting deeper than 2");
}

TEST(envelope, top_level_must_be_an_object)
{
    EXPECT_EQ(code_of(R"(["type","a"])"), errc::not_an_object);
    EXPECT_EQ(reason_of(R"(["type","a"])"), "event must be a JSON object, got array");
    EXPECT_EQ(reason_of(R"("order.created")"), "event must be a JSON object, got string");
    EXPECT_EQ(reason_of("42"), "event must be a JSON object, got number");
    EXPECT_EQ(reason_of("null"), "event must be a JSON object, got null");
}

TEST(envelope, type_is_required)
{
    EXPECT_EQ(code_of(R"({"id":"a","data":{}})"), errc::missing_field);
    EXPECT_EQ(reason_of(R"({"id":"a","data":{}})"), "missing required field 'type'");
}

TEST(envelope, type_must_be_a_string)
{
    EXPECT_EQ(code_of(R"({"type":7})"), errc::invalid_field);
    EXPECT_EQ(reason_of(R"({"type":7})"), "field 'type' must be a string, got number");
    EXPECT_EQ(reason_of(R"({"type":null})"), "field 'type' must be a string, got null");
}

TEST(envelope, type_must_be_short_visible_ascii)
{
    EXPECT_EQ(reason_of(R"({"type":""})"), "field 'type' is empty");
    EXPECT_EQ(
        reason_of(R"({"type":")" + std::string(257, 'a') + "\"}"), "field 'type' is 257 characters, limit 256"
    );
    EXPECT_EQ(reason_of(R"({"type":")" + std::string(256, 'a') + "\"}"), "accepted");
    EXPECT_EQ(reason_of(R"({"type":"order created"})"), "field 'type' contains whitespace at position 5");
    EXPECT_EQ(
        reason_of(R"({"type":"order\u0001"})"), "field 'type' contains control character 0x01 at position 5"
    );
    EXPECT_EQ(
        reason_of(R"({"type":"bestellung.größe"})"),
        "field 'type' contains non-ASCII byte 0xc3 at position 13"
    );
}

TEST(envelope, id_rules)
{
    EXPECT_EQ(
        reason_of(R"({"type":"a","id":"a.b"})"),
        "field 'id' contains '.' at position 1 (not allowed in event ids)"
    );
    EXPECT_EQ(reason_of(R"({"type":"a","id":"a b"})"), "field 'id' contains whitespace at position 1");
    EXPECT_EQ(reason_of(R"({"type":"a","id":"a\tb"})"), "field 'id' contains whitespace at position 1");
    EXPECT_EQ(
        reason_of(R"({"type":"a","id":"a\u007fb"})"),
        "field 'id' contains control character 0x7f at position 1"
    );
    EXPECT_EQ(reason_of(R"({"type":"a","id":""})"), "field 'id' is empty");
    EXPECT_EQ(
        reason_of(R"({"type":"a","id":")" + std::string(257, 'x') + "\"}"),
        "field 'id' is 257 characters, limit 256"
    );
    EXPECT_EQ(reason_of(R"({"type":"a","id":12})"), "field 'id' must be a string, got number");
    EXPECT_EQ(reason_of(R"({"type":"a","id":"msg_2ZxY-9:_~"})"), "accepted");
}

TEST(envelope, null_optional_fields_count_as_absent)
{
    auto r = parse_event(record(R"({"type":"a","id":null,"timestamp":null})"));
    ASSERT_TRUE(r) << r.error().reason;
    EXPECT_TRUE(r->id_derived());
    EXPECT_FALSE(r->time());
}

TEST(envelope, duplicate_envelope_fields_are_rejected)
{
    EXPECT_EQ(code_of(R"({"type":"a","type":"b"})"), errc::duplicate_field);
    EXPECT_EQ(reason_of(R"({"type":"a","id":"x","id":"y"})"), "duplicate field 'id'");
    // Only the envelope's own fields: duplicates in data are the producer's business.
    EXPECT_EQ(reason_of(R"({"type":"a","data":{"k":1,"k":2}})"), "accepted");
}

TEST(envelope, timestamp_is_parsed_and_preferred_for_latency)
{
    using namespace std::chrono;
    auto rec = record(R"({"type":"a","timestamp":"2024-05-06T07:08:09.250+02:00"})");
    rec.timestamp_ms = 1'700'000'000'000;
    auto r = parse_event(rec);
    ASSERT_TRUE(r) << r.error().reason;
    const auto expected = sys_days{2024y / May / 6} + 5h + 8min + 9s + 250ms;
    ASSERT_TRUE(r->time());
    EXPECT_EQ(*r->time(), expected);
    EXPECT_EQ(*r->origin_time(), expected);
    EXPECT_EQ(*r->kafka_time(), system_clock::time_point{milliseconds{1'700'000'000'000}});
}

TEST(envelope, kafka_timestamp_is_the_fallback_for_latency)
{
    using namespace std::chrono;
    auto rec = record(R"({"type":"a"})");
    rec.timestamp_ms = 1'700'000'000'123;
    auto r = parse_event(rec);
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->time());
    EXPECT_EQ(*r->origin_time(), system_clock::time_point{milliseconds{1'700'000'000'123}});

    rec.timestamp_ms = -1;
    auto unknown = parse_event(rec);
    ASSERT_TRUE(unknown);
    EXPECT_FALSE(unknown->origin_time());
}

TEST(envelope, invalid_timestamp_is_rejected)
{
    EXPECT_EQ(code_of(R"({"type":"a","timestamp":"yesterday"})"), errc::invalid_field);
    EXPECT_EQ(
        reason_of(R"({"type":"a","timestamp":"2024-02-30T00:00:00Z"})"),
        "field 'timestamp' is not an RFC 3339 date-time: '2024-02-30T00:00:00Z'"
    );
    EXPECT_EQ(
        reason_of(R"({"type":"a","timestamp":1714979289})"), "field 'timestamp' must be a string, got number"
    );
}

TEST(envelope, reason_quotes_producer_data_truncated_and_printable)
{
    const std::string ts = "\\n" + std::string(100, 'x');
    const auto reason = reason_of(R"({"type":"a","timestamp":")" + ts + "\"}");
    EXPECT_EQ(reason, "field 'timestamp' is not an RFC 3339 date-time: '?" + std::string(63, 'x') + "...'");
}

TEST(envelope, data_may_be_any_json)
{
    for (const char* data : {"null", "true", "1e300", "-0", "\"s\"", "[]", "{}", "[1,{\"a\":[null]}]"}) {
        const std::string value = std::string(R"({"type":"a","data":)") + data + "}";
        EXPECT_EQ(reason_of(value), "accepted") << data;
    }
}

TEST(envelope, cloudevents_structured_mode)
{
    const std::string value =
        R"({"specversion":"1.0","id":"A234-1234-1234","type":"com.example.order.created",)"
        R"("source":"/orders","time":"2018-04-05T17:31:00Z","data":{"n":1}})";
    auto r = parse_event(record(value));
    ASSERT_TRUE(r) << r.error().reason;
    EXPECT_EQ(r->format(), envelope_format::cloudevents_structured);
    EXPECT_EQ(r->id(), "A234-1234-1234");
    EXPECT_EQ(r->type(), "com.example.order.created");
    EXPECT_EQ(r->source(), "/orders");
    ASSERT_TRUE(r->time());
    EXPECT_EQ(relay::event::format_rfc3339(*r->time()), "2018-04-05T17:31:00.000Z");
}

TEST(envelope, cloudevents_structured_mode_requires_its_attributes)
{
    EXPECT_EQ(reason_of(R"({"specversion":"1.0","type":"t","source":"/s"})"), "missing required field 'id'");
    EXPECT_EQ(reason_of(R"({"specversion":"1.0","id":"i","source":"/s"})"), "missing required field 'type'");
    EXPECT_EQ(reason_of(R"({"specversion":"1.0","id":"i","type":"t"})"), "missing required field 'source'");
    EXPECT_EQ(
        code_of(R"({"specversion":"0.3","id":"i","type":"t","source":"/s"})"), errc::unsupported_specversion
    );
    EXPECT_EQ(
        reason_of(R"({"specversion":"0.3","id":"i","type":"t","source":"/s"})"),
        "unsupported CloudEvents specversion '0.3' (only 1.0 is supported)"
    );
    EXPECT_EQ(
        reason_of(R"({"specversion":"1.0","id":"i","type":"t","source":"/s","time":"now"})"),
        "field 'time' is not an RFC 3339 date-time: 'now'"
    );
    EXPECT_EQ(
        reason_of(R"({"specversion":"1.0","id":"i","type":"t","source":""})"), "field 'source' is empty"
    );
}

TEST(envelope, cloudevents_content_type_selects_structured_mode)
{
    const record_header headers[] = {{"content-type", "application/cloudevents+json; charset=UTF-8"}};
    EXPECT_EQ(reason_of(R"({"type":"t","id":"i"})", headers), "missing required field 'specversion'");
    const record_header batch[] = {{"content-type", "application/cloudevents-batch+json"}};
    EXPECT_EQ(code_of(R"([])", batch), errc::unsupported_content_type);
}

TEST(envelope, cloudevents_binary_mode)
{
    const record_header headers[] = {
        {"ce_specversion", "1.0"},
        {"ce_id", "evt-77"},
        {"ce_type", "com.example.ping"},
        {"ce_source", "https://example.com/ping"},
        {"ce_time", "2020-01-01T00:00:00Z"},
        {"content-type", "application/json"},
    };
    // The value is the data: any JSON, not necessarily an object.
    const std::string value = R"([1,2,3])";
    auto r = parse_event(record(value, headers));
    ASSERT_TRUE(r) << r.error().reason;
    EXPECT_EQ(r->format(), envelope_format::cloudevents_binary);
    EXPECT_EQ(r->id(), "evt-77");
    EXPECT_EQ(r->type(), "com.example.ping");
    EXPECT_EQ(r->source(), "https://example.com/ping");
    ASSERT_TRUE(r->time());
    EXPECT_EQ(relay::event::format_rfc3339(*r->time()), "2020-01-01T00:00:00.000Z");
    EXPECT_TRUE(r->document().IsArray());
    EXPECT_EQ(r->body(), value);
}

TEST(envelope, cloudevents_binary_mode_requires_its_headers)
{
    const record_header no_id[] = {{"ce_specversion", "1.0"}, {"ce_type", "t"}, {"ce_source", "/s"}};
    EXPECT_EQ(reason_of("{}", no_id), "missing required header 'ce_id'");
    const record_header no_type[] = {{"ce_specversion", "1.0"}, {"ce_id", "i"}, {"ce_source", "/s"}};
    EXPECT_EQ(reason_of("{}", no_type), "missing required header 'ce_type'");
    const record_header no_source[] = {{"ce_specversion", "1.0"}, {"ce_id", "i"}, {"ce_type", "t"}};
    EXPECT_EQ(reason_of("{}", no_source), "missing required header 'ce_source'");
    const record_header dotted_id[] = {
        {"ce_specversion", "1.0"}, {"ce_id", "a.b"}, {"ce_type", "t"}, {"ce_source", "/s"}};
    EXPECT_EQ(
        reason_of("{}", dotted_id), "header 'ce_id' contains '.' at position 1 (not allowed in event ids)"
    );
    const record_header old[] = {
        {"ce_specversion", "0.3"}, {"ce_id", "i"}, {"ce_type", "t"}, {"ce_source", "/s"}};
    EXPECT_EQ(code_of("{}", old), errc::unsupported_specversion);
}

TEST(envelope, cloudevents_binary_data_must_be_json)
{
    const record_header xml[] = {
        {"ce_specversion", "1.0"},
        {"ce_id", "i"},
        {"ce_type", "t"},
        {"ce_source", "/s"},
        {"content-type", "text/xml"}};
    EXPECT_EQ(code_of("{}", xml), errc::unsupported_content_type);
    EXPECT_EQ(
        reason_of("{}", xml), "content-type 'text/xml' is not JSON (binary CloudEvents data must be JSON)"
    );
    const record_header plus_json[] = {
        {"ce_specversion", "1.0"},
        {"ce_id", "i"},
        {"ce_type", "t"},
        {"ce_source", "/s"},
        {"content-type", "application/vnd.api+json"},
    };
    EXPECT_EQ(reason_of("{}", plus_json), "accepted");
    const record_header no_ct[] = {
        {"ce_specversion", "1.0"}, {"ce_id", "i"}, {"ce_type", "t"}, {"ce_source", "/s"}};
    EXPECT_EQ(code_of("<xml/>", no_ct), errc::invalid_json);
}

TEST(envelope, valid_traceparent_and_tracestate_are_kept)
{
    const record_header headers[] = {
        {"traceparent", valid_traceparent}, {"tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"}};
    auto r = parse_event(record(R"({"type":"a"})", headers));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->traceparent(), valid_traceparent);
    EXPECT_EQ(r->tracestate(), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
}

TEST(envelope, invalid_traceparent_is_dropped_with_its_tracestate)
{
    const record_header headers[] = {{"traceparent", "00-xyz-00f067aa0ba902b7-01"}, {"tracestate", "a=b"}};
    auto r = parse_event(record(R"({"type":"a"})", headers));
    ASSERT_TRUE(r) << "a bad trace header never rejects the event";
    EXPECT_EQ(r->traceparent(), "");
    EXPECT_EQ(r->tracestate(), "");
}

TEST(envelope, invalid_tracestate_alone_is_dropped)
{
    const record_header headers[] = {{"traceparent", valid_traceparent}, {"tracestate", "no-equals-sign"}};
    auto r = parse_event(record(R"({"type":"a"})", headers));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->traceparent(), valid_traceparent);
    EXPECT_EQ(r->tracestate(), "");
}

TEST(traceparent, validation)
{
    using relay::event::is_valid_traceparent;
    EXPECT_TRUE(is_valid_traceparent(valid_traceparent));
    EXPECT_TRUE(is_valid_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
    // A later version may append fields.
    EXPECT_TRUE(is_valid_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"));
    EXPECT_FALSE(is_valid_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"));
    EXPECT_FALSE(is_valid_traceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    EXPECT_FALSE(is_valid_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
    EXPECT_FALSE(is_valid_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));
    EXPECT_FALSE(is_valid_traceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"));
    EXPECT_FALSE(is_valid_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"));
    EXPECT_FALSE(is_valid_traceparent(""));
}

TEST(tracestate, validation)
{
    using relay::event::is_valid_tracestate;
    EXPECT_TRUE(is_valid_tracestate(""));
    EXPECT_TRUE(is_valid_tracestate("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE"));
    EXPECT_FALSE(is_valid_tracestate("=value"));
    EXPECT_FALSE(is_valid_tracestate("key="));
    EXPECT_FALSE(is_valid_tracestate("k=v\x01"));
    EXPECT_FALSE(is_valid_tracestate(std::string(513, 'a')));
    std::string many;
    for (int i = 0; i < 33; ++i)
        many += "k" + std::to_string(i) + "=v,";
    EXPECT_FALSE(is_valid_tracestate(many));
}

TEST(envelope, header_names_are_case_insensitive_and_last_wins)
{
    const record_header headers[] = {{"TraceParent", "garbage"}, {"traceparent", valid_traceparent}};
    auto r = parse_event(record(R"({"type":"a"})", headers));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->traceparent(), valid_traceparent);
}

TEST(envelope, key_is_borrowed_from_the_record)
{
    const std::string key = "order-17";
    auto rec = record(R"({"type":"a"})");
    rec.key = key;
    auto r = parse_event(rec);
    ASSERT_TRUE(r);
    ASSERT_TRUE(r->key());
    EXPECT_EQ(r->key()->data(), key.data());
    rec.key.reset();
    EXPECT_FALSE(parse_event(rec)->key());
}

TEST(envelope, value_of_a_failed_result_throws_with_the_reason)
{
    auto r = parse_event(record("[]"));
    ASSERT_FALSE(r);
    EXPECT_THROW((void)r.value(), std::invalid_argument);
}

TEST(envelope, error_code_names_the_class)
{
    const boost::system::error_code ec = errc::too_deep;
    EXPECT_STREQ(ec.category().name(), "relay.event");
    EXPECT_EQ(ec.message(), "too_deep");
}

TEST(envelope, read_trace_context_applies_parse_event_rules_to_bare_headers)
{
    const record_header headers[] = {
        {"TraceParent", "garbage"}, {"traceparent", valid_traceparent}, {"tracestate", "congo=t61rcWkgMzE"}};
    const auto t = read_trace_context(headers);
    EXPECT_EQ(t.traceparent, valid_traceparent); // the last one wins, names case-insensitive
    EXPECT_EQ(t.tracestate, "congo=t61rcWkgMzE");

    const record_header invalid[] = {{"traceparent", "00-zz"}, {"tracestate", "congo=t61rcWkgMzE"}};
    const auto none = read_trace_context(invalid);
    EXPECT_TRUE(none.traceparent.empty());
    EXPECT_TRUE(none.tracestate.empty()); // no tracestate without a valid traceparent
}

} // namespace
