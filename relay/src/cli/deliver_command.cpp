#include "relay/cli/commands.hpp"
#include "relay/cli/service.hpp"
#include "relay/delivery/worker.hpp"
#include "relay/log/log.hpp"

#include <prometheus/registry.h>

#include <exception>
#include <memory>

namespace relay::cli {

int run_deliver(const std::optional<std::string>& config_file)
{
    auto cfg = load_service_config(config_file);
    if (!cfg)
        return 2;
    auto routes = load_static_routes(*cfg);
    if (!routes)
        return 2;

    service svc(*cfg, "relay deliver");
    try {
        delivery::prepare_topics(*cfg, delivery::worker_topics(*cfg));
        delivery::worker w({*cfg, routes, svc.registry(), [&svc](std::string_view reason) {
                                svc.fail(std::string("kafka: ") + std::string(reason));
                            }});
        svc.health()->add_check("worker", false, "starting");
        svc.start_admin();
        w.start();
        svc.health()->set_ready("worker", true);
        relay::log::info("worker ready", {{"subscriptions", routes->load()->size()}});
        const int status = svc.wait_for_shutdown();
        svc.health()->set_ready("worker", false, "stopping");
        w.stop();
        return status;
    } catch (const std::exception& e) {
        relay::log::crit("relay deliver cannot start", {{"error", e.what()}});
        return 1;
    }
}

} // namespace relay::cli
