#include "relay/api/auth.hpp"

#include "relay/http/problem.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>

#include <stdexcept>

namespace relay::api {

namespace bhttp = boost::beast::http;

bool constant_time_equal(std::string_view a, std::string_view b) noexcept
{
    // Every byte of the longer string is visited, and the length difference is folded into the result, so
    // neither a shared prefix nor the position of the first difference changes the time taken.
    const std::size_t n = a.size() > b.size() ? a.size() : b.size();
    unsigned diff = a.size() == b.size() ? 0u : 1u;
    for (std::size_t i = 0; i < n; ++i) {
        const auto x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0u;
        const auto y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0u;
        diff |= x ^ y;
    }
    return diff == 0;
}

bearer_auth::bearer_auth(std::vector<std::string> tokens)
    : tokens_(std::move(tokens))
{
    if (tokens_.empty()) {
        throw std::invalid_argument("api.tokens is empty: the API requires at least one bearer token");
    }
    for (const auto& t : tokens_) {
        if (t.empty()) {
            throw std::invalid_argument("api.tokens holds an empty token");
        }
    }
}

namespace {

// The token of a single `Authorization: Bearer <token>` field, or "" when absent or malformed.
std::string_view bearer_token(const http::request& req) noexcept
{
    auto range = req.equal_range(bhttp::field::authorization);
    if (range.first == range.second || std::next(range.first) != range.second) {
        return {};
    }
    const std::string_view value = range.first->value();
    constexpr std::string_view scheme = "bearer ";
    if (value.size() <= scheme.size() || !boost::beast::iequals(value.substr(0, scheme.size()), scheme)) {
        return {};
    }
    auto token = value.substr(scheme.size());
    while (!token.empty() && token.front() == ' ') {
        token.remove_prefix(1);
    }
    while (!token.empty() && token.back() == ' ') {
        token.remove_suffix(1);
    }
    return token;
}

} // namespace

bool bearer_auth::check(const http::request& req) const noexcept
{
    const auto token = bearer_token(req);
    if (token.empty()) {
        return false;
    }
    bool ok = false;
    // No early exit: the time does not tell which token (if any) matched.
    for (const auto& t : tokens_) {
        ok |= constant_time_equal(token, t);
    }
    return ok;
}

http::response bearer_auth::unauthorized(const http::request& req) const
{
    const bool present = req.find(bhttp::field::authorization) != req.end();
    auto res = http::make_problem_response(
        bhttp::status::unauthorized,
        present ? "the bearer token is not accepted; send `Authorization: Bearer <token>` with one of the "
                  "tokens configured in api.tokens"
                : "authentication required; send `Authorization: Bearer <token>` with one of the tokens "
                  "configured in api.tokens",
        req.version() == 10 ? 10 : 11
    );
    res.set(
        bhttp::field::www_authenticate,
        present ? R"(Bearer realm="relay", error="invalid_token")" : R"(Bearer realm="relay")"
    );
    return res;
}

} // namespace relay::api
