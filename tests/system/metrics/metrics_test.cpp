// System test of the metrics catalogue (issue 6, "Done when"): `relay serve` and `relay deliver` against the
// real broker, scraped every second by Debian's prometheus server. A known workload -- N events delivered, M
// answered 400 (to the DLQ), K answered 503 once and then 2xx (retried) -- published through the ingest API
// must show up as exactly those counters in Prometheus; every PromQL expression of the chart's dashboard and
// alert rules must return a series; and promtool check metrics must accept both /metrics outputs.
#include "support/http/connection.hpp"
#include "support/http/receiver.hpp"
#include "support/kafka/kafka.hpp"
#include "support/process/process.hpp"

#include <boost/beast/http/field.hpp>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <netinet/in.h>
#include <regex>
#include <set>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr const char* token = "metrics-test-token";
constexpr const char* ns = "metrics-test";
constexpr std::size_t n_ok = 40;   // delivered at once
constexpr std::size_t m_bad = 7;   // 400: dead-lettered
constexpr std::size_t k_flaky = 5; // 503 once, then 2xx
constexpr const char* secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

std::string quote(std::string_view s)
{
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\')
            out.push_back('\\');
        out.push_back(c);
    }
    return out + "\"";
}

std::string url_encode(std::string_view s)
{
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (const unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    return out;
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout, std::chrono::milliseconds every = 200ms)
{
    const auto deadline = steady::now() + timeout;
    while (!pred()) {
        if (steady::now() >= deadline)
            return false;
        std::this_thread::sleep_for(every);
    }
    return true;
}

// A port free now (the kernel's pick); prometheus binds it a moment later.
std::uint16_t free_port()
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        if (fd >= 0)
            ::close(fd);
        throw std::runtime_error("cannot pick a free port");
    }
    ::close(fd);
    return ntohs(a.sin_port);
}

// The port a process logged in its `msg` line ("admin listening", "api listening"), 0 on timeout.
std::uint16_t logged_port(relay::test::process& p, const std::string& msg)
{
    if (!relay::test::wait_for_log(p.log_file(), "\"msg\":\"" + msg + "\"", 90s, &p)) {
        ADD_FAILURE() << "no '" << msg << "' in " << p.log_file() << ":\n"
                      << relay::test::log_tail(p.log_file());
        return 0;
    }
    const auto text = relay::test::read_text_file(p.log_file());
    std::smatch m;
    const std::regex line("\"msg\":\"" + msg + "\"[^\\n]*\"port\":([0-9]+)");
    if (!std::regex_search(text, m, line)) {
        ADD_FAILURE() << "no port in the '" << msg << "' line";
        return 0;
    }
    return static_cast<std::uint16_t>(std::stoi(m[1].str()));
}

std::optional<std::string> http_get(std::uint16_t port, const std::string& target)
{
    relay::test::http_connection c(port, 20s);
    auto res = c.get(target);
    if (!res || res->result_int() != 200)
        return std::nullopt;
    return std::move(res->body());
}

// Counts requests per webhook-id so a responder can fail each event's first attempt only.
class first_attempt_fails
{
public:
    relay::test::reply operator()(const relay::test::recorded_request& r)
    {
        std::lock_guard lock(mutex_);
        const bool first = seen_.insert(r.header("webhook-id")).second;
        return relay::test::reply::with_status(first ? 503 : 200);
    }

private:
    std::mutex mutex_;
    std::set<std::string> seen_;
};

