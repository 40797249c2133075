#include "relay/delivery/parking.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace relay::delivery {
namespace {

using header_list = std::vector<event::record_header>;

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
    st.attempts = 2;
    st.first_attempt_ms = 1700000000000;
    st.last_status = 503;
    st.last_error = "server_error";
    st.origin = {"relay.events", 3, 42};
    return st;
}

header_list as_views(const kafka::record& r)
{
    header_list out;
    for (const auto& [n, v] : r.headers)
        out.push_back({n, v});
    return out;
}

TEST(Parking, RetryRecordKeepsKeyValueAndOriginalHeadersAndRoundTrips)
{
    const header_list original = {{"traceparent", "00-abc"}, {"ce_type", "x"}, {"relay-attempt", "9"}};
    const auto r = make_retry_record(
        "relay.retry.5s",
        {std::string_view("order-7"), std::string_view("{\"type\":\"a\"}"), original},
        sample_state(),
        1700000005000
    );
    EXPECT_EQ(r.topic, "relay.retry.5s");
    EXPECT_EQ(r.key, "order-7");
    EXPECT_EQ(r.value, "{\"type\":\"a\"}");
    EXPECT_EQ(find(r, "traceparent"), "00-abc");
    EXPECT_EQ(find(r, "ce_type"), "x");
    // The stale relay-attempt of the original is dropped, the new one is attempts + 1.
    EXPECT_EQ(
        std::count_if(r.headers.begin(), r.headers.end(), [](auto& h) { return h.first == "relay-attempt"; }),
        1
    );
    EXPECT_EQ(find(r, header::attempt), "3");
    EXPECT_EQ(find(r, header::not_before), "1700000005000");

    const auto parsed = parse_retry_record(as_views(r));
    ASSERT_TRUE(parsed) << parsed.error();
    EXPECT_EQ(parsed->not_before_ms, 1700000005000);
    EXPECT_EQ(parsed->state.attempts, 2u);
    EXPECT_EQ(parsed->state.subscription_id, "sub_1");
    EXPECT_EQ(parsed->state.event_id, "evt_1");
    EXPECT_EQ(parsed->state.first_attempt_ms, 1700000000000);
    EXPECT_EQ(parsed->state.last_status, 503u);
    EXPECT_EQ(parsed->state.last_error, "server_error");
    EXPECT_EQ(parsed->state.origin.topic, "relay.events");
    EXPECT_EQ(parsed->state.origin.partition, 3);
    EXPECT_EQ(parsed->state.origin.offset, 42);
}

TEST(Parking, DlqRecordCarriesReasonErrorAndAttempts)
{
    const auto r = make_dlq_record(
        "relay.dlq",
        {std::nullopt, std::string_view("{}"), {}},
        sample_state(),
        {dlq_reason::exhausted, "8 attempts failed; last: HTTP 503", 1700000009000, std::nullopt}
    );
    EXPECT_FALSE(r.key);
    EXPECT_EQ(r.value, "{}");
    EXPECT_EQ(find(r, header::reason), "exhausted");
    EXPECT_EQ(find(r, header::error), "8 attempts failed; last: HTTP 503");
    EXPECT_EQ(find(r, header::attempt), "2");
    EXPECT_EQ(find(r, header::failed_at), "1700000009000");
    EXPECT_EQ(find(r, header::last_status), "503");
    EXPECT_EQ(find(r, header::origin_offset), "42");
    EXPECT_FALSE(find(r, header::not_before));
}

TEST(Parking, InvalidEventDlqRecordHasNoIdsAndMayOmitTheValue)
{
    delivery_state st;
    st.origin = {"in", 0, 7};
    const auto r = make_dlq_record(
        "relay.dlq",
        {std::nullopt, std::string_view("huge"), {}},
        st,
        {dlq_reason::invalid_event, "event is 10485760 bytes, limit 1048576", 1, std::size_t{10485760}}
    );
    EXPECT_FALSE(r.value);
    EXPECT_EQ(find(r, header::value_omitted), "10485760");
    EXPECT_FALSE(find(r, header::subscription_id));
    EXPECT_FALSE(find(r, header::event_id));
    EXPECT_FALSE(find(r, header::last_status));
    EXPECT_EQ(find(r, header::reason), "invalid_event");
}

TEST(Parking, RetryRecordWithoutRelayHeadersIsRejectedWithTheMissingHeader)
{
    const auto r = parse_retry_record(header_list{{"traceparent", "x"}});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), "missing header relay-subscription-id");
}

TEST(Parking, MalformedNumbersAreRejected)
{
    auto rec = make_retry_record("t", {}, sample_state(), 5);
    for (auto& [n, v] : rec.headers) {
        if (n == header::origin_offset)
            v = "12x";
    }
    const auto r = parse_retry_record(as_views(rec));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), "malformed header relay-origin-offset");
}

TEST(Parking, ReasonNames)
{
    EXPECT_EQ(to_string(dlq_reason::permanent_status), "permanent_status");
    EXPECT_EQ(to_string(dlq_reason::gone), "gone");
    EXPECT_EQ(to_string(dlq_reason::disabled), "disabled");
}

} // namespace
} // namespace relay::delivery
