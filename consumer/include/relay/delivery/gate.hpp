#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace relay::delivery {

/// Admission of deliveries to one subscription (design.md sections 5 and 8): at most `limit` in flight, the
/// rest queued in arrival order; and with key ordering, at most one delivery per Kafka key, the others of
/// that key waiting behind it in order while other keys keep flowing.
///
/// A delivery is admitted by admit() or handed back later by release(); either way it holds one of the
/// `limit` slots until release() is called for it. With ordering, a finished delivery's slot passes directly
/// to the next delivery of the same key, so a key never loses its place.
///
/// `Item` is a cheap handle (a pointer). Deliveries without a key (nullopt) are never ordered.
/// Thread-safety: every member function may be called from any thread; one short mutex.
template <class Item>
class gate
{
public:
    gate(std::size_t limit, bool ordered)
        : limit_(limit == 0 ? 1 : limit)
        , ordered_(ordered)
    {}

    /// Changes the limit (the subscription was updated). Deliveries already admitted keep their slots.
    void set_limit(std::size_t limit)
    {
        std::lock_guard lock(mutex_);
        limit_ = limit == 0 ? 1 : limit;
    }

    /// True when `item` may start now (it holds a slot). False when it was queued: a later release()
    /// returns it.
    bool admit(Item item, std::optional<std::string_view> key)
    {
        std::lock_guard lock(mutex_);
        if (ordered_ && key) {
            auto [it, fresh] = chains_.try_emplace(std::string(*key));
            if (!fresh) {
                it->second.push_back(std::move(item));
                ++queued_;
                return false;
            }
        }
        if (in_flight_ < limit_) {
            ++in_flight_;
            return true;
        }
        waiting_.push_back(std::move(item));
        ++queued_;
        return false;
    }

    /// Ends a delivery admitted with `key`. Returns the delivery that takes over its slot, if any: the next
    /// one of the same key, else the oldest waiting one. The caller starts it.
    std::optional<Item> release(std::optional<std::string_view> key)
    {
        std::lock_guard lock(mutex_);
        if (ordered_ && key) {
            const auto it = chains_.find(std::string(*key));
            if (it != chains_.end()) {
                if (!it->second.empty()) {
                    Item next = std::move(it->second.front());
                    it->second.pop_front();
                    --queued_;
                    return next;
                }
                chains_.erase(it);
            }
        }
        if (!waiting_.empty() && in_flight_ <= limit_) {
            Item next = std::move(waiting_.front());
            waiting_.pop_front();
            --queued_;
            return next;
        }
        --in_flight_;
        return std::nullopt;
    }

    /// True when deliveries with a key are serialized per key.
    bool ordered() const noexcept { return ordered_; }

    /// Deliveries holding a slot.
    std::size_t in_flight() const
    {
        std::lock_guard lock(mutex_);
        return in_flight_;
    }

    /// Deliveries waiting for a slot or for their key.
    std::size_t queued() const
    {
        std::lock_guard lock(mutex_);
        return queued_;
    }

private:
    mutable std::mutex mutex_;
    std::size_t limit_;
    const bool ordered_;
    std::size_t in_flight_ = 0;
    std::size_t queued_ = 0;
    std::deque<Item> waiting_;
    std::unordered_map<std::string, std::deque<Item>> chains_; // key -> deliveries behind the one in flight
};

} // namespace relay::delivery
