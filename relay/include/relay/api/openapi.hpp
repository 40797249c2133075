#pragma once

#include "relay/http/router.hpp"

#include <boost/beast/http/verb.hpp>

#include <string>
#include <string_view>
#include <vector>

/// @file
/// The OpenAPI 3.1 description of the Relay API. The document is relay/api/openapi.json in the source tree,
/// embedded in the binary at build time (CMake writes it into a generated .cpp) and served unauthenticated at
/// `GET /openapi.json`. A unit test keeps it equal to the routes the services register.
namespace relay::api {

/// One operation a service registers, as the OpenAPI document names it: the method and the documented path
/// template (`/v1/subscriptions/{id}:rotate-secret`; the router itself matches actions by one pattern).
/// Thread-safety: a value type.
struct route_entry
{
    boost::beast::http::verb method;
    std::string path;

    friend bool operator==(const route_entry&, const route_entry&) = default;
};

/// The path the document is served at.
inline constexpr std::string_view openapi_path = "/openapi.json";

/// The OpenAPI document (JSON text, byte for byte relay/api/openapi.json). Thread-safe; static storage.
std::string_view openapi_document() noexcept;

/// Adds `GET /openapi.json` (no authentication: the document holds no secret) answering 200
/// application/json with openapi_document(). Appends the operation to `registered` when not null.
void add_openapi_route(http::router& routes, std::vector<route_entry>* registered = nullptr);

} // namespace relay::api