/// One deployment: receivers, `relay serve`, `relay deliver`, and (on demand) prometheus.
class metrics_system : public ::testing::Test
{
protected:
    void SetUp() override
    {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        dir_ = fs::current_path() / "metrics-logs" / info->name();
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        std::cout << "[ logs     ] " << dir_.string() << "\n";
        bad_.set_default_reply(relay::test::reply::with_status(400));
        flaky_.set_responder(std::ref(flaky_state_));
        const auto base = relay::test::unique_topic("metrics");
        const auto config = dir_ / "relay.yaml";
        std::ofstream out(config, std::ios::trunc);
        auto sub = [&](const std::string& id, const relay::test::receiver& rx) {
            return R"({"id": )" + quote(id) + R"(, "url": )" + quote(rx.url("/" + id)) + R"(, "secret": )" +
                   quote(secret) + R"(, "event_types": [)" + quote(id + ".*") +
                   R"(], "metrics_label": true})";
        };
        out << "{\n"
            << R"(  "log": {"level": "info"},)"
            << "\n"
            << R"(  "admin": {"address": "127.0.0.1", "port": 0},)"
            << "\n"
            << R"(  "api": {"address": "127.0.0.1", "port": 0, "request_timeout": "10s"},)"
            << "\n"
            << R"(  "kafka": {"brokers": )" << quote(relay::test::real_broker_bootstrap())
            << R"(, "group_id": )" << quote(relay::test::unique_group("metrics")) << R"(, "partitions": 3,)"
            << R"( "consumer_properties": {"session.timeout.ms": "6000", "statistics.interval.ms": "1000"},)"
            << R"( "producer_properties": {"statistics.interval.ms": "1000"}},)"
            << "\n"
            << R"(  "topics": {"events": )" << quote(base + ".events") << R"(, "subscriptions": )"
            << quote(base + ".subscriptions") << R"(, "retry_prefix": )" << quote(base + ".retry.")
            << R"(, "dlq": )" << quote(base + ".dlq") << "},\n"
            << R"(  "delivery": {"allow_http": true, "allow_loopback": true, "retry_schedule": ["1s", "2s"], )"
            << R"("circuit_breaker": {"consecutive_failures": 1000, "min_requests": 1000}},)"
            << "\n"
            << R"(  "subscriptions": [)" << sub("ok", ok_) << ", " << sub("bad", bad_) << ", "
            << sub("flaky", flaky_) << "]\n"
            << "}\n";
        ASSERT_TRUE(out.flush());
        serve_.emplace(start("serve", config));
        deliver_.emplace(start("deliver", config));
        api_port_ = logged_port(*serve_, "api listening");
        serve_admin_ = logged_port(*serve_, "admin listening");
        deliver_admin_ = logged_port(*deliver_, "admin listening");
        ASSERT_TRUE(api_port_ && serve_admin_ && deliver_admin_);
        ASSERT_TRUE(
            relay::test::wait_for_log(deliver_->log_file(), R"("msg":"worker ready")", 90s, &*deliver_)
        ) << relay::test::log_tail(deliver_->log_file());
    }

    relay::test::process start(const std::string& command, const fs::path& config)
    {
        relay::test::process_options o;
        o.argv = {relay::test::relay_binary().string(), command, "-c", config.string()};
        o.env = {{"RELAY_API_TOKENS", token}};
        o.unset_env = {"RELAY_CONFIG", "RELAY_API_TOKENS_FILE"};
        o.log_file = dir_ / (command + ".log");
        return relay::test::process(o);
    }

