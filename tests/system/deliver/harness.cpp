#include "harness.hpp"

#include "relay/kafka/admin.hpp"
#include "relay/kafka/consumer.hpp"
#include "relay/kafka/producer.hpp"

#include <gtest/gtest.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <unistd.h>

namespace relay::test::deliver {
namespace {

constexpr std::size_t max_examples = 10;

std::string rfc3339_now()
{
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    std::array<char, 32> buf{};
    std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf.data();
}

std::string hex(std::uint64_t v, int digits)
{
    std::string out(static_cast<std::size_t>(digits), '0');
    for (int i = digits - 1; i >= 0; --i) {
        out[static_cast<std::size_t>(i)] = "0123456789abcdef"[v & 0xF];
        v >>= 4;
    }
    return out;
}

std::string quote(std::string_view s)
{
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
        }
        out += c;
    }
    return out + "\"";
}

void add_example(analysis& a, std::string text)
{
    if (a.examples.size() < max_examples) {
        a.examples.push_back(std::move(text));
    }
}

std::filesystem::path find_node()
{
    const char* path = std::getenv("PATH"); // NOLINT(concurrency-mt-unsafe): read-only
    std::stringstream dirs(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        const auto candidate = std::filesystem::path(dir.empty() ? "." : dir) / "node";
        if (::access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
    }
    throw std::runtime_error("node is not on PATH: run scripts/install-deps test");
}

// True while `pid` exists and is not a zombie (a broker is not our child: init reaps it, maybe late).
bool alive(pid_t pid)
{
    if (::kill(pid, 0) != 0) {
        return false;
    }
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const auto close = text.rfind(')');
    return close == std::string::npos || close + 2 >= text.size() || text[close + 2] != 'Z';
}

} // namespace

std::filesystem::path source_dir()
{
    const char* dir = std::getenv("RELAY_TEST_SOURCE_DIR"); // NOLINT(concurrency-mt-unsafe): read-only
    if (dir == nullptr || *dir == '\0') {
        throw std::runtime_error("RELAY_TEST_SOURCE_DIR is not set: run this test through ctest");
    }
    return dir;
}

bool kafka_broker(
    const std::string& command, const std::filesystem::path& dir, const std::filesystem::path& log
)
{
    relay::test::process_options o;
    o.argv = {(source_dir() / "scripts" / "kafka-broker").string(), command, dir.string()};
    o.log_file = log;
    relay::test::process p(o);
    const auto status = p.wait_for_exit(std::chrono::minutes(4));
    if (!status || !status->exited_with(0)) {
        ADD_FAILURE() << "scripts/kafka-broker " << command << " "
                      << (status ? status->describe() : std::string("timed out")) << "; log tail:\n"
                      << relay::test::log_tail(log);
        return false;
    }
    return true;
}

bool stop_broker_process(const std::filesystem::path& dir)
{
    using namespace std::chrono_literals;
    std::ifstream in(dir / "pid");
    pid_t pid = 0;
    if (!(in >> pid) || pid <= 1) {
        ADD_FAILURE() << "no broker pid in " << (dir / "pid").string();
        return false;
    }
    ::kill(-pid, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (alive(pid) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(100ms); // the broker is not our child: no wait() to block on
    }
    if (alive(pid)) {
        ::kill(-pid, SIGKILL);
        std::this_thread::sleep_for(1s);
    }
    return !alive(pid);
}

std::uint16_t wait_api_port(relay::test::process& serve, std::chrono::milliseconds timeout)
{
    if (!relay::test::wait_for_log(serve.log_file(), R"("msg":"api listening")", timeout, &serve)) {
        ADD_FAILURE() << "relay serve not listening; log tail:\n" << relay::test::log_tail(serve.log_file());
        return 0;
    }
    const auto text = relay::test::read_text_file(serve.log_file());
    std::smatch m;
    const std::regex line(R"re("msg":"api listening"[^\n]*"port":([0-9]+))re");
    if (!std::regex_search(text, m, line)) {
        ADD_FAILURE() << "no port in the api listening line";
        return 0;
    }
    return static_cast<std::uint16_t>(std::stoi(m[1].str()));
}

std::string read_first_line(const std::filesystem::path& path)
{
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

workload workload::make(std::size_t count, std::size_t keys, std::uint32_t seed, std::string_view tag)
{
    static constexpr std::array<const char*, 4> types{
        "order.created", "order.updated", "payment.captured", "invoice.paid"};
    static constexpr std::array<const char*, 3> regions{"eu", "us", "apac"};
    std::mt19937_64 rng(seed);
    std::vector<int> next_seq(keys, 0);
    const auto timestamp = rfc3339_now();
    workload w;
    w.events.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        event_record e;
        const auto k = static_cast<std::size_t>(rng() % keys);
        e.id = "evt_" + std::string(tag) + "_" + std::to_string(i);
        e.type = types[rng() % types.size()];
        e.key = "cust-" + std::to_string(k);
        e.seq = next_seq[k]++;
        e.amount = static_cast<int>(rng() % 1000);
        e.region = regions[rng() % regions.size()];
        e.trace_id = hex(rng(), 16) + hex(rng() | 1U, 16);
        e.value = R"({"id":")" + e.id + R"(","type":")" + e.type + R"(","timestamp":")" + timestamp +
                  R"(","data":{"key":")" + e.key + R"(","seq":)" + std::to_string(e.seq) + R"(,"amount":)" +
                  std::to_string(e.amount) + R"(,"region":")" + e.region + R"("}})";
        w.events.push_back(std::move(e));
    }
    for (std::size_t i = 0; i < w.events.size(); ++i) {
        w.by_body.emplace(w.events[i].value, i);
    }
    return w;
}

