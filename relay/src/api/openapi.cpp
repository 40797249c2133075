#include "relay/api/openapi.hpp"

#include <boost/beast/http/field.hpp>

namespace relay::api {

namespace detail {
// Defined in the .cpp generated from relay/api/openapi.json (relay/api/embed_openapi.cmake).
extern const char openapi_json[];
extern const std::size_t openapi_json_size;
} // namespace detail

std::string_view openapi_document() noexcept
{
    return {detail::openapi_json, detail::openapi_json_size};
}

void add_openapi_route(http::router& routes, std::vector<route_entry>* registered)
{
    namespace bhttp = boost::beast::http;
    routes.add(bhttp::verb::get, openapi_path, http::sync_handler([](http::request_context& ctx) {
                   http::response res{bhttp::status::ok, ctx.req.version()};
                   res.set(bhttp::field::content_type, "application/json");
                   // Clients and tools may cache it; it changes only with the binary.
                   res.set(bhttp::field::cache_control, "no-cache");
                   res.body() = std::string(openapi_document());
                   res.prepare_payload();
                   return res;
               }));
    if (registered != nullptr) {
        registered->push_back({bhttp::verb::get, std::string(openapi_path)});
    }
}

} // namespace relay::api
