#pragma once

#include "relay/http/router.hpp"

#include <boost/beast/http/status.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace relay::http {

/// The media type of RFC 9457 problem details.
inline constexpr std::string_view problem_content_type = "application/problem+json";

/// One invalid part of a request, serialized in the "errors" extension member as RFC 9457's example does:
/// {"pointer": "/url", "detail": "must use https"}.
struct problem_error
{
    std::string pointer; ///< an RFC 6901 JSON Pointer into the request body, "" for the whole body
    std::string detail;  ///< what is wrong, for humans; never echoes secrets
};

/// RFC 9457 problem details. Thread-safety: a value type.
struct problem_details
{
    std::string type = "about:blank"; ///< a URI identifying the problem type
    std::string title;     ///< empty: the status's reason phrase (as RFC 9457 asks for about:blank)
    unsigned status = 500; ///< the HTTP status code
    std::string detail;    ///< what went wrong with this request; omitted when empty
    std::string instance;  ///< a URI of this occurrence; omitted when empty
    std::vector<problem_error> errors; ///< extension member "errors"; omitted when empty
};

/// Serializes `p` as one JSON object with members type, title, status, detail, instance, errors (empty ones
/// omitted except type, title and status). Strings are escaped, so any bytes are safe. Never throws except
/// std::bad_alloc.
std::string to_json(const problem_details& p);

/// A response carrying `p` as application/problem+json, with status `p.status`, the given HTTP version
/// (11 or 10) and the payload prepared.
response make_problem_response(const problem_details& p, unsigned version = 11);

/// Shorthand for a problem of type about:blank with the status's reason phrase as title.
response
make_problem_response(boost::beast::http::status status, std::string_view detail, unsigned version = 11);

} // namespace relay::http
