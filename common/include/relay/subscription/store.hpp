#pragma once

// The subscription store (design.md sections 3 and 5): subscriptions live in a compacted Kafka topic (key =
// subscription id, value = to_json(s, secret_mode::full), null value = tombstone = deleted). `relay serve`
// writes it with a writer; every process that routes or lists subscriptions reads it with a follower, which
// merges in the static subscriptions of the config file and publishes routing tables.

#include "relay/kafka/admin.hpp"
#include "relay/kafka/config.hpp"
#include "relay/kafka/message.hpp"
#include "relay/kafka/producer.hpp"
#include "relay/subscription/codec.hpp"
#include "relay/subscription/problem.hpp"
#include "relay/subscription/routing_table.hpp"
#include "relay/subscription/subscription.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace prometheus {
class Registry;
} // namespace prometheus

namespace relay::subscription {

/// A shared, immutable subscription.
using subscription_ptr = std::shared_ptr<const subscription>;

/// The topic_spec of the subscriptions topic for kafka::ensure_topics(): one partition (a total order of
/// changes, and the topic is small) and cleanup.policy=compact (the latest record per id is kept for ever;
/// tombstones are removed after the topic's delete.retention.ms).
kafka::topic_spec subscriptions_topic_spec(std::string topic, int replication_factor = -1);

/// Creates the subscriptions topic when it is missing (an existing topic is left as it is):
/// kafka::ensure_topics(rk, {subscriptions_topic_spec(topic, replication_factor)}, timeout).
/// Throws kafka::topic_error when it is missing and cannot be created. Blocks up to about twice `timeout`.
std::vector<std::string> ensure_subscriptions_topic(
    rd_kafka_t* rk, std::string topic, int replication_factor, std::chrono::milliseconds timeout
);

/// `base` with what records of the subscriptions topic and static subscriptions need: `id` and the secrets
/// are required (never generated: a generated value would differ on every read), server-maintained fields
/// are accepted. Everything else (allow_http, limits) is kept.
parse_options stored_parse_options(parse_options base) noexcept;

/// Parses the static subscriptions of the config file (config::config::static_subscriptions_json) with
/// stored_parse_options(options): every problem is reported, ids must be present and unique, secrets present.
/// Thread-safe (no shared state).
parse_result<std::vector<subscription>>
parse_static_subscriptions(std::string_view json_array, const parse_options& options = {});

/// What subscription_set::apply() did with one record.
enum class record_action
{
    upserted,       ///< the subscription was added or replaced
    deleted,        ///< a tombstone removed the subscription (or there was none with that id)
    ignored_static, ///< the id belongs to a static subscription, which the topic cannot change
    invalid,        ///< not a usable record (see apply_result::reason); the previous state is kept
};

/// "upserted" / "deleted" / "ignored_static" / "invalid".
std::string_view to_string(record_action a) noexcept;

/// The outcome of applying one record. Never carries a secret.
struct apply_result
{
    record_action action = record_action::invalid;
    /// The subscription id (the record key) when it is a valid id; empty otherwise.
    std::string id{};
    /// Why the record was ignored (invalid, ignored_static); empty otherwise.
    std::string reason{};
    /// True when the set of subscriptions changed.
    bool changed = false;
};

/// The merged view of the static subscriptions and the records of the subscriptions topic read so far. Pure
/// logic without I/O (the follower drives it).
///
/// Rules: a record's key is the subscription id; a null value deletes it; any other value must parse with
/// stored_parse_options() to a subscription whose `id` equals the key. A record that breaks a rule is
/// reported as invalid and changes nothing, so the last valid version of that subscription stays in force.
/// Records whose key is the id of a static subscription are ignored: the topic cannot change or delete a
/// static subscription.
///
/// Thread-safety: none; guard it externally. Returned subscription_ptrs may be shared freely.
class subscription_set
{
public:
    /// `statics` must have unique, valid ids (parse_static_subscriptions() guarantees both); `options` are
    /// the parse options of records (passed through stored_parse_options()).
    /// Throws std::invalid_argument naming the first duplicate or invalid static id.
    subscription_set(std::vector<subscription> statics, const parse_options& options);

