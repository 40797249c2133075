#pragma once

#include "relay/kafka/config.hpp"
#include "relay/kafka/handles.hpp"
#include "relay/kafka/message.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/associator.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <utility>

namespace relay::kafka {

namespace detail {

/// A completion handler that keeps `Work` (an executor with outstanding_work.tracked) alive until it is
/// invoked or destroyed, so the handler's io_context does not run out of work while Kafka has the record.
template <class Handler, class Work>
struct work_tracking_handler
{
    Handler handler;
    Work work;

    template <class... Args>
    void operator()(Args&&... args)
    {
        std::move(handler)(std::forward<Args>(args)...);
    }
};

} // namespace detail

/// Completion signature of a produce: the broker's acknowledgement (or why there is none) and where it
/// landed.
using delivery_signature = void(boost::system::error_code, delivery_info);

/// A type-erased delivery completion handler.
using delivery_handler = boost::asio::any_completion_handler<delivery_signature>;

/// A plain delivery callback for hot paths; runs on the producer's poll thread and must not block.
using delivery_callback = std::function<delivery_signature>;

/// A Kafka producer with its own poll thread, which serves delivery reports, logs, errors and statistics.
///
/// Delivery results are values in kafka_category (rd_kafka_err2str messages), e.g. `_MSG_TIMED_OUT` when
/// message.timeout.ms passes, `_QUEUE_FULL` when queue.buffering.max.* is reached (never blocks: callers turn
/// it into backpressure), or boost::asio::error::operation_aborted when the producer shut down first.
///
/// Thread-safety: every member function may be called from any thread, except that the destructor, close()
/// and flush() block and so belong on a thread that is not an io_context thread (and never the poll thread).
class producer
{
public:
    /// Creates the producer and starts its poll thread.
    /// Throws config_error when librdkafka rejects the configuration.
    explicit producer(const client_options& options);

    producer(const producer&) = delete;
    producer& operator=(const producer&) = delete;
    producer(producer&&) noexcept;
    producer& operator=(producer&&) noexcept;

    /// close(default_shutdown_timeout) when not closed yet. Never throws.
    ~producer();

    /// How long the destructor waits for outstanding deliveries before failing them.
    static constexpr std::chrono::milliseconds default_shutdown_timeout{10000};

    /// Enqueues `rec` and completes with the broker's acknowledgement.
    ///
    /// Completion: (error_code, delivery_info). When the record cannot even be enqueued (queue full, unknown
    /// partition, too large, closed) the operation completes at once with that error, never inline. Otherwise
    /// the handler runs through its associated executor (dispatched from the poll thread: a handler bound to
    /// an io_context runs there; one without an executor runs on the poll thread). Outstanding work is
    /// tracked on that executor until completion, so `co_await p.async_produce(rec, asio::use_awaitable)`
    /// keeps its io_context running. Per-operation cancellation is not supported (a queued record cannot be
    /// recalled).
    template <boost::asio::completion_token_for<delivery_signature> CompletionToken>
    auto async_produce(record rec, CompletionToken&& token)
    {
        return boost::asio::async_initiate<CompletionToken, delivery_signature>(
            [this](auto handler, const record& r) {
                auto ex = boost::asio::get_associated_executor(handler);
                auto work = boost::asio::prefer(ex, boost::asio::execution::outstanding_work.tracked);
                delivery_handler h(detail::work_tracking_handler<decltype(handler), decltype(work)>{
                    std::move(handler), std::move(work)});
                if (const auto ec = start_produce(r, h)) {
                    // Never complete inside the initiating function. Posted through the concrete executor:
                    // the type-erased one of any_completion_handler cannot be required to be non-blocking.
                    boost::asio::post(ex, [h = std::move(h), ec]() mutable {
                        std::move(h)(ec, delivery_info{});
                    });
                }
            },
            token,
            std::move(rec)
        );
    }

    /// Enqueues `rec` and returns at once. When the result is an error `on_delivery` is never called;
    /// otherwise it is called exactly once, on the poll thread (or the thread in flush()/close()). An empty
    /// callback makes this fire-and-forget.
    boost::system::error_code produce(const record& rec, delivery_callback on_delivery);

    /// Waits until every enqueued record is acknowledged or failed, up to `timeout`.
    /// Returns `_TIMED_OUT` (kafka_category) when records are still outstanding. Blocks: not on io threads.
    boost::system::error_code flush(std::chrono::milliseconds timeout);

    /// Stops accepting records (later produce calls fail with operation_aborted), waits up to `timeout` for
    /// outstanding ones, purges the rest (their handlers complete with operation_aborted), stops the poll
    /// thread. Idempotent. Never throws. Blocks: not on io threads, and not from a delivery callback.
    void close(std::chrono::milliseconds timeout) noexcept;

    /// Records enqueued and not yet acknowledged or failed (rd_kafka_outq_len, which also counts requests).
    int outstanding() const noexcept;

    /// True once librdkafka reported a fatal error; every later produce fails.
    bool fatal() const noexcept;

    /// The client name (rd_kafka_name), e.g. "rdkafka#producer-1".
    std::string name() const;

    /// The underlying handle, e.g. for admin operations (ensure_topics) on the same connections. Owned by
    /// this producer; do not destroy it or poll its main queue.
    rd_kafka_t* native_handle() const noexcept;

    struct impl;

private:
    /// Enqueues with `handler` as the delivery's completion; on an error `handler` is left to the caller.
    boost::system::error_code start_produce(const record& rec, delivery_handler& handler);

    std::unique_ptr<impl> impl_;
};

} // namespace relay::kafka

/// The wrapped handler's associated executor, allocator and cancellation slot stay those of the original.
template <template <typename, typename> class Associator, class Handler, class Work, class DefaultCandidate>
struct boost::asio::
    associator<Associator, relay::kafka::detail::work_tracking_handler<Handler, Work>, DefaultCandidate>
    : Associator<Handler, DefaultCandidate>
{
    static typename Associator<Handler, DefaultCandidate>::type
    get(const relay::kafka::detail::work_tracking_handler<Handler, Work>& h) noexcept
    {
        return Associator<Handler, DefaultCandidate>::get(h.handler);
    }

    static auto
    get(const relay::kafka::detail::work_tracking_handler<Handler, Work>& h, const DefaultCandidate& c
    ) noexcept -> decltype(Associator<Handler, DefaultCandidate>::get(h.handler, c))
    {
        return Associator<Handler, DefaultCandidate>::get(h.handler, c);
    }
};
