#pragma once

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace relay::webhook {

/// Error codes of the webhook area. Errors may carry a more specific message than the generic one of their
/// code (what exactly is wrong); they still compare equal to the errc value.
enum class errc
{
    invalid_secret = 1,    ///< a "whsec_..." secret does not parse (prefix, base64, key length)
    invalid_key,           ///< a "whsk_..." or "whpk_..." Ed25519 key does not parse
    missing_header,        ///< verify: webhook-id, webhook-timestamp or webhook-signature is missing or empty
    invalid_timestamp,     ///< verify: webhook-timestamp is not an integer number of seconds
    timestamp_too_old,     ///< verify: the timestamp is older than the tolerance allows (possible replay)
    timestamp_too_new,     ///< verify: the timestamp is further in the future than the tolerance allows
    no_matching_signature, ///< verify: no signature in webhook-signature matches any known key
};

/// The category of relay::webhook errors ("relay.webhook").
const boost::system::error_category& webhook_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept
{
    return {static_cast<int>(e), webhook_category()};
}

} // namespace relay::webhook

template <>
struct boost::system::is_error_code_enum<relay::webhook::errc> : std::true_type
{};
