// The delivery worker. A slow or dead endpoint never holds up the others (design.md section 8): besides its
// own max_in_flight, unordered deliveries to an endpoint that cannot take them are parked on a retry tier
// without an attempt instead of waiting in memory: while its circuit breaker is open (circuit_open), while
// every slot hangs with nothing finishing (endpoint_stalled), and while its queue is a full round deep and
// its head has waited a second (endpoint_backlog, a slow but live endpoint), spread out at the pace the
// endpoint drains.
#include "relay/delivery/worker.hpp"

#include "relay/config/kafka_clients.hpp"
#include "relay/delivery/circuit_breaker.hpp"
#include "relay/delivery/gate.hpp"
#include "relay/delivery/offset_tracker.hpp"
#include "relay/delivery/outcome.hpp"
#include "relay/delivery/parking.hpp"
#include "relay/delivery/retry_after.hpp"
#include "relay/delivery/retry_schedule.hpp"
#include "relay/event/duration.hpp"
#include "relay/event/envelope.hpp"
#include "relay/http/client.hpp"
#include "relay/http/client_tls.hpp"
#include "relay/kafka/consumer.hpp"
#include "relay/kafka/error.hpp"
#include "relay/kafka/producer.hpp"
#include "relay/kafka/statistics.hpp"
#include "relay/log/log.hpp"
#include "relay/net/address_policy.hpp"
#include "relay/version.hpp"
#include "relay/webhook/signing.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace relay::delivery {

namespace asio = boost::asio;
using subscription_t = relay::subscription::subscription;
using relay::subscription::ordering_mode;
using subscription_ptr = std::shared_ptr<const subscription_t>;

namespace {

std::int64_t now_ms()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch()
    )
        .count();
}

const std::string& user_agent()
{
    static const std::string ua = std::string("relay/") + relay::version;
    return ua;
}

// Status classes of deliveries and attempts: "none" (no attempt was made: shed, invalid event, disabled
// subscription), the HTTP classes, and "error" (no HTTP status: connection, TLS, timeout).
constexpr std::size_t status_classes = 7;
constexpr std::size_t class_none = 0;
constexpr std::size_t class_error = 6;
constexpr std::array<const char*, status_classes> status_class_names{
    "none", "1xx", "2xx", "3xx", "4xx", "5xx", "error"};

std::size_t status_class_of(bool error, unsigned status)
{
    if (error)
        return class_error;
    if (status < 100)
        return class_none;
    return std::min<std::size_t>(status / 100, 5);
}

enum delivery_outcome : std::size_t
{
    outcome_delivered,
    outcome_retried,
    outcome_dead_lettered,
    outcome_count,
};

constexpr std::array<const char*, outcome_count> outcome_names{"delivered", "retried", "dead_lettered"};

// Webhook latencies span milliseconds (a fast receiver) to hours (an event delivered after retries).
const prometheus::Histogram::BucketBoundaries& latency_buckets()
{
    static const prometheus::Histogram::BucketBoundaries b{
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600};
    return b;
}

/// The delivery metrics of one `subscription` label value (a labelled subscription, or `other`), built once.
struct labelled_metrics
{
    std::array<std::array<prometheus::Counter*, status_classes>, outcome_count>
        deliveries{};                                            // null: impossible
    std::array<prometheus::Counter*, status_classes> attempts{}; // null for none
    prometheus::Histogram* attempt_seconds = nullptr;
    prometheus::Histogram* end_to_end_seconds = nullptr;

    void count(delivery_outcome o, std::size_t cls) const
    {
        if (auto* c = deliveries[o][cls])
            c->Increment();
    }
};

struct record_ctx;

/// An assigned partition: its offset tracker and, for retry tiers, the records held until due.
struct partition_state
{
    struct held_record
    {
        std::shared_ptr<record_ctx> rec;
        /// Relay's headers, or why they are invalid (such a record is dead-lettered when its turn comes).
        boost::system::result<retry_record, std::string> retry;

        /// When it may be attempted; an invalid record is due at once.
        std::int64_t due_ms() const { return retry ? retry->not_before_ms : 0; }
    };

    partition_state(std::string t, std::int32_t p, bool is_retry, asio::io_context& timer_ctx)
        : topic(std::move(t))
        , partition(p)
        , retry(is_retry)
        , timer(timer_ctx)
    {}

    const std::string topic;
    const std::int32_t partition;
    const bool retry;
    std::size_t tier = 0; // index of the retry tier, when `retry`

    // Lag metrics; created on assignment and removed on revoke, both on the consumer's poll thread, where
    // the statistics callback sets them too.
    prometheus::Gauge* lag_records = nullptr;
    prometheus::Gauge* lag_seconds = nullptr;
    const std::int64_t assigned_ms = now_ms();
    std::atomic<std::int64_t> last_record_ms{-1}; // Kafka timestamp of the last record consumed

    std::mutex mutex;
    std::condition_variable idle; // notified when tracker.idle() while revoke_waiting
    offset_tracker tracker;       // guarded by mutex
    std::int64_t stored = -1;     // last offset handed to store_offset; guarded by mutex
    bool revoked = false;         // guarded by mutex
    bool revoke_waiting = false;  // guarded by mutex
    std::deque<held_record> held; // retry records not due yet, in offset order; guarded by mutex
    bool hold_paused = false;     // guarded by the worker's flow mutex
    asio::steady_timer timer;     // fires when held.front() is due; used on the timer thread only
};

/// A consumed record in flight: done when every delivery of it has finished (pending reaches zero).
struct record_ctx
{
    std::shared_ptr<partition_state> part;
    std::int64_t offset = 0;
    kafka::message_ptr msg;
    std::atomic<int> pending{1}; // one per delivery, plus the guard released after dispatch
    std::size_t shard = 0;

    std::string event_id;
    std::optional<std::string_view> key;
    std::optional<std::string_view> value;
    event::trace_context trace;                // views into msg
    std::vector<event::record_header> headers; // the record's headers, views into msg
    delivery::origin origin;
    std::int64_t first_attempt_ms = 0;
    std::int64_t origin_ms = -1; // start of the end-to-end latency (event timestamp), -1 unknown
};

/// A subscription's concurrency cap: its own max_in_flight, else the configured default.
std::size_t limit_of(const subscription_t& sub, std::size_t fallback)
{
    return sub.max_in_flight ? sub.max_in_flight : fallback;
}

/// Per-subscription state shared by its deliveries.
struct subscription_state
{
    subscription_state(
        subscription_ptr s,
        const retry_schedule& fallback,
        std::size_t default_limit,
        std::shared_ptr<circuit_breaker> endpoint_breaker
    )
        : sub(std::move(s))
        , admission(limit_of(*sub, default_limit), sub->ordering == ordering_mode::key)
        , schedule(sub->retry_schedule ? retry_schedule(*sub->retry_schedule, fallback.jitter()) : fallback)
        , breaker(std::move(endpoint_breaker))
        , configured_limit(limit_of(*sub, default_limit))
        , limit(configured_limit)
        , last_progress_ms(now_ms())
    {
        if (sub->signing_key) {
            if (auto k = webhook::signing_key::parse(*sub->signing_key))
                signing_key = *k;
        }
    }

    subscription_ptr sub; // the version this state was made for; guarded by the worker's subs_mutex
    struct delivery_ctx;
    gate<std::shared_ptr<delivery_ctx>> admission;
    retry_schedule schedule;
    std::optional<webhook::signing_key> signing_key;
    std::shared_ptr<circuit_breaker> breaker;              // shared by every subscription of the same origin
    std::atomic<const labelled_metrics*> metrics{nullptr}; // owned by the worker; null without a registry

    // Throttling (429/502/503/504): the admission limit halves, at most once a second, and grows back by one
    // per 2xx (AIMD).
    std::size_t configured_limit;
    std::atomic<std::size_t> limit;
    std::atomic<std::int64_t> last_throttle_ms{0};

    /// Unix ms of the last progress: an attempt finished (any outcome) or a delivery took a free slot. A
    /// subscription whose slots are all busy and that made no progress for a while is stalled, and its new
    /// deliveries are parked instead of queued.
    std::atomic<std::int64_t> last_progress_ms;
    /// Unix ms since which every attempt failed (0: the last one succeeded); drives auto-disable.
    std::atomic<std::int64_t> failing_since_ms{0};

    // Backlog shedding (endpoint_backlog), in microseconds (a fast endpoint's spacing is below a
    // millisecond): a moving average of attempt durations (0: none finished yet), and the steady-clock time
    // at which the next shed delivery is due back, at the earliest.
    std::atomic<std::int64_t> avg_attempt_us{0};
    std::atomic<std::int64_t> shed_cursor_us{0};

    // rate_limit pacing: the next free send slot.
    std::mutex pace_mutex;
    std::chrono::steady_clock::time_point next_slot{}; // guarded by pace_mutex
};

} // namespace

/// One delivery of a record to a subscription, across its attempts.
struct subscription_state::delivery_ctx
{
    std::shared_ptr<record_ctx> rec;
    std::shared_ptr<subscription_state> sub_state;
    subscription_ptr sub_ptr;  // the subscription as routed (immutable)
    std::uint32_t attempt = 1; // the attempt being made
    std::int64_t first_attempt_ms = 0;
    unsigned last_status = 0;
    std::string last_error;
    std::size_t status_class = class_none; // of the last attempt made by this worker
    std::size_t shard = 0;
    bool probe = false;                // this attempt is its endpoint's half-open circuit probe
    std::int64_t last_duration_ms = 0; // of the last attempt, for logs

