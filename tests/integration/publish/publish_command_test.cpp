// `relay publish` (relay::cli::run_publish) against the mock cluster: what it prints, what reaches Kafka,
// and its exit codes.
#include "relay/cli/publish_command.hpp"

#include "read_back.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <unistd.h>

namespace {

using relay::cli::publish_args;
using relay::cli::run_publish;

/// A file in the temp directory holding `content`, removed when this object dies.
class temp_file
{
public:
    explicit temp_file(std::string_view content, std::string_view extension)
    {
        static int counter = 0;
        path_ = std::filesystem::temp_directory_path() /
                ("relay-publish-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
                 std::to_string(std::random_device{}()) + std::string(extension));
        std::ofstream(path_, std::ios::binary) << content;
    }
    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;
    ~temp_file()
    {
        std::error_code ignored;
        std::filesystem::remove(path_, ignored);
    }
    std::string string() const { return path_.string(); }

private:
    std::filesystem::path path_;
};

struct run_result
{
    int code = -1;
    std::string out;
    std::string err;

    std::vector<std::string> out_lines() const
    {
        std::vector<std::string> lines;
        std::istringstream in(out);
        for (std::string l; std::getline(in, l);) {
            lines.push_back(l);
        }
        return lines;
    }
};

class publish_command : public relay::test::publish_kafka_test
{
protected:
    run_result run(const publish_args& args, const std::string& stdin_text = {})
    {
        std::istringstream in(stdin_text);
        std::ostringstream out;
        std::ostringstream err;
        run_result r;
        r.code = run_publish(args, in, out, err);
        r.out = out.str();
        r.err = err.str();
        return r;
    }

    /// Arguments publishing to this test's cluster and `topic` with --brokers and --topic.
    publish_args args_for(const std::string& topic) const
    {
        publish_args a;
        a.brokers = bootstrap();
        a.topic = topic;
        return a;
    }
};

std::string quoted(const std::string& s)
{
    return std::regex_replace(s, std::regex(R"([.\[\]])"), R"(\$&)");
}

TEST_F(publish_command, count_with_a_config_file_publishes_numbered_events)
{
    const auto topic = make_topic(1);
    const temp_file config(
        "kafka:\n  brokers: \"" + bootstrap() + "\"\ntopics:\n  events: \"" + topic + "\"\n", ".yaml"
    );
    publish_args a;
    a.config_file = config.string();
    a.type = "order.created";
    a.data = R"({"order_id":"o-1"})";
    a.key = "o-1";
    a.count = 3;
    const auto r = run(a);
    ASSERT_EQ(r.code, 0) << r.err;
    const auto lines = r.out_lines();
    ASSERT_EQ(lines.size(), 3u) << r.out;
    for (int i = 0; i < 3; ++i) {
        EXPECT_TRUE(std::regex_match(
            lines[i],
            std::regex(
                "published evt_[0-9a-f]{32} order\\.created -> " + quoted(topic) + "\\[0\\]@" +
                std::to_string(i)
            )
        )) << lines[i];
    }

    const auto records = read_back(topic, 1, 3);
    ASSERT_EQ(records.size(), 3u);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(records[i].key, "o-1");
        rapidjson::Document d;
        d.Parse(records[i].value.value_or("").c_str());
        ASSERT_FALSE(d.HasParseError());
        EXPECT_STREQ(d["type"].GetString(), "order.created");
        EXPECT_EQ(d["data"]["n"].GetInt(), i + 1);
        EXPECT_STREQ(d["data"]["order_id"].GetString(), "o-1");
        EXPECT_NE(lines[i].find(d["id"].GetString()), std::string::npos);
    }
}

TEST_F(publish_command, single_event_with_id_and_default_data)
{
    const auto topic = make_topic(1);
    auto a = args_for(topic);
    a.type = "ping";
    a.id = "ping-1";
    const auto r = run(a);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "published ping-1 ping -> " + topic + "[0]@0\n");
    const auto records = read_back(topic, 1, 1);
    ASSERT_EQ(records.size(), 1u);
    rapidjson::Document d;
    d.Parse(records[0].value.value_or("").c_str());
    ASSERT_TRUE(d["data"].IsObject());
    EXPECT_EQ(d["data"].MemberCount(), 0u);
    EXPECT_FALSE(records[0].key.has_value());
}

