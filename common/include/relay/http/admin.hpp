#pragma once

#include "relay/http/health.hpp"
#include "relay/http/router.hpp"
#include "relay/http/server.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <memory>
#include <string_view>
#include <vector>

namespace prometheus {
class Collectable;
} // namespace prometheus

namespace relay::http {

/// The Prometheus text exposition format's media type, as /metrics answers.
inline constexpr std::string_view metrics_content_type = "text/plain; version=0.0.4";

/// Server options suited to the admin listener: port 9090, name "admin", small bodies, short timeouts.
server_options default_admin_options();

/// Adds the admin routes to `routes`:
/// - GET /metrics: every collectable's families in the Prometheus text format (prometheus::TextSerializer);
/// - GET /healthz: 200 while `h` is live, else 503, with health::liveness_json();
/// - GET /readyz: 200 when `h` is ready, else 503 listing the checks that are not, with
///   health::readiness_json().
/// The handlers share ownership of `collectables` and `h`. Throws what router::add throws.
void add_admin_routes(
    router& routes,
    std::vector<std::shared_ptr<prometheus::Collectable>> collectables,
    const std::shared_ptr<const health>& h
);

/// The admin listener of a process: /metrics, /healthz and /readyz (see add_admin_routes) on a server of
/// its own, plus any routes passed in `extra`.
///
/// Thread-safety: as server.
class admin_server
{
public:
    /// Binds (see server::server; throws boost::system::system_error when it cannot).
    admin_server(
        boost::asio::any_io_executor executor,
        std::vector<std::shared_ptr<prometheus::Collectable>> collectables,
        std::shared_ptr<const health> h,
        server_options opts = default_admin_options(),
        router extra = {}
    );

    /// The bound address and port.
    boost::asio::ip::tcp::endpoint local_endpoint() const { return server_.local_endpoint(); }
    /// Starts accepting.
    void start() { server_.start(); }
    /// See server::stop.
    void stop(std::chrono::steady_clock::duration grace, std::function<void()> on_stopped = {})
    {
        server_.stop(grace, std::move(on_stopped));
    }

private:
    server server_;
};

} // namespace relay::http
