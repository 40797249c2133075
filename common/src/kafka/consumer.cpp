#include "relay/kafka/consumer.hpp"

#include "relay/kafka/error.hpp"
#include "relay/log/log.hpp"

#include "client.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

namespace relay::kafka {
namespace {

constexpr int poll_timeout_ms = 100;

// The first per-partition error in `list`, if any.
boost::system::error_code first_partition_error(const rd_kafka_topic_partition_list_t* list)
{
    for (int i = 0; i < list->cnt; ++i) {
        if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            return make_error_code(list->elems[i].err);
        }
    }
    return {};
}

boost::system::error_code to_error_code(const error_ptr& err)
{
    return err ? make_error_code(rd_kafka_error_code(err.get())) : boost::system::error_code();
}

} // namespace

void consumer_handler::on_error(boost::system::error_code ec, std::string_view reason)
{
    relay::log::warn("kafka consumer error", {{"error", error_name(ec)}, {"reason", reason}});
}

struct consumer::impl : detail::client_context
{
    handle_ptr handle; // first: the queue below must be destroyed before it
    queue_ptr queue;
    consumer_handler* handler = nullptr;
    std::size_t max_batch = 500;
    std::vector<message_ptr> batch; // poll thread only
    std::atomic<bool> stop{false};
    std::thread poll_thread;
    std::mutex close_mutex;
    bool closed = false; // guarded by close_mutex

    rd_kafka_t* rk() const noexcept { return handle.get(); }

    // Runs application code; an escaping exception is a bug that would otherwise unwind through C frames.
    template <class F>
    void call_handler(std::string_view where, F&& f) noexcept
    {
        try {
            f();
        } catch (...) {
            detail::log_escaped_exception(rk(), where, std::current_exception());
            report_fatal(
                rk(), make_error_code(RD_KAFKA_RESP_ERR__FAIL), "consumer handler threw an exception"
            );
        }
    }

    void deliver_batch() noexcept
    {
        if (batch.empty()) {
            return;
        }
        auto out = std::move(batch);
        batch.clear();
        call_handler("on_messages", [&] { handler->on_messages(std::move(out)); });
    }