    // Publishes the workload through POST /v1/events:batch: n_ok "ok.*", m_bad "bad.*", k_flaky "flaky.*"
    // events, each with a timestamp (the start of the end-to-end latency).
    void publish_workload()
    {
        char now[32];
        const auto t = std::time(nullptr);
        std::strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
        std::string body = R"({"events":[)";
        std::size_t i = 0;
        auto add = [&](const std::string& type, std::size_t count) {
            for (std::size_t j = 0; j < count; ++j, ++i) {
                const auto value = R"({"id":"evt_m_)" + std::to_string(::getpid()) + "_" + std::to_string(i) +
                                   R"(","type":)" + quote(type) + R"(,"timestamp":)" + quote(now) +
                                   R"(,"data":{"n":)" + std::to_string(i) + "}}";
                body += (i == 0 ? "" : ",") + std::string(R"({"key":"k)") + std::to_string(i % 7) +
                        R"(","event":)" + value + "}";
            }
        };
        add("ok.created", n_ok);
        add("bad.created", m_bad);
        add("flaky.created", k_flaky);
        body += "]}";
        relay::test::http_connection c(api_port_);
        relay::http::request req{bhttp::verb::post, "/v1/events:batch", 11};
        req.set(bhttp::field::authorization, std::string("Bearer ") + token);
        req.set(bhttp::field::content_type, "application/json");
        req.body() = body;
        const auto res = c.roundtrip(std::move(req));
        ASSERT_TRUE(res.has_value()) << res.error().message();
        ASSERT_EQ(res->result_int(), 202) << res->body();
    }

    void wait_workload_done()
    {
        ASSERT_TRUE(ok_.wait_for_requests(n_ok, 60s)) << ok_.request_count();
        ASSERT_TRUE(bad_.wait_for_requests(m_bad, 60s)) << bad_.request_count();
        ASSERT_TRUE(flaky_.wait_for_requests(2 * k_flaky, 60s)) << flaky_.request_count();
    }

    fs::path dir_;
    relay::test::receiver ok_, bad_, flaky_;
    first_attempt_fails flaky_state_;
    std::optional<relay::test::process> serve_, deliver_;
    std::uint16_t api_port_ = 0, serve_admin_ = 0, deliver_admin_ = 0;
};

// A Prometheus server scraping both admin ports every second, with the labels the chart's ServiceMonitor
// gives them (namespace, service = <release>-relay-<component>, pod).
class prometheus_server
{
public:
    prometheus_server(const fs::path& dir, std::uint16_t api_admin, std::uint16_t worker_admin)
        : port_(free_port())
    {
        const auto config = dir / "prometheus.yml";
        std::ofstream out(config, std::ios::trunc);
        out << "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            << "scrape_configs:\n"
            << "  - job_name: relay-api\n"
            << "    static_configs:\n"
            << "      - targets: ['127.0.0.1:" << api_admin << "']\n"
            << "        labels: {namespace: " << ns << ", service: rel-relay-api, pod: rel-relay-api-0}\n"
            << "  - job_name: relay-worker\n"
            << "    static_configs:\n"
            << "      - targets: ['127.0.0.1:" << worker_admin << "']\n"
            << "        labels: {namespace: " << ns
            << ", service: rel-relay-worker, pod: rel-relay-worker-0}\n";
        if (!out.flush())
            throw std::runtime_error("cannot write " + config.string());
        relay::test::process_options o;
        o.argv = {
            "/usr/bin/prometheus",
            "--config.file=" + config.string(),
            "--storage.tsdb.path=" + (dir / "tsdb").string(),
            "--web.listen-address=127.0.0.1:" + std::to_string(port_),
            "--log.level=warn"};
        o.log_file = dir / "prometheus.log";
        process_.emplace(o);
    }

    bool wait_ready()
    {
        return eventually(
                   [&] {
                       if (!process_->running())
                           return true;
                       return relay::test::try_connect(port_) == boost::system::error_code() &&
                              http_get(port_, "/-/ready").has_value();
                   },
                   60s
               ) &&
               process_->running();
    }

    /// The result vector of an instant query; nullopt (with a failure) when the query itself fails.
    std::optional<rapidjson::Document> query(const std::string& expr)
    {
        const auto body = http_get(port_, "/api/v1/query?query=" + url_encode(expr));
        if (!body) {
            ADD_FAILURE() << "query failed: " << expr;
            return std::nullopt;
        }
        rapidjson::Document d;
        d.Parse(body->c_str());
        if (!d.IsObject() || !d.HasMember("status") || std::string(d["status"].GetString()) != "success" ||
            !d["data"]["result"].IsArray()) {
            ADD_FAILURE() << "query not successful: " << expr << "\n" << *body;
            return std::nullopt;
        }
        return d;
    }

    /// Number of series `expr` returns (0 on a failed query).
    std::size_t series(const std::string& expr)
    {
        const auto d = query(expr);
        return d ? (*d)["data"]["result"].Size() : 0;
    }

    /// The single value of a scalar-like expression (sum(...)), NaN when empty.
    double value(const std::string& expr)
    {
        const auto d = query(expr);
        if (!d || (*d)["data"]["result"].Size() == 0)
            return std::nan("");
        return std::stod((*d)["data"]["result"][0]["value"][1].GetString());
    }

