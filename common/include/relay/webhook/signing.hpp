#pragma once

#include "relay/webhook/error.hpp"
#include "relay/webhook/secret.hpp"

#include <boost/system/result.hpp>
#include <openssl/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace relay::webhook {

/// Header names of Standard Webhooks v1.0.0.
inline constexpr std::string_view id_header = "webhook-id";
inline constexpr std::string_view timestamp_header = "webhook-timestamp";
inline constexpr std::string_view signature_header_name = "webhook-signature";

/// How far a receiver accepts webhook-timestamp from its own clock, both ways (the official libraries'
/// value).
inline constexpr std::chrono::seconds default_tolerance{300};

class public_key;

/// An Ed25519 private key in Standard Webhooks form: "whsk_" + base64(32-byte seed), as the official
/// libraries read it. Signatures made with it are `v1a,<base64 of the 64-byte Ed25519 signature>`.
/// Thread-safety: immutable; copies share the OpenSSL key; safe to use from several threads at once.
class signing_key
{
public:
    /// Parses "whsk_<base64 seed>" (standard alphabet, padding optional). Errors: errc::invalid_key, with
    /// a message that never echoes the key.
    static boost::system::result<signing_key> parse(std::string_view text);

    /// A new key from the OS CSPRNG. Throws std::runtime_error only when OpenSSL fails.
    static signing_key generate();

    /// The "whsk_..." text (secret: never log it).
    const std::string& text() const noexcept { return text_; }

    /// "whsk_abcd…": prefix plus the first 4 characters, for listings and logs.
    std::string masked() const;

    /// The matching public key, to hand to receivers.
    public_key to_public() const;

    /// The OpenSSL key (EVP_PKEY of type ED25519).
    EVP_PKEY* native() const noexcept { return key_.get(); }

private:
    signing_key() = default;

    std::shared_ptr<EVP_PKEY> key_;
    std::string text_;
};

/// An Ed25519 public key in Standard Webhooks form: "whpk_" + base64(32-byte key). Verifies `v1a` signatures.
/// Thread-safety: immutable; safe to use from several threads at once.
class public_key
{
public:
    /// Parses "whpk_<base64 key>". Errors: errc::invalid_key.
    static boost::system::result<public_key> parse(std::string_view text);

    /// The "whpk_..." text (public: may be shown and logged).
    const std::string& text() const noexcept { return text_; }

    EVP_PKEY* native() const noexcept { return key_.get(); }

private:
    friend class signing_key;
    public_key() = default;

    std::shared_ptr<EVP_PKEY> key_;
    std::string text_;
};

/// "v1,<base64 HMAC-SHA256(key, msg_id + '.' + timestamp + '.' + body)>" (Standard Webhooks v1.0.0).
/// Allocation-free apart from the returned string; HMAC runs on a per-thread reusable OpenSSL context.
/// Throws std::runtime_error only when OpenSSL itself fails (out of memory). Thread-safe.
std::string
sign_v1(const secret& key, std::string_view msg_id, std::int64_t timestamp, std::string_view body);

/// "v1a,<base64 Ed25519 signature of msg_id + '.' + timestamp + '.' + body>".
/// Throws std::runtime_error only when OpenSSL itself fails. Thread-safe.
std::string
sign_v1a(const signing_key& key, std::string_view msg_id, std::int64_t timestamp, std::string_view body);

/// The webhook-signature header value: one `v1,...` per secret (in the given order: put the newest first),
/// then one `v1a,...` per Ed25519 key, separated by single spaces. Empty when there are no keys.
/// Throws std::runtime_error only when OpenSSL itself fails. Thread-safe.
std::string signature_header(
    std::span<const secret> secrets,
    std::span<const signing_key> asymmetric,
    std::string_view msg_id,
    std::int64_t timestamp,
    std::string_view body
);

/// signature_header() with symmetric secrets only.
std::string signature_header(
    std::span<const secret> secrets, std::string_view msg_id, std::int64_t timestamp, std::string_view body
);

/// Verifies a received webhook the way a Standard Webhooks receiver does: every header present and
/// non-empty; webhook-timestamp an integer within `tolerance` of `now` (unix seconds) both ways; and at
/// least one `v1` entry of `signatures` equal (constant-time) to the HMAC of one of `secrets`, or one `v1a`
/// entry valid for one of `public_keys`. Unknown versions are skipped.
/// Errors: errc::missing_header, invalid_timestamp, timestamp_too_old, timestamp_too_new,
/// no_matching_signature. Thread-safe.
boost::system::error_code verify(
    std::span<const secret> secrets,
    std::span<const public_key> public_keys,
    std::string_view msg_id,
    std::string_view timestamp,
    std::string_view signatures,
    std::string_view body,
    std::int64_t now,
    std::chrono::seconds tolerance = default_tolerance
);

/// verify() against one symmetric secret.
boost::system::error_code verify(
    const secret& key,
    std::string_view msg_id,
    std::string_view timestamp,
    std::string_view signatures,
    std::string_view body,
    std::int64_t now,
    std::chrono::seconds tolerance = default_tolerance
);

/// The current time in unix seconds (system clock), for webhook-timestamp and verify().
std::int64_t unix_now() noexcept;

} // namespace relay::webhook