    // Storage the request points into, valid until the attempt completes.
    std::string timestamp;
    std::string signature;
    http::client_request request;
    std::optional<asio::steady_timer> backoff;

    const subscription_t& sub() const { return *sub_ptr; }
    std::optional<std::string_view> order_key() const
    {
        return sub_state->admission.ordered() ? rec->key : std::nullopt;
    }
};

using delivery_ptr = std::shared_ptr<subscription_state::delivery_ctx>;

struct worker::impl final : kafka::consumer_handler
{
    struct shard
    {
        asio::io_context ctx{1};
        asio::executor_work_guard<asio::io_context::executor_type> work{ctx.get_executor()};
        std::unique_ptr<http::client> client;
        std::thread thread;
    };

    // Why a delivery was parked without an attempt (relay_deliveries_shed_total's reason label).
    enum class shed_reason : std::size_t
    {
        circuit_open,
        endpoint_stalled,
        endpoint_backlog,
        count,
    };

    struct metrics
    {
        prometheus::Family<prometheus::Counter>* deliveries = nullptr;
        prometheus::Family<prometheus::Counter>* attempts = nullptr;
        prometheus::Family<prometheus::Histogram>* attempt_seconds = nullptr;
        prometheus::Family<prometheus::Histogram>* end_to_end_seconds = nullptr;
        prometheus::Family<prometheus::Counter>* dlq_family = nullptr;
        std::map<dlq_reason, prometheus::Counter*> dlq_by_reason;
        std::vector<prometheus::Counter*> retries_produced; // by tier index
        std::vector<prometheus::Counter*> retries_consumed; // by tier index
        prometheus::Gauge* in_flight = nullptr;
        prometheus::Counter* records = nullptr;
        std::array<prometheus::Counter*, static_cast<std::size_t>(shed_reason::count)> shed{}; // by reason
        prometheus::Gauge* circuits_open = nullptr;
        prometheus::Family<prometheus::Counter>* circuit_transitions = nullptr;
        prometheus::Family<prometheus::Counter>* disabled_family = nullptr;
        prometheus::Gauge* disabled_now = nullptr;
        prometheus::Counter* throttled = nullptr;
        prometheus::Family<prometheus::Gauge>* lag_records = nullptr;
        prometheus::Family<prometheus::Gauge>* lag_seconds = nullptr;
        std::unique_ptr<kafka::statistics_metrics> kafka_stats;
    };

    explicit impl(worker_options o)
        : opts(std::move(o))
        , cfg(opts.cfg)
        , schedule(cfg.delivery.retry_schedule, cfg.delivery.retry_jitter)
        , tiers(schedule.tiers())
    {
        if (!opts.routes)
            opts.routes = std::make_shared<subscription::atomic_routing_table>();
        high_water = std::max<std::size_t>(1, cfg.delivery.max_in_flight);
        low_water = high_water - high_water / 4;
        for (const auto tier : tiers)
            tier_topics.push_back(tier_topic(cfg.topics.retry_prefix, tier));
        inputs.push_back(cfg.topics.events);
        for (const auto& t : cfg.topics.inputs) {
            if (std::find(inputs.begin(), inputs.end(), t) == inputs.end())
                inputs.push_back(t);
        }
        build_metrics();
        build_clients();
    }

    ~impl() override { stop(); }

    // ---- construction ----

    void build_clients()
    {
        auto fatal = [this](boost::system::error_code, std::string_view reason) {
            if (opts.on_fatal)
                opts.on_fatal(reason);
        };

        const auto max_record = std::to_string(max_parked_record_bytes(cfg));
        // Relay's defaults; the user's kafka.producer_properties win (acks and idempotence are validated).
        kafka::client_options prod;
        prod.config = config::client_properties(cfg, config::client_kind::producer);
        prod.config.try_emplace("enable.idempotence", "true");
        prod.config.try_emplace("acks", "all");
        prod.config.try_emplace("linger.ms", "5");
        prod.config.try_emplace("message.max.bytes", max_record);
        prod.on_fatal = fatal;
        if (m.kafka_stats) {
            prod.config = kafka::with_statistics_interval(std::move(prod.config));
            prod.on_statistics = m.kafka_stats->handler("worker_producer");
        }
        producer = std::make_unique<kafka::producer>(prod);

        kafka::consumer_options cons;
        cons.client.config = config::client_properties(cfg, config::client_kind::consumer);
        cons.client.config["group.id"] = cfg.kafka.group_id;
        if (!cfg.kafka.instance_id.empty())
            cons.client.config["group.instance.id"] = cfg.kafka.instance_id;
        cons.client.config.try_emplace("auto.offset.reset", "earliest");
        cons.client.on_fatal = fatal;
        if (m.kafka_stats) {
            cons.client.config = kafka::with_statistics_interval(std::move(cons.client.config));
            cons.client.on_statistics =
                m.kafka_stats->handler("worker_consumer", [this](const kafka::client_statistics& s) {
                    on_consumer_statistics(s);
                });
        }
        consumer = std::make_unique<kafka::consumer>(cons, *this);

        http::client_params params;
        const std::size_t threads =
            cfg.delivery.threads ? cfg.delivery.threads : std::max(1u, std::thread::hardware_concurrency());
        params.max_connections_per_origin =
            std::max<std::size_t>(1, (cfg.delivery.max_connections_per_origin + threads - 1) / threads);
        params.connect_timeout = cfg.delivery.connect_timeout;
        params.idle_timeout = cfg.delivery.idle_timeout;
        params.max_response_body = cfg.delivery.response_body_limit;
        params.address_policy.allow_loopback = cfg.delivery.allow_loopback;
        params.address_policy.allow_private = cfg.delivery.allow_private_networks;
        for (const auto& n : cfg.delivery.allowed_networks) {
            auto c = net::parse_cidr(n);
            if (!c)
                throw std::runtime_error("delivery.allowed_networks: invalid network '" + n + "'");
            params.address_policy.allow.push_back(*c);
        }
        auto tls = http::make_client_tls_context(cfg.delivery.ca_file);
        for (std::size_t i = 0; i < threads; ++i) {
            auto s = std::make_unique<shard>();
            s->client = std::make_unique<http::client>(s->ctx.get_executor(), params, tls);
            shards.push_back(std::move(s));
        }
    }

    void build_metrics()
    {
        if (!opts.registry)
            return;
        auto& reg = *opts.registry;
        m.deliveries =
            &prometheus::BuildCounter()
                 .Name("relay_deliveries_total")
                 .Help("Deliveries finished, by subscription, outcome (delivered: 2xx; retried: parked on a "
                       "retry topic; dead_lettered: written to the DLQ) and status class of the last attempt "
                       "(none: no attempt made; error: no HTTP status)")
                 .Register(reg);
        m.attempts = &prometheus::BuildCounter()
                          .Name("relay_delivery_attempts_total")
                          .Help("HTTP delivery attempts, by subscription and status class (error = no HTTP "
                                "status: connection, TLS or timeout)")
                          .Register(reg);
        m.attempt_seconds = &prometheus::BuildHistogram()
                                 .Name("relay_delivery_attempt_duration_seconds")
                                 .Help("Duration of one HTTP delivery attempt, connection included, by "
                                       "subscription")
                                 .Register(reg);
        m.end_to_end_seconds =
            &prometheus::BuildHistogram()
                 .Name("relay_delivery_end_to_end_seconds")
                 .Help("From the event's timestamp (the envelope's, else the Kafka record's) to its 2xx "
                       "answer, retries included, by subscription")
                 .Register(reg);
        other_metrics = make_labelled("other");
        m.dlq_family = &prometheus::BuildCounter()
                            .Name("relay_dlq_records_total")
                            .Help("Records written to the dead-letter topic, by reason")
                            .Register(reg);
        for (const auto r :
             {dlq_reason::exhausted,
              dlq_reason::permanent_status,
              dlq_reason::permanent_error,
              dlq_reason::gone,
              dlq_reason::disabled,
              dlq_reason::invalid_event,
              dlq_reason::invalid_retry_record})
            m.dlq_by_reason[r] = &m.dlq_family->Add({{"reason", std::string(to_string(r))}});
        auto& produced = prometheus::BuildCounter()
                             .Name("relay_retries_produced_total")
                             .Help("Deliveries parked on a retry topic (acknowledged), by tier")
                             .Register(reg);
        auto& consumed = prometheus::BuildCounter()
                             .Name("relay_retries_consumed_total")
                             .Help("Records consumed from a retry topic, by tier")
                             .Register(reg);
        for (const auto tier : tiers) {
            const auto name = tier_topic_suffix(tier);
            m.retries_produced.push_back(&produced.Add({{"tier", name}}));
            m.retries_consumed.push_back(&consumed.Add({{"tier", name}}));
        }
        m.in_flight = &prometheus::BuildGauge()
                           .Name("relay_deliveries_in_flight")
                           .Help("Deliveries started and not finished (attempting, waiting or parking)")
                           .Register(reg)
                           .Add({});
        m.records = &prometheus::BuildCounter()
                         .Name("relay_records_consumed_total")
                         .Help("Input and retry records consumed")
                         .Register(reg)
                         .Add({});
        auto& shed =
            prometheus::BuildCounter()
                .Name("relay_deliveries_shed_total")
                .Help("Deliveries parked on a retry topic without an attempt, by reason: circuit_open "
                      "(the endpoint's circuit breaker is open), endpoint_stalled (every slot of the "
                      "subscription busy and nothing finished for a second), endpoint_backlog (the "
                      "subscription's queue holds a full round of its slots and its oldest has waited a "
                      "second)")
                .Register(reg);
        for (std::size_t r = 0; r < m.shed.size(); ++r)
            m.shed[r] = &shed.Add({{"reason", std::string(shed_name(static_cast<shed_reason>(r)))}});
        m.circuits_open = &prometheus::BuildGauge()
                               .Name("relay_circuit_breakers_open")
                               .Help("Endpoints (origins) whose circuit breaker is open or half-open")
                               .Register(reg)
                               .Add({});
        m.circuit_transitions = &prometheus::BuildCounter()
                                     .Name("relay_circuit_breaker_transitions_total")
                                     .Help("Circuit breaker state changes, by the state entered")
                                     .Register(reg);
        for (const auto st : {circuit_state::closed, circuit_state::open, circuit_state::half_open})
            m.circuit_transitions->Add({{"state", std::string(to_string(st))}});
        m.disabled_family = &prometheus::BuildCounter()
                                 .Name("relay_subscriptions_disabled_total")
                                 .Help("Subscriptions disabled by this worker, by reason: gone (410), "
                                       "failing (auto-disabled after delivery.auto_disable_after)")
                                 .Register(reg);
        for (const auto r :
             {relay::subscription::disable_reason::gone, relay::subscription::disable_reason::failing})
            m.disabled_family->Add({{"reason", std::string(relay::subscription::to_string(r))}});
        m.throttled = &prometheus::BuildCounter()
                           .Name("relay_endpoint_throttles_total")
                           .Help("Times a subscription's concurrency was halved after 429/502/503/504")
                           .Register(reg)
                           .Add({});
        m.lag_records = &prometheus::BuildGauge()
                             .Name("relay_consumer_lag_records")
                             .Help("Records of an assigned partition not yet done (behind the stored "
                                   "offset), by topic, partition and role (input or retry)")
                             .Register(reg);
        m.lag_seconds = &prometheus::BuildGauge()
                             .Name("relay_consumer_lag_seconds")
                             .Help("Age of the partition's lag: now minus the timestamp of the last record "
                                   "consumed (or the assignment time), 0 when the lag is 0")
                             .Register(reg);
        m.kafka_stats = std::make_unique<kafka::statistics_metrics>(reg);
    }

