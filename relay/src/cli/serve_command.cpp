#include "relay/api/ingest.hpp"
#include "relay/api/subscriptions.hpp"
#include "relay/cli/commands.hpp"
#include "relay/cli/service.hpp"
#include "relay/delivery/worker.hpp"
#include "relay/http/server.hpp"
#include "relay/kafka/producer.hpp"
#include "relay/kafka/statistics.hpp"
#include "relay/log/log.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <exception>
#include <iostream>
#include <thread>

namespace relay::cli {

int run_serve(const std::optional<std::string>& config_file)
{
    auto cfg = load_service_config(config_file);
    if (!cfg)
        return 2;
    if (cfg->api.tokens.empty()) {
        std::cerr
            << "invalid configuration: api.tokens (RELAY_API_TOKENS or RELAY_API_TOKENS_FILE): relay serve "
               "needs at least one bearer token\n";
        return 2;
    }
    auto statics = load_static_subscriptions(*cfg);
    if (!statics)
        return 2;
    service svc(*cfg, "relay serve");
    try {
        auto topics = delivery::worker_topics(*cfg);
        topics.push_back(subscriptions_topic(*cfg));
        delivery::prepare_topics(*cfg, topics);
        svc.health()->add_check("api", false, "starting");
        svc.start_admin();

        kafka::statistics_metrics kafka_stats(*svc.registry());
        kafka::client_options popts;
        popts.config = kafka::with_statistics_interval(api::ingest_producer_properties(*cfg));
        popts.on_statistics = kafka_stats.handler("ingest_producer");
        popts.on_fatal = [&svc](boost::system::error_code, std::string_view r) {
            svc.fail("kafka producer: " + std::string(r));
        };
        kafka::producer producer(popts);
        // The API reads subscriptions from its own follower (loaded before it is ready) and writes them
        // through the same acks=all, idempotent producer as the events.
        subscription::atomic_routing_table routes;
        const auto follower = follow_subscriptions(
            *cfg,
            std::move(*statics),
            routes,
            [&svc](boost::system::error_code, std::string_view r) {
                svc.fail("kafka subscriptions follower: " + std::string(r));
            }
        );
        follower->bind_metrics(*svc.registry());
        subscription::writer writer(producer, cfg->topics.subscriptions);
        boost::asio::io_context ctx;
        auto work = boost::asio::make_work_guard(ctx);
        api::ingest_service ingest(ctx.get_executor(), *cfg, producer, svc.registry().get());
        api::subscriptions_service subscriptions(
            ctx.get_executor(), *cfg, writer, *follower, producer, svc.registry().get()
        );
        api::dlq_service dlq(ctx.get_executor(), *cfg, svc.registry().get());
        http::server server(
            ctx.get_executor(),
            api::make_api_router(ingest, subscriptions, dlq),
            api::api_server_options(*cfg)
        );
        server.start();
        relay::log::info(
            "api listening", {{"address", cfg->api.address}, {"port", server.local_endpoint().port()}}
        );
        const std::size_t n =
            cfg->delivery.threads ? cfg->delivery.threads : std::max(1u, std::thread::hardware_concurrency());
        std::vector<std::thread> threads;
        for (std::size_t i = 0; i < n; ++i)
            threads.emplace_back([&ctx] { ctx.run(); });
        svc.health()->set_ready("api", true);

        const int status = svc.wait_for_shutdown();
        svc.health()->set_ready("api", false, "stopping");
        boost::asio::post(ctx, [&] { server.stop(std::chrono::seconds(5), [&] { work.reset(); }); });
        for (auto& t : threads)
            t.join();
        follower->stop();
        producer.close(std::chrono::seconds(10));
        return status;
    } catch (const std::exception& e) {
        relay::log::crit("relay serve cannot start", {{"error", e.what()}});
        return 1;
    }
}

} // namespace relay::cli
