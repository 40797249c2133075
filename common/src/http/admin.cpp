#include "relay/http/admin.hpp"

#include <boost/beast/http/field.hpp>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

namespace relay::http {

namespace bhttp = boost::beast::http;

namespace {

response json_response(bhttp::status status, std::string body)
{
    response res{status, 11};
    res.set(bhttp::field::content_type, "application/json");
    res.set(bhttp::field::cache_control, "no-store");
    res.body() = std::move(body);
    return res;
}

router build_routes(
    router routes,
    std::vector<std::shared_ptr<prometheus::Collectable>> collectables,
    const std::shared_ptr<const health>& h
)
{
    add_admin_routes(routes, std::move(collectables), h);
    return routes;
}

} // namespace

server_options default_admin_options()
{
    server_options o;
    o.port = 9090;
    o.name = "admin";
    o.body_limit = std::size_t{16} * 1024;
    o.header_limit = 16 * 1024;
    o.read_timeout = std::chrono::seconds(10);
    o.write_timeout = std::chrono::seconds(10);
    o.idle_timeout = std::chrono::seconds(60);
    o.backlog = 64;
    return o;
}

void add_admin_routes(
    router& routes,
    std::vector<std::shared_ptr<prometheus::Collectable>> collectables,
    const std::shared_ptr<const health>& h
)
{
    routes.add(
        bhttp::verb::get,
        "/metrics",
        sync_handler([collectables = std::move(collectables)](request_context&) {
            std::vector<prometheus::MetricFamily> families;
            for (const auto& c : collectables) {
                if (c) {
                    auto collected = c->Collect();
                    families.insert(
                        families.end(),
                        std::make_move_iterator(collected.begin()),
                        std::make_move_iterator(collected.end())
                    );
                }
            }
            response res{bhttp::status::ok, 11};
            res.set(bhttp::field::content_type, metrics_content_type);
            res.body() = prometheus::TextSerializer().Serialize(families);
            return res;
        })
    );
    routes.add(bhttp::verb::get, "/healthz", sync_handler([h](request_context&) {
                   bool ok = false;
                   auto body = h->liveness_json(ok);
                   return json_response(
                       ok ? bhttp::status::ok : bhttp::status::service_unavailable, std::move(body)
                   );
               }));
    routes.add(bhttp::verb::get, "/readyz", sync_handler([h](request_context&) {
                   bool ok = false;
                   auto body = h->readiness_json(ok);
                   return json_response(
                       ok ? bhttp::status::ok : bhttp::status::service_unavailable, std::move(body)
                   );
               }));
}

admin_server::admin_server(
    boost::asio::any_io_executor executor,
    std::vector<std::shared_ptr<prometheus::Collectable>> collectables,
    std::shared_ptr<const health> h,
    server_options opts,
    router extra
)
    : server_(
          std::move(executor), build_routes(std::move(extra), std::move(collectables), h), std::move(opts)
      )
{}

} // namespace relay::http
