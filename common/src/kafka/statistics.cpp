#include "relay/kafka/statistics.hpp"

#include "relay/log/log.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <set>
#include <tuple>

namespace relay::kafka {
namespace {

using value_t = rapidjson::Value;

// Reads the integer member `name` of `obj` into `out` when present. False when present with another type.
template <class T>
bool read_int(const value_t& obj, const char* name, T& out)
{
    const auto it = obj.FindMember(name);
    if (it == obj.MemberEnd())
        return true;
    if (it->value.IsInt64()) {
        out = static_cast<T>(it->value.GetInt64());
        return true;
    }
    if (it->value.IsUint64()) {
        out = static_cast<T>(it->value.GetUint64());
        return true;
    }
    return false;
}

bool read_string(const value_t& obj, const char* name, std::string& out)
{
    const auto it = obj.FindMember(name);
    if (it == obj.MemberEnd())
        return true;
    if (!it->value.IsString())
        return false;
    out.assign(it->value.GetString(), it->value.GetStringLength());
    return true;
}

// Converts to any result<T, std::string> holding the error.
struct parse_error
{
    std::string text;

    template <class T>
    operator boost::system::result<T, std::string>() const
    {
        return {boost::system::in_place_error, text};
    }
};

parse_error wrong_type(std::string_view where, std::string_view field)
{
    return parse_error{
        "librdkafka statistics: " + std::string(where) + " field '" + std::string(field) +
        "' has an unexpected type"};
}

boost::system::result<broker_statistics, std::string> parse_broker(const value_t& b)
{
    broker_statistics out;
    std::string state;
    if (!read_string(b, "name", out.name) || !read_int(b, "nodeid", out.node_id) ||
        !read_string(b, "state", state) || !read_int(b, "outbuf_cnt", out.outbuf_cnt) ||
        !read_int(b, "waitresp_cnt", out.waitresp_cnt) || !read_int(b, "txerrs", out.tx_errors) ||
        !read_int(b, "rxerrs", out.rx_errors) || !read_int(b, "req_timeouts", out.req_timeouts) ||
        !read_int(b, "disconnects", out.disconnects)) {
        return wrong_type("broker", "a counter or name");
    }
    out.up = state == "UP";
    if (const auto rtt = b.FindMember("rtt"); rtt != b.MemberEnd()) {
        if (!rtt->value.IsObject())
            return wrong_type("broker", "rtt");
        std::int64_t avg = 0;
        std::int64_t p99 = 0;
        if (!read_int(rtt->value, "avg", avg) || !read_int(rtt->value, "p99", p99))
            return wrong_type("broker", "rtt");
        // librdkafka reports microseconds.
        out.rtt_avg_seconds = static_cast<double>(avg) / 1e6;
        out.rtt_p99_seconds = static_cast<double>(p99) / 1e6;
    }
    return out;
}

} // namespace

boost::system::result<client_statistics, std::string> parse_statistics(std::string_view json)
{
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseStopWhenDoneFlag>(json.data(), json.size());
    if (doc.HasParseError()) {
        return parse_error{
            std::string("librdkafka statistics: not JSON: ") +
            rapidjson::GetParseError_En(doc.GetParseError())};
    }
    if (!doc.IsObject())
        return parse_error{"librdkafka statistics: not a JSON object"};
    client_statistics out;
    if (!read_string(doc, "name", out.name) || !read_string(doc, "type", out.type) ||
        !read_int(doc, "time", out.time_seconds) || !read_int(doc, "replyq", out.replyq) ||
        !read_int(doc, "msg_cnt", out.msg_cnt) || !read_int(doc, "msg_size", out.msg_size)) {
        return wrong_type("client", "name, type, time, replyq, msg_cnt or msg_size");
    }
    if (const auto brokers = doc.FindMember("brokers"); brokers != doc.MemberEnd()) {
        if (!brokers->value.IsObject())
            return wrong_type("client", "brokers");
        for (const auto& b : brokers->value.GetObject()) {
            if (!b.value.IsObject())
                return wrong_type("client", "brokers");
            auto parsed = parse_broker(b.value);
            if (!parsed)
                return parse_error{parsed.error()};
            if (parsed->node_id >= 0)
                out.brokers.push_back(std::move(*parsed));
        }
    }
    if (const auto topics = doc.FindMember("topics"); topics != doc.MemberEnd()) {
        if (!topics->value.IsObject())
            return wrong_type("client", "topics");
        for (const auto& t : topics->value.GetObject()) {
            if (!t.value.IsObject())
                return wrong_type("client", "topics");
            std::string topic(t.name.GetString(), t.name.GetStringLength());
            if (!read_string(t.value, "topic", topic))
                return wrong_type("topic", "topic");
            const auto parts = t.value.FindMember("partitions");
            if (parts == t.value.MemberEnd())
                continue;
            if (!parts->value.IsObject())
                return wrong_type("topic", "partitions");
            for (const auto& p : parts->value.GetObject()) {
                if (!p.value.IsObject())
                    return wrong_type("topic", "partitions");
                partition_statistics ps;
                ps.topic = topic;
                std::int64_t lag = -1;
                std::int64_t lag_stored = -1;
                if (!read_int(p.value, "partition", ps.partition) ||
                    !read_int(p.value, "consumer_lag", lag) ||
                    !read_int(p.value, "consumer_lag_stored", lag_stored) ||
                    !read_int(p.value, "hi_offset", ps.hi_offset)) {
                    return wrong_type("partition", "partition, consumer_lag or hi_offset");
                }
                if (ps.partition < 0)
                    continue; // the unassigned-partition bucket of a producer
                // What is not done yet is lag too: prefer the lag behind the stored (done) offset.
                ps.consumer_lag = lag_stored >= 0 ? lag_stored : lag;
                out.partitions.push_back(std::move(ps));
            }
        }
    }
    return out;
}

properties with_statistics_interval(properties props)
{
    props.try_emplace("statistics.interval.ms", std::to_string(statistics_metrics::default_interval_ms));
    return props;
}

struct statistics_metrics::impl
{
    explicit impl(prometheus::Registry& reg)
        : reply_queue(
              prometheus::BuildGauge()
                  .Name("relay_kafka_client_reply_queue")
                  .Help("Kafka client: operations (callbacks, events) waiting in the application queue")
                  .Register(reg)
          )
        , queue_messages(prometheus::BuildGauge()
                             .Name("relay_kafka_producer_queue_messages")
                             .Help("Kafka producer: messages waiting in the producer queues")
                             .Register(reg))
        , queue_bytes(prometheus::BuildGauge()
                          .Name("relay_kafka_producer_queue_bytes")
                          .Help("Kafka producer: bytes of messages waiting in the producer queues")
                          .Register(reg))
        , broker_up(prometheus::BuildGauge()
                        .Name("relay_kafka_broker_up")
                        .Help("Kafka client: 1 when the connection to the broker (node id) is up, else 0")
                        .Register(reg))
        , rtt_avg(prometheus::BuildGauge()
                      .Name("relay_kafka_broker_rtt_avg_seconds")
                      .Help("Kafka client: average request round-trip time to the broker (last window)")
                      .Register(reg))
        , rtt_p99(
              prometheus::BuildGauge()
                  .Name("relay_kafka_broker_rtt_p99_seconds")
                  .Help("Kafka client: 99th percentile request round-trip time to the broker (last window)")
                  .Register(reg)
          )
        , outbuf(prometheus::BuildGauge()
                     .Name("relay_kafka_broker_requests_queued")
                     .Help("Kafka client: requests waiting to be sent to the broker")
                     .Register(reg))
        , waitresp(prometheus::BuildGauge()
                       .Name("relay_kafka_broker_requests_in_flight")
                       .Help("Kafka client: requests sent to the broker and awaiting a response")
                       .Register(reg))
        , errors(prometheus::BuildCounter()
                     .Name("relay_kafka_client_errors_total")
                     .Help("Kafka client: broker errors by kind: transmit, receive, timeout (request timed "
                           "out), disconnect")
                     .Register(reg))
    {}

