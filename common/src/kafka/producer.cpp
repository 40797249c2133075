#include "relay/kafka/producer.hpp"

#include "relay/kafka/error.hpp"
#include "relay/log/log.hpp"

#include "client.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <shared_mutex>
#include <thread>

namespace relay::kafka {
namespace {

constexpr int poll_timeout_ms = 100;
// After a purge, the delivery reports of the purged records are queued at once; this only bounds the wait.
constexpr int purge_drain_timeout_ms = 5000;

// The per-record msg_opaque: owns the completion handler until the delivery report.
struct delivery_slot
{
    delivery_handler handler;
};

boost::system::error_code delivery_error(rd_kafka_resp_err_t err)
{
    if (err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
        return boost::asio::error::operation_aborted;
    }
    return make_error_code(err);
}

} // namespace

struct producer::impl : detail::client_context
{
    handle_ptr handle; // first: the queue below must be destroyed before it
    queue_ptr main_queue;
    std::atomic<bool> stop{false};
    std::thread poll_thread;
    std::shared_mutex close_mutex;
    bool closed = false; // guarded by close_mutex

    static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void*)
    {
        if (m->_private == nullptr) {
            return;
        }
        std::unique_ptr<delivery_slot> slot(static_cast<delivery_slot*>(m->_private));
        try {
            // Runs the handler through its associated executor: posted to an io_context when bound to one,
            // inline on this (poll) thread when it has none.
            boost::asio::dispatch(boost::asio::append(
                std::move(slot->handler), delivery_error(m->err), delivery_info{m->partition, m->offset}
            ));
        } catch (...) {
            detail::log_escaped_exception(rk, "delivery handler", std::current_exception());
        }
    }

    void poll_loop()
    {
        while (!stop.load(std::memory_order_acquire)) {
            rd_kafka_poll(handle.get(), poll_timeout_ms);
        }
    }

