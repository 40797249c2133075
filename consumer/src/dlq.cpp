#include "relay/delivery/dlq.hpp"

#include "relay/config/kafka_clients.hpp"
#include "relay/delivery/retry_schedule.hpp"
#include "relay/event/timestamp.hpp"
#include "relay/kafka/admin.hpp"
#include "relay/kafka/consumer.hpp"
#include "relay/kafka/error.hpp"
#include "relay/kafka/producer.hpp"
#include "relay/log/log.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

namespace relay::delivery {

namespace {

using steady = std::chrono::steady_clock;

// Reading pauses when this many records (or value bytes) wait for the callback, and resumes once the
// scanning thread took them.
constexpr std::size_t queue_high_mark = 2000;
constexpr std::size_t queue_high_bytes = 32 * 1024 * 1024;
constexpr std::chrono::milliseconds wake_interval{100};

std::int64_t now_ms()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch()
    )
        .count();
}

// librdkafka takes milliseconds as int.
int to_int_ms(std::chrono::milliseconds d)
{
    return static_cast<int>(std::clamp<std::int64_t>(d.count(), 1, std::numeric_limits<int>::max()));
}

std::string random_group_id()
{
    std::random_device rd;
    const auto bits = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(bits));
    return std::string("relay-dlq-") + buf;
}

bool unavailable(const boost::system::error_code& ec)
{
    if (ec.category() != kafka::kafka_category())
        return false;
    switch (static_cast<rd_kafka_resp_err_t>(ec.value())) {
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
        return true;
    default:
        return false;
    }
}

dlq_error kafka_failure(const std::string& topic, std::string_view what, const boost::system::error_code& ec)
{
    dlq_error e;
    if (ec == kafka::make_error_code(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)) {
        e.code = dlq_errc::topic_not_found;
        e.message = "topic '" + topic + "' does not exist";
        return e;
    }
    e.code = unavailable(ec) ? dlq_errc::kafka_unavailable : dlq_errc::kafka_error;
    e.message = "cannot read topic '" + topic + "': " + std::string(what) + ": " + kafka::error_name(ec) +
                " (" + ec.message() + ")";
    return e;
}

dlq_error config_failure(std::string_view client, const std::exception& e)
{
    return {
        dlq_errc::invalid_config,
        "invalid Kafka configuration for the " + std::string(client) + ": " + e.what()};
}

void append_string(std::string& out, std::string_view name, std::string_view value)
{
    out += ",\"";
    out += name;
    out += "\":\"";
    log::append_json_escaped(out, value);
    out += '"';
}

void append_number(std::string& out, std::string_view name, std::int64_t value)
{
    out += ",\"";
    out += name;
    out += "\":";
    out += std::to_string(value);
}

void append_time(std::string& out, std::string_view name, std::int64_t ms)
{
    append_string(
        out, name, event::format_rfc3339(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)))
    );
    append_number(out, std::string(name) + "_ms", ms);
}

dlq_entry make_entry(const rd_kafka_message_t& m)
{
    dlq_entry e;
    e.partition = m.partition;
    e.offset = m.offset;
    e.timestamp_ms = kafka::timestamp_ms(m);
    if (const auto k = kafka::key(m))
        e.key = std::string(*k);
    if (const auto v = kafka::value(m)) {
        e.value = std::string(*v);
        e.value_size = v->size();
    }
    const auto raw = kafka::headers(m);
    std::vector<event::record_header> views;
    views.reserve(raw.size());
    for (const auto& [name, value] : raw) {
        views.push_back({name, value});
        if (!name.starts_with(header::prefix))
            e.headers.emplace_back(std::string(name), std::string(value));
    }
    auto parsed = parse_dlq_record(views);
    if (parsed)
        e.record = std::move(*parsed);
    else
        e.problem = parsed.error();
    return e;
}

// Receives the DLQ's records on the consumer's poll thread and queues them for the scanning thread.
class scan_handler final : public kafka::consumer_handler
{
public:
    explicit scan_handler(std::string topic)
        : topic_(std::move(topic))
    {}

    // Sets where each partition starts and ends; before the consumer is assigned any partition.
    void start(kafka::consumer* c, std::vector<std::int64_t> next, std::vector<std::int64_t> end)
    {
        std::lock_guard lock(mutex_);
        consumer_ = c;
        next_ = std::move(next);
        end_ = std::move(end);
        finished_.assign(end_.size(), false);
        for (std::size_t p = 0; p < end_.size(); ++p)
            finished_[p] = next_[p] >= end_[p];
        last_progress_ = steady::now();
    }