    prometheus::Family<prometheus::Gauge>& reply_queue;
    prometheus::Family<prometheus::Gauge>& queue_messages;
    prometheus::Family<prometheus::Gauge>& queue_bytes;
    prometheus::Family<prometheus::Gauge>& broker_up;
    prometheus::Family<prometheus::Gauge>& rtt_avg;
    prometheus::Family<prometheus::Gauge>& rtt_p99;
    prometheus::Family<prometheus::Gauge>& outbuf;
    prometheus::Family<prometheus::Gauge>& waitresp;
    prometheus::Family<prometheus::Counter>& errors;

    std::mutex mutex;
    // Last cumulative error totals per (client instance, broker, kind), to turn them into increments.
    std::map<std::tuple<std::string, std::int32_t, int>, std::uint64_t> last_errors; // guarded by mutex
    std::set<std::string> warned;                                                    // guarded by mutex
};

statistics_metrics::statistics_metrics(prometheus::Registry& registry)
    : impl_(std::make_unique<impl>(registry))
{}

statistics_metrics::~statistics_metrics() = default;

void statistics_metrics::record(const std::string& role, const client_statistics& s)
{
    auto& m = *impl_;
    // Family::Add locks and hashes; statistics arrive every few seconds per client, so the cost is moot.
    m.reply_queue.Add({{"client", role}}).Set(static_cast<double>(s.replyq));
    if (s.type == "producer") {
        m.queue_messages.Add({{"client", role}}).Set(static_cast<double>(s.msg_cnt));
        m.queue_bytes.Add({{"client", role}}).Set(static_cast<double>(s.msg_size));
    }
    static constexpr const char* kinds[] = {"transmit", "receive", "timeout", "disconnect"};
    std::lock_guard lock(m.mutex);
    for (const auto& b : s.brokers) {
        const std::map<std::string, std::string> labels{
            {"client", role}, {"broker", std::to_string(b.node_id)}};
        m.broker_up.Add(labels).Set(b.up ? 1 : 0);
        m.rtt_avg.Add(labels).Set(b.rtt_avg_seconds);
        m.rtt_p99.Add(labels).Set(b.rtt_p99_seconds);
        m.outbuf.Add(labels).Set(static_cast<double>(b.outbuf_cnt));
        m.waitresp.Add(labels).Set(static_cast<double>(b.waitresp_cnt));
        const std::uint64_t totals[] = {b.tx_errors, b.rx_errors, b.req_timeouts, b.disconnects};
        for (int k = 0; k < 4; ++k) {
            auto& last = m.last_errors[{s.name, b.node_id, k}];
            auto& counter = m.errors.Add({{"client", role}, {"kind", kinds[k]}});
            if (totals[k] > last)
                counter.Increment(static_cast<double>(totals[k] - last));
            last = totals[k];
        }
    }
    if (s.brokers.empty()) {
        // Make the error series exist before the first broker is known, so rate() has a start.
        for (const auto* kind : kinds)
            m.errors.Add({{"client", role}, {"kind", kind}});
    }
}

statistics_handler
statistics_metrics::handler(std::string role, std::function<void(const client_statistics&)> also)
{
    return [this, role = std::move(role), also = std::move(also)](std::string_view json) {
        auto parsed = parse_statistics(json);
        if (!parsed) {
            bool first = false;
            {
                std::lock_guard lock(impl_->mutex);
                first = impl_->warned.insert(role).second;
            }
            if (first)
                relay::log::warn(
                    "kafka statistics unreadable", {{"client", role}, {"error", parsed.error()}}
                );
            return;
        }
        record(role, *parsed);
        if (also)
            also(*parsed);
    };
}

} // namespace relay::kafka
