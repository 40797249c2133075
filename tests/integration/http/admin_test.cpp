// The admin listener over loopback: /metrics that promtool accepts, /healthz and /readyz following health.
#include "relay/http/admin.hpp"

#include "support/http/connection.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <rapidjson/document.h>

#include <cstdio>
#include <cstdlib>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace relay::http {
namespace {

namespace bhttp = boost::beast::http;
using test::http_connection;

// Runs `promtool check metrics` with `text` on stdin; returns its exit status (-1 when it could not run).
// A missing promtool makes the shell exit 127, so the test fails rather than skips.
int promtool_check(const std::string& text, std::string& output)
{
    // promtool's report goes to a file read back afterwards, so the exit status stays promtool's own.
    char path[] = "/tmp/relay-promtool-XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0) {
        return -1;
    }
    close(fd);
    FILE* pipe = popen(("/usr/bin/promtool check metrics > " + std::string(path) + " 2>&1").c_str(), "w");
    if (pipe == nullptr) {
        std::remove(path);
        return -1;
    }
    std::fwrite(text.data(), 1, text.size(), pipe);
    const int status = pclose(pipe);
    if (FILE* f = std::fopen(path, "r")) {
        char buf[4096];
        std::size_t n = 0;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
            output.append(buf, n);
        }
        std::fclose(f);
    }
    std::remove(path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

rapidjson::Document parse(const std::string& json)
{
    rapidjson::Document doc;
    doc.Parse(json.data(), json.size());
    EXPECT_FALSE(doc.HasParseError()) << json;
    return doc;
}

class admin_test : public ::testing::Test
{
protected:
    admin_test()
        : work_(ioc_.get_executor())
    {
        auto& deliveries = prometheus::BuildCounter()
                               .Name("relay_deliveries_total")
                               .Help("Deliveries by outcome and status class.")
                               .Register(*registry_);
        deliveries.Add({{"outcome", "delivered"}, {"status_class", "2xx"}}).Increment(3);
        deliveries.Add({{"outcome", "retry"}, {"status_class", "5xx"}}).Increment();
        auto& in_flight = prometheus::BuildGauge()
                              .Name("relay_in_flight")
                              .Help("Deliveries in flight.")
                              .Register(*registry_);
        in_flight.Add({{"topic", "relay.events"}}).Set(7);
        auto& latency = prometheus::BuildHistogram()
                            .Name("relay_delivery_duration_seconds")
                            .Help("Delivery latency.")
                            .Register(*registry_);
        auto& h =
            latency.Add({{"status_class", "2xx"}}, prometheus::Histogram::BucketBoundaries{0.01, 0.1, 1, 10});
        h.Observe(0.05);
        h.Observe(2);

        auto opts = default_admin_options();
        opts.address = "127.0.0.1";
        opts.port = 0;
        admin_ = std::make_unique<admin_server>(
            ioc_.get_executor(),
            std::vector<std::shared_ptr<prometheus::Collectable>>{registry_},
            health_,
            opts
        );
        admin_->start();
        thread_ = std::thread([this] { ioc_.run(); });
    }

    ~admin_test() override
    {
        admin_.reset();
        work_.reset();
        ioc_.stop();
        thread_.join();
    }

    std::uint16_t port() const { return admin_->local_endpoint().port(); }

    boost::asio::io_context ioc_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
    std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
    std::shared_ptr<health> health_ = std::make_shared<health>();
    std::unique_ptr<admin_server> admin_;
    std::thread thread_;
};

TEST_F(admin_test, metrics_are_served_in_the_text_format_promtool_accepts)
{
    http_connection c(port());
    const auto res = c.get("/metrics");
    ASSERT_TRUE(res.has_value()) << res.error().message();
    EXPECT_EQ(res->result_int(), 200u);
    EXPECT_EQ(res->at(bhttp::field::content_type), "text/plain; version=0.0.4");
    const auto& body = res->body();
    EXPECT_NE(
        body.find("relay_deliveries_total{outcome=\"delivered\",status_class=\"2xx\"} 3"), std::string::npos
    ) << body;
    EXPECT_NE(body.find("relay_in_flight{topic=\"relay.events\"} 7"), std::string::npos) << body;
    EXPECT_NE(
        body.find("relay_delivery_duration_seconds_bucket{status_class=\"2xx\",le=\"0.1\"} 1"),
        std::string::npos
    ) << body;

    std::string output;
    EXPECT_EQ(promtool_check(body, output), 0) << output << "\n" << body;
}

TEST_F(admin_test, promtool_rejects_a_broken_exposition)
{
    // Guards the check above: promtool must really be there and really judge the input.
    std::string output;
    EXPECT_NE(promtool_check("relay_deliveries_total{outcome=\n", output), 0);
}

TEST_F(admin_test, metrics_follow_registry_changes_on_the_next_scrape)
{
    auto& late = prometheus::BuildCounter()
                     .Name("relay_late_total")
                     .Help("Registered after start.")
                     .Register(*registry_);
    late.Add({}).Increment(2);
    http_connection c(port());
    const auto res = c.get("/metrics");
    ASSERT_TRUE(res.has_value());
    EXPECT_NE(res->body().find("relay_late_total 2"), std::string::npos);
}

TEST_F(admin_test, healthz_is_200_until_a_component_reports_itself_broken)
{
    http_connection c(port());
    auto res = c.get("/healthz");
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->result_int(), 200u);
    EXPECT_EQ(res->at(bhttp::field::content_type), "application/json");

    health_->report_broken("kafka", "fatal error");
    res = c.get("/healthz");
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->result_int(), 503u);
    EXPECT_STREQ(parse(res->body())["broken"]["kafka"].GetString(), "fatal error");

    health_->clear_broken("kafka");
    res = c.get("/healthz");
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->result_int(), 200u);
}

TEST_F(admin_test, readyz_is_503_listing_checks_not_ready_and_200_once_all_are)
{
    health_->add_check("kafka");
    health_->add_check("subscriptions");
    http_connection c(port());

    auto res = c.get("/readyz");
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->result_int(), 503u);
    auto doc = parse(res->body());
    ASSERT_TRUE(doc["not_ready"].IsArray());
    EXPECT_EQ(doc["not_ready"].Size(), 2u);

    health_->set_ready("kafka", true);
    res = c.get("/readyz");
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->result_int(), 503u);
    doc = parse(res->body());
    ASSERT_EQ(doc["not_ready"].Size(), 1u);
    EXPECT_STREQ(doc["not_ready"][0].GetString(), "subscriptions");

    health_->set_ready("subscriptions", true);
    res = c.get("/readyz");
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->result_int(), 200u);
    EXPECT_STREQ(parse(res->body())["status"].GetString(), "ready");
}

TEST_F(admin_test, other_paths_and_methods_get_problem_json)
{
    http_connection c(port());
    auto res = c.get("/nope");
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->result_int(), 404u);
    EXPECT_EQ(res->at(bhttp::field::content_type), "application/problem+json");
    res = c.post("/metrics", "{}");
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->result_int(), 405u);
    EXPECT_EQ(res->at(bhttp::field::allow), "GET");
}

} // namespace
} // namespace relay::http