bool produce_workload(
    const std::string& bootstrap,
    const std::string& topic,
    const workload& w,
    std::chrono::milliseconds timeout
)
{
    relay::kafka::producer p(
        {.config = relay::test::producer_config(
             bootstrap, {{"enable.idempotence", "true"}, {"acks", "all"}, {"linger.ms", "5"}}
         )}
    );
    struct state
    {
        std::mutex mutex;
        std::condition_variable cv;
        std::size_t done = 0;
        boost::system::error_code first_error;
    };
    auto st = std::make_shared<state>();
    for (std::size_t i = 0; i < w.events.size(); ++i) {
        const auto& e = w.events[i];
        relay::kafka::record rec;
        rec.topic = topic;
        rec.key = e.key;
        rec.value = e.value;
        rec.headers = {{"traceparent", "00-" + e.trace_id + "-" + hex(i + 1, 16) + "-01"}};
        const auto ec = p.produce(rec, [st](boost::system::error_code ec, relay::kafka::delivery_info) {
            std::lock_guard lock(st->mutex);
            if (ec && !st->first_error) {
                st->first_error = ec;
            }
            ++st->done;
            st->cv.notify_all();
        });
        if (ec) {
            ADD_FAILURE() << "enqueueing event " << i << " failed: " << ec.message();
            return false;
        }
    }
    std::unique_lock lock(st->mutex);
    if (!st->cv.wait_for(lock, timeout, [&] { return st->done == w.events.size(); })) {
        ADD_FAILURE() << "only " << st->done << " of " << w.events.size() << " events acknowledged in time";
        return false;
    }
    if (st->first_error) {
        ADD_FAILURE() << "producing the workload failed: " << st->first_error.message();
        return false;
    }
    return true;
}

deployment make_deployment()
{
    deployment d;
    d.bootstrap = relay::test::real_broker_bootstrap();
    const auto base = relay::test::unique_topic();
    d.events_topic = base + ".events";
    d.subscriptions_topic = base + ".subscriptions";
    d.retry_prefix = base + ".retry.";
    d.dlq_topic = base + ".dlq";
    d.group = relay::test::unique_group();
    return d;
}

std::filesystem::path fresh_log_dir()
{
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    auto dir = std::filesystem::current_path() / "deliver-logs" / info->name();
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    std::cout << "[ logs     ] " << dir.string() << "\n";
    return dir;
}

