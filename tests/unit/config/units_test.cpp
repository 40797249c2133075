#include "relay/config/units.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace {

using namespace std::chrono_literals;
using relay::config::format_duration;
using relay::config::parse_duration;
using relay::config::parse_size;

TEST(config_parse_duration, reads_every_unit)
{
    EXPECT_EQ(parse_duration("250ms"), 250ms);
    EXPECT_EQ(parse_duration("5s"), 5s);
    EXPECT_EQ(parse_duration("5m"), 5min);
    EXPECT_EQ(parse_duration("2h"), 2h);
    EXPECT_EQ(parse_duration("1d"), 24h);
}

TEST(config_parse_duration, bare_number_is_seconds)
{
    EXPECT_EQ(parse_duration("30"), 30s);
    EXPECT_EQ(parse_duration("0"), 0ms);
}

TEST(config_parse_duration, combines_parts_and_ignores_surrounding_spaces)
{
    EXPECT_EQ(parse_duration("1h30m"), 90min);
    EXPECT_EQ(parse_duration("1s500ms"), 1500ms);
    EXPECT_EQ(parse_duration("  5s\t"), 5s);
}

TEST(config_parse_duration, rejects_malformed_text)
{
    for (const char* bad :
         {"",
          " ",
          "-5s",
          "+5s",
          "1.5h",
          "0.5s",
          "5 s",
          "5S",
          "5x",
          "1h30",
          "ms",
          "s5",
          "5sec",
          "1h 30m",
          "abc"})
        EXPECT_EQ(parse_duration(bad), std::nullopt) << bad;
}

TEST(config_parse_duration, rejects_overflow)
{
    EXPECT_EQ(parse_duration("99999999999999999999d"), std::nullopt);
    EXPECT_EQ(parse_duration("9223372036854776s"), std::nullopt); // just over int64 milliseconds
    EXPECT_EQ(parse_duration("106751991168d"), std::nullopt);
    EXPECT_EQ(parse_duration("9223372036854775807ms"), std::chrono::milliseconds::max());
}

TEST(config_format_duration, writes_shortest_spelling_that_reads_back)
{
    EXPECT_EQ(format_duration(0ms), "0s");
    EXPECT_EQ(format_duration(250ms), "250ms");
    EXPECT_EQ(format_duration(5min), "5m");
    EXPECT_EQ(format_duration(90min), "1h30m");
    EXPECT_EQ(format_duration(1500ms), "1s500ms");
    EXPECT_EQ(format_duration(24h * 30), "30d");
    EXPECT_EQ(format_duration(-5s), "-5s");
    for (const std::chrono::milliseconds d : std::initializer_list<std::chrono::milliseconds>{
             1ms, 999ms, 1000ms, 61s, 3601s, 86'400'001ms, std::chrono::milliseconds::max()})
        EXPECT_EQ(parse_duration(format_duration(d)), d) << format_duration(d);
}

TEST(config_parse_size, reads_bytes_and_binary_and_decimal_units)
{
    EXPECT_EQ(parse_size("65536"), 65536u);
    EXPECT_EQ(parse_size("64KiB"), 65536u);
    EXPECT_EQ(parse_size("1MiB"), 1048576u);
    EXPECT_EQ(parse_size("1 MiB"), 1048576u);
    EXPECT_EQ(parse_size("1mib"), 1048576u);
    EXPECT_EQ(parse_size("16Ki"), 16384u);
    EXPECT_EQ(parse_size("2GiB"), 2147483648u);
    EXPECT_EQ(parse_size("1KB"), 1000u);
    EXPECT_EQ(parse_size("1M"), 1000000u);
    EXPECT_EQ(parse_size("0"), 0u);
    EXPECT_EQ(parse_size("12B"), 12u);
}

TEST(config_parse_size, rejects_malformed_text_and_overflow)
{
    for (const char* bad : {"", "-1", "+1", "1.5MiB", "1XB", "MiB", "1 M iB", "0x10"})
        EXPECT_EQ(parse_size(bad), std::nullopt) << bad;
    EXPECT_EQ(parse_size("18446744073709551615"), std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(parse_size("18446744073709551616"), std::nullopt);
    EXPECT_EQ(parse_size("18014398509481984KiB"), std::nullopt);
}

} // namespace
