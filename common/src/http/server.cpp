#include "relay/http/server.hpp"

#include "relay/log/log.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <mutex>
#include <unordered_map>
#include <vector>

namespace relay::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

struct session
{
    explicit session(tcp::socket socket)
        : stream(std::move(socket))
    {}

    boost::beast::tcp_stream stream;
    connection_state conn;
    asio::cancellation_signal cancel;
};

void log_escaped(std::string_view server_name, std::string_view what, const std::exception_ptr& e) noexcept
{
    if (!e) {
        return;
    }
    try {
        std::rethrow_exception(e);
    } catch (const boost::system::system_error& ex) {
        // Cancellation is how stop() ends connections that outlived the grace period: not an error.
        if (ex.code() == asio::error::operation_aborted) {
            return;
        }
        log::error(
            "http coroutine failed", {{"server", server_name}, {"coroutine", what}, {"error", ex.what()}}
        );
    } catch (const std::exception& ex) {
        log::error(
            "http coroutine failed", {{"server", server_name}, {"coroutine", what}, {"error", ex.what()}}
        );
    } catch (...) {
        log::error(
            "http coroutine failed", {{"server", server_name}, {"coroutine", what}, {"error", "unknown"}}
        );
    }
}

} // namespace

struct server::impl : std::enable_shared_from_this<server::impl>
{
    impl(asio::any_io_executor ex, router r, server_options o)
        : executor(std::move(ex))
        , strand(asio::make_strand(executor))
        , acceptor(strand)
        , grace_timer(strand)
        , routes(std::move(r))
        , opts(std::move(o))
    {}

    asio::any_io_executor executor;
    asio::strand<asio::any_io_executor> strand; // acceptor, grace timer and stop logic
    tcp::acceptor acceptor;
    asio::steady_timer grace_timer;
    tcp::endpoint local;
    const router routes;
    const server_options opts;
    std::atomic<bool> stopping{false};

    mutable std::mutex mutex;
    std::unordered_map<std::uint64_t, std::weak_ptr<session>> sessions;
    std::uint64_t next_id = 0;
    bool started = false;
    bool accepting = false;
    std::vector<std::function<void()>> on_stopped;

    void bind()
    {
        boost::system::error_code ec;
        const auto address = asio::ip::make_address(opts.address, ec);
        if (ec) {
            throw boost::system::system_error(ec, "invalid listen address '" + opts.address + "'");
        }
        const tcp::endpoint ep(address, opts.port);
        const auto where = "cannot listen on " + opts.address + ":" + std::to_string(opts.port);
        acceptor.open(ep.protocol(), ec);
        if (!ec) {
            acceptor.set_option(asio::socket_base::reuse_address(true), ec);
        }
        if (!ec) {
            acceptor.bind(ep, ec);
        }
        if (!ec) {
            acceptor.listen(opts.backlog, ec);
        }
        if (!ec) {
            local = acceptor.local_endpoint(ec);
        }
        if (ec) {
            throw boost::system::system_error(ec, where);
        }
    }

    // A strand over the io_context's concrete executor when there is one: a strand over the type-erased
    // executor would pay for type erasure twice on every handler of every request.
    asio::any_io_executor session_strand() const
    {
        if (const auto* io = executor.target<asio::io_context::executor_type>()) {
            return asio::make_strand(*io);
        }
        return asio::make_strand(executor);
    }

    asio::awaitable<void> accept_loop()
    {
        auto self = shared_from_this();
        asio::steady_timer backoff(strand);
        for (;;) {
            tcp::socket socket(session_strand());
            auto [ec] = co_await acceptor.async_accept(socket, asio::as_tuple(asio::use_awaitable));
            if (ec) {
                if (stopping.load() || ec == asio::error::operation_aborted || !acceptor.is_open()) {
                    break;
                }
                // Out of descriptors or similar: keep serving open connections, retry shortly, do not spin.
                log::warn("http accept failed", {{"server", opts.name}, {"error", ec.message()}});
                backoff.expires_after(std::chrono::milliseconds(100));
                co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
                continue;
            }
            boost::system::error_code ignored;
            socket.set_option(tcp::no_delay(true), ignored);
            auto remote = socket.remote_endpoint(ignored);
            auto s = std::make_shared<session>(std::move(socket));
            {
                std::lock_guard lock(mutex);
                if (stopping.load()) {
                    break;
                }
                s->conn.id = ++next_id;
                s->conn.remote = remote;
                sessions.emplace(s->conn.id, s);
            }
            auto slot = s->cancel.slot();
            asio::co_spawn(
                s->stream.get_executor(),
                run_session(self, s),
                asio::bind_cancellation_slot(
                    slot,
                    [self, s](const std::exception_ptr& e) {
                        log_escaped(self->opts.name, "session", e);
                        self->remove(s->conn.id);
                    }
                )
            );
        }
        {
            std::lock_guard lock(mutex);
            accepting = false;
        }
        check_finished();
    }

