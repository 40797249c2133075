#include "support/http/receiver.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <future>
#include <stdexcept>

namespace relay::test {

namespace bhttp = boost::beast::http;

std::string recorded_request::header(std::string_view name) const
{
    const auto it = headers.find(boost::beast::string_view(name.data(), name.size()));
    if (it == headers.end()) {
        return {};
    }
    const auto v = it->value();
    return std::string(v.data(), v.size());
}

bool recorded_request::has_header(std::string_view name) const
{
    return headers.find(boost::beast::string_view(name.data(), name.size())) != headers.end();
}

receiver::receiver(receiver_options opts)
    : opts_(std::move(opts))
    , ioc_(static_cast<int>(opts_.threads == 0 ? 1 : opts_.threads))
    , work_(ioc_.get_executor())
{
    opts_.http.address = "127.0.0.1";
    server_ = std::make_unique<http::server>(ioc_.get_executor(), make_router(), opts_.http);
    port_ = server_->local_endpoint().port();
    opts_.http.port = port_;
    server_->start();
    const std::size_t n = opts_.threads == 0 ? 1 : opts_.threads;
    threads_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        threads_.emplace_back([this] { ioc_.run(); });
    }
}

receiver::~receiver()
{
    stop();
    work_.reset();
    ioc_.stop();
    for (auto& t : threads_) {
        t.join();
    }
}

std::string receiver::url(std::string_view path) const
{
    std::string out = "http://127.0.0.1:" + std::to_string(port_);
    out.append(path);
    return out;
}

void receiver::set_default_reply(reply r)
{
    std::lock_guard lock(mutex_);
    default_reply_ = std::move(r);
}

void receiver::enqueue(reply r)
{
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(r));
}

void receiver::enqueue(std::vector<reply> replies)
{
    std::lock_guard lock(mutex_);
    for (auto& r : replies) {
        queue_.push_back(std::move(r));
    }
}

void receiver::set_responder(std::function<reply(const recorded_request&)> responder)
{
    std::lock_guard lock(mutex_);
    if (responder) {
        responder_ =
            std::make_shared<const std::function<reply(const recorded_request&)>>(std::move(responder));
    } else {
        responder_.reset();
    }
}

bool receiver::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const
{
    std::unique_lock lock(mutex_);
    return arrived_.wait_for(lock, timeout, [&] { return records_.size() >= n; });
}

std::size_t receiver::request_count() const
{
    std::lock_guard lock(mutex_);
    return records_.size();
}

std::vector<recorded_request> receiver::requests() const
{
    std::lock_guard lock(mutex_);
    return {records_.begin(), records_.end()};
}

recorded_request receiver::request(std::size_t i) const
{
    std::lock_guard lock(mutex_);
    if (i >= records_.size()) {
        throw std::out_of_range(
            "receiver has " + std::to_string(records_.size()) + " requests, asked for #" + std::to_string(i)
        );
    }
    return records_[i];
}

void receiver::clear()
{
    std::lock_guard lock(mutex_);
    records_.clear();
}

void receiver::stop()
{
    std::lock_guard lock(server_mutex_);
    if (!server_) {
        return;
    }
    std::promise<void> done;
    auto stopped = done.get_future();
    server_->stop(std::chrono::steady_clock::duration::zero(), [&done] { done.set_value(); });
    // The io threads run the stop; they are never blocked on this mutex, so this cannot deadlock.
    stopped.wait();
    server_.reset();
}

void receiver::start()
{
    std::lock_guard lock(server_mutex_);
    if (server_) {
        return;
    }
    connection_base_.store(max_connection_id_.load());
    server_ = std::make_unique<http::server>(ioc_.get_executor(), make_router(), opts_.http);
    server_->start();
}

bool receiver::running() const
{
    std::lock_guard lock(server_mutex_);
    return server_ != nullptr;
}

std::size_t receiver::connection_count() const
{
    std::lock_guard lock(server_mutex_);
    return server_ ? server_->connection_count() : 0;
}

http::router receiver::make_router()
{
    http::router r;
    r.set_fallback(http::async_handler([this](http::request_context& ctx) { return handle(ctx); }));
    return r;
}

boost::asio::awaitable<http::response> receiver::handle(http::request_context& ctx)
{
    recorded_request rec;
    rec.received_steady = std::chrono::steady_clock::now();
    rec.received_system = std::chrono::system_clock::now();
    rec.connection_id = connection_base_.load(std::memory_order_relaxed) + ctx.connection_id;
    const auto method = ctx.req.method_string();
    rec.method.assign(method.data(), method.size());
    const auto target = ctx.req.target();
    rec.target.assign(target.data(), target.size());
    rec.body = std::move(ctx.req.body());
    const unsigned version = ctx.req.version();
    // The request's fields (target included) are not used after this; moving them avoids copying headers.
    rec.headers = std::move(static_cast<bhttp::fields&>(ctx.req));

    auto seen = max_connection_id_.load(std::memory_order_relaxed);
    while (seen < rec.connection_id && !max_connection_id_.compare_exchange_weak(seen, rec.connection_id)) {
    }

    reply plan;
    std::shared_ptr<const std::function<reply(const recorded_request&)>> responder;
    {
        std::lock_guard lock(mutex_);
        rec.index = next_index_++;
        responder = responder_;
        if (!responder) {
            if (!queue_.empty()) {
                plan = std::move(queue_.front());
                queue_.pop_front();
            } else {
                plan = default_reply_;
            }
        }
    }
    if (responder) {
        plan = (*responder)(rec);
    }
    {
        std::lock_guard lock(mutex_);
        records_.push_back(std::move(rec));
    }
    arrived_.notify_all();

    if (plan.delay.count() > 0) {
        boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, plan.delay);
        co_await timer.async_wait(boost::asio::use_awaitable);
    }
    if (plan.drop) {
        ctx.close_without_response = true;
        co_return http::response{};
    }
    http::response res{static_cast<bhttp::status>(plan.status), version};
    for (const auto& [name, value] : plan.headers) {
        res.set(name, value);
    }
    if (plan.close) {
        res.set(bhttp::field::connection, "close");
    }
    res.body() = std::move(plan.body);
    co_return res;
}

} // namespace relay::test
