#include "relay/subscription/time.hpp"

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using relay::subscription::format_duration;
using relay::subscription::format_timestamp;
using relay::subscription::parse_duration;
using relay::subscription::parse_timestamp;
using relay::subscription::timestamp;

TEST(duration, parses_each_unit)
{
    EXPECT_EQ(parse_duration("250ms"), 250ms);
    EXPECT_EQ(parse_duration("5s"), 5s);
    EXPECT_EQ(parse_duration("5m"), 5min);
    EXPECT_EQ(parse_duration("2h"), 2h);
}

TEST(duration, refuses_malformed_text)
{
    for (const char* bad : {"", "5", "s", "-5s", "5 s", " 5s", "1.5s", "5d", "5S", "99999999999h"})
        EXPECT_FALSE(parse_duration(bad)) << bad;
}

TEST(duration, formats_with_the_largest_exact_unit)
{
    EXPECT_EQ(format_duration(2h), "2h");
    EXPECT_EQ(format_duration(90min), "90m");
    EXPECT_EQ(format_duration(5s), "5s");
    EXPECT_EQ(format_duration(1500ms), "1500ms");
    EXPECT_EQ(format_duration(0ms), "0ms");
}

TEST(timestamp, parses_utc_and_offsets_to_the_same_instant)
{
    const auto utc = parse_timestamp("2024-05-01T12:00:00Z");
    ASSERT_TRUE(utc);
    EXPECT_EQ(parse_timestamp("2024-05-01T14:00:00+02:00"), utc);
    EXPECT_EQ(parse_timestamp("2024-05-01t09:30:00-02:30"), utc);
    EXPECT_EQ(utc->time_since_epoch(), 1714564800000ms);
}

TEST(timestamp, keeps_milliseconds_and_truncates_finer_fractions)
{
    const auto t = parse_timestamp("2024-05-01T12:00:00.123456Z");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->time_since_epoch() % 1s, 123ms);
    EXPECT_EQ(parse_timestamp("2024-05-01T12:00:00.5Z")->time_since_epoch() % 1s, 500ms);
}

TEST(timestamp, refuses_invalid_dates_and_forms)
{
    for (const char* bad :
         {"2024-02-30T00:00:00Z",
          "2024-05-01T24:00:00Z",
          "2024-05-01T12:00:60Z",
          "2024-05-01 12:00:00Z",
          "2024-05-01T12:00:00",
          "2024-05-01T12:00:00.Z",
          "2024-05-01T12:00:00+0200",
          "2024-5-01T12:00:00Z",
          "2024-05-01T12:00:00Zx",
          ""})
        EXPECT_FALSE(parse_timestamp(bad)) << bad;
}

TEST(timestamp, formats_in_utc_and_round_trips)
{
    const timestamp t = *parse_timestamp("2024-02-29T23:59:59.007+00:00");
    EXPECT_EQ(format_timestamp(t), "2024-02-29T23:59:59.007Z");
    EXPECT_EQ(parse_timestamp(format_timestamp(t)), t);
    EXPECT_EQ(format_timestamp(*parse_timestamp("1969-12-31T23:00:00Z")), "1969-12-31T23:00:00Z");
}

} // namespace
