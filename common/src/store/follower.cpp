#include "relay/kafka/consumer.hpp"
#include "relay/kafka/error.hpp"
#include "relay/log/log.hpp"
#include "relay/subscription/store.hpp"

#include <boost/asio/dispatch.hpp>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <list>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace relay::subscription {
namespace {

using clock = std::chrono::steady_clock;

struct waiter
{
    std::int32_t partition = 0;
    std::int64_t offset = 0;
    clock::time_point deadline{};
    boost::asio::any_completion_handler<void(boost::system::error_code)> handler;
};

// Runs each handler through its associated executor (posted to an io_context when bound to one, inline on
// this thread when it has none).
void complete_all(std::list<waiter>& done, boost::system::error_code ec) noexcept
{
    for (auto& w : done) {
        try {
            boost::asio::dispatch(boost::asio::append(std::move(w.handler), ec));
        } catch (const std::exception& e) {
            relay::log::error("subscriptions wait handler threw", {{"what", e.what()}});
        } catch (...) {
            relay::log::error("subscriptions wait handler threw", {{"what", "unknown exception"}});
        }
    }
    done.clear();
}

clock::time_point deadline_after(std::chrono::milliseconds timeout)
{
    const auto now = clock::now();
    if (timeout >= std::chrono::duration_cast<std::chrono::milliseconds>(clock::time_point::max() - now)) {
        return clock::time_point::max();
    }
    return now + timeout;
}

} // namespace

struct follower::impl final : kafka::consumer_handler
{
    impl(follower_options o, atomic_routing_table& t)
        : options(std::move(o))
        , table(t)
        , state(options.static_subscriptions, options.parse)
    {
        options.static_subscriptions.clear(); // held by `state` from now on
    }

    follower_options options;
    atomic_routing_table& table;

    mutable std::mutex mutex;
    mutable std::condition_variable progress_cv; // applied offsets, loaded, stopped
    std::condition_variable deadline_cv;         // waiters added, stopped
    subscription_set state;                      // guarded by mutex
    std::vector<std::int64_t> next;              // guarded: per partition, the offset after the last applied
    std::vector<std::int64_t> end_at_start;      // guarded: per partition, the high watermark at start()
    bool started = false;                        // guarded
    bool loaded = false;                         // guarded
    bool stopped = false;                        // guarded
    follower_stats counters;                     // guarded
    std::list<waiter> waiters;                   // guarded
    // relay_subscriptions_loaded by [static][enabled]; guarded (set from publish and bind_metrics)
    std::array<std::array<prometheus::Gauge*, 2>, 2> loaded_gauges{};
    clock::time_point started_at{};

    std::mutex lifecycle_mutex; // start() and stop()
    bool start_called = false;  // guarded by lifecycle_mutex
    bool stop_called = false;   // guarded by lifecycle_mutex
    std::unique_ptr<kafka::consumer> consumer;
    std::thread deadline_thread;

    bool all_reached(const std::vector<std::int64_t>& positions) const
    {
        for (std::size_t p = 0; p < positions.size(); ++p) {
            if (positions[p] < end_at_start[p]) {
                return false;
            }
        }
        return true;
    }

    // Builds the table outside the lock: only the poll thread (and start(), before it assigns) publishes.
    void publish()
    {
        std::vector<subscription_ptr> all;
        {
            std::lock_guard lock(mutex);
            all = state.all();
            ++counters.tables;
            update_gauges_locked(all);
        }
        table.store(std::make_shared<const routing_table>(std::move(all)));
    }

    void update_gauges_locked(const std::vector<subscription_ptr>& all)
    {
        if (loaded_gauges[0][0] == nullptr) {
            return;
        }
        std::array<std::array<double, 2>, 2> counts{};
        for (const auto& s : all) {
            counts[state.is_static(s->id) ? 1 : 0][s->enabled ? 1 : 0] += 1;
        }
        for (std::size_t i = 0; i < 2; ++i) {
            for (std::size_t j = 0; j < 2; ++j) {
                loaded_gauges[i][j]->Set(counts[i][j]);
            }
        }
    }

