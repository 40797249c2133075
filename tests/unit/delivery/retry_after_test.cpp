#include "relay/delivery/retry_after.hpp"

#include <gtest/gtest.h>

namespace {

using namespace std::chrono;
using relay::delivery::max_retry_after;
using relay::delivery::parse_retry_after;

// 1994-11-06 08:49:00.250 UTC
const system_clock::time_point now = sys_days{1994y / November / 6} + 8h + 49min + 250ms;

TEST(retry_after, delta_seconds)
{
    EXPECT_EQ(parse_retry_after("120", now), 120s);
    EXPECT_EQ(parse_retry_after("0", now), 0s);
    EXPECT_EQ(parse_retry_after(" 7\t", now), 7s);
    EXPECT_EQ(parse_retry_after("007", now), 7s);
}

TEST(retry_after, huge_delta_saturates)
{
    EXPECT_EQ(parse_retry_after("2147483647", now), max_retry_after);
    EXPECT_EQ(parse_retry_after("2147483648", now), max_retry_after);
    EXPECT_EQ(parse_retry_after("99999999999999999999999999999999", now), max_retry_after);
}

TEST(retry_after, imf_fixdate)
{
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), 37s); // 36.75 s rounded up
    EXPECT_EQ(parse_retry_after("Mon, 07 Nov 1994 08:49:00 GMT", now), 86400s);
}

TEST(retry_after, rfc850_date)
{
    EXPECT_EQ(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now), 37s);
}

TEST(retry_after, rfc850_two_digit_year_is_interpreted_relative_to_now)
{
    // From 2030, "29" is 2029 (the past), not 2129, and "80" is 2080 (within 50 years).
    const system_clock::time_point in_2030 = sys_days{2030y / January / 1};
    EXPECT_EQ(parse_retry_after("Monday, 01-Jan-29 00:00:00 GMT", in_2030), 0s);
    EXPECT_EQ(
        parse_retry_after("Monday, 01-Jan-80 00:00:00 GMT", in_2030),
        duration_cast<seconds>(sys_days{2080y / January / 1} - sys_days{2030y / January / 1})
    );
    EXPECT_EQ(parse_retry_after("Friday, 01-Jan-99 00:00:00 GMT", in_2030), 0s); // 1999, not 2099
}

TEST(retry_after, asctime_date)
{
    EXPECT_EQ(parse_retry_after("Sun Nov  6 08:49:37 1994", now), 37s);
    EXPECT_EQ(parse_retry_after("Sun Nov 06 08:49:37 1994", now), 37s);
}

TEST(retry_after, names_are_case_insensitive_and_weekday_is_not_checked)
{
    EXPECT_EQ(parse_retry_after("SUN, 06 NOV 1994 08:49:37 GMT", now), 37s);
    EXPECT_EQ(parse_retry_after("Wed, 06 Nov 1994 08:49:37 GMT", now), 37s);
}

TEST(retry_after, past_dates_are_zero)
{
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now), 0s);
    EXPECT_EQ(parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", now), 0s);
    EXPECT_EQ(parse_retry_after("Sat, 01 Jan 0000 00:00:00 GMT", now), 0s);
}

TEST(retry_after, far_future_dates_saturate_without_overflow)
{
    EXPECT_EQ(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now), max_retry_after);
}

TEST(retry_after, garbage_is_rejected)
{
    for (const char* v : {
             "",
             "   ",
             "-1",
             "+5",
             "1.5",
             "5s",
             "12 34",
             "0x10",
             "soon",
             "Sun, 06 Nov 1994 08:49:37",     // no zone
             "Sun, 06 Nov 1994 08:49:37 UTC", // only GMT
             "Sun, 6 Nov 1994 08:49:37 GMT",  // IMF-fixdate day is 2 digits
             "Sun, 31 Feb 1994 08:49:37 GMT", // no such day
             "Sun, 06 Nov 1994 25:49:37 GMT",
             "Sun, 06 Foo 1994 08:49:37 GMT",
             "Xyz, 06 Nov 1994 08:49:37 GMT",
             "Sun, 06 Nov 1994 08:49:37 GMT extra",
             "Sunday, 06-Nov-1994 08:49:37 GMT",
             "Sun Nov 6 08:49:37 1994",
         }) {
        EXPECT_FALSE(parse_retry_after(v, now)) << '"' << v << '"';
    }
}

} // namespace