    // The metrics of one `subscription` label value.
    const labelled_metrics* make_labelled(const std::string& label)
    {
        auto lm = std::make_unique<labelled_metrics>();
        for (std::size_t o = 0; o < outcome_count; ++o) {
            for (std::size_t c = 0; c < status_classes; ++c) {
                // Delivered means 2xx; retried and dead-lettered deliveries never end with a 2xx.
                if ((o == outcome_delivered) != (c == 2))
                    continue;
                lm->deliveries[o][c] = &m.deliveries->Add(
                    {{"subscription", label},
                     {"outcome", outcome_names[o]},
                     {"status_class", status_class_names[c]}}
                );
            }
        }
        for (std::size_t c = 1; c < status_classes; ++c)
            lm->attempts[c] =
                &m.attempts->Add({{"subscription", label}, {"status_class", status_class_names[c]}});
        lm->attempt_seconds = &m.attempt_seconds->Add({{"subscription", label}}, latency_buckets());
        lm->end_to_end_seconds = &m.end_to_end_seconds->Add({{"subscription", label}}, latency_buckets());
        std::lock_guard lock(labels_mutex);
        return labelled.emplace_back(std::move(lm)).get();
    }

    // The label of `sub`: its id when labelled (metrics_label, or delivery.metrics_subscription_labels) and
    // fewer than delivery.metrics_max_subscription_labels ids have one yet, else `other`.
    const labelled_metrics* metrics_for(const subscription_t& sub)
    {
        if (!m.deliveries)
            return nullptr;
        if (!(cfg.delivery.metrics_subscription_labels || sub.metrics_label))
            return other_metrics;
        {
            std::lock_guard lock(labels_mutex);
            if (const auto it = label_of.find(sub.id); it != label_of.end())
                return it->second;
            if (label_of.size() >= cfg.delivery.metrics_max_subscription_labels)
                return other_metrics;
        }
        const auto* lm = make_labelled(sub.id);
        std::lock_guard lock(labels_mutex);
        return label_of.try_emplace(sub.id, lm).first->second;
    }

    // The metrics of a subscription known by id only (a deleted one): its label if it had one, else other.
    const labelled_metrics* metrics_for_id(const std::string& id)
    {
        std::lock_guard lock(labels_mutex);
        const auto it = label_of.find(id);
        return it != label_of.end() ? it->second : other_metrics;
    }

    // Lag per assigned partition from the consumer's statistics (consumer poll thread).
    void on_consumer_statistics(const kafka::client_statistics& s)
    {
        const auto now = now_ms();
        std::lock_guard lock(parts_mutex);
        for (const auto& ps : s.partitions) {
            const auto it = parts.find(part_key(ps.topic, ps.partition));
            if (it == parts.end() || ps.consumer_lag < 0 || !it->second->lag_records)
                continue;
            auto& part = *it->second;
            part.lag_records->Set(static_cast<double>(ps.consumer_lag));
            double age = 0;
            if (ps.consumer_lag > 0) {
                const auto last = part.last_record_ms.load(std::memory_order_relaxed);
                age =
                    static_cast<double>(std::max<std::int64_t>(0, now - (last >= 0 ? last : part.assigned_ms))
                    ) /
                    1000.0;
            }
            part.lag_seconds->Set(age);
        }
    }

    // ---- lifecycle ----

    void start()
    {
        timer_thread = std::thread([this] { timer_ctx.run(); });
        for (auto& s : shards)
            s->thread = std::thread([&ctx = s->ctx] { ctx.run(); });
        std::vector<std::string> topics = inputs;
        topics.insert(topics.end(), tier_topics.begin(), tier_topics.end());
        if (const auto ec = consumer->subscribe(topics))
            throw std::runtime_error("cannot subscribe to the input and retry topics: " + ec.message());
        running.store(true);
        relay::log::info(
            "worker started",
            {{"group", cfg.kafka.group_id},
             {"instance", cfg.kafka.instance_id},
             {"inputs", inputs.size()},
             {"retry_tiers", tier_topics.size()},
             {"threads", shards.size()},
             {"max_in_flight", high_water}}
        );
    }

    void stop()
    {
        if (stopped.exchange(true))
            return;
        running.store(false);
        stopping.store(true);
        {
            std::lock_guard lock(budget_mutex); // release a poll thread held at the budget
            budget_cv.notify_all();
        }
        if (consumer)
            consumer->pause(consumer->assignment());
        // Let in-flight deliveries finish or park.
        const auto deadline = std::chrono::steady_clock::now() + cfg.delivery.drain_timeout;
        {
            std::unique_lock lock(drain_mutex);
            drain_cv.wait_until(lock, deadline, [this] { return in_flight.load() == 0; });
        }
        const auto left = in_flight.load();
        relay::log::info("worker draining done", {{"unfinished", left}});
        abandoned.store(true);
        // Nothing more is stored: the final commit and leave happen in close().
        if (consumer)
            consumer->close();
        asio::post(timer_ctx, [this] {
            std::lock_guard lock(parts_mutex);
            for (auto& [key, part] : parts)
                part->timer.cancel();
        });
        for (auto& s : shards) {
            s->client->close();
            s->work.reset();
        }
        for (auto& s : shards) {
            // In-flight requests end within their timeouts; after the drain nobody waits for them.
            s->ctx.stop();
            if (s->thread.joinable())
                s->thread.join();
        }
        timer_ctx.stop();
        if (timer_thread.joinable())
            timer_thread.join();
        if (producer)
            producer->close(std::chrono::seconds(5));
        {
            std::lock_guard lock(parts_mutex);
            for (auto& [key, part] : parts) {
                std::lock_guard plock(part->mutex);
                part->held.clear();
            }
            parts.clear();
        }
        for (auto& s : shards)
            s->client.reset();
        relay::log::info("worker stopped", {{"delivered", delivered_count.load()}});
    }

    // ---- consumer_handler (poll thread) ----

    static std::string part_key(std::string_view topic, std::int32_t partition)
    {
        std::string k(topic);
        k += '\0';
        k += std::to_string(partition);
        return k;
    }

    bool is_retry_topic(std::string_view topic) const
    {
        return std::find(tier_topics.begin(), tier_topics.end(), topic) != tier_topics.end();
    }

    void on_assigned(const std::vector<kafka::topic_partition>& list) override
    {
        std::vector<kafka::topic_partition> to_pause;
        {
            std::lock_guard lock(parts_mutex);
            for (const auto& tp : list) {
                auto part = std::make_shared<partition_state>(
                    tp.topic, tp.partition, is_retry_topic(tp.topic), timer_ctx
                );
                if (part->retry) {
                    part->tier = static_cast<std::size_t>(
                        std::find(tier_topics.begin(), tier_topics.end(), tp.topic) - tier_topics.begin()
                    );
                }
                if (m.lag_records) {
                    const std::map<std::string, std::string> labels{
                        {"topic", tp.topic},
                        {"partition", std::to_string(tp.partition)},
                        {"role", part->retry ? "retry" : "input"}};
                    part->lag_records = &m.lag_records->Add(labels);
                    part->lag_seconds = &m.lag_seconds->Add(labels);
                }
                parts[part_key(tp.topic, tp.partition)] = std::move(part);
                to_pause.push_back({tp.topic, tp.partition});
            }
        }
        std::lock_guard flow(flow_mutex);
        if (budget_paused || stopping.load())
            consumer->pause(to_pause);
    }