    void on_assigned(const std::vector<kafka::topic_partition>&) override {}
    void on_revoked(const std::vector<kafka::topic_partition>&, bool) override {}

    void on_messages(std::vector<kafka::message_ptr> batch) override
    {
        std::vector<bool> keep(batch.size(), false);
        std::vector<std::int32_t> just_finished;
        {
            std::lock_guard lock(mutex_);
            for (std::size_t i = 0; i < batch.size(); ++i) {
                const auto& m = batch[i];
                const auto p = static_cast<std::size_t>(m->partition);
                if (m->partition < 0 || p >= end_.size() || m->offset < next_[p] || m->offset >= end_[p])
                    continue; // written after the scan started, or seen before
                keep[i] = true;
                next_[p] = m->offset + 1;
                // finished_ is set below, together with queueing the entries: the scanning thread must not
                // see a partition finished before its last records are queued.
                if (next_[p] >= end_[p] && !finished_[p])
                    just_finished.push_back(m->partition);
            }
        }
        // Copied outside the lock, so the scanning thread keeps working meanwhile.
        std::vector<dlq_entry> entries;
        std::size_t bytes = 0;
        entries.reserve(batch.size());
        for (std::size_t i = 0; i < batch.size(); ++i) {
            if (keep[i]) {
                entries.push_back(make_entry(*batch[i]));
                bytes += entries.back().value_size;
            }
        }
        batch.clear();

        std::lock_guard lock(mutex_);
        last_progress_ = steady::now();
        for (auto& e : entries)
            queue_.push_back(std::move(e));
        queued_bytes_ += bytes;
        for (const auto p : just_finished)
            finished_[static_cast<std::size_t>(p)] = true;
        // Records written after the start are of no interest: stop fetching partitions read to their end.
        if (!just_finished.empty())
            consumer_->pause(partitions(just_finished));
        if (!paused_ && (queue_.size() >= queue_high_mark || queued_bytes_ >= queue_high_bytes)) {
            paused_ = true;
            consumer_->pause(unfinished());
        }
        cv_.notify_all();
    }

    // Waits up to wake_interval for queued entries and moves them all to `out` (resuming reading if it was
    // paused). True when the scan has read everything: every partition to its end and nothing left queued.
    bool take(std::deque<dlq_entry>& out)
    {
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, wake_interval, [&] { return !queue_.empty() || all_finished(); });
        out.swap(queue_);
        queue_.clear();
        queued_bytes_ = 0;
        if (!out.empty())
            last_progress_ = steady::now(); // time spent in the callback is not a stall of the cluster
        if (paused_) {
            paused_ = false;
            consumer_->resume(unfinished());
        }
        return out.empty() && all_finished();
    }

    // The time of the last batch received.
    steady::time_point last_progress() const
    {
        std::lock_guard lock(mutex_);
        return last_progress_;
    }

    // "partition 0 at offset 3 of 10, ..." for the partitions not read to their end.
    std::string progress() const
    {
        std::lock_guard lock(mutex_);
        std::string out;
        for (std::size_t p = 0; p < end_.size(); ++p) {
            if (finished_[p])
                continue;
            if (!out.empty())
                out += ", ";
            out += "partition " + std::to_string(p) + " at offset " + std::to_string(next_[p]) + " of " +
                   std::to_string(end_[p]);
        }
        return out;
    }

private:
    bool all_finished() const
    {
        return std::all_of(finished_.begin(), finished_.end(), [](bool f) { return f; });
    }

    std::vector<kafka::topic_partition> partitions(const std::vector<std::int32_t>& ids) const
    {
        std::vector<kafka::topic_partition> out;
        for (const auto p : ids)
            out.push_back({topic_, p});
        return out;
    }

    std::vector<kafka::topic_partition> unfinished() const
    {
        std::vector<kafka::topic_partition> out;
        for (std::size_t p = 0; p < finished_.size(); ++p) {
            if (!finished_[p])
                out.push_back({topic_, static_cast<std::int32_t>(p)});
        }
        return out;
    }

    const std::string topic_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    kafka::consumer* consumer_ = nullptr; // guarded
    std::vector<std::int64_t> next_;      // guarded: per partition, the offset after the last record read
    std::vector<std::int64_t> end_;       // guarded: per partition, the high watermark at the start
    std::vector<bool> finished_;          // guarded
    std::deque<dlq_entry> queue_;         // guarded
    bool paused_ = false;                 // guarded
    std::size_t queued_bytes_ = 0;        // guarded: value bytes in queue_
    steady::time_point last_progress_{};  // guarded: the last batch received or taken
};

} // namespace