    void accept(message_ptr m) noexcept
    {
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            const auto ec = make_error_code(m->err);
            std::string reason = rd_kafka_message_errstr(m.get());
            if (m->rkt != nullptr) {
                reason += " (topic ";
                reason += rd_kafka_topic_name(m->rkt);
                reason += ")";
            }
            call_handler("on_error", [&] { handler->on_error(ec, reason); });
            return;
        }
        batch.push_back(std::move(m));
    }

    void poll_loop() noexcept
    {
        while (!stop.load(std::memory_order_acquire)) {
            message_ptr m(rd_kafka_consumer_poll(rk(), poll_timeout_ms));
            if (!m) {
                continue;
            }
            accept(std::move(m));
            while (batch.size() < max_batch) {
                m.reset(rd_kafka_consumer_poll(rk(), 0));
                if (!m) {
                    break;
                }
                accept(std::move(m));
            }
            deliver_batch();
        }
        // consumer_close runs the final revoke (and its commit) through on_rebalance, on this thread.
        if (const auto err = rd_kafka_consumer_close(rk()); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            relay::log::warn(
                "kafka consumer close failed",
                {{"client", detail::client_name(rk())}, {"error", rd_kafka_err2name(err)}}
            );
        }
    }

    void log_rebalance_error(std::string_view what, boost::system::error_code ec)
    {
        relay::log::error(
            "kafka rebalance step failed",
            {{"client", detail::client_name(rk())},
             {"step", what},
             {"error", error_name(ec)},
             {"reason", ec.message()}}
        );
    }

    void rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions) noexcept
    {
        // Messages polled before the rebalance reach the handler before it hears about the revoke.
        deliver_batch();
        const char* protocol = rd_kafka_rebalance_protocol(rk());
        const bool cooperative = protocol != nullptr && std::strcmp(protocol, "COOPERATIVE") == 0;
        std::vector<topic_partition> list;
        try {
            list = from_list(partitions);
        } catch (...) {
            detail::log_escaped_exception(rk(), "rebalance", std::current_exception());
        }
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
            boost::system::error_code ec;
            if (cooperative) {
                ec = to_error_code(error_ptr(rd_kafka_incremental_assign(rk(), partitions)));
            } else {
                ec = make_error_code(rd_kafka_assign(rk(), partitions));
            }
            if (ec) {
                log_rebalance_error("assign", ec);
                return;
            }
            // Cooperative rebalances end with empty assignments for members that gain nothing.
            relay::log::write(
                list.empty() ? relay::log::level::debug : relay::log::level::info,
                "kafka partitions assigned",
                {{"client", detail::client_name(rk())},
                 {"count", list.size()},
                 {"protocol", protocol ? protocol : ""}}
            );
            if (!list.empty()) {
                call_handler("on_assigned", [&] { handler->on_assigned(list); });
            }
            return;
        }
        if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
            const bool lost = rd_kafka_assignment_lost(rk()) != 0;
            relay::log::info(
                "kafka partitions revoked",
                {{"client", detail::client_name(rk())}, {"count", list.size()}, {"lost", lost}}
            );
            if (!list.empty()) {
                call_handler("on_revoked", [&] { handler->on_revoked(list, lost); });
            }
            if (!lost) {
                const auto cerr = rd_kafka_commit(rk(), nullptr, 0);
                if (cerr != RD_KAFKA_RESP_ERR_NO_ERROR && cerr != RD_KAFKA_RESP_ERR__NO_OFFSET) {
                    log_rebalance_error("commit before revoke", make_error_code(cerr));
                }
            }
            boost::system::error_code ec;
            if (cooperative) {
                ec = to_error_code(error_ptr(rd_kafka_incremental_unassign(rk(), partitions)));
            } else {
                ec = make_error_code(rd_kafka_assign(rk(), nullptr));
            }
            if (ec) {
                log_rebalance_error("unassign", ec);
            }
            return;
        }
        log_rebalance_error("rebalance", make_error_code(err));
        rd_kafka_assign(rk(), nullptr);
    }

    static void
    on_rebalance(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts, void* opaque)
    {
        static_cast<impl*>(static_cast<detail::client_context*>(opaque))->rebalance(err, parts);
    }

    void close() noexcept
    {
        {
            std::lock_guard lock(close_mutex);
            if (closed) {
                return;
            }
            closed = true;
        }
        stop.store(true, std::memory_order_release);
        rd_kafka_queue_yield(queue.get());
        if (poll_thread.joinable() && poll_thread.get_id() != std::this_thread::get_id()) {
            poll_thread.join();
        }
    }
};

consumer::consumer(const consumer_options& options, consumer_handler& handler)
    : impl_(std::make_unique<impl>())
{
    impl_->handler = &handler;
    impl_->max_batch = options.max_batch == 0 ? 1 : options.max_batch;
    impl_->on_fatal = options.client.on_fatal;
    impl_->on_statistics = options.client.on_statistics;
    properties props{
        {"partition.assignment.strategy", "cooperative-sticky"},
        {"enable.auto.offset.store", "false"},
        {"enable.auto.commit", "true"},
    };
    for (const auto& [k, v] : options.client.config) {
        props[k] = v;
    }
    auto conf = make_conf(props);
    detail::install_callbacks(conf.get(), impl_.get());
    rd_kafka_conf_set_rebalance_cb(conf.get(), &impl::on_rebalance);
    impl_->handle = detail::create_handle(RD_KAFKA_CONSUMER, std::move(conf));
    // Logs, errors, statistics and rebalances all arrive on the consumer queue the poll thread serves.
    rd_kafka_poll_set_consumer(impl_->rk());
    impl_->queue.reset(rd_kafka_queue_get_consumer(impl_->rk()));
    impl_->poll_thread = std::thread([i = impl_.get()] { i->poll_loop(); });
}

