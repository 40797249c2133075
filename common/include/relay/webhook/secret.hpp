#pragma once

#include <boost/system/result.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace relay::webhook {

/// A symmetric signing secret in Standard Webhooks form: "whsec_" + base64(key), key 24 to 64 bytes.
/// Thread-safety: a value type.
struct secret
{
    std::vector<unsigned char> key; ///< the decoded key bytes (what HMAC uses)
    std::string text;               ///< the "whsec_..." form as given or generated

    /// "whsec_abcd…" style masking for listings and logs: prefix plus the first 4 characters of the key.
    std::string masked() const;
};

/// Parses "whsec_<base64>" (standard alphabet, padding optional). Errors name what is wrong (prefix, base64,
/// key length) without echoing the secret.
boost::system::result<secret> parse_secret(std::string_view text);

/// A new secret with 32 random bytes from the OS CSPRNG (OpenSSL RAND_bytes).
secret generate_secret();

} // namespace relay::webhook
