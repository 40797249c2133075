#include "relay/cli/service.hpp"

#include "relay/config/kafka_clients.hpp"
#include "relay/config/load.hpp"
#include "relay/http/admin.hpp"
#include "relay/log/log.hpp"
#include "relay/subscription/codec.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <prometheus/registry.h>

#include <csignal>
#include <filesystem>
#include <iostream>
#include <thread>

namespace relay::cli {

std::optional<config::config> load_service_config(const std::optional<std::string>& config_file)
{
    try {
        auto cfg = config::load_config(
            config_file ? std::optional<std::filesystem::path>(*config_file) : std::nullopt,
            config::environment::from_process()
        );
        relay::log::set_level(cfg.log.level);
        return cfg;
    } catch (const config::config_error& e) {
        std::cerr << e.what() << '\n';
        return std::nullopt;
    }
}

namespace {

subscription::parse_options parse_options_of(const config::config& cfg)
{
    subscription::parse_options opts;
    opts.allow_http = cfg.delivery.allow_http;
    return subscription::stored_parse_options(opts);
}

} // namespace

std::optional<std::vector<subscription::subscription>> load_static_subscriptions(const config::config& cfg)
{
    auto subs =
        subscription::parse_static_subscriptions(cfg.static_subscriptions_json, parse_options_of(cfg));
    if (!subs) {
        std::cerr << "invalid configuration: subscriptions:\n"
                  << subscription::to_string(subs.error()) << '\n';
        return std::nullopt;
    }
    return std::move(*subs);
}

kafka::topic_spec subscriptions_topic(const config::config& cfg)
{
    return subscription::subscriptions_topic_spec(cfg.topics.subscriptions, cfg.kafka.replication_factor);
}

std::unique_ptr<subscription::follower> follow_subscriptions(
    const config::config& cfg,
    std::vector<subscription::subscription> statics,
    subscription::atomic_routing_table& routes,
    kafka::fatal_handler on_fatal
)
{
    subscription::follower_options o;
    o.kafka = config::client_properties(cfg, config::client_kind::consumer);
    o.topic = cfg.topics.subscriptions;
    o.static_subscriptions = std::move(statics);
    o.parse = parse_options_of(cfg);
    o.on_fatal = std::move(on_fatal);
    // A topic just created (by this process or a replica starting beside it) may not have a leader or be in
    // metadata yet: retry for a while before calling it a start-up failure.
    std::unique_ptr<subscription::follower> f;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
        f = std::make_unique<subscription::follower>(o, routes);
        try {
            f->start();
            break;
        } catch (const std::runtime_error& e) {
            if (std::chrono::steady_clock::now() >= deadline)
                throw;
            relay::log::warn("subscriptions topic not readable yet; retrying", {{"error", e.what()}});
            f.reset();
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
        }
    }
    if (!f->wait_until_loaded(std::chrono::seconds(60)))
        throw std::runtime_error(
            "the subscriptions topic " + cfg.topics.subscriptions + " was not read within 60 s"
        );
    return f;
}

disable_persister::disable_persister(const config::config& cfg, const subscription::follower& subs)
    : subs_(subs)
    , producer_(std::make_unique<kafka::producer>(
          subscription::make_writer_producer(config::client_properties(cfg, config::client_kind::producer))
      ))
    , writer_(std::make_unique<subscription::writer>(*producer_, cfg.topics.subscriptions))
{}

disable_persister::~disable_persister()
{
    flush(std::chrono::seconds(5));
}

void disable_persister::operator()(
    const subscription::subscription& sub, subscription::disable_reason reason, const std::string& detail
)
{
    if (subs_.is_static(sub.id)) {
        relay::log::warn(
            "static subscription disabled in this worker only; fix its endpoint or remove it from the config",
            {{"subscription", sub.id}, {"reason", subscription::to_string(reason)}}
        );
        return;
    }
    const auto stored = subs_.find(sub.id);
    if (!stored || !stored->enabled || !(*stored == sub))
        return; // deleted, already disabled, or changed since the worker used it: the newer version decides
    auto next = *stored;
    next.enabled = false;
    next.disabled_reason = reason;
    next.updated_at =
        std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
    writer_->async_put(next, [id = sub.id, detail](boost::system::error_code ec, kafka::delivery_info) {
        if (ec) {
            relay::log::error(
                "could not store a subscription's disable", {{"subscription", id}, {"error", ec.message()}}
            );
        } else {
            relay::log::info("subscription disable stored", {{"subscription", id}, {"detail", detail}});
        }
    });
}

void disable_persister::flush(std::chrono::milliseconds timeout)
{
    producer_->flush(timeout);
}

service::service(const config::config& cfg, std::string name)
    : cfg_(cfg)
    , name_(std::move(name))
    , registry_(std::make_shared<prometheus::Registry>())
    , health_(std::make_shared<http::health>())
{}

service::~service()
{
    if (admin_thread_.joinable()) {
        ctx_.stop();
        admin_thread_.join();
    }
}

void service::start_admin()
{
    auto opts = http::default_admin_options();
    opts.address = cfg_.admin.address;
    opts.port = cfg_.admin.port;
    admin_ = std::make_unique<http::admin_server>(
        ctx_.get_executor(), std::vector<std::shared_ptr<prometheus::Collectable>>{registry_}, health_, opts
    );
    admin_->start();
    relay::log::info(
        "admin listening", {{"address", cfg_.admin.address}, {"port", admin_->local_endpoint().port()}}
    );
}

std::uint16_t service::admin_port() const
{
    return admin_ ? admin_->local_endpoint().port() : 0;
}

int service::wait_for_shutdown()
{
    boost::asio::signal_set signals(ctx_, SIGTERM, SIGINT);
    signals.async_wait([this](boost::system::error_code ec, int signo) {
        if (ec)
            return;
        relay::log::notice(
            "shutting down", {{"service", name_}, {"signal", signo == SIGTERM ? "SIGTERM" : "SIGINT"}}
        );
        ctx_.stop();
    });
    auto guard = boost::asio::make_work_guard(ctx_);
    ctx_.run();
    signals.cancel();
    // The admin listener keeps answering probes (/readyz false) while the caller drains; the destructor
    // stops it.
    ctx_.restart();
    admin_thread_ = std::thread([this] {
        auto g = boost::asio::make_work_guard(ctx_);
        ctx_.run();
    });
    return status_.load();
}

void service::fail(std::string reason)
{
    relay::log::crit("fatal error", {{"service", name_}, {"error", reason}});
    health_->report_broken(name_, reason);
    status_.store(1);
    ctx_.stop();
}

} // namespace relay::cli
