#pragma once

#include "relay/http/client_error.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <utility>
#include <vector>

namespace relay::http {

/// The connections of one origin (scheme, host, port): at most `max_connections` exist at a time (in use or
/// idle), idle ones are kept for reuse for at most `idle_timeout`, and requests that find every slot taken
/// queue (first come, first served) until a slot frees up or their deadline passes. After Boost.MySQL's
/// connection_pool: `handle` returns its connection to the pool when destroyed.
///
/// `Connection` needs `bool probe_idle()`: true when an idle connection still looks usable (called before an
/// idle connection is handed out); destroying a Connection closes it.
///
/// Thread-safety: none. Every member, and the destruction of every handle, must run on the pool's executor
/// (an io_context run by one thread, or a strand). The pool stays alive while a handle, a waiter or an idle
/// timer refers to it (it is always owned by std::shared_ptr).
template <class Connection>
class basic_origin_pool : public std::enable_shared_from_this<basic_origin_pool<Connection>>
{
public:
    using clock = std::chrono::steady_clock;

    /// A slot of the pool, holding a connection or not yet (a fresh slot the caller fills with `emplace`).
    /// Destroying or resetting it returns the slot: the connection goes back to the idle list when
    /// `keep_alive()` was called since the last `emplace`, otherwise it is closed. Move-only.
    class handle
    {
    public:
        handle() noexcept = default;
        handle(handle&& other) noexcept
            : pool_(std::move(other.pool_))
            , conn_(std::move(other.conn_))
            , reusable_(std::exchange(other.reusable_, false))
        {}
        handle& operator=(handle&& other) noexcept
        {
            if (this != &other) {
                reset();
                pool_ = std::move(other.pool_);
                conn_ = std::move(other.conn_);
                reusable_ = std::exchange(other.reusable_, false);
            }
            return *this;
        }
        handle(const handle&) = delete;
        handle& operator=(const handle&) = delete;
        ~handle() { reset(); }

        /// True while this handle holds a slot of a pool.
        bool valid() const noexcept { return pool_ != nullptr; }
        /// The connection in the slot; null for a fresh slot.
        Connection* get() const noexcept { return conn_.get(); }
        Connection* operator->() const noexcept { return conn_.get(); }
        Connection& operator*() const noexcept { return *conn_; }

        /// Closes the connection in the slot, if any, and puts a new one in its place. Clears `keep_alive`.
        template <class... Args>
        Connection& emplace(Args&&... args)
        {
            reusable_ = false;
            conn_.reset();
            conn_ = std::make_unique<Connection>(std::forward<Args>(args)...);
            return *conn_;
        }

        /// Marks the connection as reusable: it goes back to the idle list when the handle lets it go.
        void keep_alive() noexcept { reusable_ = conn_ != nullptr; }

        /// Returns the slot (and the connection) to the pool now; the handle becomes invalid.
        void reset() noexcept
        {
            if (auto pool = std::move(pool_)) {
                pool->release(std::move(conn_), std::exchange(reusable_, false));
            }
        }

    private:
        friend class basic_origin_pool;
        handle(std::shared_ptr<basic_origin_pool> pool, std::unique_ptr<Connection> conn) noexcept
            : pool_(std::move(pool))
            , conn_(std::move(conn))
        {}

        std::shared_ptr<basic_origin_pool> pool_;
        std::unique_ptr<Connection> conn_;
        bool reusable_ = false;
    };

    /// The completion signature of async_acquire.
    using acquire_signature = void(boost::system::error_code, handle);

    /// A pool of `max_connections` (at least 1) slots.
    basic_origin_pool(
        boost::asio::any_io_executor executor, std::size_t max_connections, clock::duration idle_timeout
    )
        : executor_(std::move(executor))
        , idle_timer_(executor_)
        , max_connections_(std::max<std::size_t>(max_connections, 1))
        , idle_timeout_(idle_timeout)
    {}

    basic_origin_pool(const basic_origin_pool&) = delete;
    basic_origin_pool& operator=(const basic_origin_pool&) = delete;

    /// Takes a slot without waiting: the most recently used idle connection that is still usable (younger
    /// than the idle timeout and passing `probe_idle`), else a fresh slot if fewer than `max_connections`
    /// exist. Returns an invalid handle when every slot is taken, requests are already queued, or the pool is
    /// closed.
    handle try_acquire()
    {
        if (closed_ || !waiters_.empty()) {
            return {};
        }
        const auto now = clock::now();
        while (!idle_.empty()) {
            auto entry = std::move(idle_.back());
            idle_.pop_back();
            if (now - entry.since < idle_timeout_ && entry.conn->probe_idle()) {
                ++in_use_;
                return handle(this->shared_from_this(), std::move(entry.conn));
            }
        }
        if (in_use_ < max_connections_) {
            ++in_use_;
            return handle(this->shared_from_this(), nullptr);
        }
        return {};
    }

    /// Waits for a slot (as try_acquire, then in FIFO order as slots free up) until `deadline`.
    /// Errors: client_errc::pool_timeout when the deadline passes first; client_errc::shutting_down when the
    /// pool is or gets closed. Never completes inside this call. The handler runs through its associated
    /// executor, which should be (or run on the same thread as) the pool's executor.
    template <class CompletionToken>
    auto async_acquire(clock::time_point deadline, CompletionToken&& token)
    {
        return boost::asio::async_initiate<CompletionToken, acquire_signature>(
            [this](auto handler, clock::time_point when) {
                start_acquire(
                    boost::asio::any_completion_handler<acquire_signature>(std::move(handler)), when
                );
            },
            token,
            deadline
        );
    }

