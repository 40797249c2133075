#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace relay::delivery {

/// Which input offsets of one partition may be committed (design.md section 8): a record is tracked when the
/// worker starts on it and done when every delivery of it has succeeded or been durably produced (acked) to a
/// retry or DLQ topic. The committable offset is that of the first tracked record not yet done, or one past
/// the last tracked record when all are done, so completion may happen in any order and gaps in the offsets
/// (compacted topics, transaction markers) never block: only offsets that were tracked count.
///
/// Memory is O(records in flight): done records behind a slow one are compacted away. track, committable and
/// in_flight are O(1); done is O(log n) plus amortized O(1).
/// Thread-safety: none, by design. One tracker per assigned partition, owned and used by the single thread
/// (or strand) that handles that partition's records and commits; create a fresh one on each assignment.
class offset_tracker
{
public:
    /// Starts tracking `offset`. Offsets must increase strictly; returns false (and ignores the call)
    /// otherwise.
    bool track(std::int64_t offset);

    /// Marks `offset` done. Returns false (and changes nothing) when it is not tracked or already done.
    bool done(std::int64_t offset);

    /// The offset to commit (the next one to consume after a restart), or nullopt when nothing was ever
    /// tracked.
    std::optional<std::int64_t> committable() const noexcept;

    /// Records tracked and not yet done: the number the worker weighs for pause/resume.
    std::size_t in_flight() const noexcept { return in_flight_; }

    /// True when every tracked record is done.
    bool idle() const noexcept { return in_flight_ == 0; }

private:
    struct entry
    {
        std::int64_t offset;
        bool done;
    };

    void compact();

    std::vector<entry> entries_; // ascending offsets; [head_, end) holds every record not yet done
    std::size_t head_ = 0;       // first entry not done (== entries_.size() when idle)
    std::size_t in_flight_ = 0;
    std::optional<std::int64_t> last_tracked_;
};

} // namespace relay::delivery