    void on_revoked(const std::vector<kafka::topic_partition>& list, bool lost) override
    {
        std::vector<std::shared_ptr<partition_state>> revoked;
        {
            std::lock_guard lock(parts_mutex);
            for (const auto& tp : list) {
                const auto it = parts.find(part_key(tp.topic, tp.partition));
                if (it == parts.end())
                    continue;
                revoked.push_back(it->second);
                if (it->second->lag_records) {
                    // Another member owns the partition now: its series must not linger here.
                    m.lag_records->Remove(it->second->lag_records);
                    m.lag_seconds->Remove(it->second->lag_seconds);
                }
                parts.erase(it);
            }
        }
        // Held retry records will be read again by the partition's next owner (they stay not done, so the
        // commit stops before them).
        std::vector<std::size_t> dropped;
        for (auto& part : revoked) {
            std::lock_guard plock(part->mutex);
            dropped.push_back(part->held.size());
            part->held.clear();
            asio::post(timer_ctx, [part] { part->timer.cancel(); });
        }
        // Give in-flight deliveries a moment to finish so the next owner does not send them again.
        const auto wait =
            std::min<std::chrono::milliseconds>(cfg.delivery.drain_timeout, std::chrono::seconds(10));
        const auto deadline = std::chrono::steady_clock::now() + wait;
        for (std::size_t i = 0; i < revoked.size(); ++i) {
            auto& part = revoked[i];
            std::unique_lock plock(part->mutex);
            if (!lost && !stopping.load()) {
                part->revoke_waiting = true;
                part->idle.wait_until(plock, deadline, [&] {
                    return part->tracker.in_flight() <= dropped[i];
                });
            }
            part->revoked = true;
        }
    }

    void on_messages(std::vector<kafka::message_ptr> batch) override
    {
        if (stopping.load())
            return; // not tracked, so never committed: the next owner reads them again
        const auto table = opts.routes->load();
        std::shared_ptr<partition_state> part;
        for (auto& msg : batch) {
            if (m.records)
                m.records->Increment();
            records_count.fetch_add(1, std::memory_order_relaxed);
            const auto topic = kafka::topic_name(*msg);
            if (!part || part->partition != msg->partition || part->topic != topic) {
                std::lock_guard lock(parts_mutex);
                const auto it = parts.find(part_key(topic, msg->partition));
                part = it == parts.end() ? nullptr : it->second;
            }
            if (!part)
                continue;
            part->last_record_ms.store(kafka::timestamp_ms(*msg), std::memory_order_relaxed);
            if (part->retry && part->tier < m.retries_consumed.size())
                m.retries_consumed[part->tier]->Increment();
            {
                std::lock_guard plock(part->mutex);
                if (part->revoked || !part->tracker.track(msg->offset))
                    continue;
                if (part->retry && !part->held.empty()) {
                    // Behind a record that is not due: keep the partition's order.
                    auto rec = make_record(part, std::move(msg));
                    auto parsed = parse_retry_record(rec->headers);
                    hold_locked(part, std::move(rec), std::move(parsed));
                    continue;
                }
            }
            if (part->retry)
                on_retry_record(part, std::move(msg), *table);
            else
                on_input_record(part, std::move(msg), *table);
        }
        check_budget();
    }

    void on_error(boost::system::error_code ec, std::string_view reason) override
    {
        relay::log::warn("kafka consumer error", {{"error", ec.message()}, {"detail", reason}});
    }

    // ---- records ----

    std::shared_ptr<record_ctx>
    make_record(const std::shared_ptr<partition_state>& part, kafka::message_ptr msg)
    {
        auto rec = std::make_shared<record_ctx>();
        rec->part = part;
        rec->offset = msg->offset;
        rec->key = kafka::key(*msg);
        rec->value = kafka::value(*msg);
        for (const auto& [name, value] : kafka::headers(*msg))
            rec->headers.push_back({name, value});
        // The same rule parse_event applies; views into the message, for input and retry records alike.
        rec->trace = event::read_trace_context(rec->headers);
        rec->msg = std::move(msg);
        rec->shard = next_shard++ % shards.size();
        return rec;
    }

    void on_input_record(
        const std::shared_ptr<partition_state>& part,
        kafka::message_ptr msg,
        const subscription::routing_table& table
    )
    {
        auto rec = make_record(part, std::move(msg));
        rec->origin = {part->topic, part->partition, rec->offset};
        rec->first_attempt_ms = now_ms();

        event::record_view view{
            part->topic,
            part->partition,
            rec->offset,
            rec->key,
            rec->value.value_or(std::string_view{}),
            rec->headers,
            kafka::timestamp_ms(*rec->msg),
        };
        const event::envelope_options eopts{
            cfg.delivery.max_event_bytes, static_cast<unsigned>(cfg.delivery.max_json_depth)};
        auto parsed = event::parse_event(view, eopts);
        if (!parsed) {
            const auto& err = parsed.error();
            delivery_state st;
            st.origin = rec->origin;
            st.first_attempt_ms = rec->first_attempt_ms;
            dlq_details d{dlq_reason::invalid_event, err.reason, now_ms(), std::nullopt};
            if (err.code == event::errc::too_large && rec->value)
                d.omitted_value_size = rec->value->size();
            relay::log::warn(
                "invalid event",
                {{"topic", part->topic},
                 {"partition", part->partition},
                 {"offset", rec->offset},
                 {"error", err.reason}}
            );
            dead_letter_record(rec, st, d);
            release_record(rec);
            return;
        }
        const auto& ev = *parsed;
        rec->event_id = ev.id();
        if (const auto t = ev.origin_time())
            rec->origin_ms =
                std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
        if (const auto target = target_of(rec->headers)) {
            // A targeted record (the API's test event): only that subscription, whatever its event types.
            if (const auto* s = table.find(*target); s && !is_disabled(*s))
                launch(rec, *s, 1, rec->first_attempt_ms, 0, {});
        } else {
            table.for_each_match(ev.type(), &ev.document(), [&](const subscription_ptr& s) {
                if (!is_disabled(s))
                    launch(rec, s, 1, rec->first_attempt_ms, 0, {});
            });
        }
        release_record(rec);
    }

    void on_retry_record(
        const std::shared_ptr<partition_state>& part,
        kafka::message_ptr msg,
        const subscription::routing_table& table
    )
    {
        auto rec = make_record(part, std::move(msg));
        auto parsed = parse_retry_record(rec->headers);
        if (!parsed) {
            dead_letter_invalid_retry(rec, parsed.error());
            return;
        }
        // Milliseconds are truncated both when a not-before time is set and here: a record is due only once
        // the clock has passed its millisecond, so it never goes (up to 1 ms) before the delay it was given.
        if (parsed->not_before_ms >= now_ms()) {
            std::lock_guard plock(part->mutex);
            if (!part->revoked)
                hold_locked(part, std::move(rec), std::move(*parsed));
            return;
        }
        run_retry(rec, *parsed, table);
    }

    void dead_letter_invalid_retry(const std::shared_ptr<record_ctx>& rec, std::string error)
    {
        rec->origin = {rec->part->topic, rec->part->partition, rec->offset};
        delivery_state st;
        st.origin = rec->origin;
        dead_letter_record(
            rec, st, {dlq_reason::invalid_retry_record, std::move(error), now_ms(), std::nullopt}
        );
        release_record(rec);
    }

    void run_retry(
        const std::shared_ptr<record_ctx>& rec,
        const retry_record& retry,
        const subscription::routing_table& table
    )
    {
        rec->origin = retry.state.origin;
        rec->event_id = retry.state.event_id;
        rec->first_attempt_ms = retry.state.first_attempt_ms;
        rec->origin_ms = origin_of_retry(*rec, retry.state.first_attempt_ms);
        const auto* sub = table.find(retry.state.subscription_id);
        if (!sub || is_disabled(*sub)) {
            dead_letter_record(
                rec,
                retry.state,
                {dlq_reason::disabled,
                 "subscription " + retry.state.subscription_id + " is disabled or deleted",
                 now_ms(),
                 std::nullopt}
            );
        } else {
            launch(
                rec,
                *sub,
                retry.state.attempts + 1,
                retry.state.first_attempt_ms,
                retry.state.last_status,
                retry.state.last_error
            );
        }
        release_record(rec);
    }

    // The event timestamp of a parked record: its envelope's, else (the original Kafka timestamp is not
    // carried over) the first attempt's time.
    std::int64_t origin_of_retry(const record_ctx& rec, std::int64_t first_attempt_ms) const
    {
        if (!m.deliveries || !rec.value)
            return first_attempt_ms;
        const event::record_view view{
            rec.origin.topic, rec.origin.partition, rec.origin.offset, rec.key, *rec.value, rec.headers, -1};
        const event::envelope_options eopts{
            cfg.delivery.max_event_bytes, static_cast<unsigned>(cfg.delivery.max_json_depth)};
        if (const auto ev = event::parse_event(view, eopts); ev && ev->time())
            return std::chrono::duration_cast<std::chrono::milliseconds>(ev->time()->time_since_epoch())
                .count();
        return first_attempt_ms;
    }

