// The demo receiver's line pieces: terminal-safe text, /status/<code> paths, retry_after queries.
#include "relay/dev/demo_receiver.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using relay::dev::detail::printable;
using relay::dev::detail::retry_after_from_query;
using relay::dev::detail::status_for_path;

TEST(demo_printable, keeps_plain_text_and_utf8)
{
    EXPECT_EQ(printable(R"({"type":"order.created"})", 160), R"({"type":"order.created"})");
    EXPECT_EQ(
        printable("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 160),
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"
    );
}

TEST(demo_printable, folds_line_breaks_and_tabs_into_one_space)
{
    EXPECT_EQ(printable("{\n  \"a\": 1,\r\n\t\"b\": 2\n}", 160), "{ \"a\": 1, \"b\": 2 }");
}

TEST(demo_printable, replaces_escape_sequences_and_other_controls)
{
    EXPECT_EQ(
        printable(
            "a\x1b[2Jb\x07"
            "c\x7f"
            "d",
            160
        ),
        "a?[2Jb?c?d"
    );
    EXPECT_EQ(printable(std::string("a\0b", 3), 160), "a?b");
    // C1 control U+009B (CSI) encoded in UTF-8, and a right-to-left override U+202E.
    EXPECT_EQ(
        printable(
            "x\xc2\x9b"
            "1m y\xe2\x80\xae"
            "z",
            160
        ),
        "x?1m y?z"
    );
}

TEST(demo_printable, replaces_invalid_utf8)
{
    EXPECT_EQ(
        printable(
            "a\xff"
            "b",
            160
        ),
        "a?b"
    );
    EXPECT_EQ(printable("a\xc3", 160), "a?"); // truncated sequence
    EXPECT_EQ(
        printable(
            "a\xc0\xaf"
            "b",
            160
        ),
        "a??b"
    ); // overlong '/'
    EXPECT_EQ(
        printable(
            "a\xed\xa0\x80"
            "b",
            160
        ),
        "a???b"
    ); // UTF-16 surrogate
}

TEST(demo_printable, cuts_at_a_character_boundary_and_marks_it)
{
    EXPECT_EQ(printable("abcdef", 6), "abcdef");
    EXPECT_EQ(printable("abcdefg", 6), "abcdef...");
    // "\xc3\xa9" would straddle the limit: cut before it.
    EXPECT_EQ(printable("abcde\xc3\xa9z", 6), "abcde...");
    const std::string body(1000, 'x');
    EXPECT_EQ(printable(body, 160), std::string(160, 'x') + "...");
}

TEST(demo_status_path, ordinary_paths_answer_200)
{
    EXPECT_EQ(status_for_path("/"), 200u);
    EXPECT_EQ(status_for_path("/orders"), 200u);
    EXPECT_EQ(status_for_path("/status"), 200u);
    EXPECT_EQ(status_for_path("/hooks/status/503"), 200u);
}

TEST(demo_status_path, status_paths_answer_their_code)
{
    EXPECT_EQ(status_for_path("/status/503"), 503u);
    EXPECT_EQ(status_for_path("/status/400"), 400u);
    EXPECT_EQ(status_for_path("/status/410"), 410u);
    EXPECT_EQ(status_for_path("/status/200"), 200u);
    EXPECT_EQ(status_for_path("/status/599"), 599u);
    EXPECT_EQ(status_for_path("/status/429/orders"), 429u);
}

TEST(demo_status_path, invalid_codes_are_zero)
{
    for (const char* path :
         {"/status/",
          "/status/abc",
          "/status/199",
          "/status/600",
          "/status/5030",
          "/status/50",
          "/status/+50",
          "/status/5 3",
          "/status//503"}) {
        EXPECT_EQ(status_for_path(path), 0u) << path;
    }
}

TEST(demo_retry_after, only_digits_are_taken)
{
    EXPECT_EQ(retry_after_from_query("retry_after=2"), "2");
    EXPECT_EQ(retry_after_from_query("x=1&retry_after=120&y=2"), "120");
    EXPECT_EQ(retry_after_from_query(""), "");
    EXPECT_EQ(retry_after_from_query("retry_after="), "");
    EXPECT_EQ(retry_after_from_query("retry_after=-1"), "");
    EXPECT_EQ(retry_after_from_query("retry_after=2%0d%0aX:1"), "");
    EXPECT_EQ(retry_after_from_query("retry_after=1234567890"), "");
    EXPECT_EQ(retry_after_from_query("not_retry_after=5"), "");
}

} // namespace
