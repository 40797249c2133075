#include "relay/subscription/routing_table.hpp"

#include <algorithm>
#include <unordered_map>

namespace relay::subscription {
namespace {

// True when every type `inner` matches is also matched by `outer` (both valid patterns).
bool covers(std::string_view outer, std::string_view inner) noexcept
{
    if (outer == "*")
        return true;
    if (inner == "*" || !outer.ends_with(".*"))
        return false;
    const std::string_view prefix = outer.substr(0, outer.size() - 1); // "order."
    return inner.size() > prefix.size() && inner.starts_with(prefix);
}

// Drops patterns another pattern of the same subscription already covers (and duplicates), so that any type
// matches at most one of the remaining patterns.
std::vector<std::string_view> reduce(const std::vector<std::string>& patterns)
{
    std::vector<std::string_view> kept;
    for (std::size_t i = 0; i < patterns.size(); ++i) {
        const std::string_view p = patterns[i];
        bool redundant = false;
        for (std::size_t j = 0; j < patterns.size() && !redundant; ++j) {
            if (i == j)
                continue;
            const std::string_view q = patterns[j];
            // Equal patterns: keep the first occurrence only.
            redundant = q == p ? j < i : covers(q, p);
        }
        if (!redundant)
            kept.push_back(p);
    }
    return kept;
}

} // namespace

void routing_table::string_index::build(
    const std::unordered_map<std::string, std::vector<std::uint32_t>>& groups
)
{
    if (groups.empty())
        return;
    std::size_t capacity = 8;
    while (capacity < 2 * groups.size())
        capacity *= 2;
    slots_.assign(capacity, slot{});
    for (const auto& [key, indexes] : groups) {
        slot s;
        s.hash = hash(key);
        s.key_offset = static_cast<std::uint32_t>(keys_.size());
        s.key_length = static_cast<std::uint32_t>(key.size());
        s.first = static_cast<std::uint32_t>(indexes_.size());
        s.count = static_cast<std::uint32_t>(indexes.size());
        keys_ += key;
        indexes_.insert(indexes_.end(), indexes.begin(), indexes.end());
        std::size_t i = s.hash & (capacity - 1);
        while (slots_[i].count != 0)
            i = (i + 1) & (capacity - 1);
        slots_[i] = s;
    }
}

routing_table::routing_table(std::vector<subscription_ptr> subscriptions)
{
    // Last one wins for a repeated id: find the position of each id's last occurrence first.
    std::unordered_map<std::string_view, std::size_t> last;
    for (std::size_t i = 0; i < subscriptions.size(); ++i) {
        if (subscriptions[i])
            last[subscriptions[i]->id] = i;
    }
    std::unordered_map<std::string, std::vector<std::uint32_t>> exact, prefix, ids;
    for (std::size_t i = 0; i < subscriptions.size(); ++i) {
        subscription_ptr& sub = subscriptions[i];
        if (!sub || !sub->enabled || last[sub->id] != i)
            continue;
        const auto index = static_cast<std::uint32_t>(entries_.size());
        for (const std::string_view pattern : reduce(sub->event_types)) {
            if (pattern == "*")
                all_.push_back(index);
            else if (pattern.ends_with(".*"))
                prefix[std::string(pattern.substr(0, pattern.size() - 1))].push_back(index);
            else
                exact[std::string(pattern)].push_back(index);
        }
        ids[sub->id].push_back(index);
        const filter* f = sub->payload_filter ? &*sub->payload_filter : nullptr;
        entries_.push_back(entry{std::move(sub), f});
    }
    exact_.build(exact);
    prefix_.build(prefix);
    by_id_.build(ids);
}

routing_table::routing_table(const std::vector<subscription>& subscriptions)
    : routing_table([&] {
        std::vector<subscription_ptr> ptrs;
        ptrs.reserve(subscriptions.size());
        for (const subscription& s : subscriptions)
            ptrs.push_back(std::make_shared<const subscription>(s));
        return ptrs;
    }())
{}

void routing_table::match(
    std::string_view type, const rapidjson::Value* event, std::vector<const subscription*>& out
) const
{
    for_each_match(type, event, [&out](const subscription_ptr& s) { out.push_back(s.get()); });
}

const routing_table::subscription_ptr* routing_table::find(std::string_view id) const noexcept
{
    const auto found = by_id_.find(id);
    return found.empty() ? nullptr : &entries_[found.front()].sub;
}

} // namespace relay::subscription
