// DLQ records read back (parse_dlq_record), filters, the redrive record and the JSON form of an entry: pure
// logic, no Kafka.
#include "relay/delivery/dlq.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace relay::delivery {
namespace {

using header_list = std::vector<event::record_header>;

header_list as_views(const kafka::record& r)
{
    header_list out;
    for (const auto& [n, v] : r.headers)
        out.push_back({n, v});
    return out;
}

std::optional<std::string> find(const kafka::record& r, std::string_view name)
{
    std::optional<std::string> out;
    for (const auto& [n, v] : r.headers) {
        if (n == name)
            out = v;
    }
    return out;
}

delivery_state sample_state()
{
    delivery_state st;
    st.subscription_id = "sub_1";
    st.event_id = "evt_1";
    st.attempts = 8;
    st.first_attempt_ms = 1700000000000;
    st.last_status = 503;
    st.last_error = "server_error";
    st.origin = {"relay.events", 3, 42};
    return st;
}

dlq_details sample_details()
{
    return {dlq_reason::exhausted, "8 attempts failed, last: 503", 1700000100000, std::nullopt};
}

const header_list original_headers = {{"traceparent", "00-abc-01"}, {"ce_type", "order.created"}};

kafka::record sample_dlq_record(
    const delivery_state& st = sample_state(), const dlq_details& d = sample_details(), bool with_value = true
)
{
    return make_dlq_record(
        "relay.dlq",
        {std::string_view("order-7"),
         with_value ? std::optional<std::string_view>("{\"type\":\"order.created\"}") : std::nullopt,
         original_headers},
        st,
        d
    );
}

// An entry as a scan builds it from `r`.
dlq_entry entry_of(const kafka::record& r)
{
    dlq_entry e;
    e.partition = 1;
    e.offset = 17;
    e.key = r.key;
    e.value = r.value;
    e.value_size = r.value ? r.value->size() : 0;
    for (const auto& [n, v] : r.headers) {
        if (!n.starts_with(header::prefix))
            e.headers.emplace_back(n, v);
    }
    auto parsed = parse_dlq_record(as_views(r));
    if (parsed)
        e.record = *parsed;
    else
        e.problem = parsed.error();
    return e;
}

TEST(DlqRecord, RoundTripsEveryField)
{
    const auto parsed = parse_dlq_record(as_views(sample_dlq_record()));
    ASSERT_TRUE(parsed) << parsed.error();
    EXPECT_EQ(parsed->state.subscription_id, "sub_1");
    EXPECT_EQ(parsed->state.event_id, "evt_1");
    EXPECT_EQ(parsed->state.attempts, 8u);
    EXPECT_EQ(parsed->state.first_attempt_ms, 1700000000000);
    EXPECT_EQ(parsed->state.last_status, 503u);
    EXPECT_EQ(parsed->state.last_error, "server_error");
    EXPECT_EQ(parsed->state.origin.topic, "relay.events");
    EXPECT_EQ(parsed->state.origin.partition, 3);
    EXPECT_EQ(parsed->state.origin.offset, 42);
    EXPECT_EQ(parsed->details.reason, dlq_reason::exhausted);
    EXPECT_EQ(parsed->details.error, "8 attempts failed, last: 503");
    EXPECT_EQ(parsed->details.failed_at_ms, 1700000100000);
    EXPECT_FALSE(parsed->details.omitted_value_size);
}

TEST(DlqRecord, RoundTripsAnInvalidEventWithoutIdsAndAnOmittedValue)
{
    delivery_state st;
    st.origin = {"relay.events", 0, 9};
    dlq_details d{dlq_reason::invalid_event, "not JSON", 1700000200000, std::size_t{5000000}};
    const auto parsed = parse_dlq_record(as_views(sample_dlq_record(st, d)));
    ASSERT_TRUE(parsed) << parsed.error();
    EXPECT_TRUE(parsed->state.subscription_id.empty());
    EXPECT_TRUE(parsed->state.event_id.empty());
    EXPECT_EQ(parsed->state.attempts, 0u);
    EXPECT_EQ(parsed->details.reason, dlq_reason::invalid_event);
    EXPECT_EQ(parsed->details.omitted_value_size, std::optional<std::size_t>(5000000));
}

TEST(DlqRecord, EveryReasonRoundTrips)
{
    for (const auto r :
         {dlq_reason::invalid_event,
          dlq_reason::permanent_status,
          dlq_reason::permanent_error,
          dlq_reason::gone,
          dlq_reason::exhausted,
          dlq_reason::disabled,
          dlq_reason::invalid_retry_record}) {
        EXPECT_EQ(parse_dlq_reason(to_string(r)), r);
        auto d = sample_details();
        d.reason = r;
        const auto parsed = parse_dlq_record(as_views(sample_dlq_record(sample_state(), d)));
        ASSERT_TRUE(parsed) << parsed.error();
        EXPECT_EQ(parsed->details.reason, r);
    }
    EXPECT_FALSE(parse_dlq_reason("Exhausted"));
    EXPECT_FALSE(parse_dlq_reason(""));
}

TEST(DlqRecord, MissingOrMalformedHeadersAreNamed)
{
    const auto without = [](std::string_view name) {
        auto r = sample_dlq_record();
        std::erase_if(r.headers, [&](const auto& h) { return h.first == name; });
        return r;
    };
    for (const auto name : {header::reason, header::attempt, header::failed_at}) {
        const auto parsed = parse_dlq_record(as_views(without(name)));
        ASSERT_FALSE(parsed) << name;
        EXPECT_EQ(parsed.error(), "missing header " + std::string(name));
    }
    auto bad = sample_dlq_record();
    bad.headers.emplace_back(std::string(header::failed_at), "yesterday");
    auto parsed = parse_dlq_record(as_views(bad));
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error(), "malformed header relay-failed-at");