bool matches(const dlq_filter& filter, const dlq_entry& entry) noexcept
{
    if (!entry.record)
        return !filter.subscription_id && !filter.reason && !filter.since_ms && !filter.until_ms;
    const auto& r = *entry.record;
    if (filter.subscription_id &&
        (r.state.subscription_id.empty() || r.state.subscription_id != *filter.subscription_id))
        return false;
    if (filter.reason && r.details.reason != *filter.reason)
        return false;
    if (filter.since_ms && r.details.failed_at_ms < *filter.since_ms)
        return false;
    if (filter.until_ms && r.details.failed_at_ms >= *filter.until_ms)
        return false;
    return true;
}

std::string to_json(const dlq_entry& entry, bool include_value)
{
    std::string out = "{\"partition\":" + std::to_string(entry.partition);
    append_number(out, "offset", entry.offset);
    if (entry.timestamp_ms >= 0)
        append_time(out, "timestamp", entry.timestamp_ms);
    if (entry.key)
        append_string(out, "key", *entry.key);
    else
        out += ",\"key\":null";
    append_number(out, "value_bytes", static_cast<std::int64_t>(entry.value_size));
    const bool omitted = entry.record && entry.record->details.omitted_value_size;
    out += omitted ? ",\"value_omitted\":true" : ",\"value_omitted\":false";
    if (omitted)
        append_number(
            out, "omitted_value_bytes", static_cast<std::int64_t>(*entry.record->details.omitted_value_size)
        );
    if (entry.record) {
        const auto& r = *entry.record;
        if (!r.state.subscription_id.empty())
            append_string(out, "subscription_id", r.state.subscription_id);
        if (!r.state.event_id.empty())
            append_string(out, "event_id", r.state.event_id);
        append_string(out, "reason", to_string(r.details.reason));
        append_string(out, "error", r.details.error);
        if (r.state.last_status != 0)
            append_number(out, "last_status", r.state.last_status);
        if (!r.state.last_error.empty())
            append_string(out, "last_error", r.state.last_error);
        append_number(out, "attempts", r.state.attempts);
        if (r.state.first_attempt_ms > 0)
            append_time(out, "first_attempt", r.state.first_attempt_ms);
        append_time(out, "failed_at", r.details.failed_at_ms);
        out += ",\"origin\":{\"topic\":\"";
        log::append_json_escaped(out, r.state.origin.topic);
        out += "\",\"partition\":" + std::to_string(r.state.origin.partition) +
               ",\"offset\":" + std::to_string(r.state.origin.offset) + "}";
    } else {
        append_string(out, "problem", entry.problem);
    }
    if (include_value) {
        if (entry.value)
            append_string(out, "value", *entry.value);
        else
            out += ",\"value\":null";
    }
    out += '}';
    return out;
}