std::filesystem::path write_worker_config(
    const std::filesystem::path& path,
    const deployment& d,
    const std::vector<subscription_under_test>& subs,
    const std::string& instance_id,
    const std::string& extra_delivery,
    const std::string& extra_consumer_properties
)
{
    std::string subs_json = "[";
    for (const auto& s : subs) {
        if (subs_json.size() > 1) {
            subs_json += ",";
        }
        subs_json += R"({"id":)" + quote(s.id) + R"(,"url":)" + quote(s.rx->url("/" + s.id)) +
                     R"(,"secret":)" + quote(s.secret) + s.extra_json + "}";
    }
    subs_json += "]";
    // The compressed schedule unless the caller brings its own.
    std::string delivery_members;
    if (extra_delivery.find("\"retry_schedule\"") == std::string::npos)
        delivery_members = R"("retry_schedule": ["1s", "2s", "4s"])";
    if (!extra_delivery.empty())
        delivery_members += (delivery_members.empty() ? "" : ", ") + extra_delivery;
    std::ofstream out(path, std::ios::trunc);
    out << "{\n"
        << R"(  "log": {"level": "info"},)"
        << "\n"
        << R"(  "admin": {"address": "127.0.0.1", "port": 0},)"
        << "\n"
        << R"(  "kafka": {"brokers": )" << quote(d.bootstrap) << R"(, "group_id": )" << quote(d.group)
        << (instance_id.empty() ? "" : R"(, "instance_id": )" + quote(instance_id))
        << R"(, "partitions": 3, "consumer_properties": {"session.timeout.ms": "6000")"
        << (extra_consumer_properties.empty() ? "" : ", " + extra_consumer_properties) << "}},"
        << "\n"
        << R"(  "topics": {"events": )" << quote(d.events_topic) << R"(, "subscriptions": )"
        << quote(d.subscriptions_topic) << R"(, "retry_prefix": )" << quote(d.retry_prefix) << R"(, "dlq": )"
        << quote(d.dlq_topic) << "},\n"
        << R"(  "delivery": {"allow_http": true, "allow_loopback": true, )" << delivery_members << "},"
        << "\n"
        << R"(  "subscriptions": )" << subs_json << "\n"
        << "}\n";
    if (!out.flush()) {
        throw std::runtime_error("cannot write " + path.string());
    }
    return path;
}

relay::test::process start_worker(const std::filesystem::path& config, const std::filesystem::path& log)
{
    relay::test::process_options o;
    o.argv = {relay::test::relay_binary().string(), "deliver", "-c", config.string()};
    o.unset_env = {"RELAY_CONFIG"};
    o.log_file = log;
    return relay::test::process(o);
}

bool wait_ready(relay::test::process& worker, std::chrono::milliseconds timeout, std::uintmax_t from)
{
    if (relay::test::wait_for_log(worker.log_file(), R"("msg":"worker ready")", timeout, &worker, from)) {
        return true;
    }
    const auto st = worker.status();
    ADD_FAILURE() << "worker " << worker.pid()
                  << " not ready: " << (st ? "it ended with " + st->describe() : std::string("timed out"))
                  << "; log tail of " << worker.log_file() << ":\n"
                  << relay::test::log_tail(worker.log_file());
    return false;
}

delivery_tracker::delivery_tracker(const workload& w, std::vector<std::vector<bool>> expected)
    : w_(w)
    , expected_(std::move(expected))
{
    counts_.resize(expected_.size(), std::vector<std::uint32_t>(w.events.size(), 0));
    for (const auto& row : expected_) {
        expected_total_ += static_cast<std::size_t>(std::count(row.begin(), row.end(), true));
    }
}

void delivery_tracker::record(std::size_t sub, std::string_view body)
{
    const auto it = w_.by_body.find(body);
    {
        std::lock_guard lock(mutex_);
        ++requests_;
        if (it == w_.by_body.end() || sub >= counts_.size()) {
            return;
        }
        if (counts_[sub][it->second]++ == 0 && expected_[sub][it->second]) {
            ++distinct_;
        }
    }
    cv_.notify_all();
}

bool delivery_tracker::wait_for_distinct(
    std::size_t n, std::chrono::steady_clock::time_point deadline, const std::function<bool()>& tick
)
{
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            const auto slice = std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(1));
            if (cv_.wait_until(lock, slice, [&] { return distinct_ >= n; })) {
                return true;
            }
        }
        if (std::chrono::steady_clock::now() >= deadline || (tick && !tick())) {
            std::lock_guard lock(mutex_);
            return distinct_ >= n;
        }
    }
}

std::size_t delivery_tracker::distinct() const
{
    std::lock_guard lock(mutex_);
    return distinct_;
}

std::size_t delivery_tracker::requests() const
{
    std::lock_guard lock(mutex_);
    return requests_;
}