    // Retry records not due yet wait in memory in offset order, with their partition paused; the timer
    // thread hands them on when due (no polling loop, no sleeping poll thread). A record behind a held one
    // is held too, whatever its own due time, so the partition's order is kept.
    void hold_locked(
        const std::shared_ptr<partition_state>& part,
        std::shared_ptr<record_ctx> rec,
        boost::system::result<retry_record, std::string> parsed
    )
    {
        const bool first = part->held.empty();
        // An invalid record keeps its error and is dead-lettered in order when its turn comes.
        part->held.push_back({std::move(rec), std::move(parsed)});
        if (!first)
            return;
        const auto due = part->held.front().due_ms();
        {
            std::lock_guard flow(flow_mutex);
            part->hold_paused = true;
            consumer->pause({{part->topic, part->partition}});
        }
        asio::post(timer_ctx, [this, part, due] { arm_hold_timer(part, due); });
    }

    void arm_hold_timer(const std::shared_ptr<partition_state>& part, std::int64_t due_ms)
    {
        const auto wait = std::chrono::milliseconds(std::max<std::int64_t>(1, due_ms + 1 - now_ms()));
        part->timer.expires_after(wait);
        part->timer.async_wait([this, part](boost::system::error_code ec) {
            if (!ec)
                release_due(part);
        });
    }

    void release_due(const std::shared_ptr<partition_state>& part)
    {
        std::vector<partition_state::held_record> due;
        std::optional<std::int64_t> next_due;
        {
            std::lock_guard plock(part->mutex);
            if (part->revoked)
                return;
            const auto now = now_ms();
            while (!part->held.empty() && part->held.front().due_ms() < now) {
                due.push_back(std::move(part->held.front()));
                part->held.pop_front();
            }
            if (!part->held.empty())
                next_due = part->held.front().due_ms();
        }
        const auto table = opts.routes->load();
        for (auto& h : due) {
            if (h.retry)
                run_retry(h.rec, *h.retry, *table);
            else
                dead_letter_invalid_retry(h.rec, h.retry.error());
        }
        if (next_due) {
            arm_hold_timer(part, *next_due);
            return;
        }
        std::lock_guard flow(flow_mutex);
        part->hold_paused = false;
        if (!budget_paused && !stopping.load())
            consumer->resume({{part->topic, part->partition}});
    }

    // ---- deliveries ----

    static std::optional<std::string_view> target_of(std::span<const event::record_header> headers)
    {
        std::optional<std::string_view> target;
        for (const auto& h : headers) {
            if (h.name == header::target_subscription)
                target = h.value;
        }
        return target;
    }

    // Disabled by this worker (410, auto-disable) and not changed since: a later version of the subscription
    // (the persisted disable, or an operator enabling it again) decides for itself.
    bool is_disabled(const subscription_ptr& sub)
    {
        // Checked for every delivery: no lock while nothing is disabled (the common case).
        if (!any_disabled.load(std::memory_order_acquire))
            return false;
        std::lock_guard lock(disabled_mutex);
        const auto it = disabled.find(sub->id);
        return it != disabled.end() && (it->second == sub || *it->second == *sub);
    }

    std::shared_ptr<subscription_state> state_for(const subscription_ptr& sub)
    {
        std::lock_guard lock(subs_mutex);
        auto& slot = sub_states[sub->id];
        if (slot && slot->sub != sub) {
            if (slot->sub->ordering != sub->ordering || slot->sub->retry_schedule != sub->retry_schedule ||
                slot->sub->signing_key != sub->signing_key) {
                slot.reset(); // deliveries under the old settings keep the old state
            } else {
                slot->sub = sub;
                slot->admission.set_limit(limit_of(*sub, cfg.delivery.default_max_in_flight));
                slot->metrics.store(metrics_for(*sub), std::memory_order_release);
            }
        }
        if (!slot) {
            slot = std::make_shared<subscription_state>(
                sub, schedule, cfg.delivery.default_max_in_flight, breaker_for(sub->endpoint.origin())
            );
            slot->metrics.store(metrics_for(*sub), std::memory_order_release);
        }
        return slot;
    }

    std::shared_ptr<circuit_breaker> breaker_for(const std::string& origin)
    {
        std::lock_guard lock(breakers_mutex);
        auto& b = breakers[origin];
        if (!b)
            b = std::make_shared<circuit_breaker>(cfg.delivery.circuit_breaker);
        return b;
    }

    void launch(
        const std::shared_ptr<record_ctx>& rec,
        const subscription_ptr& sub,
        std::uint32_t attempt,
        std::int64_t first_attempt_ms,
        unsigned last_status,
        std::string last_error
    )
    {
        auto d = std::make_shared<subscription_state::delivery_ctx>();
        d->rec = rec;
        d->sub_state = state_for(sub);
        d->sub_ptr = sub;
        d->attempt = attempt;
        d->first_attempt_ms = first_attempt_ms;
        d->last_status = last_status;
        d->last_error = std::move(last_error);
        d->shard = rec->shard;
        rec->pending.fetch_add(1, std::memory_order_relaxed);
        add_in_flight(1);
        auto& st = *d->sub_state;
        if (!st.admission.ordered() && !tiers.empty()) {
            // Unordered deliveries to an endpoint that cannot take them wait on a retry topic, not in memory.
            const auto now = std::chrono::steady_clock::now();
            if (const auto until = st.breaker->refused_until(now)) {
                return park_unattempted(d, false, shed_reason::circuit_open, until_delay(*until, now));
            }
            if (stalled(st)) {
                // Back when its hanging attempts have timed out, at the earliest.
                const auto delay = std::max(tiers.front(), d->sub().timeout);
                return park_unattempted(d, false, shed_reason::endpoint_stalled, delay);
            }
            if (backlogged(st, now))
                return park_unattempted(d, false, shed_reason::endpoint_backlog, backlog_delay(d, st, now));
        }
        // Key-ordered subscriptions are never shed for health: parking one delivery of a key while later ones
        // of that key are attempted would reorder it. Their keys wait in the gate instead.
        if (st.admission.admit(d, d->order_key())) {
            st.last_progress_ms.store(now_ms(), std::memory_order_relaxed);
            post_attempt(d);
        }
    }

    static std::string_view shed_name(shed_reason r)
    {
        switch (r) {
        case shed_reason::circuit_open:
            return "circuit_open";
        case shed_reason::endpoint_stalled:
            return "endpoint_stalled";
        case shed_reason::endpoint_backlog:
        case shed_reason::count:
            break;
        }
        return "endpoint_backlog";
    }

    static std::chrono::milliseconds
    until_delay(std::chrono::steady_clock::time_point until, std::chrono::steady_clock::time_point now)
    {
        return std::max<std::chrono::milliseconds>(
            std::chrono::ceil<std::chrono::milliseconds>(until - now), std::chrono::milliseconds(1)
        );
    }

    // Every slot busy and no attempt finished for a second: the endpoint is hanging (or far too slow).
    static bool stalled(const subscription_state& st)
    {
        constexpr std::int64_t stall_ms = 1000;
        return st.admission.in_flight() >= st.limit.load(std::memory_order_relaxed) &&
               now_ms() - st.last_progress_ms.load(std::memory_order_relaxed) >= stall_ms;
    }

    // The longest a full round of queued deliveries may wait for a slot before the subscription counts as
    // backlogged (CoDel's target delay, in spirit).
    static constexpr auto max_queue_delay = std::chrono::seconds(1);

    // A slow but live endpoint: a full round of deliveries (one per slot) waits in its queue and the oldest
    // has waited max_queue_delay. Its new deliveries then wait on a retry topic instead of filling the
    // worker's budget (which would pause every partition and starve healthy endpoints). The signal is the
    // queue's delay, not a measured rate (windows of completions were too noisy): a fast endpoint's momentary
    // queue drains well before its head is a second old.
    static bool backlogged(const subscription_state& st, std::chrono::steady_clock::time_point now)
    {
        if (st.admission.queued() < st.limit.load(std::memory_order_relaxed))
            return false;
        const auto wait = st.admission.oldest_wait(now);
        return wait && *wait >= max_queue_delay;
    }

    // When delivery `d`, shed for backlog, comes back: shed deliveries are spaced at the endpoint's drain
    // rate (limit / average attempt duration, or the subscription's rate_limit when lower), so they return
    // about as fast as the endpoint takes them instead of all at once, to find the queue full again and be
    // parked again. The cursor restarts at the first tier once the spaced-out returns are behind us.
    std::chrono::milliseconds
    backlog_delay(const delivery_ptr& d, subscription_state& st, std::chrono::steady_clock::time_point now)
    {
        using std::chrono::microseconds;
        const auto limit = static_cast<std::int64_t>(std::max<std::size_t>(1, st.limit.load()));
        auto avg = st.avg_attempt_us.load(std::memory_order_relaxed);
        if (avg <= 0) // nothing finished yet: a round takes at least as long as the head has waited
            avg = std::chrono::duration_cast<microseconds>(max_queue_delay).count();
        auto spacing = std::max<std::int64_t>(1, avg / limit);
        if (const auto rate = d->sub().rate_limit)
            spacing = std::max<std::int64_t>(spacing, 1'000'000 / rate);
        const auto now_us = std::chrono::duration_cast<microseconds>(now.time_since_epoch()).count();
        const auto earliest = now_us + std::chrono::duration_cast<microseconds>(tiers.front()).count();
        auto cursor = st.shed_cursor_us.load(std::memory_order_relaxed);
        std::int64_t slot = 0;
        do {
            slot = std::max(earliest, cursor);
        } while (!st.shed_cursor_us.compare_exchange_weak(cursor, slot + spacing, std::memory_order_relaxed));
        return std::chrono::ceil<std::chrono::milliseconds>(microseconds(slot - now_us));
    }

