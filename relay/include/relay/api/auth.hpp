#pragma once

#include "relay/http/router.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace relay::api {

/// Checks `Authorization: Bearer <token>` against a fixed set of tokens (design.md section 9).
/// Thread-safety: immutable after construction; check() may run on any number of threads.
class bearer_auth
{
public:
    /// Accepts any of `tokens` (several, for rotation). Throws std::invalid_argument when `tokens` is empty
    /// or holds an empty token (an API open to everyone is never the default).
    explicit bearer_auth(std::vector<std::string> tokens);

    /// True when the request carries exactly one well-formed `Authorization: Bearer <token>` whose token is
    /// one of the accepted ones. Each comparison takes time independent of where the bytes differ.
    bool check(const http::request& req) const noexcept;

    /// The 401 application/problem+json answer, with `WWW-Authenticate: Bearer realm="relay"` and a detail
    /// saying whether the header was missing or the token was not accepted.
    http::response unauthorized(const http::request& req) const;

private:
    std::vector<std::string> tokens_;
};

/// Compares `a` and `b` in time that depends only on their lengths, not on their contents.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

} // namespace relay::api