analysis analyze(
    const workload& w,
    const std::vector<subscription_under_test>& subs,
    const std::vector<std::vector<relay::test::recorded_request>>& requests
)
{
    analysis a;
    constexpr auto never = std::numeric_limits<std::uint64_t>::max();
    for (std::size_t s = 0; s < subs.size(); ++s) {
        const auto& sub = subs[s];
        std::vector<std::uint32_t> count(w.events.size(), 0);
        std::vector<std::uint64_t> first(w.events.size(), never);
        for (const auto& r : requests[s]) {
            ++a.requests;
            const auto it = w.by_body.find(r.body);
            if (it == w.by_body.end()) {
                ++a.unknown_body;
                add_example(
                    a,
                    sub.id + ": body is no produced value: " + r.body.substr(0, 200) + " (" +
                        std::to_string(r.body.size()) + " bytes)"
                );
                continue;
            }
            const auto& e = w.events[it->second];
            if (!sub.expects(e)) {
                ++a.unexpected;
                add_example(a, sub.id + ": got " + e.id + " (" + e.type + ") which it does not match");
            }
            if (count[it->second]++ == 0) {
                ++a.distinct;
            } else {
                ++a.duplicates;
                ++a.duplicates_by_subscription[sub.id];
            }
            first[it->second] = std::min(first[it->second], r.index);
            if (r.header("webhook-id") != e.id) {
                ++a.wrong_webhook_id;
                add_example(
                    a, sub.id + ": " + e.id + " came with webhook-id '" + r.header("webhook-id") + "'"
                );
            }
            std::string bad;
            if (r.method != "POST") {
                bad += " method=" + r.method;
            }
            if (r.header("content-type").rfind("application/json", 0) != 0) {
                bad += " content-type='" + r.header("content-type") + "'";
            }
            if (r.header("user-agent").rfind("relay/", 0) != 0) {
                bad += " user-agent='" + r.header("user-agent") + "'";
            }
            const auto ts = r.header("webhook-timestamp");
            if (ts.empty() || ts.find_first_not_of("0123456789") != std::string::npos) {
                bad += " webhook-timestamp='" + ts + "'";
            }
            if (r.header("webhook-signature").rfind("v1,", 0) != 0) {
                bad += " webhook-signature='" + r.header("webhook-signature") + "'";
            }
            const auto tp = r.header("traceparent");
            if (tp.size() < 35 || tp.compare(3, 32, e.trace_id) != 0) {
                bad += " traceparent='" + tp + "' (trace id " + e.trace_id + ")";
            }
            if (!bad.empty()) {
                ++a.bad_headers;
                add_example(a, sub.id + ": " + e.id + ":" + bad);
            }
        }
        std::unordered_map<std::string_view, std::uint64_t> last_first_by_key;
        std::unordered_map<std::string_view, const event_record*> last_event_by_key;
        for (std::size_t i = 0; i < w.events.size(); ++i) {
            const auto& e = w.events[i];
            if (!sub.expects(e)) {
                continue;
            }
            if (count[i] == 0) {
                ++a.missing;
                add_example(a, sub.id + ": " + e.id + " (" + e.type + ", key " + e.key + ") never arrived");
                continue;
            }
            if (!sub.key_ordering) {
                continue;
            }
            // Events of a key were produced in seq order; their first arrivals must be in the same order.
            const auto prev = last_first_by_key.find(e.key);
            if (prev != last_first_by_key.end() && first[i] < prev->second) {
                ++a.order_violations;
                add_example(
                    a,
                    sub.id + ": key " + e.key + ": seq " + std::to_string(e.seq) + " (" + e.id +
                        ") first arrived before seq " + std::to_string(last_event_by_key[e.key]->seq)
                );
            }
            last_first_by_key[e.key] = first[i];
            last_event_by_key[e.key] = &e;
        }
    }
    return a;
}