    /// Applies one record of the topic (key and value as read; nullopt = Kafka null).
    apply_result apply(std::optional<std::string_view> key, std::optional<std::string_view> value);

    /// The subscription with this id (static or from the topic, enabled or not), or null.
    subscription_ptr find(std::string_view id) const;

    /// True when `id` names a static subscription.
    bool is_static(std::string_view id) const;

    /// Every subscription (static and from the topic, including disabled ones), sorted by id.
    std::vector<subscription_ptr> all() const;

    /// Number of subscriptions from the topic (not counting static ones).
    std::size_t stored_count() const noexcept { return stored_.size(); }

    /// Number of static subscriptions.
    std::size_t static_count() const noexcept { return statics_.size(); }

    /// A routing table of every enabled subscription.
    std::shared_ptr<const routing_table> make_routing_table() const;

private:
    parse_options options_;
    std::map<std::string, subscription_ptr, std::less<>> statics_;
    std::map<std::string, subscription_ptr, std::less<>> stored_;
};

/// Settings of a follower.
struct follower_options
{
    /// librdkafka properties: bootstrap.servers and the user's settings (kafka.properties, then
    /// kafka.consumer_properties). The follower sets group.id (a fresh throwaway id, see `group_id`),
    /// enable.auto.commit=false and auto.offset.reset=earliest itself.
    kafka::properties kafka{};
    /// The compacted subscriptions topic (config topics.subscriptions).
    std::string topic = "relay.subscriptions";
    /// Static subscriptions (parse_static_subscriptions() of the config); they always win over the topic.
    std::vector<subscription> static_subscriptions{};
    /// How records are parsed (allow_http and limits from the config); see stored_parse_options().
    parse_options parse{};
    /// librdkafka requires a group.id even for manually assigned partitions, although the follower never
    /// joins the group nor commits offsets. "" (default) uses "relay-subscriptions-<random>"; set it when
    /// broker ACLs restrict group names (the follower needs Describe on the group, Read and Describe on the
    /// topic).
    std::string group_id{};
    /// Bound of each metadata and watermark request in start().
    std::chrono::milliseconds start_timeout{30'000};
    /// Called when the consumer hits a fatal error (see kafka::fatal_handler). Optional.
    kafka::fatal_handler on_fatal{};
};

/// Counters of a follower, for metrics and tests.
struct follower_stats
{
    std::uint64_t records = 0;        ///< records read
    std::uint64_t invalid = 0;        ///< records skipped as invalid
    std::uint64_t ignored_static = 0; ///< records ignored because their id is static
    std::uint64_t tables = 0;         ///< routing tables published
};

/// Reads the subscriptions topic from the beginning and then follows it, keeping a subscription_set and
/// publishing routing tables into an atomic_routing_table.
///
/// Every partition is manually assigned from its beginning on a consumer of its own: there is no consumer
/// group membership and nothing is ever committed, so every process reads the whole topic. start() records
/// the high watermarks; the follower is loaded once it has applied every record below them. The first
/// routing table is published when it is loaded (or by start() when the topic is empty); after that a new
/// table follows every polled batch that changed something, so changes reach the table within the fetch
/// latency (milliseconds). Invalid records are logged at warning (id, partition, offset and the problems;
/// never a value or a secret) and skipped; they never stop the follower.
///
/// Thread-safety: every member function may be called from any thread, except that stop() and the
/// destructor must not run on the follower's own threads (i.e. not from an async_wait_applied completion
/// handler that has no executor of its own). Partitions added to the topic after start() are not read until
/// the next start.
class follower
{
public:
    /// Publishes nothing yet. `table` must outlive the follower.
    /// Throws std::invalid_argument for duplicate or invalid static subscription ids.
    follower(follower_options options, atomic_routing_table& table);

