#include "relay/cli/service.hpp"

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

std::shared_ptr<subscription::atomic_routing_table> load_static_routes(const config::config& cfg)
{
    subscription::parse_options opts;
    opts.allow_http = cfg.delivery.allow_http;
    opts.id = subscription::when_missing::require;
    opts.secrets = subscription::when_missing::require;
    auto subs = subscription::parse_subscriptions(cfg.static_subscriptions_json, opts);
    if (!subs) {
        std::cerr << "invalid configuration: subscriptions:\n" << subscription::to_string(subs.error()) << '\n';
        return nullptr;
    }
    auto routes = std::make_shared<subscription::atomic_routing_table>();
    routes->store(std::make_shared<const subscription::routing_table>(*subs));
    return routes;
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
        relay::log::notice("shutting down", {{"service", name_}, {"signal", signo == SIGTERM ? "SIGTERM" : "SIGINT"}});
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