    boost::system::error_code enqueue(const record& rec, delivery_slot* slot)
    {
        std::shared_lock lock(close_mutex);
        if (closed) {
            return boost::asio::error::operation_aborted;
        }
        std::vector<rd_kafka_vu_t> vus(7 + rec.headers.size());
        std::size_t n = 0;
        vus[n].vtype = RD_KAFKA_VTYPE_TOPIC;
        vus[n++].u.cstr = rec.topic.c_str();
        vus[n].vtype = RD_KAFKA_VTYPE_PARTITION;
        vus[n++].u.i32 = rec.partition;
        vus[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
        vus[n++].u.i = RD_KAFKA_MSG_F_COPY;
        vus[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
        vus[n++].u.ptr = slot;
        if (rec.value) {
            vus[n].vtype = RD_KAFKA_VTYPE_VALUE;
            // F_COPY: librdkafka copies the bytes, it never writes through this pointer.
            vus[n].u.mem.ptr = const_cast<char*>(rec.value->data());
            vus[n++].u.mem.size = rec.value->size();
        }
        if (rec.key) {
            vus[n].vtype = RD_KAFKA_VTYPE_KEY;
            vus[n].u.mem.ptr = const_cast<char*>(rec.key->data());
            vus[n++].u.mem.size = rec.key->size();
        }
        if (rec.timestamp_ms != 0) {
            vus[n].vtype = RD_KAFKA_VTYPE_TIMESTAMP;
            vus[n++].u.i64 = rec.timestamp_ms;
        }
        // One HEADER entry per header: librdkafka copies them, so no header list changes hands.
        for (const auto& [name, val] : rec.headers) {
            vus[n].vtype = RD_KAFKA_VTYPE_HEADER;
            vus[n].u.header.name = name.c_str();
            vus[n].u.header.val = val.data();
            vus[n++].u.header.size = static_cast<ssize_t>(val.size());
        }
        const error_ptr err(rd_kafka_produceva(handle.get(), vus.data(), n));
        if (err) {
            return make_error_code(rd_kafka_error_code(err.get()));
        }
        return {};
    }

    void close(std::chrono::milliseconds timeout) noexcept
    {
        {
            std::unique_lock lock(close_mutex);
            if (closed) {
                return;
            }
            closed = true;
        }
        // The poll thread keeps serving delivery reports while flush waits.
        if (rd_kafka_flush(handle.get(), static_cast<int>(timeout.count())) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            relay::log::warn(
                "kafka producer closing with undelivered records; failing them",
                {{"client", detail::client_name(handle.get())},
                 {"outstanding", rd_kafka_outq_len(handle.get())}}
            );
            rd_kafka_purge(handle.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        }
        stop.store(true, std::memory_order_release);
        rd_kafka_queue_yield(main_queue.get());
        if (poll_thread.get_id() == std::this_thread::get_id()) {
            // Called from a delivery callback: the loop ends when the callback returns; the destructor joins.
            return;
        }
        if (poll_thread.joinable()) {
            poll_thread.join();
        }
        // Serves the purged records' reports (operation_aborted) on this thread.
        rd_kafka_flush(handle.get(), purge_drain_timeout_ms);
    }
};

producer::producer(const client_options& options)
    : impl_(std::make_unique<impl>())
{
    impl_->on_fatal = options.on_fatal;
    impl_->on_statistics = options.on_statistics;
    auto conf = make_conf(options.config);
    detail::install_callbacks(conf.get(), impl_.get());
    rd_kafka_conf_set_dr_msg_cb(conf.get(), &impl::on_delivery);
    impl_->handle = detail::create_handle(RD_KAFKA_PRODUCER, std::move(conf));
    impl_->main_queue.reset(rd_kafka_queue_get_main(impl_->handle.get()));
    impl_->poll_thread = std::thread([i = impl_.get()] { i->poll_loop(); });
}

producer::producer(producer&&) noexcept = default;
producer& producer::operator=(producer&& other) noexcept
{
    if (this != &other) {
        if (impl_) {
            impl_->close(default_shutdown_timeout);
        }
        impl_ = std::move(other.impl_);
    }
    return *this;
}

producer::~producer()
{
    if (!impl_) {
        return;
    }
    impl_->close(default_shutdown_timeout);
    if (impl_->poll_thread.joinable()) {
        if (impl_->poll_thread.get_id() == std::this_thread::get_id()) {
            // Destroyed from its own delivery callback: the poll thread would run on freed memory.
            relay::log::crit(
                "kafka producer destroyed from its own callback",
                {{"client", detail::client_name(impl_->handle.get())}}
            );
            std::abort();
        }
        impl_->poll_thread.join();
    }
}

boost::system::error_code producer::start_produce(const record& rec, delivery_handler& handler)
{
    // swap, never move assignment: Boost 1.81's any_completion_handler::operator=(&&) recurses forever.
    auto slot = std::make_unique<delivery_slot>();
    slot->handler.swap(handler);
    if (const auto ec = impl_->enqueue(rec, slot.get())) {
        handler.swap(slot->handler);
        return ec;
    }
    static_cast<void>(slot.release()); // owned by librdkafka's msg_opaque until the delivery report
    return {};
}

boost::system::error_code producer::produce(const record& rec, delivery_callback on_delivery)
{
    if (!on_delivery) {
        return impl_->enqueue(rec, nullptr);
    }
    auto slot = std::make_unique<delivery_slot>(delivery_slot{delivery_handler(std::move(on_delivery))});
    const auto ec = impl_->enqueue(rec, slot.get());
    if (!ec) {
        static_cast<void>(slot.release());
    }
    return ec;
}

boost::system::error_code producer::flush(std::chrono::milliseconds timeout)
{
    return make_error_code(rd_kafka_flush(impl_->handle.get(), static_cast<int>(timeout.count())));
}

void producer::close(std::chrono::milliseconds timeout) noexcept
{
    impl_->close(timeout);
}

int producer::outstanding() const noexcept
{
    return rd_kafka_outq_len(impl_->handle.get());
}

bool producer::fatal() const noexcept
{
    return impl_->fatal.load();
}

std::string producer::name() const
{
    return std::string(detail::client_name(impl_->handle.get()));
}

rd_kafka_t* producer::native_handle() const noexcept
{
    return impl_->handle.get();
}

} // namespace relay::kafka
