#pragma once

#include "relay/kafka/config.hpp"
#include "relay/kafka/handles.hpp"
#include "relay/kafka/message.hpp"

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace relay::kafka {

/// What a consumer reports to the application. Every call runs on the consumer's poll thread, one at a time:
/// do not block here (post work elsewhere; use pause() for backpressure) and do not call close().
class consumer_handler
{
public:
    virtual ~consumer_handler() = default;

    /// Partitions were added to this member's assignment; their messages may follow.
    virtual void on_assigned(const std::vector<topic_partition>& partitions) = 0;

    /// Partitions are leaving this member's assignment. When `lost` is false the consumer is still a member:
    /// store_offset() what is done now; the consumer commits the stored offsets synchronously right after
    /// this returns, then unassigns. When `lost` is true (session timeout, fencing) another member may
    /// already own them: nothing is committed. Messages of these partitions that were received earlier were
    /// all delivered to on_messages() before this call.
    virtual void on_revoked(const std::vector<topic_partition>& partitions, bool lost) = 0;

    /// A batch of messages (never empty, in partition order). The handler owns them; every message_ptr must
    /// be destroyed before the consumer is.
    virtual void on_messages(std::vector<message_ptr> batch) = 0;

    /// A consumer error that is not fatal (fatal ones go to client_options::on_fatal), e.g. a subscribed
    /// topic that does not exist. The default logs it at warning.
    virtual void on_error(boost::system::error_code ec, std::string_view reason);
};

/// Settings of a consumer beyond librdkafka's properties.
struct consumer_options
{
    /// librdkafka properties and hooks. group.id is required for subscribe(). Defaults applied unless set
    /// here: partition.assignment.strategy=cooperative-sticky, enable.auto.offset.store=false (the
    /// application stores offsets with store_offset()), enable.auto.commit=true (stored offsets are committed
    /// periodically).
    client_options client{};
    /// Most messages delivered in one on_messages() call.
    std::size_t max_batch = 500;
};

/// A high-level (group) Kafka consumer with its own poll thread.
///
/// The poll thread polls with at most 100 ms waits, serves rebalances (incremental assign/unassign for the
/// cooperative protocol, full assign for eager ones), and hands messages to the consumer_handler in batches.
///
/// Thread-safety: every member function may be called from any thread, including from the handler (on the
/// poll thread), except close() and the destructor, which must not run on the poll thread.
class consumer
{
public:
    /// Creates the consumer and starts its poll thread. `handler` must outlive the consumer.
    /// Throws config_error when librdkafka rejects the configuration.
    consumer(const consumer_options& options, consumer_handler& handler);

    consumer(const consumer&) = delete;
    consumer& operator=(const consumer&) = delete;

    /// close(). Never throws.
    ~consumer();

    /// Joins the group and subscribes to `topics` (replacing an earlier subscription). Topics may be regexes
    /// starting with "^". Errors: kafka_category codes (e.g. `_INVALID_ARG` for an empty list).
    boost::system::error_code subscribe(const std::vector<std::string>& topics);

    /// Manual assignment instead of subscribe() (do not mix the two): consume exactly `partitions`, each from
    /// its offset (RD_KAFKA_OFFSET_INVALID: committed offset, else auto.offset.reset). No rebalance
    /// callbacks.
    boost::system::error_code assign(const std::vector<topic_partition>& partitions);

    /// Stops fetching `partitions` (offsets ignored) while polling continues; messages already handed to
    /// on_messages() stay delivered, at most the batch being assembled may still follow.
    boost::system::error_code pause(const std::vector<topic_partition>& partitions);

    /// Fetches `partitions` again from the position after the last message delivered (or the seek position).
    boost::system::error_code resume(const std::vector<topic_partition>& partitions);

    /// Moves the fetch position of each partition to its `offset` (asynchronously; a paused partition stays
    /// paused). Use with pause() to re-deliver a message later, e.g. a retry head that is not due yet.
    boost::system::error_code seek(const std::vector<topic_partition>& partitions);

    /// Marks everything before `next_offset` (the last done offset + 1) of the partition as done; committed
    /// by the auto-commit timer, commit_sync(), and before every revoke. Errors: `_STATE` /
    /// `_UNKNOWN_PARTITION` when the partition is not assigned to this member.
    boost::system::error_code
    store_offset(std::string_view topic, std::int32_t partition, std::int64_t next_offset);

    /// Commits the stored offsets now and waits for the broker's answer. Nothing stored is success.
    boost::system::error_code commit_sync();

    /// The committed offsets of `partitions`, as stored in the group (RD_KAFKA_OFFSET_INVALID when none).
    /// Blocks up to `timeout_ms`.
    boost::system::error_code committed(std::vector<topic_partition>& partitions, int timeout_ms);

    /// The current assignment.
    std::vector<topic_partition> assignment() const;

    /// Stops polling, closes the consumer on the poll thread (the final on_revoked and commit happen there;
    /// with group.instance.id the member stays in the group until its session times out), and joins the
    /// thread. Idempotent; never throws. Must not be called from the handler.
    void close() noexcept;

    /// True once librdkafka reported a fatal error (e.g. fenced static member).
    bool fatal() const noexcept;

    /// The group member id (empty until joined).
    std::string member_id() const;

    /// The underlying handle; owned by this consumer.
    rd_kafka_t* native_handle() const noexcept;

    struct impl;

private:
    std::unique_ptr<impl> impl_;
};

} // namespace relay::kafka
