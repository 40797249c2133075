#include "relay/cli/commands.hpp"
#include "relay/cli/service.hpp"
#include "relay/delivery/worker.hpp"
#include "relay/log/log.hpp"

#include <prometheus/registry.h>

#include <exception>
#include <functional>
#include <memory>

namespace relay::cli {

int run_deliver(const std::optional<std::string>& config_file)
{
    auto cfg = load_service_config(config_file);
    if (!cfg)
        return 2;
    auto statics = load_static_subscriptions(*cfg);
    if (!statics)
        return 2;

    service svc(*cfg, "relay deliver");
    try {
        auto fatal = [&svc](std::string_view reason) {
            svc.fail(std::string("kafka: ") + std::string(reason));
        };
        auto topics = delivery::worker_topics(*cfg);
        topics.push_back(subscriptions_topic(*cfg));
        delivery::prepare_topics(*cfg, topics);
        svc.health()->add_check("worker", false, "starting");
        svc.start_admin();
        auto routes = std::make_shared<subscription::atomic_routing_table>();
        const auto follower = follow_subscriptions(
            *cfg,
            std::move(*statics),
            *routes,
            [fatal](boost::system::error_code, std::string_view r) { fatal(r); }
        );
        follower->bind_metrics(*svc.registry());
        disable_persister persist_disable(*cfg, *follower);
        delivery::worker w({*cfg, routes, svc.registry(), fatal, std::ref(persist_disable)});
        w.start();
        svc.health()->set_ready("worker", true);
        relay::log::info("worker ready", {{"subscriptions", routes->load()->size()}});
        const int status = svc.wait_for_shutdown();
        svc.health()->set_ready("worker", false, "stopping");
        w.stop();
        follower->stop();
        return status;
    } catch (const std::exception& e) {
        relay::log::crit("relay deliver cannot start", {{"error", e.what()}});
        return 1;
    }
}

} // namespace relay::cli
