#include "relay/api/ingest.hpp"
#include "relay/api/subscriptions.hpp"
#include "relay/cli/commands.hpp"
#include "relay/cli/service.hpp"
#include "relay/delivery/worker.hpp"
#include "relay/dev/demo_receiver.hpp"
#include "relay/http/server.hpp"
#include "relay/kafka/mock_cluster.hpp"
#include "relay/log/log.hpp"
#include "relay/publish/publish.hpp"
#include "relay/subscription/codec.hpp"
#include "relay/webhook/secret.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <thread>
#include <unistd.h>

namespace relay::cli {

namespace {

// The demo subscriptions: everything to /webhooks, orders in key order to /orders, and one that always
// fails (503) so the retry tiers and the DLQ can be watched.
std::string demo_subscriptions_json(const dev::demo_receiver& receiver, const webhook::secret& secret)
{
    auto sub = [&](std::string_view id, std::string_view path, std::string_view types, std::string_view extra
               ) {
        return std::string("{\"id\":\"") + std::string(id) + "\",\"url\":\"" + receiver.url(path) +
               "\",\"event_types\":" + std::string(types) + ",\"secret\":\"" + secret.text + "\"" +
               std::string(extra) + "}";
    };
    return "[" + sub("demo-all", "/webhooks", "[\"*\"]", "") + "," +
           sub("demo-orders", "/orders", "[\"order.*\"]", ",\"ordering\":\"key\"") + "," +
           sub("demo-flaky", "/status/503", "[\"payment.failed\"]", "") + "]";
}

constexpr std::string_view dev_token = "dev-token";

// The ready-to-paste commands of the banner: create a subscription to the demo receiver (with the secret it
// verifies) and publish an event through the API.
std::string api_banner(
    const std::string& base,
    std::string_view token,
    const dev::demo_receiver& receiver,
    const webhook::secret& secret
)
{
    const std::string auth = " -H 'Authorization: Bearer " + std::string(token) + "'";
    return "\n  API:             " + base + " (Authorization: Bearer " + std::string(token) + ")" +
           "\n\ncreate a subscription:\n  curl -sS -X POST " + base + "/v1/subscriptions" + auth +
           " -H 'Content-Type: application/json' -d '{\"id\":\"my-hook\",\"url\":\"" +
           receiver.url("/my-hook") + "\",\"event_types\":[\"order.*\"],\"secret\":\"" + secret.text +
           "\"}'" + "\nlist, send it a test event, publish an event:\n  curl -sS " + base +
           "/v1/subscriptions" + auth + "\n  curl -sS -X POST " + base + "/v1/subscriptions/my-hook:test" +
           auth + "\n  curl -sS -X POST " + base + "/v1/events" + auth +
           " -H 'Content-Type: application/json' -d "
           "'{\"type\":\"order.created\",\"data\":{\"order_id\":42}}'";
}

} // namespace

int run_dev(const dev_args& args)
{
    auto cfg = load_service_config(args.config_file);
    if (!cfg)
        return 2;
    if (!args.config_file && !std::getenv("RELAY_LOG_LEVEL"))
        relay::log::set_level(relay::log::level::warning); // the demo receiver's lines are the show
    try {
        kafka::mock_cluster cluster(1);
        cfg->kafka.brokers = cluster.bootstrap_servers();
        cfg->kafka.create_topics = true;
        cfg->kafka.replication_factor = 1;
        cfg->delivery.allow_http = true;
        cfg->delivery.allow_loopback = true;
        if (cfg->api.tokens.empty())
            cfg->api.tokens = {std::string(dev_token)};
        if (!args.config_file && !std::getenv("RELAY_API_ADDRESS"))
            cfg->api.address = "127.0.0.1"; // a well-known token must not be reachable from the network
        if (args.api_port)
            cfg->api.port = *args.api_port;
        if (!args.config_file && !std::getenv("RELAY_DELIVERY_RETRY_SCHEDULE"))
            cfg->delivery.retry_schedule = {std::chrono::seconds(2), std::chrono::seconds(4)};
        auto topics = delivery::worker_topics(*cfg);
        topics.push_back(subscriptions_topic(*cfg));
        cluster.create_topics(topics);

        boost::asio::io_context receiver_ctx{1};
        auto receiver_work = boost::asio::make_work_guard(receiver_ctx);
        const auto secret = webhook::generate_secret();
        dev::demo_receiver_options ropts;
        ropts.port = args.receiver_port;
        ropts.secrets = {secret};
        ropts.color = dev::terminal_supports_color(STDOUT_FILENO);
        dev::demo_receiver receiver(receiver_ctx.get_executor(), ropts);
        receiver.start();
        std::thread receiver_thread([&] { receiver_ctx.run(); });

        // Static subscriptions of the config file come first; the demo ones are added after them.
        std::string subs = demo_subscriptions_json(receiver, secret);
        if (cfg->static_subscriptions_json.find('{') != std::string::npos) {
            auto user = cfg->static_subscriptions_json;
            user.erase(user.find_last_of(']'));
            subs = user + "," + subs.substr(1);
        }
        cfg->static_subscriptions_json = subs;
        auto statics = load_static_subscriptions(*cfg);
        if (!statics)
            return 2;

        service svc(*cfg, "relay dev");
        int status = 0;
        {
            auto routes = std::make_shared<subscription::atomic_routing_table>();
            const auto follower = follow_subscriptions(*cfg, std::move(*statics), *routes, {});
            delivery::worker w(
                {*cfg,
                 routes,
                 svc.registry(),
                 [&svc](std::string_view reason) { svc.fail(std::string(reason)); },
                 {}}
            );
            svc.start_admin();
            w.start();

            // The API of `relay serve` (ingest and subscriptions) on its own thread, reading subscriptions
            // from the worker's follower.
            kafka::producer api_producer({.config = api::ingest_producer_properties(*cfg)});
            subscription::writer writer(api_producer, cfg->topics.subscriptions);
            boost::asio::io_context api_ctx{1};
            auto api_work = boost::asio::make_work_guard(api_ctx);
            api::ingest_service ingest(api_ctx.get_executor(), *cfg, api_producer, svc.registry().get());
            api::subscriptions_service subscriptions(
                api_ctx.get_executor(), *cfg, writer, *follower, api_producer, svc.registry().get()
            );
            api::dlq_service dlq(api_ctx.get_executor(), *cfg, svc.registry().get());
            http::server api_server(
                api_ctx.get_executor(),
                api::make_api_router(ingest, subscriptions, dlq),
                api::api_server_options(*cfg)
            );
            api_server.start();
            std::thread api_thread([&] { api_ctx.run(); });
            const auto api_host =
                cfg->api.address == "0.0.0.0" || cfg->api.address == "::" ? std::string("127.0.0.1")
                : cfg->api.address.find(':') != std::string::npos         ? "[" + cfg->api.address + "]"
                                                                          : cfg->api.address;
            const std::string api_base =
                "http://" + api_host + ":" + std::to_string(api_server.local_endpoint().port());

            std::cout
                << "\nrelay dev: Kafka (librdkafka mock cluster) at " << cfg->kafka.brokers
                << "\n  demo receiver:   " << receiver.url("/") << "\n  signing secret:  " << secret.text
                << "\n  subscriptions:   demo-all (*) -> /webhooks, demo-orders (order.*, key order) -> "
                   "/orders, demo-flaky (payment.failed) -> /status/503 (retries, then the DLQ)"
                << "\n  metrics:         http://127.0.0.1:" << svc.admin_port() << "/metrics"
                << api_banner(
                       api_base,
                       cfg->api.tokens.front() == dev_token ? dev_token : "<api.tokens>",
                       receiver,
                       secret
                   )
                << "\n\npublish more events from another terminal:\n  relay publish --brokers "
                << cfg->kafka.brokers << " --topic " << cfg->topics.events
                << " --type order.created --key order-42 --data '{\"order_id\":42,\"total\":\"19.99\"}'"
                << "\n\nwebhooks received (Ctrl-C to stop):\n"
                << std::flush;

            if (args.samples) {
                publish::publish_options popts;
                popts.topic = cfg->topics.events;
                popts.timeout = std::chrono::seconds(10);
                kafka::properties props{{"bootstrap.servers", cfg->kafka.brokers}};
                publish::publisher pub(publish::producer_properties(props, popts.timeout), popts);
                const std::vector<publish::event_input> samples = {
                    publish::built_event{
                        "order.created",
                        R"({"order_id":1001,"total":"42.00","currency":"EUR"})",
                        "order-1001",
                        std::nullopt},
                    publish::built_event{
                        "order.paid", R"({"order_id":1001,"method":"card"})", "order-1001", std::nullopt},
                    publish::built_event{
                        "payment.failed",
                        R"({"payment_id":"pay_7","reason":"insufficient_funds"})",
                        "pay_7",
                        std::nullopt},
                };
                for (const auto& r : pub.publish(samples)) {
                    if (!r.ok())
                        std::cerr << "relay dev: sample event not published: " << r.reason << '\n';
                }
            }
            status = svc.wait_for_shutdown();
            boost::asio::post(api_ctx, [&] {
                api_server.stop(std::chrono::seconds(2), [&] { api_work.reset(); });
            });
            api_thread.join();
            api_producer.close(std::chrono::seconds(5));
            w.stop();
        }
        receiver.stop(std::chrono::milliseconds(200));
        receiver_work.reset();
        receiver_ctx.stop();
        receiver_thread.join();
        const auto counts = receiver.counts();
        std::cout << "\nrelay dev: " << counts.received << " webhooks received, " << counts.verified
                  << " signatures verified, " << counts.invalid << " invalid\n";
        return status;
    } catch (const std::exception& e) {
        relay::log::crit("relay dev cannot start", {{"error", e.what()}});
        std::cerr << "relay dev: " << e.what() << '\n';
        return 1;
    }
}

} // namespace relay::cli
