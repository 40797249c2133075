#include "relay/log/log.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <mutex>
#include <vector>

namespace {

using relay::log::level;

class capture_sink final : public relay::log::sink
{
public:
    void write(level, std::string_view line) override
    {
        std::lock_guard lock(mutex_);
        lines_.emplace_back(line);
    }
    std::vector<std::string> lines()
    {
        std::lock_guard lock(mutex_);
        return lines_;
    }

private:
    std::mutex mutex_;
    std::vector<std::string> lines_;
};

class log_test : public ::testing::Test
{
protected:
    void SetUp() override
    {
        sink_ = std::make_shared<capture_sink>();
        relay::log::set_sink(sink_);
        relay::log::set_level(level::info);
    }
    void TearDown() override
    {
        relay::log::set_sink(nullptr);
        relay::log::set_level(level::info);
    }
    std::shared_ptr<capture_sink> sink_;
};

TEST_F(log_test, writes_one_json_object_per_line_with_fields)
{
    relay::log::info("delivered", {{"subscription", "sub_1"}, {"status", 200}, {"ok", true}, {"secs", 0.25}});
    const auto lines = sink_->lines();
    ASSERT_EQ(lines.size(), 1u);
    rapidjson::Document d;
    d.Parse(lines[0].c_str());
    ASSERT_FALSE(d.HasParseError()) << lines[0];
    EXPECT_STREQ(d["msg"].GetString(), "delivered");
    EXPECT_EQ(d["level"].GetInt(), 6);
    EXPECT_STREQ(d["severity"].GetString(), "info");
    EXPECT_STREQ(d["subscription"].GetString(), "sub_1");
    EXPECT_EQ(d["status"].GetInt(), 200);
    EXPECT_TRUE(d["ok"].GetBool());
    EXPECT_DOUBLE_EQ(d["secs"].GetDouble(), 0.25);
    EXPECT_EQ(std::string(d["ts"].GetString()).size(), 24u);
}

TEST_F(log_test, drops_lines_above_the_threshold)
{
    relay::log::debug("hidden");
    relay::log::set_level(level::debug);
    relay::log::debug("shown");
    const auto lines = sink_->lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find("shown"), std::string::npos);
}

TEST_F(log_test, escapes_control_characters_quotes_and_invalid_utf8)
{
    relay::log::error("bad \"input\"\n", {{"raw", std::string_view("\x01\xff\xc3\xa9", 4)}});
    const auto lines = sink_->lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].find('\n'), std::string::npos);
    rapidjson::Document d;
    d.Parse(lines[0].c_str());
    ASSERT_FALSE(d.HasParseError()) << lines[0];
    EXPECT_STREQ(d["msg"].GetString(), "bad \"input\"\n");
    // \x01 and the lone \xff become \u00XX escapes; the valid two-byte sequence (é) is kept as is.
    EXPECT_EQ(std::string(d["raw"].GetString()), "\x01\xc3\xbf\xc3\xa9");
}

TEST(log_level, parses_names_aliases_and_digits)
{
    level l{};
    EXPECT_TRUE(relay::log::parse_level("warn", l));
    EXPECT_EQ(l, level::warning);
    EXPECT_TRUE(relay::log::parse_level("error", l));
    EXPECT_EQ(l, level::err);
    EXPECT_TRUE(relay::log::parse_level("7", l));
    EXPECT_EQ(l, level::debug);
    EXPECT_FALSE(relay::log::parse_level("loud", l));
    EXPECT_EQ(l, level::debug);
}

} // namespace
