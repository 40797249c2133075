// bench_producer: creates the benchmark's topics and produces its events (librdkafka, idempotent, acks=all).
//
//   bench_producer create  --brokers B --topic T --partitions P
//   bench_producer produce --brokers B --topic T --count N [--keys K] [--rate R] [--run ID] [--size BYTES]
//                          [--linger-ms MS] [--seconds S]
//
// produce writes N events `{"id":"evt_<run>_<i>","type":"bench.order","timestamp":"<RFC
// 3339>","data":{"ts":<ns>, "seq":<i>,"k":"<key>","pad":"..."}}`, padded to --size bytes (default 250), keyed
// `key-<i mod K>` (K = 0: no key). --rate R paces them open loop: event i is due at start + i/R and carries
// that due time as "ts" (CLOCK_REALTIME ns), so a producer falling behind shows up as latency instead of
// hiding it; --rate 0 produces as fast as librdkafka takes them and "ts" is the time of the produce call.
// --seconds bounds the run. It waits for every delivery report and prints one JSON line: produced
// (acknowledged), failed, elapsed_s, max_lag_ms. Exit 0 only when every event was acknowledged.
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <thread>

namespace {

struct options
{
    std::string mode;
    std::string brokers;
    std::string topic;
    int partitions = 24;
    long count = 0;
    long keys = 0;
    double rate = 0;
    std::string run = "r";
    std::size_t size = 250;
    int linger_ms = 1;
    double seconds = 120;
};

std::int64_t realtime_ns()
{
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

[[noreturn]] void usage(const char* why)
{
    std::fprintf(
        stderr, "bench_producer: %s\nusage: bench_producer create|produce --brokers B --topic T ...\n", why
    );
    std::exit(2);
}

options parse(int argc, char** argv)
{
    if (argc < 2) {
        usage("no mode");
    }
    options o;
    o.mode = argv[1];
    for (int i = 2; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (i + 1 >= argc) {
            usage("a flag lacks its value");
        }
        const char* v = argv[++i];
        if (a == "--brokers") {
            o.brokers = v;
        } else if (a == "--topic") {
            o.topic = v;
        } else if (a == "--partitions") {
            o.partitions = std::atoi(v);
        } else if (a == "--count") {
            o.count = std::atol(v);
        } else if (a == "--keys") {
            o.keys = std::atol(v);
        } else if (a == "--rate") {
            o.rate = std::atof(v);
        } else if (a == "--run") {
            o.run = v;
        } else if (a == "--size") {
            o.size = static_cast<std::size_t>(std::atol(v));
        } else if (a == "--linger-ms") {
            o.linger_ms = std::atoi(v);
        } else if (a == "--seconds") {
            o.seconds = std::atof(v);
        } else {
            usage("unknown flag");
        }
    }
    if (o.brokers.empty() || o.topic.empty()) {
        usage("--brokers and --topic are required");
    }
    return o;
}

rd_kafka_t*
make_client(const options& o, rd_kafka_type_t type, void (*dr)(rd_kafka_t*, const rd_kafka_message_t*, void*))
{
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    auto set = [&](const char* k, const std::string& v) {
        if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
            std::fprintf(stderr, "bench_producer: %s\n", err);
            std::exit(2);
        }
    };
    set("bootstrap.servers", o.brokers);
    if (type == RD_KAFKA_PRODUCER) {
        set("enable.idempotence", "true");
        set("acks", "all");
        set("linger.ms", std::to_string(o.linger_ms));
        set("queue.buffering.max.messages", "1000000");
        set("compression.type", "none");
    }
    if (dr != nullptr) {
        rd_kafka_conf_set_dr_msg_cb(conf, dr);
    }
    rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
    if (rk == nullptr) {
        std::fprintf(stderr, "bench_producer: %s\n", err);
        std::exit(1);
    }
    return rk;
}

int create(const options& o)
{
    rd_kafka_t* rk = make_client(o, RD_KAFKA_PRODUCER, nullptr);
    char err[512];
    rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(o.topic.c_str(), o.partitions, -1, err, sizeof err);
    if (nt == nullptr) {
        std::fprintf(stderr, "bench_producer: %s\n", err);
        return 2;
    }
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
    int rc = 1;
    if (ev == nullptr) {
        std::fprintf(stderr, "bench_producer: CreateTopics timed out\n");
    } else if (rd_kafka_event_error(ev)) {
        std::fprintf(stderr, "bench_producer: CreateTopics: %s\n", rd_kafka_event_error_string(ev));
    } else {
        const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev);
        size_t n = 0;
        const rd_kafka_topic_result_t** tr = rd_kafka_CreateTopics_result_topics(res, &n);
        rc = 0;
        for (size_t i = 0; i < n; ++i) {
            const auto e = rd_kafka_topic_result_error(tr[i]);
            if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                std::fprintf(
                    stderr,
                    "bench_producer: %s: %s\n",
                    rd_kafka_topic_result_name(tr[i]),
                    rd_kafka_topic_result_error_string(tr[i])
                );
                rc = 1;
            }
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}

long g_acked = 0;
long g_failed = 0;

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*)
{
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (g_failed++ == 0) {
            std::fprintf(stderr, "bench_producer: delivery failed: %s\n", rd_kafka_err2str(m->err));
        }
    } else {
        ++g_acked;
    }
}