verify_result verify_signatures(
    const std::filesystem::path& dir,
    const std::vector<subscription_under_test>& subs,
    const std::vector<std::vector<relay::test::recorded_request>>& requests
)
{
    const auto input = dir / "signatures.ndjson";
    const auto output = dir / "signatures.out";
    verify_result result;
    {
        std::ofstream in(input, std::ios::trunc | std::ios::binary);
        for (std::size_t s = 0; s < subs.size(); ++s) {
            for (const auto& r : requests[s]) {
                rapidjson::StringBuffer buf;
                rapidjson::Writer<rapidjson::StringBuffer> wr(buf);
                const auto id = r.header("webhook-id");
                const auto ts = r.header("webhook-timestamp");
                const auto sig = r.header("webhook-signature");
                wr.StartObject();
                wr.Key("secret");
                wr.String(subs[s].secret.data(), static_cast<rapidjson::SizeType>(subs[s].secret.size()));
                wr.Key("id");
                wr.String(id.data(), static_cast<rapidjson::SizeType>(id.size()));
                wr.Key("timestamp");
                wr.String(ts.data(), static_cast<rapidjson::SizeType>(ts.size()));
                wr.Key("body");
                wr.String(r.body.data(), static_cast<rapidjson::SizeType>(r.body.size()));
                wr.Key("signature_header");
                wr.String(sig.data(), static_cast<rapidjson::SizeType>(sig.size()));
                wr.EndObject();
                in << buf.GetString() << '\n';
                ++result.lines;
            }
        }
    }
    relay::test::process_options o;
    o.argv = {
        find_node().string(),
        (source_dir() / "tests" / "support" / "standardwebhooks" / "verify.mjs").string()};
    o.stdin_file = input;
    o.stdout_file = output;
    o.log_file = dir / "verify.log";
    relay::test::process node(o);
    result.status = node.wait_for_exit(std::chrono::seconds(120));
    std::ifstream out(output);
    std::string line;
    while (std::getline(out, line)) {
        if (line.rfind("ok ", 0) == 0 && line.size() > 6 && line.ends_with(" valid")) {
            ++result.ok;
        } else if (result.failures.size() < max_examples) {
            result.failures.push_back(line);
        }
    }
    if (!result.status) {
        result.failures.push_back(
            "node did not finish within 120 s; log: " + relay::test::log_tail(o.log_file)
        );
    } else if (!result.status->exited_with(0)) {
        result.failures.push_back(
            "node: " + result.status->describe() + ": " + relay::test::log_tail(o.log_file)
        );
    }
    return result;
}

std::optional<std::string> header_of(const relay::test::consumed& c, std::string_view name)
{
    std::optional<std::string> v;
    for (const auto& [n, value] : c.headers) {
        if (n == name) {
            v = value;
        }
    }
    return v;
}

std::optional<std::vector<relay::test::consumed>>
read_topic(const std::string& bootstrap, const std::string& topic, std::chrono::milliseconds timeout)
{
    relay::kafka::admin adm({.config = {{"bootstrap.servers", bootstrap}}});
    const auto partitions = adm.partition_count(topic, std::chrono::seconds(30));
    if (!partitions) {
        ADD_FAILURE() << "topic " << topic << ": " << partitions.error().message();
        return std::nullopt;
    }
    std::vector<relay::kafka::topic_partition> assignment;
    std::size_t total = 0;
    for (std::int32_t p = 0; p < *partitions; ++p) {
        std::int64_t low = 0;
        std::int64_t high = 0;
        const auto err =
            rd_kafka_query_watermark_offsets(adm.native_handle(), topic.c_str(), p, &low, &high, 10000);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            ADD_FAILURE() << "watermarks of " << topic << "/" << p << ": " << rd_kafka_err2str(err);
            return std::nullopt;
        }
        total += static_cast<std::size_t>(high - low);
        assignment.push_back({.topic = topic, .partition = p, .offset = RD_KAFKA_OFFSET_BEGINNING});
    }
    if (total == 0) {
        return std::vector<relay::test::consumed>{};
    }
    relay::test::recording_handler h;
    relay::kafka::consumer c(
        {.client = {.config = relay::test::consumer_config(bootstrap, relay::test::unique_group("read"))}}, h
    );
    if (const auto ec = c.assign(assignment)) {
        ADD_FAILURE() << "assign " << topic << ": " << ec.message();
        return std::nullopt;
    }
    if (!h.wait_for_messages(total, timeout)) {
        ADD_FAILURE() << "read only " << h.message_count() << " of " << total << " records of " << topic;
        return std::nullopt;
    }
    return h.messages();
}

