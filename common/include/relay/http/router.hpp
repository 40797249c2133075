#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace relay::http {

/// A request as the server reads it: the body is a string bounded by server_options::body_limit.
using request = boost::beast::http::request<boost::beast::http::string_body>;
/// A response as handlers return it. The server sets the version, keep-alive and Content-Length when the
/// handler leaves them alone.
using response = boost::beast::http::response<boost::beast::http::string_body>;

/// Values captured by `{name}` segments of a route pattern, percent-decoded. Names point into the router,
/// which outlives every request. Thread-safety: a value type.
class path_params
{
public:
    /// The value captured for `name`, or nullopt when the route has no such segment.
    std::optional<std::string_view> get(std::string_view name) const noexcept
    {
        for (const auto& [key, value] : values_) {
            if (key == name) {
                return std::string_view(value);
            }
        }
        return std::nullopt;
    }

    /// The value captured for `name`, or "" when there is none.
    std::string_view operator[](std::string_view name) const noexcept { return get(name).value_or(""); }

    /// Number of captured values.
    std::size_t size() const noexcept { return values_.size(); }
    bool empty() const noexcept { return values_.empty(); }

    /// Adds a captured value (used by the router).
    void add(std::string_view name, std::string value) { values_.emplace_back(name, std::move(value)); }
    /// Removes every value.
    void clear() noexcept { values_.clear(); }

private:
    std::vector<std::pair<std::string_view, std::string>> values_;
};

/// Everything a handler gets for one request. Lives until the response has been written.
struct request_context
{
    request_context(
        request& r,
        std::string_view p,
        std::string_view q,
        path_params values = {},
        std::uint64_t connection = 0,
        boost::asio::ip::tcp::endpoint peer = {}
    )
        : req(r)
        , path(p)
        , query(q)
        , params(std::move(values))
        , connection_id(connection)
        , remote(std::move(peer))
    {}

    /// The request. Handlers may move parts of it out (the body, the fields); version and keep-alive were
    /// read before the handler runs.
    request& req;
    /// The path of the target (no query string), as received (not decoded).
    std::string_view path;
    /// The query string without the '?', "" when absent.
    std::string_view query;
    /// Values of the route's `{name}` segments.
    path_params params;
    /// A number unique among the connections of one server, starting at 1.
    std::uint64_t connection_id = 0;
    /// The peer's address.
    boost::asio::ip::tcp::endpoint remote;
    /// Set by a handler to close the connection without writing any response (test receivers use it to
    /// simulate a peer that drops the connection).
    bool close_without_response = false;
};

/// A handler that computes the response without waiting.
using sync_handler = std::function<response(request_context&)>;
/// A handler that may wait (timers, Kafka acknowledgements) by co_awaiting on the session's executor.
using async_handler = std::function<boost::asio::awaitable<response>(request_context&)>;
/// Either kind of handler; a sync handler avoids allocating a coroutine frame per request.
using handler = std::variant<sync_handler, async_handler>;

/// Decodes %XX escapes. Returns nullopt on a truncated or non-hex escape and on an encoded NUL. '+' is kept
/// as is (paths are not form data).
std::optional<std::string> percent_decode(std::string_view text);

/// Maps method and path to a handler. Three kinds of routes, tried in this order:
/// 1. exact paths ("/metrics"), looked up in a hash table;
/// 2. patterns whose segments are literals or `{name}` captures ("/v1/subscriptions/{id}"), in the order
///    they were added; a capture matches one non-empty segment;
/// 3. prefixes ("/debug/"), longest first.
/// A path that matches some route but not with this method gives 405 with an Allow header; no match at
/// all gives the fallback handler when one is set, else 404.
///
/// Thread-safety: build it completely before handing it to a server; matching is const and may run on
/// any number of threads.
class router
{
public:
    /// Adds an exact or pattern route (a pattern contains at least one `{name}` segment).
    /// Throws std::invalid_argument on a pattern not starting with '/', an empty or duplicate capture name,
    /// or a capture that is not a whole segment.
    router& add(boost::beast::http::verb method, std::string_view pattern, handler h);

    /// Adds a route for every request whose path starts with `prefix`.
    /// Throws std::invalid_argument when `prefix` does not start with '/'.
    router& add_prefix(boost::beast::http::verb method, std::string_view prefix, handler h);

    /// Handles every request no route matches (any method), instead of 404.
    router& set_fallback(handler h);

    /// The outcome of matching one request.
    struct match_result
    {
        /// The handler to call; null when nothing matched with this method.
        const handler* target = nullptr;
        /// Captured values of a pattern route.
        path_params params;
        /// When `target` is null: the methods the path accepts (empty means 404, else 405).
        std::vector<boost::beast::http::verb> allowed;
    };

    /// Finds the handler of `method` and `path` (a path without query string).
    match_result match(boost::beast::http::verb method, std::string_view path) const;

private:
    struct segment
    {
        std::string text; ///< the literal, or the capture's name
        bool capture = false;
    };
    struct pattern_route
    {
        std::string pattern;
        std::vector<segment> segments;
        boost::beast::http::verb method;
        handler h;
    };
    struct prefix_route
    {
        std::string prefix;
        boost::beast::http::verb method;
        handler h;
    };

    struct string_hash
    {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };

    static bool match_pattern(const pattern_route& route, std::string_view path, path_params* out);

    std::unordered_map<
        std::string,
        std::vector<std::pair<boost::beast::http::verb, handler>>,
        string_hash,
        std::equal_to<>>
        exact_;
    std::vector<pattern_route> patterns_;
    std::vector<prefix_route> prefixes_;
    std::optional<handler> fallback_;
};

} // namespace relay::http