    static asio::awaitable<void> run_session(std::shared_ptr<impl> self, std::shared_ptr<session> s)
    {
        co_await serve_connection(s->stream, self->routes, self->opts, s->conn, self->stopping);
    }

    void remove(std::uint64_t id)
    {
        {
            std::lock_guard lock(mutex);
            sessions.erase(id);
        }
        check_finished();
    }

    std::vector<std::shared_ptr<session>> live_sessions()
    {
        std::vector<std::shared_ptr<session>> out;
        std::lock_guard lock(mutex);
        out.reserve(sessions.size());
        for (const auto& [id, weak] : sessions) {
            if (auto s = weak.lock()) {
                out.push_back(std::move(s));
            }
        }
        return out;
    }

    void abort_all()
    {
        for (auto& s : live_sessions()) {
            asio::post(s->stream.get_executor(), [s] {
                s->cancel.emit(asio::cancellation_type::terminal);
                boost::system::error_code ignored;
                s->stream.socket().close(ignored);
            });
        }
    }

    // Runs on the strand.
    void do_stop(std::chrono::steady_clock::duration grace, std::function<void()> cb)
    {
        bool first = false;
        {
            std::lock_guard lock(mutex);
            if (cb) {
                on_stopped.push_back(std::move(cb));
            }
            first = !stopping.exchange(true);
        }
        if (first) {
            boost::system::error_code ignored;
            acceptor.close(ignored);
            for (auto& s : live_sessions()) {
                asio::post(s->stream.get_executor(), [s] {
                    if (s->conn.idle) {
                        s->stream.cancel();
                    }
                });
            }
            if (grace > std::chrono::steady_clock::duration::zero()) {
                grace_timer.expires_after(grace);
                grace_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
                    if (!ec) {
                        self->abort_all();
                    }
                });
            }
        }
        if (grace <= std::chrono::steady_clock::duration::zero()) {
            abort_all();
        }
        check_finished();
    }

    void check_finished()
    {
        std::vector<std::function<void()>> callbacks;
        {
            std::lock_guard lock(mutex);
            if (!stopping.load() || accepting || !sessions.empty()) {
                return;
            }
            callbacks.swap(on_stopped);
        }
        asio::post(strand, [self = shared_from_this(), callbacks = std::move(callbacks)] {
            self->grace_timer.cancel();
            for (const auto& cb : callbacks) {
                cb();
            }
        });
    }
};

server::server(asio::any_io_executor executor, router routes, server_options opts)
    : impl_(std::make_shared<impl>(std::move(executor), std::move(routes), std::move(opts)))
{
    impl_->bind();
    log::info(
        "http server listening",
        {{"server", impl_->opts.name},
         {"address", impl_->local.address().to_string()},
         {"port", impl_->local.port()}}
    );
}

server::~server()
{
    if (!impl_->stopping.load()) {
        stop(std::chrono::steady_clock::duration::zero());
    }
}

tcp::endpoint server::local_endpoint() const
{
    return impl_->local;
}

void server::start()
{
    {
        std::lock_guard lock(impl_->mutex);
        if (impl_->started || impl_->stopping.load()) {
            return;
        }
        impl_->started = true;
        impl_->accepting = true;
    }
    auto self = impl_;
    asio::co_spawn(impl_->strand, impl_->accept_loop(), [self](const std::exception_ptr& e) {
        log_escaped(self->opts.name, "accept", e);
        bool was_accepting = false;
        {
            std::lock_guard lock(self->mutex);
            was_accepting = std::exchange(self->accepting, false);
        }
        if (was_accepting) {
            self->check_finished();
        }
    });
}

void server::stop(std::chrono::steady_clock::duration grace, std::function<void()> on_stopped)
{
    asio::post(impl_->strand, [self = impl_, grace, cb = std::move(on_stopped)]() mutable {
        self->do_stop(grace, std::move(cb));
    });
}

std::size_t server::connection_count() const
{
    std::lock_guard lock(impl_->mutex);
    return impl_->sessions.size();
}

const server_options& server::options() const noexcept
{
    return impl_->opts;
}

} // namespace relay::http