    void log_loaded()
    {
        std::size_t stored = 0;
        std::size_t statics = 0;
        {
            std::lock_guard lock(mutex);
            stored = state.stored_count();
            statics = state.static_count();
        }
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - started_at);
        relay::log::info(
            "subscriptions loaded",
            {{"topic", options.topic}, {"stored", stored}, {"static", statics}, {"ms", ms.count()}}
        );
    }

    void on_assigned(const std::vector<kafka::topic_partition>&) override {}
    void on_revoked(const std::vector<kafka::topic_partition>&, bool) override {}

    void on_messages(std::vector<kafka::message_ptr> batch) override
    {
        struct logged
        {
            apply_result result;
            std::int32_t partition;
            std::int64_t offset;
        };
        std::vector<logged> log_lines;
        std::vector<std::int64_t> new_next;
        bool changed = false;
        bool was_loaded = false;
        bool now_loaded = false;
        {
            std::lock_guard lock(mutex);
            new_next = next;
            for (const auto& m : batch) {
                if (m->partition < 0 || static_cast<std::size_t>(m->partition) >= new_next.size()) {
                    continue; // only assigned partitions are fetched
                }
                auto r = state.apply(kafka::key(*m), kafka::value(*m));
                ++counters.records;
                if (r.action == record_action::invalid) {
                    ++counters.invalid;
                } else if (r.action == record_action::ignored_static) {
                    ++counters.ignored_static;
                }
                changed = changed || r.changed;
                auto& pos = new_next[static_cast<std::size_t>(m->partition)];
                pos = std::max(pos, m->offset + 1);
                log_lines.push_back({std::move(r), m->partition, m->offset});
            }
            was_loaded = loaded;
            now_loaded = loaded || all_reached(new_next);
        }
        batch.clear(); // messages must not outlive the consumer; nothing below needs them

        for (const auto& l : log_lines) {
            const auto level =
                l.result.action == record_action::invalid || l.result.action == record_action::ignored_static
                    ? relay::log::level::warning
                : was_loaded ? relay::log::level::info
                             : relay::log::level::debug;
            const char* msg = l.result.action == record_action::invalid ? "subscription record skipped"
                              : l.result.action == record_action::ignored_static
                                  ? "subscription record ignored"
                                  : "subscription record applied";
            relay::log::write(
                level,
                msg,
                {{"topic", options.topic},
                 {"partition", l.partition},
                 {"offset", l.offset},
                 {"id", l.result.id},
                 {"action", to_string(l.result.action)},
                 {"reason", l.result.reason}}
            );
        }

        if (now_loaded && (changed || !was_loaded)) {
            publish();
        }

        std::list<waiter> done;
        {
            std::lock_guard lock(mutex);
            next = std::move(new_next);
            loaded = now_loaded;
            for (auto it = waiters.begin(); it != waiters.end();) {
                const auto p = static_cast<std::size_t>(it->partition);
                if (next[p] > it->offset) {
                    done.splice(done.end(), waiters, it++);
                } else {
                    ++it;
                }
            }
        }
        progress_cv.notify_all();
        complete_all(done, {});
        if (now_loaded && !was_loaded) {
            log_loaded();
        }
    }

    void deadline_loop() noexcept
    {
        std::unique_lock lock(mutex);
        while (!stopped) {
            auto earliest = clock::time_point::max();
            for (const auto& w : waiters) {
                earliest = std::min(earliest, w.deadline);
            }
            if (earliest == clock::time_point::max()) {
                deadline_cv.wait(lock);
            } else {
                deadline_cv.wait_until(lock, earliest);
            }
            const auto now = clock::now();
            std::list<waiter> expired;
            for (auto it = waiters.begin(); it != waiters.end();) {
                if (it->deadline <= now) {
                    expired.splice(expired.end(), waiters, it++);
                } else {
                    ++it;
                }
            }
            if (!expired.empty()) {
                lock.unlock();
                complete_all(expired, boost::asio::error::timed_out);
                lock.lock();
            }
        }
    }

    [[noreturn]] void fail_start(std::string_view what, boost::system::error_code ec)
    {
        throw std::runtime_error(
            "cannot read the subscriptions topic '" + options.topic + "': " + std::string(what) + ": " +
            kafka::error_name(ec) + " (" + ec.message() + ")"
        );
    }

    void start()
    {
        // Held throughout, so that a concurrent stop() waits for the consumer to exist (start() is bounded).
        std::lock_guard lifecycle(lifecycle_mutex);
        if (start_called || stop_called) {
            throw std::logic_error("follower::start() called twice or after stop()");
        }
        start_called = true;
        started_at = clock::now();

        kafka::consumer_options copts;
        copts.client.config = options.kafka;
        // librdkafka refuses rd_kafka_assign() without a group.id ("Requires a consumer with group.id
        // configured"); the group is never joined and, with auto-commit off and no stored offsets, never
        // gets an offset, so a fresh id per process is harmless.
        copts.client.config["group.id"] =
            options.group_id.empty() ? "relay-subscriptions-" + generate_id().substr(4) : options.group_id;
        copts.client.config["enable.auto.commit"] = "false";
        copts.client.config["enable.auto.offset.store"] = "false";
        copts.client.config["auto.offset.reset"] = "earliest";
        copts.client.config["enable.partition.eof"] = "false";
        copts.client.on_fatal = options.on_fatal;
        copts.max_batch = 1000;
        auto c = std::make_unique<kafka::consumer>(copts, *this);
        rd_kafka_t* rk = c->native_handle();

        const auto count = kafka::partition_count(rk, options.topic, options.start_timeout);
        if (!count) {
            fail_start("partition count", count.error());
        }
        if (*count <= 0) {
            fail_start("partition count", kafka::make_error_code(RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION));
        }
        std::vector<std::int64_t> low(static_cast<std::size_t>(*count));
        std::vector<std::int64_t> high(static_cast<std::size_t>(*count));
        std::vector<kafka::topic_partition> assignment;
        for (std::int32_t p = 0; p < *count; ++p) {
            const auto i = static_cast<std::size_t>(p);
            const auto err = rd_kafka_query_watermark_offsets(
                rk,
                options.topic.c_str(),
                p,
                &low[i],
                &high[i],
                static_cast<int>(options.start_timeout.count())
            );
            if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                fail_start("watermarks of partition " + std::to_string(p), kafka::make_error_code(err));
            }
            assignment.push_back({options.topic, p, RD_KAFKA_OFFSET_BEGINNING});
        }

        bool now_loaded = false;
        {
            std::lock_guard lock(mutex);
            // Offsets below the low watermark are gone (retention): nothing there to apply.
            next = std::move(low);
            end_at_start = std::move(high);
            started = true;
            now_loaded = all_reached(next);
        }
        if (now_loaded) {
            publish();
            {
                std::lock_guard lock(mutex);
                loaded = true;
            }
            progress_cv.notify_all();
            log_loaded();
        }
        if (const auto ec = c->assign(assignment)) {
            fail_start("assign", ec);
        }
        consumer = std::move(c);
        deadline_thread = std::thread([this] { deadline_loop(); });
    }

    void stop() noexcept
    {
        std::unique_ptr<kafka::consumer> c;
        {
            std::lock_guard lifecycle(lifecycle_mutex);
            if (stop_called) {
                return;
            }
            stop_called = true;
            c = std::move(consumer);
        }
        if (c) {
            c->close(); // joins the poll thread: no on_messages() after this
        }
        std::list<waiter> pending;
        {
            std::lock_guard lock(mutex);
            stopped = true;
            pending.splice(pending.end(), waiters);
        }
        progress_cv.notify_all();
        deadline_cv.notify_all();
        if (deadline_thread.joinable()) {
            deadline_thread.join();
        }
        complete_all(pending, boost::asio::error::operation_aborted);
    }
};

