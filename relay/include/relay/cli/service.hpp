#pragma once

#include "relay/config/config.hpp"
#include "relay/http/health.hpp"
#include "relay/kafka/admin.hpp"
#include "relay/subscription/routing_table.hpp"
#include "relay/subscription/store.hpp"

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace prometheus {
class Registry;
} // namespace prometheus

namespace relay::http {
class admin_server;
} // namespace relay::http

/// @file
/// What every long-running subcommand (`serve`, `deliver`, `dev`) shares: loading the configuration, the
/// static subscriptions, the admin listener and the wait for a termination signal.
namespace relay::cli {

/// Loads the file and RELAY_* environment and applies `log.level`. On a bad configuration prints every
/// problem to stderr and returns nullopt (the caller exits 2).
std::optional<config::config> load_service_config(const std::optional<std::string>& config_file);

/// Parses the static subscriptions of `cfg` (ids and secrets required, http:// only when allowed). On
/// problems prints them to stderr and returns nullopt (the caller exits 2).
std::optional<std::vector<subscription::subscription>> load_static_subscriptions(const config::config& cfg);

/// The topic spec of the subscriptions topic as `cfg` wants it (1 partition, compacted).
kafka::topic_spec subscriptions_topic(const config::config& cfg);

/// Starts following the subscriptions topic, with `statics` merged in, publishing routing tables into
/// `routes`, and waits until the topic has been read up to where it ended at start. Throws
/// std::runtime_error when Kafka cannot be reached or the topic does not exist (a start-up error).
std::unique_ptr<subscription::follower> follow_subscriptions(
    const config::config& cfg,
    std::vector<subscription::subscription> statics,
    subscription::atomic_routing_table& routes,
    kafka::fatal_handler on_fatal
);

/// Persists the subscriptions a worker disables (410 Gone, auto-disable) to the subscriptions topic, so every
/// worker and the API see them: the current stored version with enabled = false, disabled_reason and
/// updated_at set. Static subscriptions (from the config file) cannot be written: they stay disabled in that
/// worker's memory until it restarts, and a log line says so. Thread-safety: operator() from any thread.
class disable_persister
{
public:
    /// Builds its producer from `cfg` (acks=all, idempotent). `subs` must outlive this object.
    disable_persister(const config::config& cfg, const subscription::follower& subs);
    ~disable_persister();

    /// Writes the disable of `sub` (the version the worker delivered with) unless the stored subscription is
    /// already disabled or changed since. Never throws; failures are logged.
    void operator()(
        const subscription::subscription& sub, subscription::disable_reason reason, const std::string& detail
    );

    /// Waits up to `timeout` for writes in progress.
    void flush(std::chrono::milliseconds timeout);

private:
    const subscription::follower& subs_;
    std::unique_ptr<kafka::producer> producer_;
    std::unique_ptr<subscription::writer> writer_;
};

/// A process's control loop: the main io_context (admin listener, signals), a Prometheus registry and the
/// health state. Thread-safety: fail() and the accessors may be called from any thread; the rest from the
/// main thread.
class service
{
public:
    service(const config::config& cfg, std::string name);
    ~service();

    service(const service&) = delete;
    service& operator=(const service&) = delete;

    /// The registry every component registers its metrics in; served at /metrics.
    const std::shared_ptr<prometheus::Registry>& registry() const noexcept { return registry_; }

    /// The health state served at /healthz and /readyz.
    const std::shared_ptr<http::health>& health() const noexcept { return health_; }

    /// The main io_context (runs on the thread in wait_for_shutdown()).
    boost::asio::io_context& context() noexcept { return ctx_; }

    /// Binds the admin listener (admin.address, admin.port; port 0 picks a free one) and logs
    /// "admin listening" with the port. Throws boost::system::system_error when it cannot bind.
    void start_admin();

    /// The admin port actually bound (after start_admin()).
    std::uint16_t admin_port() const;

    /// Runs the main loop until SIGTERM or SIGINT (returns 0) or fail() (returns 1). The admin listener keeps
    /// answering (with /readyz false) while the caller drains afterwards, until the service is destroyed.
    int wait_for_shutdown();

    /// Ends wait_for_shutdown() with status 1 and marks the process broken (not live): a fatal error.
    void fail(std::string reason);

private:
    const config::config& cfg_;
    std::string name_;
    boost::asio::io_context ctx_{1};
    std::shared_ptr<prometheus::Registry> registry_;
    std::shared_ptr<http::health> health_;
    std::unique_ptr<http::admin_server> admin_;
    std::thread admin_thread_;
    std::atomic<int> status_{0};
};

} // namespace relay::cli