    const fs::path& log() const { return process_->log_file(); }

private:
    std::uint16_t port_;
    std::optional<relay::test::process> process_;
};

// Runs promtool check metrics on `text`; its output on failure.
std::optional<std::string>
promtool_problems(const fs::path& dir, const std::string& name, const std::string& text)
{
    const auto in = dir / (name + ".prom");
    std::ofstream(in, std::ios::trunc) << text;
    relay::test::process_options o;
    o.argv = {"/usr/bin/promtool", "check", "metrics"};
    o.stdin_file = in;
    o.log_file = dir / (name + ".promtool.log");
    relay::test::process p(o);
    const auto st = p.wait_for_exit(60s);
    if (st && st->exited_with(0))
        return std::nullopt;
    return relay::test::read_text_file(o.log_file) + (st ? st->describe() : "timeout");
}

TEST_F(metrics_system, promtool_accepts_both_metrics_outputs)
{
    publish_workload();
    wait_workload_done();
    // Let the Kafka statistics (every second here) arrive so their families carry series too.
    ASSERT_TRUE(eventually(
        [&] {
            const auto a = http_get(serve_admin_, "/metrics");
            const auto w = http_get(deliver_admin_, "/metrics");
            return a && w && a->find("relay_kafka_broker_rtt_avg_seconds{") != std::string::npos &&
                   w->find("relay_consumer_lag_records{") != std::string::npos;
        },
        60s,
        500ms
    ));
    for (const auto& [name, port] :
         {std::pair{"serve", serve_admin_}, std::pair{"deliver", deliver_admin_}}) {
        const auto text = http_get(port, "/metrics");
        ASSERT_TRUE(text);
        EXPECT_EQ(promtool_problems(dir_, name, *text), std::nullopt) << name;
    }
}

// ---- the expressions of the chart ----

std::string run_helm_template(const fs::path& dir, const std::string& show_only)
{
    const auto src = fs::path(std::getenv("RELAY_TEST_SOURCE_DIR"));
    const auto out = dir / "rendered.yaml";
    relay::test::process_options o;
    o.argv = {
        "/bin/bash",
        "-c",
        "set -e; eval \"$(\"$0\"/scripts/install-helm --env)\"; export HELM_CONFIG_HOME=\"$1/helm\" "
        "HELM_CACHE_HOME=\"$1/helm\" HELM_DATA_HOME=\"$1/helm\"; helm template rel \"$0\"/helm/relay -n " +
            std::string(ns) + " -f \"$0\"/helm/relay/ci/metrics-values.yaml --show-only " + show_only,
        src.string(),
        dir.string()};
    o.stdout_file = out;
    o.log_file = dir / "helm.log";
    relay::test::process p(o);
    const auto st = p.wait_for_exit(300s);
    if (!st || !st->exited_with(0)) {
        ADD_FAILURE() << "helm template failed: " << relay::test::read_text_file(o.log_file);
        return {};
    }
    return relay::test::read_text_file(out);
}

struct named_expr
{
    std::string where;
    std::string expr;
};

std::vector<named_expr> dashboard_exprs()
{
    const auto text = relay::test::read_text_file(
        fs::path(std::getenv("RELAY_TEST_SOURCE_DIR")) / "helm/relay/dashboards/relay.json"
    );
    rapidjson::Document d;
    d.Parse(text.c_str());
    std::vector<named_expr> out;
    std::function<void(const rapidjson::Value&)> walk = [&](const rapidjson::Value& panels) {
        for (const auto& p : panels.GetArray()) {
            if (p.HasMember("panels") && p["panels"].IsArray())
                walk(p["panels"]);
            if (!p.HasMember("targets"))
                continue;
            for (const auto& t : p["targets"].GetArray()) {
                if (t.HasMember("expr"))
                    out.push_back(
                        {std::string("panel '") + p["title"].GetString() + "'", t["expr"].GetString()}
                    );
            }
        }
    };
    if (d.IsObject() && d.HasMember("panels"))
        walk(d["panels"]);
    // Grafana's variables as a dashboard on this deployment sets them.
    for (auto& e : out) {
        e.expr = std::regex_replace(e.expr, std::regex(R"(\$namespace)"), ns);
        e.expr = std::regex_replace(e.expr, std::regex(R"(\$release)"), "rel-relay");
        e.expr = std::regex_replace(e.expr, std::regex(R"(\$__rate_interval)"), "1m");
    }
    return out;
}