std::string rfc3339_now()
{
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

int produce(const options& o)
{
    rd_kafka_t* rk = make_client(o, RD_KAFKA_PRODUCER, on_delivery);
    const auto start_mono = std::chrono::steady_clock::now();
    const auto start_real = realtime_ns();
    const auto deadline = start_mono + std::chrono::duration<double>(o.seconds);
    const std::string stamp = rfc3339_now();
    double max_lag_ms = 0;
    long sent = 0;
    std::string value;
    std::string key;
    for (long i = 0; i < o.count; ++i) {
        std::int64_t ts = 0;
        if (o.rate > 0) {
            const auto due = start_mono + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                              std::chrono::duration<double>(static_cast<double>(i) / o.rate)
                                          );
            for (;;) {
                const auto now = std::chrono::steady_clock::now();
                if (now >= due) {
                    max_lag_ms =
                        std::max(max_lag_ms, std::chrono::duration<double, std::milli>(now - due).count());
                    break;
                }
                rd_kafka_poll(rk, 0);
                const auto left = due - now;
                if (left > std::chrono::microseconds(200)) {
                    std::this_thread::sleep_for(left - std::chrono::microseconds(100));
                }
            }
            ts = start_real + std::chrono::duration_cast<std::chrono::nanoseconds>(due - start_mono).count();
        } else {
            ts = realtime_ns();
        }
        if (std::chrono::steady_clock::now() > deadline) {
            std::fprintf(stderr, "bench_producer: --seconds %.0f reached after %ld events\n", o.seconds, i);
            break;
        }
        key = o.keys > 0 ? "key-" + std::to_string(i % o.keys) : std::string();
        value = R"({"id":"evt_)" + o.run + "_" + std::to_string(i) +
                R"(","type":"bench.order","timestamp":")" + stamp + R"(","data":{"ts":)" +
                std::to_string(ts) + R"(,"seq":)" + std::to_string(i) + R"(,"k":")" +
                (key.empty() ? "-" : key) + R"(","pad":")";
        const std::size_t tail = 3; // "}}
        value.append(value.size() + tail < o.size ? o.size - value.size() - tail : 0, 'x');
        value += "\"}}";
        for (;;) {
            const auto err = rd_kafka_producev(
                rk,
                RD_KAFKA_V_TOPIC(o.topic.c_str()),
                RD_KAFKA_V_VALUE(value.data(), value.size()),
                RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_END
            );
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 10);
                continue;
            }
            if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                std::fprintf(stderr, "bench_producer: produce: %s\n", rd_kafka_err2str(err));
                ++g_failed;
            }
            break;
        }
        ++sent;
        if ((i & 255) == 0) {
            rd_kafka_poll(rk, 0);
        }
    }
    const auto flushed = rd_kafka_flush(rk, 60000);
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_mono).count();
    rd_kafka_destroy(rk);
    std::printf(
        "{\"produced\":%ld,\"failed\":%ld,\"sent\":%ld,\"elapsed_s\":%.3f,\"max_lag_ms\":%.3f,\"flush\":\"%"
        "s\"}\n",
        g_acked,
        g_failed + (sent - g_acked - g_failed),
        sent,
        elapsed,
        max_lag_ms,
        rd_kafka_err2str(flushed)
    );
    return g_acked == o.count ? 0 : 1;
}

} // namespace

int main(int argc, char** argv)
{
    const options o = parse(argc, argv);
    if (o.mode == "create") {
        return create(o);
    }
    if (o.mode == "produce") {
        return produce(o);
    }
    usage("mode must be create or produce");
}