boost::system::result<scan_summary, dlq_error> scan_dlq(
    const config::config& cfg,
    const dlq_filter& filter,
    const dlq_callback& on_entry,
    const scan_options& options
)
{
    const std::string& topic = cfg.topics.dlq;
    const auto timeout = std::max(options.timeout, std::chrono::milliseconds(1));
    scan_summary summary;
    if (filter.limit && *filter.limit == 0)
        return summary;

    kafka::consumer_options copts;
    copts.client.config = config::client_properties(cfg, config::client_kind::consumer);
    // librdkafka refuses rd_kafka_assign() without a group.id; the group is never joined and nothing is ever
    // committed, so a fresh id per scan is harmless.
    copts.client.config["group.id"] = options.group_id.empty() ? random_group_id() : options.group_id;
    copts.client.config["enable.auto.commit"] = "false";
    copts.client.config["enable.auto.offset.store"] = "false";
    copts.client.config["auto.offset.reset"] = "earliest";
    copts.client.config["enable.partition.eof"] = "false";
    copts.max_batch = 500;

    // The handler learns the partitions' ends before assign(): no message can arrive before that.
    scan_handler handler(topic);
    std::unique_ptr<kafka::consumer> consumer;
    try {
        consumer = std::make_unique<kafka::consumer>(copts, handler);
    } catch (const kafka::config_error& e) {
        return config_failure("DLQ consumer", e);
    }
    rd_kafka_t* rk = consumer->native_handle();
    const auto count = kafka::partition_count(rk, topic, timeout);
    if (!count)
        return kafka_failure(topic, "partition count", count.error());
    std::vector<std::int64_t> low(static_cast<std::size_t>(std::max(*count, 0)));
    std::vector<std::int64_t> high(low.size());
    std::vector<kafka::topic_partition> assignment;
    for (std::int32_t p = 0; p < *count; ++p) {
        const auto i = static_cast<std::size_t>(p);
        const auto err =
            rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low[i], &high[i], to_int_ms(timeout));
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
            return kafka_failure(
                topic, "watermarks of partition " + std::to_string(p), kafka::make_error_code(err)
            );
        // Offsets below the low watermark are gone (retention).
        if (low[i] < high[i])
            assignment.push_back({topic, p, RD_KAFKA_OFFSET_BEGINNING});
    }
    if (assignment.empty()) {
        summary.complete = true;
        return summary;
    }
    handler.start(consumer.get(), std::move(low), std::move(high));
    if (const auto ec = consumer->assign(assignment))
        return kafka_failure(topic, "assign", ec);

    std::deque<dlq_entry> batch;
    for (;;) {
        const bool done = handler.take(batch);
        for (auto& e : batch) {
            ++summary.scanned;
            if (!e.record)
                ++summary.invalid;
            if (!matches(filter, e))
                continue;
            ++summary.matched;
            const bool more = on_entry(e);
            if (!more || (filter.limit && summary.matched >= *filter.limit))
                return summary; // the consumer closes on the way out
        }
        batch.clear();
        if (done) {
            summary.complete = true;
            return summary;
        }
        if (steady::now() - handler.last_progress() > timeout) {
            return dlq_error{
                dlq_errc::kafka_unavailable,
                "cannot read topic '" + topic + "': no progress for " + std::to_string(timeout.count()) +
                    " ms (" + handler.progress() + ")"};
        }
    }
}

std::optional<kafka::record> make_redrive_record(
    const dlq_entry& entry, const std::string& retry_topic, std::int64_t now, std::string& skip_reason
)
{
    skip_reason.clear();
    if (!entry.record) {
        skip_reason = "invalid_record";
    } else if (entry.record->state.subscription_id.empty()) {
        skip_reason = "no_subscription";
    } else if (entry.record->state.event_id.empty()) {
        skip_reason = "no_event_id";
    } else if (entry.record->details.omitted_value_size) {
        skip_reason = "value_omitted";
    } else if (!entry.value) {
        skip_reason = "no_value";
    }
    if (!skip_reason.empty())
        return std::nullopt;

    std::vector<event::record_header> headers;
    headers.reserve(entry.headers.size());
    for (const auto& [name, value] : entry.headers)
        headers.push_back({name, value});
    parked_payload payload;
    if (entry.key)
        payload.key = *entry.key;
    payload.value = *entry.value;
    payload.headers = headers;

    delivery_state state;
    state.subscription_id = entry.record->state.subscription_id;
    state.event_id = entry.record->state.event_id;
    state.attempts = 0;
    state.first_attempt_ms = now;
    state.origin = entry.record->state.origin;
    return make_retry_record(retry_topic, payload, state, now);
}

namespace {

// Acknowledgements of a redrive's records, shared with the producer's delivery callbacks.
struct ack_state
{
    std::mutex mutex;
    std::condition_variable cv;
    std::uint64_t produced = 0; // guarded
    std::uint64_t acked = 0;    // guarded
    std::uint64_t failed = 0;   // guarded
    std::string first_failure;  // guarded
    bool closed = false;        // guarded: late reports are ignored once the result is taken

    void fail(const std::string& why)
    {
        ++failed;
        if (first_failure.empty())
            first_failure = why;
    }
};

} // namespace