// An alert's condition as a query that returns the series it watches whether or not it fires: the outermost
// absent() unwrapped and a final comparison with a number dropped.
std::string watched_series(std::string expr)
{
    static const std::regex trailing(R"(\s*(==|!=|>=|<=|>|<)\s*(bool\s+)?[-+0-9.eE]+\s*$)");
    expr = std::regex_replace(expr, std::regex(R"(^\s+|\s+$)"), "");
    if (expr.starts_with("absent(") && expr.ends_with(")"))
        expr = expr.substr(7, expr.size() - 8);
    return std::regex_replace(expr, trailing, "");
}

TEST_F(metrics_system, prometheus_sees_the_workload_and_every_dashboard_and_alert_expression)
{
    prometheus_server prom(dir_, serve_admin_, deliver_admin_);
    ASSERT_TRUE(prom.wait_ready()) << relay::test::log_tail(prom.log());
    const std::string w = std::string(R"(namespace=")") + ns + R"(", service="rel-relay-worker")";
    const std::string a = std::string(R"(namespace=")") + ns + R"(", service="rel-relay-api")";
    // Both targets scraped before the workload, so every counter's increase is seen by rate().
    ASSERT_TRUE(eventually(
        [&] { return prom.value("count(up{namespace=\"" + std::string(ns) + "\"} == 1)") == 2; }, 60s, 500ms
    )) << relay::test::log_tail(prom.log());
    publish_workload();
    wait_workload_done();

    auto expect_value = [&](const std::string& expr, double want) {
        double got = std::nan("");
        const bool ok = eventually([&] { return (got = prom.value(expr)) == want; }, 30s, 500ms);
        EXPECT_TRUE(ok) << expr << " = " << got << ", want " << want;
    };
    auto deliveries = [&](const char* sub, const char* outcome, const char* cls) {
        return "sum(relay_deliveries_total{" + w + R"(, subscription=")" + sub + R"(", outcome=")" + outcome +
               R"(", status_class=")" + cls + "\"})";
    };
    auto attempts = [&](const char* sub, const char* cls) {
        return "sum(relay_delivery_attempts_total{" + w + R"(, subscription=")" + sub +
               R"(", status_class=")" + cls + "\"})";
    };
    expect_value(deliveries("ok", "delivered", "2xx"), n_ok);
    expect_value(deliveries("bad", "dead_lettered", "4xx"), m_bad);
    expect_value(deliveries("flaky", "retried", "5xx"), k_flaky);
    expect_value(deliveries("flaky", "delivered", "2xx"), k_flaky);
    // Deliveries to the flaky endpoint may also be shed (parked unattempted, status class none) while its
    // circuit breaker is open: those add retried deliveries beyond the K 503s.
    expect_value("sum(relay_deliveries_total{" + w + R"(, outcome!="retried"}))", n_ok + m_bad + k_flaky);
    expect_value(attempts("ok", "2xx"), n_ok);
    expect_value(attempts("bad", "4xx"), m_bad);
    expect_value(attempts("flaky", "5xx"), k_flaky);
    expect_value(attempts("flaky", "2xx"), k_flaky);
    expect_value("sum(relay_delivery_attempts_total{" + w + "})", n_ok + m_bad + 2 * k_flaky);
    expect_value("sum(relay_dlq_records_total{" + w + R"(, reason="permanent_status"}))", m_bad);
    expect_value("sum(relay_dlq_records_total{" + w + "})", m_bad);
    const double retried = prom.value("sum(relay_deliveries_total{" + w + R"(, outcome="retried"}))");
    EXPECT_GE(retried, k_flaky);
    EXPECT_EQ(retried, prom.value("sum(relay_deliveries_shed_total{" + w + "})") + k_flaky);
    expect_value("sum(relay_retries_produced_total{" + w + "})", retried);
    expect_value("sum(relay_retries_consumed_total{" + w + "})", retried);
    EXPECT_GE(prom.value("sum(relay_retries_produced_total{" + w + R"(, tier="1s"}))"), k_flaky);
    expect_value("sum(relay_delivery_end_to_end_seconds_count{" + w + R"(, subscription="ok"}))", n_ok);
    expect_value("sum(relay_delivery_end_to_end_seconds_count{" + w + R"(, subscription="flaky"}))", k_flaky);
    expect_value("sum(relay_delivery_attempt_duration_seconds_count{" + w + "})", n_ok + m_bad + 2 * k_flaky);
    expect_value("sum(relay_deliveries_in_flight{" + w + "})", 0);
    expect_value("sum(relay_ingest_events_total{" + a + "})", n_ok + m_bad + k_flaky);
    expect_value("sum(relay_ingest_requests_total{" + a + R"(, route="events_batch", code="202"}))", 1);
    expect_value("sum(relay_subscriptions_loaded{" + w + R"(, source="static", state="enabled"}))", 3);
    expect_value("sum(relay_subscriptions_loaded{" + a + R"(, source="static", state="enabled"}))", 3);
    // Every input record done: no lag left on the input partitions.
    expect_value("sum(relay_consumer_lag_records{" + w + R"(, role="input"}))", 0);
    EXPECT_GE(prom.value("sum(relay_records_consumed_total{" + w + "})"), n_ok + m_bad + 2 * k_flaky);
    // Kafka client statistics of both processes.
    for (const auto& client : {"worker_consumer", "worker_producer"})
        EXPECT_TRUE(eventually(
            [&] {
                return prom.series("relay_kafka_broker_up{" + w + ", client=\"" + client + "\"} == 1") > 0;
            },
            60s,
            500ms
        )) << client;
    EXPECT_TRUE(eventually(
        [&] { return prom.series("relay_kafka_broker_up{" + a + R"(, client="ingest_producer"} == 1)") > 0; },
        60s,
        500ms
    ));

    // Let rate() windows hold a few samples after the workload.
    std::this_thread::sleep_for(5s);
    std::vector<named_expr> exprs = dashboard_exprs();
    ASSERT_GE(exprs.size(), 20u) << "the dashboard's panels were not found";
    const auto rules_text = run_helm_template(dir_, "templates/prometheusrule.yaml");
    ASSERT_FALSE(rules_text.empty());
    const auto rule = YAML::Load(rules_text);
    std::size_t alerts = 0;
    for (const auto& group : rule["spec"]["groups"]) {
        for (const auto& r : group["rules"]) {
            const auto name = r["alert"] ? "alert " + r["alert"].as<std::string>()
                                         : "record " + r["record"].as<std::string>();
            exprs.push_back({name, watched_series(r["expr"].as<std::string>())});
            alerts += r["alert"] ? 1 : 0;
        }
    }
    ASSERT_GE(alerts, 10u);
    for (const auto& e : exprs) {
        std::size_t n = 0;
        eventually([&] { return (n = prom.series(e.expr)) > 0; }, 20s, 1s);
        EXPECT_GT(n, 0u) << e.where << " returns no series:\n" << e.expr;
        // Every metric it names exists in this deployment (a typo in a name would otherwise hide behind
        // or/and).
        static const std::regex metric(R"(\b(relay_[a-z0-9_]+)\b)");
        for (std::sregex_iterator it(e.expr.begin(), e.expr.end(), metric), end; it != end; ++it) {
            EXPECT_GT(prom.series("count(" + (*it)[1].str() + R"({namespace=")" + ns + R"("}))"), 0u)
                << e.where << ": metric " << (*it)[1].str() << " has no series";
        }
    }
}

} // namespace
