#include "relay/event/duration.hpp"

#include <gtest/gtest.h>

namespace {

using namespace std::chrono;
using relay::event::format_duration;
using relay::event::parse_duration;

TEST(duration, parses_each_unit)
{
    EXPECT_EQ(parse_duration("250ms"), 250ms);
    EXPECT_EQ(parse_duration("5s"), 5s);
    EXPECT_EQ(parse_duration("5m"), 5min);
    EXPECT_EQ(parse_duration("2h"), 2h);
    EXPECT_EQ(parse_duration("1d"), 24h);
    EXPECT_EQ(parse_duration("0s"), 0ms);
}

TEST(duration, parses_compound_values)
{
    EXPECT_EQ(parse_duration("1h30m"), 90min);
    EXPECT_EQ(parse_duration("1s500ms"), 1500ms);
    EXPECT_EQ(parse_duration("1d2h3m4s5ms"), 24h + 2h + 3min + 4s + 5ms);
}

TEST(duration, rejects_malformed_values)
{
    for (const char* s :
         {"", "5", "s", "-5s", "+5s", "1.5h", "5 s", " 5s", "5s ", "5sec", "5S", "5mss", "5y", "h5"})
        EXPECT_FALSE(parse_duration(s)) << s;
}

TEST(duration, rejects_overflow)
{
    EXPECT_FALSE(parse_duration("99999999999999999999s"));
    EXPECT_FALSE(parse_duration("9223372036854775807d"));
    EXPECT_FALSE(parse_duration("9223372036854775807ms1ms"));
    EXPECT_EQ(parse_duration("9223372036854775807ms"), milliseconds::max());
}

TEST(duration, formats_the_shortest_spelling)
{
    EXPECT_EQ(format_duration(5s), "5s");
    EXPECT_EQ(format_duration(5min), "5m");
    EXPECT_EQ(format_duration(30min), "30m");
    EXPECT_EQ(format_duration(2h), "2h");
    EXPECT_EQ(format_duration(10h), "10h");
    EXPECT_EQ(format_duration(90min), "1h30m");
    EXPECT_EQ(format_duration(24h), "1d");
    EXPECT_EQ(format_duration(1500ms), "1s500ms");
    EXPECT_EQ(format_duration(250ms), "250ms");
    EXPECT_EQ(format_duration(0ms), "0s");
    EXPECT_EQ(format_duration(-5s), "-5s");
    EXPECT_EQ(format_duration(milliseconds::min()), "-106751991167d7h12m55s808ms");
}

TEST(duration, format_round_trips_through_parse)
{
    for (milliseconds d : std::initializer_list<milliseconds>{
             1ms, 999ms, 1s, 61s, 3599s, 3600s, 86'399'999ms, 86'400'000ms, 123'456'789'012ms})
        EXPECT_EQ(parse_duration(format_duration(d)), d) << format_duration(d);
}

} // namespace
