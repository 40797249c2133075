#pragma once

#include <boost/system/error_code.hpp>

#include <string_view>

namespace relay::delivery {

/// What one delivery attempt means for the delivery (design.md section 7).
enum class outcome
{
    delivered, ///< 2xx: done
    retryable, ///< try again later, per the retry schedule (then the DLQ with reason `exhausted`)
    permanent, ///< will not succeed by retrying: DLQ with reason `permanent_status` (or the transport reason)
    gone,      ///< 410: DLQ with reason `gone` and the subscription is disabled
};

/// "delivered", "retryable", "permanent", "gone".
std::string_view to_string(outcome o) noexcept;

/// An outcome and a short snake_case reason ("server_error", "rate_limited", "redirect", "timeout", ...), for
/// retry/DLQ headers, logs and bounded metric labels. The reason points to static storage.
struct classification
{
    delivery::outcome outcome;
    std::string_view reason;

    friend bool operator==(const classification&, const classification&) = default;
};

/// Classifies a final HTTP response status:
/// - 2xx: delivered ("success");
/// - 3xx: permanent ("redirect"): redirects are never followed, so retrying cannot help;
/// - 410: gone ("gone");
/// - 408 ("request_timeout"), 425 ("too_early"), 429 ("rate_limited"), 5xx ("server_error"): retryable;
/// - other 4xx: permanent ("client_error");
/// - 1xx ("informational_status") and anything outside 100..599 ("invalid_status"): retryable. A 1xx must
/// never
///   end an exchange (the client skips interim responses), and an out-of-range code is not HTTP; both are
///   protocol errors of the endpoint, which may be transient, so they are retried rather than dropped.
///   Unassigned codes inside a class act as that class's x00 (RFC 9110 section 15).
/// Pure; thread-safe.
classification classify(unsigned status) noexcept;

/// Classifies a transport failure (no final response). Every failure is retryable ("timeout",
/// "connection_refused", "connection_closed", "unreachable", "dns_error", "tls_error", "protocol_error",
/// "aborted", "network_error") except those of Relay's own URL and address policy (category "relay.net"):
/// `address_blocked` and `invalid_url` are permanent, since the same URL is refused on every attempt.
/// An empty error code is a caller bug; it is retryable ("unknown_error") so nothing is dropped.
/// Pure; thread-safe.
classification classify(const boost::system::error_code& transport_error) noexcept;

/// True for statuses that mean the endpoint is overloaded (429, 502, 503, 504): the worker slows the endpoint
/// down (and honours Retry-After) instead of only rescheduling this delivery.
constexpr bool throttles_endpoint(unsigned status) noexcept
{
    return status == 429 || status == 502 || status == 503 || status == 504;
}

} // namespace relay::delivery