std::optional<group_description>
describe_group(const std::string& bootstrap, const std::string& group, const std::string& topic)
{
    relay::kafka::admin adm({.config = {{"bootstrap.servers", bootstrap}}});
    rd_kafka_t* rk = adm.native_handle();
    const relay::kafka::queue_ptr queue(rd_kafka_queue_new(rk));
    const relay::kafka::admin_options_ptr opts(
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS)
    );
    std::array<char, 512> errstr{};
    rd_kafka_AdminOptions_set_request_timeout(opts.get(), 10000, errstr.data(), errstr.size());
    const char* groups[] = {group.c_str()};
    rd_kafka_DescribeConsumerGroups(rk, groups, 1, opts.get(), queue.get());
    const relay::kafka::event_ptr ev(rd_kafka_queue_poll(queue.get(), 15000));
    if (!ev || rd_kafka_event_error(ev.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return std::nullopt;
    }
    const auto* result = rd_kafka_event_DescribeConsumerGroups_result(ev.get());
    std::size_t count = 0;
    const auto** descs = rd_kafka_DescribeConsumerGroups_result_groups(result, &count);
    if (result == nullptr || count != 1 || rd_kafka_ConsumerGroupDescription_error(descs[0]) != nullptr) {
        return std::nullopt;
    }
    group_description out;
    out.stable = rd_kafka_ConsumerGroupDescription_state(descs[0]) == RD_KAFKA_CONSUMER_GROUP_STATE_STABLE;
    for (std::size_t i = 0; i < rd_kafka_ConsumerGroupDescription_member_count(descs[0]); ++i) {
        const auto* m = rd_kafka_ConsumerGroupDescription_member(descs[0], i);
        group_member gm;
        const char* instance = rd_kafka_MemberDescription_group_instance_id(m);
        gm.instance_id = instance != nullptr ? instance : "";
        gm.member_id = rd_kafka_MemberDescription_consumer_id(m);
        const auto* parts = rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(m));
        for (int j = 0; parts != nullptr && j < parts->cnt; ++j) {
            ++gm.partitions;
            if (topic == parts->elems[j].topic) {
                gm.of_topic.push_back(parts->elems[j].partition);
            }
        }
        out.members.push_back(std::move(gm));
    }
    return out;
}

std::optional<group_description> wait_for_balanced_group(
    const std::string& bootstrap,
    const std::string& group,
    const std::string& topic,
    std::size_t members,
    std::size_t partitions,
    std::chrono::milliseconds timeout
)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::optional<group_description> last;
    for (;;) {
        last = describe_group(bootstrap, group, topic);
        if (last && last->stable && last->members.size() == members) {
            std::size_t of_topic = 0;
            bool each_has_some = true;
            for (const auto& m : last->members) {
                of_topic += m.of_topic.size();
                each_has_some = each_has_some && m.partitions > 0;
            }
            if (each_has_some && of_topic == partitions) {
                return last;
            }
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            std::ostringstream what;
            if (last) {
                what << (last->stable ? "stable" : "not stable") << ", " << last->members.size()
                     << " members:";
                for (const auto& m : last->members) {
                    what << " [" << m.instance_id << " " << m.partitions << " partitions, "
                         << m.of_topic.size() << " of the topic]";
                }
            } else {
                what << "no description";
            }
            ADD_FAILURE() << "group " << group << " not balanced over " << members << " members within "
                          << timeout.count() << " ms: " << what.str();
            return std::nullopt;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

std::optional<std::size_t> topic_size(const std::string& bootstrap, const std::string& topic)
{
    relay::kafka::admin adm({.config = {{"bootstrap.servers", bootstrap}}});
    const auto partitions = adm.partition_count(topic, std::chrono::seconds(30));
    if (!partitions) {
        ADD_FAILURE() << "topic " << topic << ": " << partitions.error().message();
        return std::nullopt;
    }
    std::size_t total = 0;
    for (std::int32_t p = 0; p < *partitions; ++p) {
        std::int64_t low = 0;
        std::int64_t high = 0;
        const auto err =
            rd_kafka_query_watermark_offsets(adm.native_handle(), topic.c_str(), p, &low, &high, 10000);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            ADD_FAILURE() << "watermarks of " << topic << "/" << p << ": " << rd_kafka_err2str(err);
            return std::nullopt;
        }
        total += static_cast<std::size_t>(high - low);
    }
    return total;
}

std::int64_t committed_offset(
    const std::string& bootstrap, const std::string& group, const std::string& topic, std::int32_t partition
)
{
    relay::test::recording_handler h;
    relay::kafka::consumer c({.client = {.config = relay::test::consumer_config(bootstrap, group)}}, h);
    std::vector<relay::kafka::topic_partition> parts{{.topic = topic, .partition = partition}};
    if (const auto ec = c.committed(parts, 10000)) {
        ADD_FAILURE() << "committed offsets of " << group << ": " << ec.message();
        return RD_KAFKA_OFFSET_INVALID;
    }
    return parts.front().offset;
}

} // namespace relay::test::deliver