    follower(const follower&) = delete;
    follower& operator=(const follower&) = delete;

    /// stop(). Never throws.
    ~follower();

    /// Creates the consumer, queries the partitions and their high watermarks and starts reading. Blocks up
    /// to a few times options.start_timeout. Call once.
    /// Throws kafka::config_error when librdkafka rejects the properties, std::runtime_error when the topic
    /// does not exist or the cluster cannot be reached in time (naming the topic and the Kafka error), and
    /// std::logic_error when called twice or after stop().
    void start();

    /// Waits until everything that was in the topic at start() is applied and the first routing table is
    /// published. True when loaded; false on timeout, or when stopped (or never started) before loading.
    bool wait_until_loaded(std::chrono::milliseconds timeout) const;

    /// True once loaded (see wait_until_loaded()).
    bool loaded() const;

    /// Every current subscription (static and from the topic, including disabled ones, which the routing
    /// table leaves out), sorted by id.
    std::vector<subscription_ptr> snapshot() const;

    /// The subscription with this id, enabled or not, or null.
    subscription_ptr find(std::string_view id) const;

    /// True when `id` names a static subscription (which the API must not change or delete).
    bool is_static(std::string_view id) const;

    /// Counters so far.
    follower_stats stats() const;

    /// Exports the gauge `relay_subscriptions_loaded{source="static"|"topic", state="enabled"|"disabled"}`
    /// (the subscriptions this process routes with, and the disabled ones it skips) on `registry`, which
    /// must outlive the follower, and keeps it current with every routing table published. Call at most once.
    void bind_metrics(prometheus::Registry& registry);

    /// Blocks until the record at (`partition`, `offset`) of the topic (e.g. a writer's acknowledged
    /// delivery_info) is applied: then find()/snapshot() and the routing table reflect it, or later state.
    /// True when applied; false on timeout, when stopped, before start(), or for a partition the follower
    /// does not read. Not for io_context threads: use async_wait_applied() there.
    bool wait_applied(std::int32_t partition, std::int64_t offset, std::chrono::milliseconds timeout) const;

    /// Completion signature of async_wait_applied().
    using wait_signature = void(boost::system::error_code);

    /// As wait_applied(), as an Asio asynchronous operation. Completes with success once applied;
    /// boost::asio::error::timed_out after `timeout`; operation_aborted when the follower stops first;
    /// invalid_argument for a partition it does not read or a negative offset; operation_not_supported
    /// before start(). Never completes inside the initiating function. The handler runs through its
    /// associated executor (one without an executor runs on a follower thread and must not block);
    /// outstanding work is tracked on that executor until completion. Per-operation cancellation is not
    /// supported (use the timeout).
    template <boost::asio::completion_token_for<wait_signature> CompletionToken>
    auto async_wait_applied(
        std::int32_t partition,
        std::int64_t offset,
        std::chrono::milliseconds timeout,
        CompletionToken&& token
    )
    {
        return boost::asio::async_initiate<CompletionToken, wait_signature>(
            [this](auto handler, std::int32_t p, std::int64_t o, std::chrono::milliseconds t) {
                auto ex = boost::asio::get_associated_executor(handler);
                auto work = boost::asio::prefer(ex, boost::asio::execution::outstanding_work.tracked);
                wait_handler h(kafka::detail::work_tracking_handler<decltype(handler), decltype(work)>{
                    std::move(handler), std::move(work)});
                boost::system::error_code immediate;
                if (!start_wait(p, o, t, h, immediate)) {
                    // Never complete inside the initiating function (posted through the concrete executor:
                    // the type-erased one cannot be required to be non-blocking).
                    boost::asio::post(ex, boost::asio::append(std::move(h), immediate));
                }
            },
            token,
            partition,
            offset,
            timeout
        );
    }