TEST_F(publish_command, ndjson_file_refuses_the_invalid_line_and_publishes_the_rest)
{
    const auto topic = make_topic(1);
    const temp_file file(
        "{\"id\":\"f-1\",\"type\":\"file.one\"}\n"
        "{\"id\":\"f-2\",\"type\":}\n"
        "\n"
        "{\"type\":\"file.three\",\"data\":{\"x\":1}}\r\n",
        ".ndjson"
    );
    auto a = args_for(topic);
    a.file = file.string();
    a.key = "same-key";
    const auto r = run(a);
    EXPECT_EQ(r.code, 1);
    const auto lines = r.out_lines();
    ASSERT_EQ(lines.size(), 2u) << r.out;
    EXPECT_EQ(lines[0], "published f-1 file.one -> " + topic + "[0]@0");
    EXPECT_TRUE(std::regex_match(
        lines[1], std::regex("published evt_[0-9a-f]{32} file\\.three -> " + quoted(topic) + "\\[0\\]@1")
    )) << lines[1];
    EXPECT_NE(r.err.find("error: line 2: refused, not published: invalid JSON"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("2 of 3 events published"), std::string::npos) << r.err;

    EXPECT_EQ(record_count(topic, 1), 2);
    const auto records = read_back(topic, 1, 2);
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[0].value, "{\"id\":\"f-1\",\"type\":\"file.one\"}");
    EXPECT_EQ(records[1].value, "{\"type\":\"file.three\",\"data\":{\"x\":1}}");
    EXPECT_EQ(records[1].key, "same-key");
}

TEST_F(publish_command, ndjson_from_stdin)
{
    const auto topic = make_topic(1);
    auto a = args_for(topic);
    a.file = "-";
    const auto r = run(a, "{\"id\":\"s-1\",\"type\":\"stdin.one\"}\n{\"id\":\"s-2\",\"type\":\"stdin.two\"}");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(
        r.out,
        "published s-1 stdin.one -> " + topic + "[0]@0\npublished s-2 stdin.two -> " + topic + "[0]@1\n"
    );
    EXPECT_EQ(record_count(topic, 1), 2);
}

TEST_F(publish_command, usage_errors_exit_2_and_publish_nothing)
{
    const auto topic = make_topic(1);
    std::vector<std::pair<std::string, publish_args>> cases;
    auto a = args_for(topic);
    cases.emplace_back("--type is required", a);
    a = args_for(topic);
    a.file = "-";
    a.type = "t";
    cases.emplace_back("--type cannot be combined with --file", a);
    a = args_for(topic);
    a.type = "t";
    a.id = "x";
    a.count = 2;
    cases.emplace_back("--id cannot be combined with --count", a);
    a = args_for(topic);
    a.type = "t";
    a.count = 0;
    cases.emplace_back("--count must be between 1 and", a);
    a = args_for(topic);
    a.type = "t";
    a.data = "[1]";
    a.count = 2;
    cases.emplace_back("data must be a JSON object", a);
    a = args_for(topic);
    a.type = "t";
    a.data = "{";
    cases.emplace_back("data is not valid JSON", a);
    a = args_for(topic);
    a.type = "not valid";
    cases.emplace_back("type", a);
    a = args_for(topic);
    a.file = "/nonexistent/events.ndjson";
    cases.emplace_back("cannot open /nonexistent/events.ndjson", a);
    a = args_for(topic);
    a.brokers = " ";
    a.type = "t";
    cases.emplace_back("--brokers is empty", a);

    for (const auto& [expected, args] : cases) {
        const auto r = run(args);
        EXPECT_EQ(r.code, 2) << expected;
        EXPECT_NE(r.err.find(expected), std::string::npos) << "expected '" << expected << "' in: " << r.err;
        EXPECT_TRUE(r.out.empty()) << r.out;
    }
    EXPECT_EQ(record_count(topic, 1), 0);
}

TEST_F(publish_command, bad_config_exits_2)
{
    const temp_file config("kafka:\n  brokerz: \"x:1\"\n", ".yaml");
    publish_args a;
    a.config_file = config.string();
    a.type = "t";
    const auto r = run(a);
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("kafka.brokerz"), std::string::npos) << r.err;
}

TEST_F(publish_command, kafka_failure_exits_1)
{
    const auto topic = make_topic(1);
    ASSERT_FALSE(cluster_.set_broker_down(1));
    const temp_file config(
        "kafka:\n  brokers: \"" + bootstrap() +
            "\"\n  producer_properties:\n    message.timeout.ms: \"1500\"\n",
        ".yaml"
    );
    publish_args a;
    a.config_file = config.string();
    a.topic = topic;
    a.type = "t";
    a.id = "down-1";
    const auto r = run(a);
    EXPECT_EQ(r.code, 1);
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_NE(r.err.find("error: down-1 not published: "), std::string::npos) << r.err;
}

} // namespace
