#include "relay/delivery/offset_tracker.hpp"

#include <algorithm>

namespace relay::delivery {

bool offset_tracker::track(std::int64_t offset)
{
    if (last_tracked_ && offset <= *last_tracked_)
        return false;
    entries_.push_back({offset, false});
    last_tracked_ = offset;
    ++in_flight_;
    return true;
}

bool offset_tracker::done(std::int64_t offset)
{
    const auto first = entries_.begin() + static_cast<std::ptrdiff_t>(head_);
    const auto it = std::lower_bound(first, entries_.end(), offset, [](const entry& e, std::int64_t o) {
        return e.offset < o;
    });
    if (it == entries_.end() || it->offset != offset || it->done)
        return false;
    it->done = true;
    --in_flight_;
    while (head_ < entries_.size() && entries_[head_].done)
        ++head_;
    // Keeping done entries costs memory behind a slow head; dropping them once they outnumber the records in
    // flight keeps memory O(in flight) and makes each done() amortized O(1).
    if (entries_.size() - in_flight_ > in_flight_ && entries_.size() >= 32)
        compact();
    return true;
}

void offset_tracker::compact()
{
    std::erase_if(entries_, [](const entry& e) { return e.done; });
    head_ = 0;
}

std::optional<std::int64_t> offset_tracker::committable() const noexcept
{
    if (head_ < entries_.size())
        return entries_[head_].offset;
    if (last_tracked_)
        return *last_tracked_ + 1;
    return std::nullopt;
}

} // namespace relay::delivery