    /// Stops reading (closing the consumer), completes pending async waits with operation_aborted and joins
    /// the follower's threads. The last published table and the subscriptions stay readable. Idempotent;
    /// never throws.
    void stop() noexcept;

    struct impl;

private:
    using wait_handler = boost::asio::any_completion_handler<wait_signature>;

    /// Queues `handler` (taking it) and returns true; or returns false with `immediate` set (success when
    /// already applied) and leaves `handler` to the caller.
    bool start_wait(
        std::int32_t partition,
        std::int64_t offset,
        std::chrono::milliseconds timeout,
        wait_handler& handler,
        boost::system::error_code& immediate
    );

    std::unique_ptr<impl> impl_;
};

/// Produces subscription changes to the subscriptions topic through a kafka::producer, keyed by id.
/// The producer must be configured for acks=all (and should be idempotent), so that an acknowledged change
/// is durable; make_writer_producer() builds one.
///
/// Thread-safety: every member function may be called from any thread (as the producer's).
class writer
{
public:
    /// Produces through `producer`, which must outlive the writer.
    writer(kafka::producer& producer, std::string topic);

    /// The record that stores `s`: key s.id, value to_json(s, secret_mode::full), no headers. `s` should
    /// come from parse_subscription(), which guarantees a valid id and secrets.
    kafka::record put_record(const subscription& s) const;

    /// The tombstone that deletes subscription `id`.
    kafka::record remove_record(std::string_view id) const;

    /// Stores `s` (add or replace). Completion: (error_code, kafka::delivery_info) after the broker
    /// acknowledged the record (or why not; see kafka::producer::async_produce), where delivery_info gives
    /// the (partition, offset) to pass to follower::async_wait_applied(). Completes with
    /// boost::asio::error::invalid_argument, without producing, when s.id is not a valid id. Never completes
    /// inside the initiating function.
    template <boost::asio::completion_token_for<kafka::delivery_signature> CompletionToken>
    auto async_put(const subscription& s, CompletionToken&& token)
    {
        std::optional<kafka::record> rec;
        if (is_valid_id(s.id)) {
            rec = put_record(s);
        }
        return async_produce(std::move(rec), std::forward<CompletionToken>(token));
    }

    /// Deletes subscription `id` with a tombstone; completes as async_put(). Deleting an id that does not
    /// exist is not an error (the tombstone is written anyway).
    template <boost::asio::completion_token_for<kafka::delivery_signature> CompletionToken>
    auto async_remove(std::string_view id, CompletionToken&& token)
    {
        std::optional<kafka::record> rec;
        if (is_valid_id(id)) {
            rec = remove_record(id);
        }
        return async_produce(std::move(rec), std::forward<CompletionToken>(token));
    }

    /// The topic written to.
    const std::string& topic() const noexcept { return topic_; }

private:
    // Produces `rec`, or completes with invalid_argument when it is empty.
    template <class CompletionToken>
    auto async_produce(std::optional<kafka::record> rec, CompletionToken&& token)
    {
        return boost::asio::async_initiate<CompletionToken, kafka::delivery_signature>(
            [p = producer_](auto handler, std::optional<kafka::record> r) {
                if (r) {
                    p->async_produce(std::move(*r), std::move(handler));
                    return;
                }
                auto ex = boost::asio::get_associated_executor(handler);
                boost::asio::post(
                    ex,
                    boost::asio::append(
                        std::move(handler),
                        boost::system::error_code(boost::asio::error::invalid_argument),
                        kafka::delivery_info{}
                    )
                );
            },
            token,
            std::move(rec)
        );
    }

    kafka::producer* producer_;
    std::string topic_;
};

/// A producer for a writer: `props` (bootstrap.servers and the user's producer settings) with acks=all and
/// enable.idempotence=true forced. Throws kafka::config_error when librdkafka rejects the properties.
kafka::producer make_writer_producer(kafka::properties props, kafka::fatal_handler on_fatal = {});

} // namespace relay::subscription
