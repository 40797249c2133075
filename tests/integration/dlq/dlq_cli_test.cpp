// The built `relay dlq list|redrive` binary against the mock cluster (bootstrap through RELAY_KAFKA_BROKERS):
// its output, what reaches Kafka, and its exit codes.
#include "relay/event/timestamp.hpp"

#include "dlq_fixture.hpp"
#include "support/process/process.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <unistd.h>

namespace relay::test {
namespace {

struct cli_result
{
    int code = -1;
    std::string out;
    std::string err;

    std::vector<std::string> lines() const
    {
        std::vector<std::string> v;
        std::istringstream in(out);
        for (std::string l; std::getline(in, l);)
            v.push_back(l);
        return v;
    }
};

class dlq_cli : public dlq_kafka_test
{
protected:
    void TearDown() override
    {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }

    void SetUp() override
    {
        dlq_kafka_test::SetUp();
        env_ = {
            {"RELAY_KAFKA_BROKERS", bootstrap()},
            {"RELAY_TOPICS_DLQ", cfg_.topics.dlq},
            {"RELAY_TOPICS_RETRY_PREFIX", cfg_.topics.retry_prefix},
            {"RELAY_DELIVERY_RETRY_SCHEDULE", "5s,1m"},
            {"RELAY_LOG_LEVEL", "warning"},
        };
    }

    /// Runs `relay dlq <args...>` with env_ (this test's cluster and topics) in the environment.
    cli_result run(std::vector<std::string> args)
    {
        std::filesystem::create_directories(dir_);
        const auto out_file = dir_ / ("out-" + std::to_string(runs_));
        const auto err_file = dir_ / ("err-" + std::to_string(runs_));
        ++runs_;
        process_options o;
        o.argv = {relay_binary().string(), "dlq"};
        o.argv.insert(o.argv.end(), args.begin(), args.end());
        o.env.assign(env_.begin(), env_.end());
        o.unset_env = {"RELAY_CONFIG"};
        o.stdout_file = out_file;
        o.log_file = err_file;
        process p(o);
        const auto status = p.wait_for_exit(std::chrono::seconds(60));
        cli_result r;
        r.out = read_text_file(out_file);
        r.err = read_text_file(err_file);
        EXPECT_TRUE(status) << "relay dlq did not exit; stderr: " << r.err;
        if (status)
            r.code = status->signal == 0 ? status->code : -status->signal;
        return r;
    }