    bad = sample_dlq_record();
    bad.headers.emplace_back(std::string(header::reason), "bored");
    parsed = parse_dlq_record(as_views(bad));
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error(), "unknown relay-reason 'bored'");

    // A record without any of Relay's headers (not written by Relay).
    parsed = parse_dlq_record(original_headers);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error(), "missing header relay-reason");
}

TEST(DlqFilter, EmptyFilterMatchesEverythingIncludingInvalidRecords)
{
    EXPECT_TRUE(matches({}, entry_of(sample_dlq_record())));
    dlq_entry invalid;
    invalid.problem = "missing header relay-reason";
    EXPECT_TRUE(matches({}, invalid));
    EXPECT_TRUE(matches({.limit = 1}, invalid));
    EXPECT_FALSE(matches({.subscription_id = "sub_1"}, invalid));
    EXPECT_FALSE(matches({.reason = dlq_reason::exhausted}, invalid));
    EXPECT_FALSE(matches({.since_ms = 0}, invalid));
    EXPECT_FALSE(matches({.until_ms = 1}, invalid));
}

TEST(DlqFilter, SubscriptionAndReasonMustBeEqual)
{
    const auto e = entry_of(sample_dlq_record());
    EXPECT_TRUE(matches({.subscription_id = "sub_1"}, e));
    EXPECT_FALSE(matches({.subscription_id = "sub_2"}, e));
    EXPECT_FALSE(matches({.subscription_id = "sub_"}, e));
    EXPECT_TRUE(matches({.reason = dlq_reason::exhausted}, e));
    EXPECT_FALSE(matches({.reason = dlq_reason::gone}, e));
    EXPECT_TRUE(matches({.subscription_id = "sub_1", .reason = dlq_reason::exhausted}, e));
    EXPECT_FALSE(matches({.subscription_id = "sub_1", .reason = dlq_reason::gone}, e));

    delivery_state no_sub;
    const auto invalid_event =
        entry_of(sample_dlq_record(no_sub, {dlq_reason::invalid_event, "not JSON", 1, std::nullopt}));
    EXPECT_FALSE(matches({.subscription_id = ""}, invalid_event));
    EXPECT_FALSE(matches({.subscription_id = "sub_1"}, invalid_event));
    EXPECT_TRUE(matches({.reason = dlq_reason::invalid_event}, invalid_event));
}

TEST(DlqFilter, SinceIsInclusiveUntilIsExclusive)
{
    const auto e = entry_of(sample_dlq_record()); // failed at 1700000100000
    EXPECT_TRUE(matches({.since_ms = 1700000100000}, e));
    EXPECT_FALSE(matches({.since_ms = 1700000100001}, e));
    EXPECT_TRUE(matches({.until_ms = 1700000100001}, e));
    EXPECT_FALSE(matches({.until_ms = 1700000100000}, e));
    EXPECT_TRUE(matches({.since_ms = 1700000000000, .until_ms = 1700000200000}, e));
}