    // The dequeue side of backlog shedding, run as a slot frees: a backlogged subscription keeps one round
    // queued and parks the rest. Parking only new arrivals is not enough: a burst (a consumer catching up on
    // lag) can queue a whole in-flight budget of a slow endpoint's deliveries before its head is a second
    // old, and then fetching stays paused until that endpoint has drained a quarter of the budget.
    void shed_backlog(subscription_state& st)
    {
        if (st.admission.ordered() || tiers.empty())
            return; // parking would reorder a key; without tiers there is nowhere to park
        const auto now = std::chrono::steady_clock::now();
        if (!backlogged(st, now))
            return;
        for (auto& d : st.admission.shed_waiting(st.limit.load(std::memory_order_relaxed)))
            park_unattempted(d, false, shed_reason::endpoint_backlog, backlog_delay(d, st, now));
    }

    // Parks a delivery on the retry tier for `delay` without spending an attempt (relay-attempt stays the
    // attempt to make). `admitted`: it holds a gate slot to release.
    void
    park_unattempted(const delivery_ptr& d, bool admitted, shed_reason why, std::chrono::milliseconds delay)
    {
        const auto tier = *choose_tier(tiers, delay);
        auto st = state_of(*d);
        st.attempts = d->attempt - 1;
        st.last_error = std::string(shed_name(why));
        const auto record = std::make_shared<kafka::record>(make_retry_record(
            tier_topic(cfg.topics.retry_prefix, tier), payload(*d->rec), st, now_ms() + delay.count()
        ));
        produce_reliably(record, [this, d, admitted, why, tier] {
            count_retry(*d, tier, class_none);
            if (auto* c = m.shed[static_cast<std::size_t>(why)])
                c->Increment();
            finish(d, admitted);
        });
    }

    void post_attempt(const delivery_ptr& d)
    {
        asio::post(shards[d->shard]->ctx, [this, d] { attempt(d); });
    }