    std::filesystem::path dir_ = std::filesystem::temp_directory_path() /
                                 ("relay-dlq-cli-" + std::to_string(::getpid()) + "-" + unique_group());
    int runs_ = 0;
    std::map<std::string, std::string> env_; ///< the variables run() sets
};

TEST_F(dlq_cli, ListJsonLinesWithFiltersAndNoValues)
{
    seed();
    const auto r = run({"list", "--json", "--subscription", "sub_a"});
    ASSERT_EQ(r.code, 0) << r.err;
    const auto lines = r.lines();
    ASSERT_EQ(lines.size(), 3u) << r.out;
    for (const auto& l : lines) {
        EXPECT_NE(l.find("\"subscription_id\":\"sub_a\""), std::string::npos) << l;
        EXPECT_EQ(l.find("\"value\""), std::string::npos) << l;
        EXPECT_EQ(l.find("order.created"), std::string::npos) << l;
    }
    EXPECT_NE(r.err.find("3 matching records (7 read from " + cfg_.topics.dlq), std::string::npos) << r.err;
}

TEST_F(dlq_cli, ListValuesOnlyWhenAsked)
{
    seed();
    const auto r = run({"list", "--json", "--values", "--reason", "permanent_status"});
    ASSERT_EQ(r.code, 0) << r.err;
    const auto lines = r.lines();
    ASSERT_EQ(lines.size(), 2u) << r.out;
    for (const auto& l : lines) {
        EXPECT_NE(l.find("\"reason\":\"permanent_status\""), std::string::npos) << l;
        EXPECT_NE(l.find("\"value\":\"{\\\"type\\\":"), std::string::npos) << l;
    }
}

TEST_F(dlq_cli, ListTableWithTimeRangeAndLimit)
{
    seed();
    const auto since =
        event::format_rfc3339(std::chrono::system_clock::time_point(std::chrono::milliseconds(base_ms + 1000))
        );
    const auto until =
        event::format_rfc3339(std::chrono::system_clock::time_point(std::chrono::milliseconds(base_ms + 3000))
        );
    const auto r = run({"list", "--since", since, "--until", until});
    ASSERT_EQ(r.code, 0) << r.err;
    const auto lines = r.lines();
    ASSERT_EQ(lines.size(), 3u) << r.out; // header + evt_1 + evt_2
    EXPECT_EQ(lines[0].rfind("PARTITION", 0), 0u) << lines[0];
    const std::string rows = lines[1] + "\n" + lines[2];
    EXPECT_NE(rows.find("evt_1"), std::string::npos) << r.out;
    EXPECT_NE(rows.find("evt_2"), std::string::npos) << r.out;
    EXPECT_NE(rows.find("permanent_status"), std::string::npos) << r.out;

    const auto limited = run({"list", "--limit", "1", "--json"});
    ASSERT_EQ(limited.code, 0) << limited.err;
    EXPECT_EQ(limited.lines().size(), 1u) << limited.out;
    EXPECT_NE(limited.err.find("stopped at --limit 1"), std::string::npos) << limited.err;

    // A duration ago: every seeded record failed long before an hour ago.
    const auto recent = run({"list", "--since", "1h"});
    ASSERT_EQ(recent.code, 0) << recent.err;
    EXPECT_EQ(recent.out, "");
    EXPECT_NE(recent.err.find("0 matching records"), std::string::npos) << recent.err;
}

TEST_F(dlq_cli, RedriveDryRunProducesNothing)
{
    seed();
    const auto r = run({"redrive", "--dry-run", "--reason", "exhausted"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(
        r.out.find("dry run: would redrive 3 of 3 matching records to " + retry_topic_), std::string::npos
    ) << r.out;
    EXPECT_NE(r.out.find("would-redrive"), std::string::npos) << r.out;
    EXPECT_EQ(record_count(retry_topic_), 0);
}

TEST_F(dlq_cli, RedriveProducesTheMatchedRecordsAndSkipsInvalidEvents)
{
    seed();
    const auto r = run({"redrive", "--subscription", "sub_b", "--rate", "100", "--json"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("\"matched\":2,\"redriven\":2,\"skipped\":0"), std::string::npos) << r.out;
    EXPECT_EQ(record_count(retry_topic_), 2);
    const auto got = read_all(retry_topic_, 2);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(header_of(got[0], delivery::header::event_id), "evt_2");
    EXPECT_EQ(header_of(got[1], delivery::header::event_id), "evt_3");
    for (const auto& m : got)
        EXPECT_EQ(header_of(m, delivery::header::attempt), "1");

    const auto skipped = run({"redrive", "--reason", "invalid_event"});
    ASSERT_EQ(skipped.code, 0) << skipped.err;
    EXPECT_NE(skipped.out.find("skipped 1 (no_subscription: 1)"), std::string::npos) << skipped.out;
    EXPECT_EQ(record_count(retry_topic_), 2);
}

TEST_F(dlq_cli, BadFlagsExitTwoNamingTheFlag)
{
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"list", "--limit", "ten"}, "--limit"},
        {{"list", "--limit", "0"}, "--limit"},
        {{"list", "--reason", "bored"}, "--reason"},
        {{"list", "--since", "yesterday"}, "--since"},
        {{"list", "--until", "2026-13-01T00:00:00Z"}, "--until"},
        {{"list", "--subscription", ""}, "--subscription"},
        {{"list", "--timeout", "soon"}, "--timeout"},
        {{"redrive", "--rate", "-1"}, "--rate"},
        {{"redrive", "--rate", "fast"}, "--rate"},
        {{"list", "--bogus"}, "--bogus"},
        {{"redrive", "--values"}, "--values"},
        {{}, "subcommand"},
    };
    for (const auto& [args, flag] : cases) {
        const auto r = run(args);
        EXPECT_EQ(r.code, 2) << flag << ": " << r.err;
        EXPECT_NE(r.err.find(flag), std::string::npos) << flag << ": " << r.err;
        EXPECT_EQ(r.out.find("PARTITION"), std::string::npos);
    }
}

TEST_F(dlq_cli, UnreachableKafkaExitsOne)
{
    env_["RELAY_KAFKA_BROKERS"] = "127.0.0.1:1";
    const auto r = run({"list", "--timeout", "1500ms"});
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find("relay dlq list: cannot read topic"), std::string::npos) << r.err;
}

TEST_F(dlq_cli, ConfigFileWithoutRetryTiersExitsTwo)
{
    seed();
    env_.erase("RELAY_DELIVERY_RETRY_SCHEDULE");
    std::filesystem::create_directories(dir_);
    const auto file = dir_ / "no-retries.yaml";
    std::ofstream(file) << "delivery:\n  retry_schedule: []\n";
    const auto r = run({"redrive", "--config", file.string()});
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find("delivery.retry_schedule is empty"), std::string::npos) << r.err;
    EXPECT_EQ(record_count(retry_topic_), 0);
}

} // namespace
} // namespace relay::test
