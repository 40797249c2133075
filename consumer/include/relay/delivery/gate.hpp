#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace relay::delivery {

/// Admission of deliveries to one subscription (design.md sections 5 and 8): at most `limit` in flight, the
/// rest queued in arrival order; and with key ordering, at most one delivery per Kafka key, the others of
/// that key waiting behind it in order while other keys keep flowing.
///
/// A delivery is admitted by admit() or handed back later by release(); either way it holds one of the
/// `limit` slots until release() is called for it. With ordering, a finished delivery's slot passes directly
/// to the next delivery of the same key, so a key never loses its place.
///
/// Each delivery waiting for a slot carries the time it was queued, so oldest_wait() tells how long the
/// queue's head has waited: when a subscription's queue is both a full round deep and old (a slow endpoint,
/// design.md section 8), the worker parks its new deliveries and trims the queue with shed_waiting(), a
/// queue-delay signal in the manner of CoDel that needs no rate measurement.
///
/// `Item` is a cheap handle (a pointer). Deliveries without a key (nullopt) are never ordered.
/// Thread-safety: every member function may be called from any thread; one short mutex.
template <class Item>
class gate
{
public:
    /// The clock of queueing times.
    using clock = std::chrono::steady_clock;

    /// A gate admitting `limit` deliveries at a time (0 means 1), serializing keys when `ordered`.
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
    /// returns it. `now` is when it was queued, for oldest_wait().
    bool admit(Item item, std::optional<std::string_view> key, clock::time_point now = clock::now())
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
        waiting_.push_back({std::move(item), now});
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
            Item next = std::move(waiting_.front().item);
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

    /// Removes the deliveries waiting for a slot beyond the `keep` oldest and returns them, oldest first;
    /// they hold no slot, and the caller now owns them (the worker parks them: a slow endpoint's backlog). A
    /// gate with key ordering returns none: a keyed delivery taken out would strand the later ones of its
    /// key.
    std::vector<Item> shed_waiting(std::size_t keep)
    {
        std::vector<Item> out;
        std::lock_guard lock(mutex_);
        if (ordered_ || waiting_.size() <= keep)
            return out;
        out.reserve(waiting_.size() - keep);
        for (auto it = waiting_.begin() + static_cast<std::ptrdiff_t>(keep); it != waiting_.end(); ++it)
            out.push_back(std::move(it->item));
        waiting_.erase(waiting_.begin() + static_cast<std::ptrdiff_t>(keep), waiting_.end());
        queued_ -= out.size();
        return out;
    }

    /// How long, at `now`, the oldest delivery waiting for a slot has waited (zero if `now` is before it was
    /// queued); nullopt when none waits for a slot. Deliveries waiting behind an earlier one of their key
    /// are not counted: they wait for that delivery, not for the endpoint's capacity.
    std::optional<clock::duration> oldest_wait(clock::time_point now) const
    {
        std::lock_guard lock(mutex_);
        if (waiting_.empty())
            return std::nullopt;
        return std::max(now - waiting_.front().since, clock::duration::zero());
    }

private:
    struct waiting_item
    {
        Item item;
        clock::time_point since; // when it was queued
    };

    mutable std::mutex mutex_;
    std::size_t limit_;
    const bool ordered_;
    std::size_t in_flight_ = 0;
    std::size_t queued_ = 0;
    std::deque<waiting_item> waiting_;                         // waiting for a slot, oldest first
    std::unordered_map<std::string, std::deque<Item>> chains_; // key -> deliveries behind the one in flight
};

} // namespace relay::delivery
