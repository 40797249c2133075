#pragma once

#include "relay/subscription/subscription.hpp"

#include <rapidjson/document.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace relay::subscription {

/// An immutable index of the enabled subscriptions, answering "which subscriptions want this event?".
///
/// Build a new table whenever the set of subscriptions changes (the worker following the subscriptions topic
/// does), then publish it with atomic_routing_table::store(). Threads that deliver take a snapshot with
/// load() and may keep it as long as they like: a table never changes after construction, so every const
/// member function is safe to call from any number of threads at once without locking. Subscriptions are held
/// by shared_ptr, so a delivery can keep its subscription alive after the table it came from is replaced.
///
/// Matching cost: one hash lookup for the exact type, one per '.' in the type for prefix wildcards (only when
/// any exist), plus the `*` subscriptions, plus the filters of the candidates. No allocation.
class routing_table
{
public:
    using subscription_ptr = std::shared_ptr<const subscription>;

    /// An empty table (matches nothing).
    routing_table() = default;

    /// Indexes `subscriptions`; disabled ones (and null pointers) are left out. When several share an id, the
    /// last one wins.
    explicit routing_table(std::vector<subscription_ptr> subscriptions);

    /// Convenience: copies each subscription into a shared_ptr.
    explicit routing_table(const std::vector<subscription>& subscriptions);

    routing_table(const routing_table&) = delete;
    routing_table& operator=(const routing_table&) = delete;

    /// Calls `on_match(const subscription_ptr&)` once for each subscription whose event types match `type`
    /// and whose filter (if any) holds for `event` (the whole event JSON). When `event` is null,
    /// subscriptions with a filter do not match. A subscription matching through several of its patterns is
    /// reported once. Order is unspecified. Does not allocate (beyond what `on_match` does).
    template <class OnMatch>
    void for_each_match(std::string_view type, const rapidjson::Value* event, OnMatch&& on_match) const;

    /// Appends the matching subscriptions to `out` (which it does not clear); see for_each_match(). Reusing
    /// `out` across calls avoids allocating.
    void
    match(std::string_view type, const rapidjson::Value* event, std::vector<const subscription*>& out) const;

    /// The enabled subscription with this id, or null.
    const subscription_ptr* find(std::string_view id) const noexcept;

    /// Number of enabled subscriptions indexed.
    std::size_t size() const noexcept { return entries_.size(); }

private:
    // An immutable open-addressing hash index from strings to lists of entry indexes, laid out in three flat
    // arrays: lookups hash the key once, compare stored hashes first and never allocate.
    class string_index
    {
    public:
        void build(const std::unordered_map<std::string, std::vector<std::uint32_t>>& groups);
        bool empty() const noexcept { return slots_.empty(); }
        std::span<const std::uint32_t> find(std::string_view key) const noexcept;
        static std::uint64_t hash(std::string_view key) noexcept;

    private:
        struct slot
        {
            std::uint64_t hash = 0;
            std::uint32_t key_offset = 0;
            std::uint32_t key_length = 0;
            std::uint32_t first = 0;
            std::uint32_t count = 0; // 0: empty slot
        };
        std::vector<slot> slots_; // size a power of two, at most half full
        std::string keys_;
        std::vector<std::uint32_t> indexes_;
    };

    struct entry
    {
        subscription_ptr sub;
        const filter* payload_filter; // points into *sub; null when it has none
    };

    template <class OnMatch>
    void
    visit(std::span<const std::uint32_t> indexes, const rapidjson::Value* event, OnMatch& on_match) const;

    std::vector<entry> entries_;
    string_index exact_;             // "order.created" -> subscriptions with that exact pattern
    string_index prefix_;            // "order." (from "order.*") -> subscriptions with that prefix pattern
    std::vector<std::uint32_t> all_; // subscriptions with "*"
    string_index by_id_;             // id -> the one subscription with it
};

/// The current routing table, replaced as a whole by one thread while others read it:
///
/// ```cpp
/// // subscriptions thread, after applying a record of the subscriptions topic:
/// current.store(std::make_shared<const routing_table>(std::move(all_subscriptions)));
/// // delivery thread, once per polled batch (not per event):
/// const auto table = current.load();
/// for (const auto& event : batch) table->for_each_match(event.type, &event.json, schedule);
/// ```
///
/// Thread-safety: load() and store() may be called concurrently from any threads. A short mutex guards the
/// pointer copy (libstdc++'s std::atomic<std::shared_ptr> is a lock too, and ThreadSanitizer cannot see
/// through it); the table itself is immutable, so matching needs no lock.
class atomic_routing_table
{
public:
    /// Starts with an empty table.
    atomic_routing_table()
        : table_(std::make_shared<const routing_table>())
    {}

    /// The current table; never null. Hold the result for as long as you use subscriptions from it.
    std::shared_ptr<const routing_table> load() const
    {
        std::lock_guard lock(mutex_);
        return table_;
    }

    /// Publishes a new table (a null pointer publishes an empty table). Readers holding the old one keep it
    /// until they drop it; the old table is destroyed outside the lock.
    void store(std::shared_ptr<const routing_table> table)
    {
        if (!table)
            table = std::make_shared<const routing_table>();
        std::lock_guard lock(mutex_);
        table_.swap(table);
    }

private:
    mutable std::mutex mutex_;
    std::shared_ptr<const routing_table> table_;
};

inline std::uint64_t routing_table::string_index::hash(std::string_view key) noexcept
{
    // FNV-1a with a murmur3 finalizer: cheap for short type names and well mixed in the low bits used.
    std::uint64_t h = 14695981039346656037ULL;
    for (const char c : key)
        h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

inline std::span<const std::uint32_t> routing_table::string_index::find(std::string_view key) const noexcept
{
    if (slots_.empty())
        return {};
    const std::uint64_t h = hash(key);
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
        const slot& s = slots_[i];
        if (s.count == 0)
            return {};
        if (s.hash == h && s.key_length == key.size() &&
            std::string_view(keys_.data() + s.key_offset, s.key_length) == key)
            return {indexes_.data() + s.first, s.count};
    }
}

template <class OnMatch>
void routing_table::visit(
    std::span<const std::uint32_t> indexes, const rapidjson::Value* event, OnMatch& on_match
) const
{
    for (const std::uint32_t i : indexes) {
        const entry& e = entries_[i];
        if (e.payload_filter && (!event || !e.payload_filter->matches(*event)))
            continue;
        on_match(e.sub);
    }
}

template <class OnMatch>
void routing_table::for_each_match(std::string_view type, const rapidjson::Value* event, OnMatch&& on_match)
    const
{
    // Each subscription's patterns were reduced at build time so that no two of them overlap: a type reaches
    // a subscription through at most one list below, so no de-duplication is needed here.
    visit(exact_.find(type), event, on_match);
    if (!prefix_.empty()) {
        for (auto dot = type.find('.'); dot != std::string_view::npos && dot + 1 < type.size();
             dot = type.find('.', dot + 1)) {
            visit(prefix_.find(type.substr(0, dot + 1)), event, on_match);
        }
    }
    visit(all_, event, on_match);
}

} // namespace relay::subscription