follower::follower(follower_options options, atomic_routing_table& table)
    : impl_(std::make_unique<impl>(std::move(options), table))
{}

follower::~follower()
{
    stop();
}

void follower::start()
{
    impl_->start();
}

bool follower::wait_until_loaded(std::chrono::milliseconds timeout) const
{
    std::unique_lock lock(impl_->mutex);
    impl_->progress_cv.wait_until(lock, deadline_after(timeout), [&] {
        return impl_->loaded || impl_->stopped;
    });
    return impl_->loaded;
}

bool follower::loaded() const
{
    std::lock_guard lock(impl_->mutex);
    return impl_->loaded;
}

std::vector<subscription_ptr> follower::snapshot() const
{
    std::lock_guard lock(impl_->mutex);
    return impl_->state.all();
}

subscription_ptr follower::find(std::string_view id) const
{
    std::lock_guard lock(impl_->mutex);
    return impl_->state.find(id);
}

bool follower::is_static(std::string_view id) const
{
    std::lock_guard lock(impl_->mutex);
    return impl_->state.is_static(id);
}

void follower::bind_metrics(prometheus::Registry& registry)
{
    auto& family = prometheus::BuildGauge()
                       .Name("relay_subscriptions_loaded")
                       .Help("Subscriptions loaded (static ones from the config, the others from the "
                             "subscriptions topic), by source and state (disabled ones receive nothing)")
                       .Register(registry);
    std::lock_guard lock(impl_->mutex);
    for (std::size_t i = 0; i < 2; ++i) {
        for (std::size_t j = 0; j < 2; ++j) {
            impl_->loaded_gauges[i][j] = &family.Add(
                {{"source", i == 1 ? "static" : "topic"}, {"state", j == 1 ? "enabled" : "disabled"}}
            );
        }
    }
    impl_->update_gauges_locked(impl_->state.all());
}