consumer::~consumer()
{
    close();
    if (impl_->poll_thread.joinable()) {
        // Only reachable when destroyed from its own handler: the poll thread would run on freed memory.
        relay::log::crit(
            "kafka consumer destroyed from its own handler", {{"client", detail::client_name(impl_->rk())}}
        );
        std::abort();
    }
}

boost::system::error_code consumer::subscribe(const std::vector<std::string>& topics)
{
    const topic_partition_list_ptr list(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
    for (const auto& t : topics) {
        rd_kafka_topic_partition_list_add(list.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
    }
    return make_error_code(rd_kafka_subscribe(impl_->rk(), list.get()));
}

boost::system::error_code consumer::assign(const std::vector<topic_partition>& partitions)
{
    const auto list = to_list(partitions);
    return make_error_code(rd_kafka_assign(impl_->rk(), list.get()));
}

boost::system::error_code consumer::pause(const std::vector<topic_partition>& partitions)
{
    const auto list = to_list(partitions);
    if (const auto err = rd_kafka_pause_partitions(impl_->rk(), list.get())) {
        return make_error_code(err);
    }
    return first_partition_error(list.get());
}

boost::system::error_code consumer::resume(const std::vector<topic_partition>& partitions)
{
    const auto list = to_list(partitions);
    if (const auto err = rd_kafka_resume_partitions(impl_->rk(), list.get())) {
        return make_error_code(err);
    }
    return first_partition_error(list.get());
}

boost::system::error_code consumer::seek(const std::vector<topic_partition>& partitions)
{
    const auto list = to_list(partitions);
    if (const auto ec = to_error_code(error_ptr(rd_kafka_seek_partitions(impl_->rk(), list.get(), 0)))) {
        return ec;
    }
    // An asynchronous seek marks every accepted partition _IN_PROGRESS.
    for (int i = 0; i < list->cnt; ++i) {
        const auto err = list->elems[i].err;
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__IN_PROGRESS) {
            return make_error_code(err);
        }
    }
    return {};
}

boost::system::error_code
consumer::store_offset(std::string_view topic, std::int32_t partition, std::int64_t next_offset)
{
    const topic_partition_list_ptr list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), std::string(topic).c_str(), partition)->offset =
        next_offset;
    if (const auto err = rd_kafka_offsets_store(impl_->rk(), list.get())) {
        return make_error_code(err);
    }
    return first_partition_error(list.get());
}

boost::system::error_code consumer::commit_sync()
{
    const auto err = rd_kafka_commit(impl_->rk(), nullptr, 0);
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) {
        return {};
    }
    return make_error_code(err);
}

boost::system::error_code consumer::committed(std::vector<topic_partition>& partitions, int timeout_ms)
{
    const auto list = to_list(partitions);
    if (const auto err = rd_kafka_committed(impl_->rk(), list.get(), timeout_ms)) {
        return make_error_code(err);
    }
    partitions = from_list(list.get());
    return first_partition_error(list.get());
}

std::vector<topic_partition> consumer::assignment() const
{
    rd_kafka_topic_partition_list_t* raw = nullptr;
    if (rd_kafka_assignment(impl_->rk(), &raw) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return {};
    }
    const topic_partition_list_ptr list(raw);
    return from_list(list.get());
}

void consumer::close() noexcept
{
    impl_->close();
}

bool consumer::fatal() const noexcept
{
    return impl_->fatal.load();
}

std::string consumer::member_id() const
{
    char* id = rd_kafka_memberid(impl_->rk());
    if (id == nullptr) {
        return {};
    }
    std::string out(id);
    rd_kafka_mem_free(impl_->rk(), id);
    return out;
}

rd_kafka_t* consumer::native_handle() const noexcept
{
    return impl_->handle.get();
}

} // namespace relay::kafka