boost::system::result<redrive_result, dlq_error>
redrive_dlq(const config::config& cfg, const dlq_filter& filter, const redrive_options& options)
{
    redrive_result result;
    result.dry_run = options.dry_run;
    const auto timeout = std::max(options.timeout, std::chrono::milliseconds(1));

    std::vector<std::chrono::milliseconds> tiers;
    try {
        tiers = retry_schedule(cfg.delivery.retry_schedule, cfg.delivery.retry_jitter).tiers();
    } catch (const std::invalid_argument& e) {
        return dlq_error{dlq_errc::invalid_config, std::string("delivery.retry_schedule: ") + e.what()};
    }
    if (tiers.empty()) {
        return dlq_error{
            dlq_errc::no_retry_tiers,
            "delivery.retry_schedule is empty: there is no retry topic to redrive to (configure at least one "
            "delay, e.g. 5s)"};
    }
    result.retry_topic = tier_topic(cfg.topics.retry_prefix, tiers.front());

    // Refuse before reading anything when the tier topic is missing: a produce would wait for it in vain.
    try {
        kafka::admin adm({config::client_properties(cfg, config::client_kind::admin)});
        if (const auto count = adm.partition_count(result.retry_topic, timeout); !count)
            return kafka_failure(result.retry_topic, "partition count", count.error());
    } catch (const kafka::config_error& e) {
        return config_failure("admin client", e);
    }

    std::unique_ptr<kafka::producer> producer;
    if (!options.dry_run) {
        auto props = config::client_properties(cfg, config::client_kind::producer);
        props["acks"] = "all";
        props["enable.idempotence"] = "true";
        if (!props.contains("message.timeout.ms") && !props.contains("delivery.timeout.ms"))
            props["message.timeout.ms"] = std::to_string(to_int_ms(timeout));
        try {
            producer = std::make_unique<kafka::producer>(kafka::client_options{props});
        } catch (const kafka::config_error& e) {
            return config_failure("redrive producer", e);
        }
    }

    auto acks = std::make_shared<ack_state>();
    const auto interval = options.rate > 0 ? std::chrono::duration<double>(1.0 / options.rate)
                                           : std::chrono::duration<double>(0);
    std::optional<steady::time_point> first_send;
    std::string skip_reason;

    auto decide = [&](const dlq_entry& e) -> bool {
        ++result.matched;
        auto rec = make_redrive_record(e, result.retry_topic, now_ms(), skip_reason);
        if (options.on_entry)
            options.on_entry(e, skip_reason);
        if (!rec) {
            ++result.skipped;
            ++result.skipped_by_reason[skip_reason];
            return true;
        }
        if (options.dry_run) {
            ++result.redriven;
            return true;
        }
        // Even pacing from the first record: record n goes out no earlier than n / rate after it.
        std::uint64_t sent = 0;
        {
            std::lock_guard lock(acks->mutex);
            sent = acks->produced;
        }
        if (interval.count() > 0) {
            if (!first_send)
                first_send = steady::now();
            std::this_thread::sleep_until(
                *first_send +
                std::chrono::duration_cast<steady::duration>(interval * static_cast<double>(sent))
            );
        }
        const auto deadline = steady::now() + timeout;
        for (;;) {
            const auto ec =
                producer->produce(*rec, [acks](boost::system::error_code ec, kafka::delivery_info) {
                    std::lock_guard lock(acks->mutex);
                    if (acks->closed)
                        return;
                    if (ec)
                        acks->fail(kafka::error_name(ec) + " (" + ec.message() + ")");
                    else
                        ++acks->acked;
                    acks->cv.notify_all();
                });
            std::unique_lock lock(acks->mutex);
            if (!ec) {
                ++acks->produced;
                return true;
            }
            if (ec != kafka::make_error_code(RD_KAFKA_RESP_ERR__QUEUE_FULL) || steady::now() >= deadline) {
                ++acks->produced;
                acks->fail(kafka::error_name(ec) + " (" + ec.message() + ")");
                return true;
            }
            // The local queue is full: wait for acknowledgements to make room.
            const auto done = acks->acked + acks->failed;
            acks->cv.wait_for(lock, wake_interval, [&] { return acks->acked + acks->failed != done; });
        }
    };

    auto scanned = scan_dlq(cfg, filter, decide, scan_options{timeout, options.group_id});

    if (producer) {
        std::unique_lock lock(acks->mutex);
        acks->cv.wait_for(lock, timeout + std::chrono::seconds(5), [&] {
            return acks->acked + acks->failed >= acks->produced;
        });
        const auto unanswered = acks->produced - std::min(acks->produced, acks->acked + acks->failed);
        if (unanswered > 0) {
            acks->failed += unanswered;
            if (acks->first_failure.empty())
                acks->first_failure = "not acknowledged within " + std::to_string(timeout.count()) + " ms";
        }
        acks->closed = true;
        result.redriven = acks->acked;
        result.failed = acks->failed;
        result.first_failure = acks->first_failure;
        lock.unlock();
        producer->close(std::chrono::seconds(1));
    }
    if (!scanned) {
        if (result.redriven == 0 && result.failed == 0)
            return scanned.error();
        result.error = scanned.error();
        return result;
    }
    result.complete = scanned->complete;
    return result;
}

} // namespace relay::delivery
