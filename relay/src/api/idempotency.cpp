#include "relay/api/idempotency.hpp"

#include <stdexcept>

namespace relay::api {

idempotency_cache::idempotency_cache(std::size_t capacity, std::chrono::milliseconds window)
    : capacity_(capacity)
    , window_(window)
{
    if (capacity_ == 0) {
        throw std::invalid_argument("idempotency cache capacity must be positive");
    }
}

void idempotency_cache::evict_locked(clock::time_point now)
{
    while (!order_.empty() && (order_.front()->expires <= now || order_.size() >= capacity_)) {
        index_.erase(order_.front()->key);
        order_.pop_front();
    }
}

idempotency_cache::claim_result
idempotency_cache::claim(const std::string& key, std::uint64_t fingerprint, clock::time_point now)
{
    std::lock_guard lock(mutex_);
    if (const auto it = index_.find(key); it != index_.end()) {
        if ((*it->second)->expires > now) {
            return {*it->second, false};
        }
        order_.erase(it->second);
        index_.erase(it);
    }
    evict_locked(now);
    auto e = std::make_shared<entry>();
    e->key = key;
    e->fingerprint = fingerprint;
    e->expires = now + window_;
    order_.push_back(e);
    index_.emplace(key, std::prev(order_.end()));
    return {std::move(e), true};
}

void idempotency_cache::complete(const std::shared_ptr<entry>& e, stored_response result, bool keep)
{
    std::vector<waiter> waiters;
    {
        std::lock_guard lock(mutex_);
        e->done = true;
        e->result = std::move(result);
        waiters.swap(e->waiters);
        if (!keep) {
            const auto it = index_.find(e->key);
            if (it != index_.end() && *it->second == e) {
                order_.erase(it->second);
                index_.erase(it);
            }
        }
    }
    for (auto& w : waiters) {
        auto ex = w.executor;
        boost::asio::post(ex, [h = std::move(w.handler), ex, r = e->result]() mutable {
            std::move(h)(std::move(r));
        });
    }
}

std::size_t idempotency_cache::size() const
{
    std::lock_guard lock(mutex_);
    return order_.size();
}

} // namespace relay::api