follower_stats follower::stats() const
{
    std::lock_guard lock(impl_->mutex);
    return impl_->counters;
}

bool follower::wait_applied(std::int32_t partition, std::int64_t offset, std::chrono::milliseconds timeout)
    const
{
    std::unique_lock lock(impl_->mutex);
    if (!impl_->started || partition < 0 || static_cast<std::size_t>(partition) >= impl_->next.size()) {
        return false;
    }
    const auto p = static_cast<std::size_t>(partition);
    impl_->progress_cv.wait_until(lock, deadline_after(timeout), [&] {
        return impl_->next[p] > offset || impl_->stopped;
    });
    return impl_->next[p] > offset;
}

bool follower::start_wait(
    std::int32_t partition,
    std::int64_t offset,
    std::chrono::milliseconds timeout,
    wait_handler& handler,
    boost::system::error_code& immediate
)
{
    {
        std::lock_guard lock(impl_->mutex);
        if (impl_->stopped) {
            immediate = boost::asio::error::operation_aborted;
            return false;
        }
        if (!impl_->started) {
            immediate = boost::asio::error::operation_not_supported;
            return false;
        }
        if (partition < 0 || static_cast<std::size_t>(partition) >= impl_->next.size() || offset < 0) {
            immediate = boost::asio::error::invalid_argument;
            return false;
        }
        if (impl_->next[static_cast<std::size_t>(partition)] > offset) {
            immediate = {};
            return false;
        }
        auto& w = impl_->waiters.emplace_back();
        w.partition = partition;
        w.offset = offset;
        w.deadline = deadline_after(timeout);
        // swap, never move assignment: Boost 1.81's any_completion_handler::operator=(&&) recurses forever.
        w.handler.swap(handler);
    }
    impl_->deadline_cv.notify_all();
    return true;
}

void follower::stop() noexcept
{
    impl_->stop();
}

} // namespace relay::subscription