TEST(Redrive, RecordIsAFreshFirstAttemptWithTheSameIdsKeyValueAndHeaders)
{
    const auto e = entry_of(sample_dlq_record());
    std::string skip;
    const auto r = make_redrive_record(e, "relay.retry.5s", 1700000300000, skip);
    ASSERT_TRUE(r) << skip;
    EXPECT_TRUE(skip.empty());
    EXPECT_EQ(r->topic, "relay.retry.5s");
    EXPECT_EQ(r->key, "order-7");
    EXPECT_EQ(r->value, "{\"type\":\"order.created\"}");
    EXPECT_EQ(find(*r, "traceparent"), "00-abc-01");
    EXPECT_EQ(find(*r, "ce_type"), "order.created");
    EXPECT_EQ(find(*r, header::attempt), "1");
    EXPECT_EQ(find(*r, header::not_before), "1700000300000");
    EXPECT_EQ(find(*r, header::first_attempt), "1700000300000");
    EXPECT_EQ(find(*r, header::subscription_id), "sub_1");
    EXPECT_EQ(find(*r, header::event_id), "evt_1");
    // The DLQ's own headers do not travel back, nor does the previous cycle's last status.
    EXPECT_FALSE(find(*r, header::reason));
    EXPECT_FALSE(find(*r, header::failed_at));
    EXPECT_FALSE(find(*r, header::last_status));
    EXPECT_EQ(
        std::count_if(
            r->headers.begin(), r->headers.end(), [](auto& h) { return h.first == "relay-attempt"; }
        ),
        1
    );

    // The worker reads it as a retry record due now, with no attempt made yet and the origin kept.
    const auto parsed = parse_retry_record(as_views(*r));
    ASSERT_TRUE(parsed) << parsed.error();
    EXPECT_EQ(parsed->state.attempts, 0u);
    EXPECT_EQ(parsed->not_before_ms, 1700000300000);
    EXPECT_EQ(parsed->state.subscription_id, "sub_1");
    EXPECT_EQ(parsed->state.event_id, "evt_1");
    EXPECT_EQ(parsed->state.origin.topic, "relay.events");
    EXPECT_EQ(parsed->state.origin.partition, 3);
    EXPECT_EQ(parsed->state.origin.offset, 42);
}

TEST(Redrive, RecordsThatCannotBeRedrivenSaySo)
{
    std::string skip;
    delivery_state no_sub;
    EXPECT_FALSE(make_redrive_record(
        entry_of(sample_dlq_record(no_sub, {dlq_reason::invalid_event, "x", 1, std::nullopt})), "t", 1, skip
    ));
    EXPECT_EQ(skip, "no_subscription");

    auto st = sample_state();
    st.event_id.clear();
    EXPECT_FALSE(make_redrive_record(entry_of(sample_dlq_record(st)), "t", 1, skip));
    EXPECT_EQ(skip, "no_event_id");

    auto d = sample_details();
    d.omitted_value_size = 2000000;
    EXPECT_FALSE(make_redrive_record(entry_of(sample_dlq_record(sample_state(), d)), "t", 1, skip));
    EXPECT_EQ(skip, "value_omitted");

    EXPECT_FALSE(make_redrive_record(
        entry_of(sample_dlq_record(sample_state(), sample_details(), false)), "t", 1, skip
    ));
    EXPECT_EQ(skip, "no_value");

    dlq_entry invalid;
    invalid.value = "{}";
    invalid.problem = "missing header relay-reason";
    EXPECT_FALSE(make_redrive_record(invalid, "t", 1, skip));
    EXPECT_EQ(skip, "invalid_record");
}

TEST(DlqJson, ShowsTheRecordWithoutItsValueUnlessAsked)
{
    const auto e = entry_of(sample_dlq_record());
    const auto j = to_json(e);
    for (const auto* part :
         {"\"partition\":1",
          "\"offset\":17",
          "\"key\":\"order-7\"",
          "\"value_bytes\":24",
          "\"value_omitted\":false",
          "\"subscription_id\":\"sub_1\"",
          "\"event_id\":\"evt_1\"",
          "\"reason\":\"exhausted\"",
          "\"last_status\":503",
          "\"attempts\":8",
          "\"failed_at\":\"2023-11-14T22:15:00.000Z\"",
          "\"failed_at_ms\":1700000100000",
          "\"origin\":{\"topic\":\"relay.events\",\"partition\":3,\"offset\":42}"}) {
        EXPECT_NE(j.find(part), std::string::npos) << part << " not in " << j;
    }
    EXPECT_EQ(j.find("order.created\\\""), std::string::npos) << j;
    EXPECT_EQ(j.find("\"value\""), std::string::npos) << j;
    EXPECT_NE(to_json(e, true).find("\"value\":\"{\\\"type\\\":\\\"order.created\\\"}\""), std::string::npos);
}

TEST(DlqJson, InvalidRecordsShowTheProblemAndBytesAreEscaped)
{
    dlq_entry e;
    e.key = std::string("a\nb\x01", 4);
    e.value = std::string("\xff\"", 2);
    e.value_size = 2;
    e.problem = "missing header relay-reason";
    const auto j = to_json(e, true);
    EXPECT_NE(j.find("\"problem\":\"missing header relay-reason\""), std::string::npos) << j;
    EXPECT_NE(j.find("\"key\":\"a\\nb\\u0001\""), std::string::npos) << j;
    EXPECT_EQ(j.find('\n'), std::string::npos);
    EXPECT_EQ(j.find('\xff'), std::string::npos);
    EXPECT_EQ(j.find("\"reason\""), std::string::npos);
}

} // namespace
} // namespace relay::delivery
