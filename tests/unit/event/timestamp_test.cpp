#include "relay/event/timestamp.hpp"

#include <gtest/gtest.h>

namespace {

using namespace std::chrono;
using relay::event::format_rfc3339;
using relay::event::parse_rfc3339;

TEST(rfc3339, utc_with_and_without_fraction)
{
    EXPECT_EQ(parse_rfc3339("1985-04-12T23:20:50Z"), sys_days{1985y / April / 12} + 23h + 20min + 50s);
    EXPECT_EQ(
        parse_rfc3339("1985-04-12T23:20:50.52Z"), sys_days{1985y / April / 12} + 23h + 20min + 50s + 520ms
    );
    EXPECT_EQ(
        parse_rfc3339("1985-04-12t23:20:50.000000001z"),
        sys_days{1985y / April / 12} + 23h + 20min + 50s + 1ns
    );
    // Digits past nanoseconds are ignored.
    EXPECT_EQ(
        parse_rfc3339("1985-04-12T23:20:50.1234567891234Z"),
        sys_days{1985y / April / 12} + 23h + 20min + 50s + 123456789ns
    );
    EXPECT_EQ(parse_rfc3339("1985-04-12 23:20:50Z"), sys_days{1985y / April / 12} + 23h + 20min + 50s);
}

TEST(rfc3339, offsets_are_applied)
{
    const auto utc = sys_days{1996y / December / 20} + 0h + 39min + 57s;
    EXPECT_EQ(parse_rfc3339("1996-12-19T16:39:57-08:00"), utc);
    EXPECT_EQ(parse_rfc3339("1996-12-20T01:39:57+01:00"), utc);
    EXPECT_EQ(parse_rfc3339("1996-12-20T00:39:57+00:00"), utc);
    EXPECT_EQ(parse_rfc3339("1996-12-20T00:39:57-00:00"), utc);
}

TEST(rfc3339, leap_day_and_leap_second)
{
    EXPECT_TRUE(parse_rfc3339("2024-02-29T00:00:00Z"));
    EXPECT_FALSE(parse_rfc3339("2023-02-29T00:00:00Z"));
    EXPECT_EQ(parse_rfc3339("1990-12-31T23:59:60Z"), sys_days{1991y / January / 1});
}

TEST(rfc3339, malformed_is_rejected)
{
    for (const char* s : {
             "",
             "2024-05-06",
             "2024-05-06T07:08:09",   // no offset
             "2024-05-06T07:08:09.Z", // empty fraction
             "2024-13-06T07:08:09Z",
             "2024-05-32T07:08:09Z",
             "2024-05-06T24:00:00Z",
             "2024-05-06T07:60:00Z",
             "2024-05-06T07:08:61Z",
             "2024-05-06T07:08:09+2:00",
             "2024-05-06T07:08:09+02",
             "2024-05-06T07:08:09+24:00",
             "2024-05-06T07:08:09Zjunk",
             "2024-5-06T07:08:09Z",
             "+2024-05-06T07:08:09Z",
             "2024/05/06T07:08:09Z",
             "2024-05-06X07:08:09Z",
         }) {
        EXPECT_FALSE(parse_rfc3339(s)) << s;
    }
}

TEST(rfc3339, instants_outside_the_clock_range_are_rejected)
{
    EXPECT_FALSE(parse_rfc3339("9999-12-31T23:59:59Z"));
    EXPECT_FALSE(parse_rfc3339("0001-01-01T00:00:00Z"));
    EXPECT_TRUE(parse_rfc3339("2200-01-01T00:00:00Z"));
    EXPECT_TRUE(parse_rfc3339("1700-01-01T00:00:00Z"));
}

TEST(rfc3339, format_is_utc_with_milliseconds_and_round_trips)
{
    const auto t = sys_days{2026y / January / 2} + 3h + 4min + 5s + 678ms;
    EXPECT_EQ(format_rfc3339(t), "2026-01-02T03:04:05.678Z");
    EXPECT_EQ(parse_rfc3339(format_rfc3339(t)), t);
    EXPECT_EQ(format_rfc3339(system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
}

} // namespace