    /// Closes every idle connection, fails every waiter with client_errc::shutting_down, and makes later
    /// acquisitions fail. Connections in use are closed when their handles return them.
    void close()
    {
        closed_ = true;
        idle_.clear();
        idle_timer_.cancel();
        auto waiters = std::move(waiters_);
        waiters_.clear();
        for (auto& w : waiters) {
            w->timer.cancel();
            if (w->handler) {
                boost::asio::post(
                    executor_,
                    boost::asio::append(
                        std::move(w->handler), make_error_code(client_errc::shutting_down), handle{}
                    )
                );
            }
        }
    }

    /// Slots handed out (with or without a connection).
    std::size_t in_use() const noexcept { return in_use_; }
    /// Connections waiting in the idle list.
    std::size_t idle() const noexcept { return idle_.size(); }
    /// Requests queued for a slot.
    std::size_t waiting() const noexcept { return waiters_.size(); }
    /// True when nothing uses or waits for the pool and it holds no connection.
    bool unused() const noexcept { return in_use_ == 0 && idle_.empty() && waiters_.empty(); }
    /// True after close().
    bool closed() const noexcept { return closed_; }

    const boost::asio::any_io_executor& get_executor() const noexcept { return executor_; }

private:
    struct idle_entry
    {
        std::unique_ptr<Connection> conn;
        clock::time_point since;
    };

    struct waiter
    {
        explicit waiter(const boost::asio::any_io_executor& ex)
            : timer(ex)
        {}
        boost::asio::steady_timer timer;
        boost::asio::any_completion_handler<acquire_signature> handler; // empty once completed
    };

    void
    start_acquire(boost::asio::any_completion_handler<acquire_signature> handler, clock::time_point deadline)
    {
        if (closed_) {
            boost::asio::post(
                executor_,
                boost::asio::append(std::move(handler), make_error_code(client_errc::shutting_down), handle{})
            );
            return;
        }
        if (auto h = try_acquire(); h.valid()) {
            boost::asio::post(
                executor_, boost::asio::append(std::move(handler), boost::system::error_code(), std::move(h))
            );
            return;
        }
        auto w = std::make_shared<waiter>(executor_);
        w->handler.swap(handler); // not operator=: Boost 1.81's move assignment recurses forever
        w->timer.expires_at(deadline);
        // The waiter is shared with the timer's handler: a grant may race with an expiry already queued.
        w->timer.async_wait([self = this->shared_from_this(), w](boost::system::error_code) {
            if (!w->handler) {
                return; // granted or failed by close()
            }
            std::erase(self->waiters_, w);
            boost::asio::dispatch(boost::asio::append(
                std::move(w->handler), make_error_code(client_errc::pool_timeout), handle{}
            ));
        });
        waiters_.push_back(std::move(w));
    }

    void grant(std::unique_ptr<Connection> conn)
    {
        auto w = std::move(waiters_.front());
        waiters_.pop_front();
        ++in_use_;
        w->timer.cancel();
        // Posted, not called: release() runs inside a handle's destructor, in someone else's coroutine.
        boost::asio::post(
            executor_,
            boost::asio::append(
                std::move(w->handler),
                boost::system::error_code(),
                handle(this->shared_from_this(), std::move(conn))
            )
        );
    }

    void release(std::unique_ptr<Connection> conn, bool reusable) noexcept
    {
        --in_use_;
        if (closed_) {
            return; // conn closes here
        }
        if (conn && reusable) {
            if (!waiters_.empty()) {
                grant(std::move(conn));
                return;
            }
            idle_.push_back({std::move(conn), clock::now()});
            arm_idle_timer();
            return;
        }
        conn.reset();
        if (!waiters_.empty() && in_use_ + idle_.size() < max_connections_) {
            grant(nullptr);
        }
    }

    void arm_idle_timer()
    {
        if (idle_timer_armed_ || idle_.empty()) {
            return;
        }
        idle_timer_armed_ = true;
        idle_timer_.expires_at(idle_.front().since + idle_timeout_);
        idle_timer_.async_wait([self = this->shared_from_this()](boost::system::error_code ec) {
            self->idle_timer_armed_ = false;
            if (ec || self->closed_) {
                return;
            }
            self->expire_idle(clock::now());
            self->arm_idle_timer();
        });
    }

    // The idle list is in return order, so the expired entries are at its front.
    void expire_idle(clock::time_point now)
    {
        const auto first_alive = std::find_if(idle_.begin(), idle_.end(), [&](const idle_entry& e) {
            return now - e.since < idle_timeout_;
        });
        idle_.erase(idle_.begin(), first_alive);
    }

    boost::asio::any_io_executor executor_;
    boost::asio::steady_timer idle_timer_;
    std::size_t max_connections_;
    clock::duration idle_timeout_;
    std::size_t in_use_ = 0;
    std::vector<idle_entry> idle_; // back = most recently returned
    std::deque<std::shared_ptr<waiter>> waiters_;
    bool idle_timer_armed_ = false;
    bool closed_ = false;
};

} // namespace relay::http