    void attempt(const delivery_ptr& d)
    {
        auto& st = *d->sub_state;
        const auto now = std::chrono::steady_clock::now();
        const auto admission = st.breaker->admit(now);
        if (!admission.allowed && !tiers.empty()) {
            if (!d->order_key())
                return park_unattempted(
                    d, true, shed_reason::circuit_open, until_delay(admission.retry_at, now)
                );
            // Key ordering: the key waits in place, without spending an attempt, until a probe may go.
            return wait_then(d, admission.retry_at, [this](const delivery_ptr& dd) { attempt(dd); });
        }
        d->probe = admission.probe;
        if (const auto rate = d->sub().rate_limit) {
            std::chrono::steady_clock::time_point slot;
            {
                std::lock_guard lock(st.pace_mutex);
                slot = std::max(now, st.next_slot);
                st.next_slot = slot + std::chrono::nanoseconds(1'000'000'000 / rate);
            }
            if (slot > now)
                return wait_then(d, slot, [this](const delivery_ptr& dd) { send(dd); });
        }
        send(d);
    }

    // Runs `next(d)` on the delivery's shard at `when` (unless the worker is abandoning deliveries).
    template <class Next>
    void wait_then(const delivery_ptr& d, std::chrono::steady_clock::time_point when, Next next)
    {
        auto& sh = *shards[d->shard];
        d->backoff.emplace(sh.ctx);
        d->backoff->expires_at(when);
        d->backoff->async_wait([this, d, next](boost::system::error_code ec) {
            if (ec || abandoned.load())
                return;
            d->backoff.reset();
            next(d);
        });
    }

    void send(const delivery_ptr& d)
    {
        const auto& sub = d->sub();
        const auto& rec = *d->rec;
        const auto body = rec.value.value_or(std::string_view{});
        const auto ts = webhook::unix_now();
        d->timestamp = std::to_string(ts);
        d->signature.clear();
        const auto now =
            std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
        for (const auto& s : sub.secrets) {
            if (!s.active_at(now))
                continue;
            if (!d->signature.empty())
                d->signature += ' ';
            d->signature += webhook::sign_v1(s.secret, rec.event_id, ts, body);
        }
        if (d->sub_state->signing_key) {
            if (!d->signature.empty())
                d->signature += ' ';
            d->signature += webhook::sign_v1a(*d->sub_state->signing_key, rec.event_id, ts, body);
        }
        auto& req = d->request;
        req.url = sub.endpoint;
        req.method = "POST";
        req.body = body;
        req.timeout = sub.timeout;
        req.headers.clear();
        req.headers.reserve(8 + sub.headers.size());
        req.headers.push_back({"content-type", "application/json"});
        req.headers.push_back({"user-agent", user_agent()});
        req.headers.push_back({webhook::id_header, rec.event_id});
        req.headers.push_back({webhook::timestamp_header, d->timestamp});
        req.headers.push_back({webhook::signature_header_name, d->signature});
        if (!rec.trace.traceparent.empty()) {
            req.headers.push_back({"traceparent", rec.trace.traceparent});
            if (!rec.trace.tracestate.empty())
                req.headers.push_back({"tracestate", rec.trace.tracestate});
        }
        for (const auto& [n, v] : sub.headers)
            req.headers.push_back({n, v});
        shards[d->shard]->client->async_send(
            req,
            [this, d](boost::system::error_code ec, http::client_response resp) {
                on_attempt_done(d, ec, std::move(resp));
            }
        );
    }

    void on_attempt_done(const delivery_ptr& d, boost::system::error_code ec, http::client_response resp)
    {
        attempts_count.fetch_add(1, std::memory_order_relaxed);
        d->status_class = status_class_of(bool(ec), resp.status);
        const auto* lm = d->sub_state->metrics.load(std::memory_order_acquire);
        if (lm) {
            lm->attempt_seconds->Observe(std::chrono::duration<double>(resp.elapsed).count());
            if (auto* c = lm->attempts[d->status_class])
                c->Increment();
        }
        note_attempt_duration(*d->sub_state, resp.elapsed);
        if (abandoned.load())
            return;
        const auto c = ec ? classify(ec) : classify(resp.status);
        note_endpoint_health(d, c.outcome, ec ? 0u : resp.status);
        d->last_duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(resp.elapsed).count();
        if (c.outcome == outcome::delivered) {
            delivered_count.fetch_add(1, std::memory_order_relaxed);
            if (relay::log::enabled(relay::log::level::debug)) {
                relay::log::debug(
                    "delivered",
                    {{"subscription", d->sub().id},
                     {"event", d->rec->event_id},
                     {"attempt", d->attempt},
                     {"status", resp.status},
                     {"duration_ms", d->last_duration_ms}}
                );
            }
            if (lm) {
                lm->count(outcome_delivered, d->status_class);
                if (d->rec->origin_ms >= 0) {
                    const auto ms = std::max<std::int64_t>(0, now_ms() - d->rec->origin_ms);
                    lm->end_to_end_seconds->Observe(static_cast<double>(ms) / 1000.0);
                }
            }
            finish(d);
            return;
        }
        d->last_status = ec ? 0 : resp.status;
        d->last_error = std::string(c.reason);
        std::string detail = ec ? (resp.error_detail.empty() ? ec.message() : resp.error_detail)
                                : "HTTP " + std::to_string(resp.status);
        relay::log::debug(
            "delivery attempt failed",
            {{"subscription", d->sub().id},
             {"event", d->rec->event_id},
             {"attempt", d->attempt},
             {"status", resp.status},
             {"duration_ms", d->last_duration_ms},
             {"reason", c.reason},
             {"detail", detail}}
        );
        switch (c.outcome) {
        case outcome::delivered:
            break;
        case outcome::retryable:
            return retry_later(d, ec ? std::string_view{} : std::string_view(resp.retry_after), detail);
        case outcome::permanent:
            return dead_letter(
                d,
                ec ? dlq_reason::permanent_error : dlq_reason::permanent_status,
                detail + " (" + std::string(c.reason) + ")"
            );
        case outcome::gone:
            disable(d->sub_ptr, relay::subscription::disable_reason::gone, "the endpoint answered 410 Gone");
            return dead_letter(d, dlq_reason::gone, detail);
        }
    }

    // The moving average behind backlog_delay(): every attempt holds a slot this long, whatever its outcome.
    static void note_attempt_duration(subscription_state& st, std::chrono::steady_clock::duration elapsed)
    {
        constexpr std::int64_t weight = 8; // the newest attempt counts 1/8, as TCP's smoothed RTT
        const auto us =
            std::max<std::int64_t>(1, std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count());
        auto avg = st.avg_attempt_us.load(std::memory_order_relaxed);
        std::int64_t next = 0;
        do {
            next = avg == 0 ? us : avg + (us - avg) / weight;
        } while (!st.avg_attempt_us.compare_exchange_weak(avg, next, std::memory_order_relaxed));
    }

    // Circuit breaker, throttling and auto-disable bookkeeping after an attempt.
    void note_endpoint_health(const delivery_ptr& d, outcome o, unsigned status)
    {
        auto& st = *d->sub_state;
        const auto now = now_ms();
        st.last_progress_ms.store(now, std::memory_order_relaxed);
        const bool probe = std::exchange(d->probe, false);
        if (const auto change =
                st.breaker->record(o != outcome::retryable, probe, std::chrono::steady_clock::now())) {
            on_circuit_change(d->sub().endpoint.origin(), *change, probe);
        }
        if (status && throttles_endpoint(status)) {
            auto last = st.last_throttle_ms.load(std::memory_order_relaxed);
            if (now - last >= 1000 && st.last_throttle_ms.compare_exchange_strong(last, now)) {
                const auto next = std::max<std::size_t>(1, st.limit.load() / 2);
                st.limit.store(next);
                st.admission.set_limit(next);
                if (m.throttled)
                    m.throttled->Increment();
                relay::log::info(
                    "endpoint throttled", {{"subscription", d->sub().id}, {"status", status}, {"limit", next}}
                );
            }
        } else if (o == outcome::delivered) {
            auto cur = st.limit.load(std::memory_order_relaxed);
            if (cur < st.configured_limit && st.limit.compare_exchange_strong(cur, cur + 1))
                st.admission.set_limit(cur + 1);
        }
        if (o == outcome::delivered) {
            if (st.failing_since_ms.load(std::memory_order_relaxed) != 0)
                st.failing_since_ms.store(0, std::memory_order_relaxed);
            return;
        }
        const auto limit = cfg.delivery.auto_disable_after.count();
        if (limit <= 0)
            return;
        std::int64_t since = 0;
        if (st.failing_since_ms.compare_exchange_strong(since, now))
            since = now;
        if (now - since >= limit) {
            disable(
                d->sub_ptr,
                relay::subscription::disable_reason::failing,
                "every delivery failed for " + event::format_duration(std::chrono::milliseconds(now - since))
            );
        }
    }

    void on_circuit_change(const std::string& origin, circuit_state to, bool probe)
    {
        if (to == circuit_state::open) {
            relay::log::warn(
                probe ? "circuit breaker probe failed; still open" : "circuit breaker opened",
                {{"endpoint", origin}, {"open_for_ms", cfg.delivery.circuit_breaker.open_duration.count()}}
            );
        } else {
            relay::log::info("circuit breaker closed", {{"endpoint", origin}});
        }
        if (!m.circuits_open)
            return;
        m.circuit_transitions->Add({{"state", std::string(to_string(to))}}).Increment();
        if (to == circuit_state::closed)
            m.circuits_open->Decrement();
        else if (!probe)
            m.circuits_open->Increment();
    }

    void retry_later(const delivery_ptr& d, std::string_view retry_after, const std::string& detail)
    {
        std::optional<std::chrono::milliseconds> delay;
        {
            std::lock_guard lock(rng_mutex);
            delay = d->sub_state->schedule.next_delay(d->attempt, rng);
        }
        if (!delay) {
            return dead_letter(
                d, dlq_reason::exhausted, std::to_string(d->attempt) + " attempts failed; last: " + detail
            );
        }
        // The tier is the schedule's un-jittered delay (a jittered 5m must not land on a shorter tier), or
        // the tier a longer Retry-After fits; the record's not-before carries the exact time either way.
        auto tier_delay = *d->sub_state->schedule.base_delay(d->attempt);
        if (!retry_after.empty()) {
            if (const auto ra = parse_retry_after(retry_after, std::chrono::system_clock::now())) {
                const auto capped = std::min<std::chrono::milliseconds>(*ra, cfg.delivery.retry_after_cap);
                delay = std::max(*delay, capped);
                tier_delay = std::max(tier_delay, capped);
            }
        }
        if (d->order_key()) {
            // Key ordering: the key waits in place (keeping its slot) so later events of the key stay behind
            // it.
            auto& sh = *shards[d->shard];
            d->backoff.emplace(sh.ctx);
            d->backoff->expires_after(*delay);
            d->backoff->async_wait([this, d](boost::system::error_code ec) {
                if (ec || abandoned.load())
                    return;
                d->backoff.reset();
                ++d->attempt;
                attempt(d);
            });
            return;
        }
        const auto tier = choose_tier(tiers, tier_delay);
        if (!tier) {
            return dead_letter(d, dlq_reason::exhausted, "no retry tiers configured; last: " + detail);
        }
        const auto record = std::make_shared<kafka::record>(make_retry_record(
            tier_topic(cfg.topics.retry_prefix, *tier),
            payload(*d->rec),
            state_of(*d),
            now_ms() + delay->count()
        ));
        produce_reliably(record, [this, d, parked_tier = *tier] {
            count_retry(*d, parked_tier, d->status_class);
            finish(d);
        });
    }

    static parked_payload payload(const record_ctx& rec) { return {rec.key, rec.value, rec.headers}; }

    static delivery_state state_of(const subscription_state::delivery_ctx& d)
    {
        delivery_state st;
        st.subscription_id = d.sub().id;
        st.event_id = d.rec->event_id;
        st.attempts = d.attempt;
        st.first_attempt_ms = d.first_attempt_ms;
        st.last_status = d.last_status;
        st.last_error = d.last_error;
        st.origin = d.rec->origin;
        return st;
    }

    void dead_letter(const delivery_ptr& d, dlq_reason reason, std::string error)
    {
        relay::log::warn(
            "delivery dead-lettered",
            {{"subscription", d->sub().id},
             {"event", d->rec->event_id},
             {"attempt", d->attempt},
             {"reason", to_string(reason)},
             {"status", d->last_status},
             {"duration_ms", d->last_duration_ms},
             {"error", error}}
        );
        const auto record = std::make_shared<kafka::record>(make_dlq_record(
            cfg.topics.dlq, payload(*d->rec), state_of(*d), {reason, std::move(error), now_ms(), std::nullopt}
        ));
        produce_reliably(record, [this, d, reason] {
            count_dead_letter(reason, d->sub_state->metrics.load(std::memory_order_acquire), d->status_class);
            finish(d);
        });
    }

    // A record-level DLQ write (invalid event, invalid retry record, deleted subscription): holds the record
    // open like a delivery until acknowledged.
    void dead_letter_record(
        const std::shared_ptr<record_ctx>& rec, const delivery_state& st, const dlq_details& details
    )
    {
        const auto* lm = st.subscription_id.empty() ? other_metrics : metrics_for_id(st.subscription_id);
        rec->pending.fetch_add(1, std::memory_order_relaxed);
        add_in_flight(1);
        const auto record =
            std::make_shared<kafka::record>(make_dlq_record(cfg.topics.dlq, payload(*rec), st, details));
        const auto reason = details.reason;
        produce_reliably(record, [this, rec, reason, lm] {
            count_dead_letter(reason, lm, class_none);
            // Offset first, then the count stop() waits on: a drain that sees zero must find it stored.
            release_record(rec);
            sub_in_flight(1);
        });
    }

    void count_dead_letter(dlq_reason reason, const labelled_metrics* lm, std::size_t cls)
    {
        dead_lettered_count.fetch_add(1, std::memory_order_relaxed);
        if (lm)
            lm->count(outcome_dead_lettered, cls);
        if (const auto it = m.dlq_by_reason.find(reason); it != m.dlq_by_reason.end())
            it->second->Increment();
    }

    // A delivery parked on retry tier `tier` (acknowledged).
    void
    count_retry(const subscription_state::delivery_ctx& d, std::chrono::milliseconds tier, std::size_t cls)
    {
        retries_count.fetch_add(1, std::memory_order_relaxed);
        if (const auto* lm = d.sub_state->metrics.load(std::memory_order_acquire))
            lm->count(outcome_retried, cls);
        const auto i = static_cast<std::size_t>(std::find(tiers.begin(), tiers.end(), tier) - tiers.begin());
        if (i < m.retries_produced.size())
            m.retries_produced[i]->Increment();
    }

    // Produces until the broker acknowledges: a parked delivery is only done once durable. Enqueue failures
    // (queue full) and delivery failures (broker down past message.timeout.ms) are retried with backoff.
    void
    produce_reliably(std::shared_ptr<kafka::record> record, std::function<void()> on_acked, int failures = 0)
    {
        if (abandoned.load())
            return;
        auto retry = [this, record, on_acked, failures](boost::system::error_code ec) {
            if (abandoned.load() || ec == asio::error::operation_aborted)
                return;
            relay::log::warn(
                "parking a delivery failed; retrying",
                {{"topic", record->topic}, {"error", ec.message()}, {"failures", failures + 1}}
            );
            auto timer = std::make_shared<asio::steady_timer>(timer_ctx);
            timer->expires_after(std::chrono::milliseconds(std::min(5000, 100 << std::min(failures, 6))));
            timer->async_wait([this, timer, record, on_acked, failures](boost::system::error_code tec) {
                if (!tec)
                    produce_reliably(record, on_acked, failures + 1);
            });
        };
        const auto ec =
            producer->produce(*record, [on_acked, retry](boost::system::error_code ec, kafka::delivery_info) {
                if (ec)
                    retry(ec);
                else
                    on_acked();
            });
        if (ec)
            asio::post(timer_ctx, [retry, ec] { retry(ec); });
    }

    void
    disable(const subscription_ptr& sub, relay::subscription::disable_reason reason, const std::string& why)
    {
        {
            std::lock_guard lock(disabled_mutex);
            auto [it, fresh] = disabled.try_emplace(sub->id, sub);
            if (!fresh) {
                if (it->second == sub || *it->second == *sub)
                    return;
                it->second = sub;
            }
            any_disabled.store(true, std::memory_order_release);
        }
        const auto reason_text = std::string(relay::subscription::to_string(reason));
        relay::log::warn(
            "subscription disabled", {{"subscription", sub->id}, {"reason", reason_text}, {"detail", why}}
        );
        if (m.disabled_family)
            m.disabled_family->Add({{"reason", reason_text}}).Increment();
        if (opts.on_disable)
            opts.on_disable(*sub, reason, why);
    }

    // `admitted`: the delivery holds a slot of its subscription's gate (every delivery that reached
    // attempt()).
    void finish(const delivery_ptr& d, bool admitted = true)
    {
        if (admitted) {
            if (auto next = d->sub_state->admission.release(d->order_key()))
                post_attempt(*next);
            shed_backlog(*d->sub_state);
        }
        auto rec = std::move(d->rec);
        // Offset first, then the count stop() waits on: a drain that sees zero must find it stored.
        release_record(rec);
        sub_in_flight(1);
    }

    // Drops one pending count of `rec`; the last one marks its offset done.
    void release_record(const std::shared_ptr<record_ctx>& rec)
    {
        if (rec->pending.fetch_sub(1, std::memory_order_acq_rel) != 1)
            return;
        auto& part = *rec->part;
        std::lock_guard plock(part.mutex);
        part.tracker.done(rec->offset);
        if (!part.revoked && !abandoned.load()) {
            const auto next = part.tracker.committable();
            if (next && *next > part.stored) {
                part.stored = *next;
                consumer->store_offset(part.topic, part.partition, *next);
            }
        }
        if (part.revoke_waiting)
            part.idle.notify_all();
    }

    // ---- flow control ----

    void add_in_flight(std::size_t n)
    {
        in_flight.fetch_add(n, std::memory_order_relaxed);
        if (m.in_flight)
            m.in_flight->Increment(static_cast<double>(n));
    }

    void sub_in_flight(std::size_t n)
    {
        const auto left = in_flight.fetch_sub(n, std::memory_order_acq_rel) - n;
        if (m.in_flight)
            m.in_flight->Decrement(static_cast<double>(n));
        if (left == 0 && stopping.load()) {
            std::lock_guard lock(drain_mutex);
            drain_cv.notify_all();
        }
        if (left <= low_water && budget_waiting.load(std::memory_order_relaxed)) {
            std::lock_guard lock(budget_mutex);
            budget_cv.notify_all();
        }
        if (left <= low_water && budget_paused_hint.load(std::memory_order_relaxed))
            maybe_resume();
    }

    std::vector<kafka::topic_partition> assigned(bool skip_held)
    {
        std::vector<kafka::topic_partition> out;
        std::lock_guard lock(parts_mutex);
        for (const auto& [k, p] : parts) {
            if (!(skip_held && p->hold_paused))
                out.push_back({p->topic, p->partition});
        }
        return out;
    }

    void check_budget()
    {
        if (in_flight.load() < high_water)
            return;
        // Hold the poll thread until the deliveries drain to the low-water mark. Pausing instead makes
        // librdkafka drop every message it prefetched for the paused partitions (fetched again on resume), so
        // pausing at every full budget would make a busy worker wait on fetch round trips. The hold is
        // bounded: deliveries that do not drain in time (a slow endpoint) fall back to pausing, so the poll
        // thread serves rebalances again.
        {
            std::unique_lock lock(budget_mutex);
            budget_waiting.store(true);
            const bool drained = budget_cv.wait_for(lock, std::chrono::seconds(1), [this] {
                return in_flight.load() <= low_water || stopping.load();
            });
            budget_waiting.store(false);
            if (drained)
                return;
        }
        std::lock_guard flow(flow_mutex);
        if (budget_paused)
            return;
        budget_paused = true;
        budget_paused_hint.store(true);
        consumer->pause(assigned(false));
        relay::log::debug(
            "worker at its in-flight budget; fetching paused", {{"in_flight", in_flight.load()}}
        );
    }

    void maybe_resume()
    {
        std::lock_guard flow(flow_mutex);
        if (!budget_paused || in_flight.load() > low_water || stopping.load())
            return;
        budget_paused = false;
        budget_paused_hint.store(false);
        consumer->resume(assigned(true));
    }

    worker_stats stats() const
    {
        return {
            records_count.load(),
            attempts_count.load(),
            delivered_count.load(),
            retries_count.load(),
            dead_lettered_count.load(),
            in_flight.load(),
        };
    }

    // ---- members ----

    worker_options opts;
    const config::config& cfg;
    retry_schedule schedule;
    std::vector<std::chrono::milliseconds> tiers;
    std::vector<std::string> tier_topics;
    std::vector<std::string> inputs;
    std::size_t high_water = 0;
    std::size_t low_water = 0;
    metrics m;
    std::mutex labels_mutex;
    std::vector<std::unique_ptr<labelled_metrics>> labelled;           // guarded by labels_mutex
    std::unordered_map<std::string, const labelled_metrics*> label_of; // guarded by labels_mutex
    const labelled_metrics* other_metrics = nullptr;

    // Destruction runs bottom-up: deliveries, held records and timers (which hold Kafka messages) go before
    // the consumer, which librdkafka requires to outlive every message it returned.
    std::unique_ptr<kafka::consumer> consumer;
    std::unique_ptr<kafka::producer> producer;
    asio::io_context timer_ctx{1};
    asio::executor_work_guard<asio::io_context::executor_type> timer_work{timer_ctx.get_executor()};
    std::thread timer_thread;
    std::vector<std::unique_ptr<shard>> shards;

    std::mutex parts_mutex;
    std::unordered_map<std::string, std::shared_ptr<partition_state>> parts;

    std::mutex subs_mutex;
    std::unordered_map<std::string, std::shared_ptr<subscription_state>> sub_states;

    std::mutex breakers_mutex;
    std::unordered_map<std::string, std::shared_ptr<circuit_breaker>> breakers; // by origin

    std::mutex disabled_mutex;
    std::unordered_map<std::string, subscription_ptr> disabled; // id -> the version disabled
    std::atomic<bool> any_disabled{false};

    std::mutex flow_mutex;
    bool budget_paused = false; // guarded by flow_mutex
    std::atomic<bool> budget_paused_hint{false};

    std::mutex rng_mutex;
    std::mt19937_64 rng{std::random_device{}()};

    std::mutex drain_mutex;
    std::condition_variable drain_cv;

    std::mutex budget_mutex; // check_budget's hold of the poll thread
    std::condition_variable budget_cv;
    std::atomic<bool> budget_waiting{false};

    std::atomic<std::size_t> in_flight{0};
    std::atomic<std::uint64_t> records_count{0}, attempts_count{0}, delivered_count{0}, retries_count{0},
        dead_lettered_count{0};
    std::size_t next_shard = 0; // poll thread only
    std::atomic<bool> running{false};
    std::atomic<bool> stopping{false};
    std::atomic<bool> abandoned{false};
    std::atomic<bool> stopped{false};
};

std::size_t max_parked_record_bytes(const config::config& cfg)
{
    // Parked records carry the original value (at most max_event_bytes) plus Relay's headers.
    return std::max<std::size_t>(cfg.delivery.max_event_bytes + 256 * 1024, 1024 * 1024);
}

std::vector<kafka::topic_spec> worker_topics(const config::config& cfg)
{
    const auto& k = cfg.kafka;
    std::vector<kafka::topic_spec> specs;
    auto add = [&](const std::string& name, std::map<std::string, std::string> configs) {
        for (const auto& s : specs) {
            if (s.name == name)
                return;
        }
        specs.push_back({name, k.partitions, k.replication_factor, std::move(configs)});
    };
    add(cfg.topics.events, {});
    for (const auto& t : cfg.topics.inputs)
        add(t, {});
    const auto max_bytes = std::to_string(max_parked_record_bytes(cfg));
    const retry_schedule schedule(cfg.delivery.retry_schedule, cfg.delivery.retry_jitter);
    for (const auto tier : schedule.tiers()) {
        const auto retention = std::max<std::chrono::milliseconds>(std::chrono::hours(24 * 7), tier * 3);
        add(tier_topic(cfg.topics.retry_prefix, tier),
            {{"retention.ms", std::to_string(retention.count())}, {"max.message.bytes", max_bytes}});
    }
    add(cfg.topics.dlq,
        {{"retention.ms", std::to_string(k.dlq_retention.count())}, {"max.message.bytes", max_bytes}});
    return specs;
}

void prepare_topics(const config::config& cfg, const std::vector<kafka::topic_spec>& specs)
{
    kafka::client_options o;
    o.config = config::client_properties(cfg, config::client_kind::admin);
    kafka::admin admin(o);
    constexpr auto timeout = std::chrono::seconds(30);
    if (cfg.kafka.create_topics) {
        const auto created = admin.ensure_topics(specs, timeout);
        for (const auto& name : created)
            relay::log::info("topic created", {{"topic", name}});
        return;
    }
    std::string missing;
    for (const auto& spec : specs) {
        if (const auto n = kafka::partition_count(admin.native_handle(), spec.name, timeout); !n) {
            missing += (missing.empty() ? "" : "; ") + spec.name + ": " + n.error().message();
        }
    }
    if (!missing.empty()) {
        throw std::runtime_error(
            "required Kafka topics are missing and kafka.create_topics is false: " + missing
        );
    }
}

worker::worker(worker_options options)
    : impl_(std::make_unique<impl>(std::move(options)))
{}

worker::~worker() = default;

std::vector<std::string> worker::topics() const
{
    auto t = impl_->inputs;
    t.insert(t.end(), impl_->tier_topics.begin(), impl_->tier_topics.end());
    t.push_back(impl_->cfg.topics.dlq);
    return t;
}

std::vector<std::string> worker::retry_topics() const
{
    return impl_->tier_topics;
}

void worker::start()
{
    impl_->start();
}

void worker::stop()
{
    impl_->stop();
}

bool worker::ready() const noexcept
{
    return impl_->running.load();
}

worker_stats worker::stats() const
{
    return impl_->stats();
}

} // namespace relay::delivery
