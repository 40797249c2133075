#include "relay/webhook/signing.hpp"

#include "detail.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <stdexcept>
#include <vector>

namespace relay::webhook {
namespace {

using detail::message_category;

constexpr std::string_view private_prefix = "whsk_";
constexpr std::string_view public_prefix = "whpk_";
constexpr std::size_t ed25519_key_bytes = 32;
constexpr std::size_t ed25519_signature_bytes = 64;
constexpr std::size_t hmac_bytes = 32;
constexpr std::size_t v1_length = 3 + 44;  // "v1," + base64(32 bytes)
constexpr std::size_t v1a_length = 4 + 88; // "v1a," + base64(64 bytes)

constexpr message_category e_private_prefix{"invalid signing key: must start with \"whsk_\""};
constexpr message_category e_public_prefix{"invalid public key: must start with \"whpk_\""};
constexpr message_category e_key_base64{"invalid Ed25519 key: the part after the prefix is not valid base64"};
constexpr message_category e_key_length{"invalid Ed25519 key: the decoded key must be 32 bytes long"};
constexpr message_category e_key_openssl{"invalid Ed25519 key: OpenSSL refused it"};

constexpr message_category e_missing{"missing or empty webhook-id, webhook-timestamp or webhook-signature"};
constexpr message_category e_timestamp{"webhook-timestamp is not an integer number of unix seconds"};

template <auto Free>
struct c_deleter
{
    template <class T>
    void operator()(T* p) const noexcept
    {
        Free(p);
    }
};
using mac_ctx_ptr = std::unique_ptr<EVP_MAC_CTX, c_deleter<&EVP_MAC_CTX_free>>;
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, c_deleter<&EVP_MD_CTX_free>>;

std::shared_ptr<EVP_PKEY> own(EVP_PKEY* key)
{
    return {key, &EVP_PKEY_free};
}

[[noreturn]] void openssl_failure(const char* what)
{
    throw std::runtime_error(std::string("OpenSSL: ") + what);
}

// The decimal timestamp as signed: "{id}.{timestamp}.{body}".
struct timestamp_text
{
    std::array<char, 24> buf;
    std::size_t size;

    explicit timestamp_text(std::int64_t ts) noexcept
    {
        const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), ts);
        size = static_cast<std::size_t>(r.ptr - buf.data());
    }
    std::string_view view() const noexcept { return {buf.data(), size}; }
};

// EVP_MAC (HMAC) is fetched once; each thread keeps one context whose digest is set once and whose key is
// replaced per signature, so the hot path neither fetches algorithms nor allocates.
EVP_MAC* hmac_algorithm()
{
    static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (!mac) {
        openssl_failure("HMAC is not available");
    }
    return mac;
}

EVP_MAC_CTX* thread_hmac_context()
{
    thread_local mac_ctx_ptr ctx;
    if (!ctx) {
        mac_ctx_ptr fresh(EVP_MAC_CTX_new(hmac_algorithm()));
        if (!fresh) {
            openssl_failure("EVP_MAC_CTX_new failed");
        }
        char digest[] = "SHA256";
        const OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
            OSSL_PARAM_construct_end(),
        };
        if (EVP_MAC_CTX_set_params(fresh.get(), params) != 1) {
            openssl_failure("cannot select SHA-256 for HMAC");
        }
        ctx = std::move(fresh);
    }
    return ctx.get();
}

std::array<unsigned char, hmac_bytes>
hmac_v1(const secret& key, std::string_view msg_id, std::int64_t timestamp, std::string_view body)
{
    EVP_MAC_CTX* ctx = thread_hmac_context();
    const timestamp_text ts(timestamp);
    const auto update = [ctx](std::string_view part) {
        return EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(part.data()), part.size()) == 1;
    };
    std::array<unsigned char, hmac_bytes> out{};
    std::size_t out_len = 0;
    if (EVP_MAC_init(ctx, key.key.data(), key.key.size(), nullptr) != 1 || !update(msg_id) || !update(".") ||
        !update(ts.view()) || !update(".") || !update(body) ||
        EVP_MAC_final(ctx, out.data(), &out_len, out.size()) != 1 || out_len != hmac_bytes) {
        openssl_failure("HMAC-SHA256 failed");
    }
    return out;
}

void append_v1(
    std::string& out, const secret& key, std::string_view msg_id, std::int64_t ts, std::string_view body
)
{
    const auto mac = hmac_v1(key, msg_id, ts, body);
    out += "v1,";
    detail::append_base64(out, mac.data(), mac.size());
}

EVP_MD_CTX* thread_md_context()
{
    thread_local md_ctx_ptr ctx;
    if (!ctx) {
        ctx.reset(EVP_MD_CTX_new());
        if (!ctx) {
            openssl_failure("EVP_MD_CTX_new failed");
        }
    }
    return ctx.get();
}

// Ed25519 signs the whole message in one pass (no streaming), so it is assembled in a per-thread buffer.
std::string_view signed_content(std::string_view msg_id, std::int64_t timestamp, std::string_view body)
{
    thread_local std::string buffer;
    const timestamp_text ts(timestamp);
    buffer.clear();
    buffer.reserve(msg_id.size() + ts.size + body.size() + 2);
    buffer.append(msg_id).append(1, '.').append(ts.view()).append(1, '.').append(body);
    return buffer;
}

void append_v1a(
    std::string& out, const signing_key& key, std::string_view msg_id, std::int64_t ts, std::string_view body
)
{
    const auto content = signed_content(msg_id, ts, body);
    EVP_MD_CTX* ctx = thread_md_context();
    std::array<unsigned char, ed25519_signature_bytes> sig{};
    std::size_t sig_len = sig.size();
    const bool ok =
        EVP_MD_CTX_reset(ctx) == 1 && EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key.native()) == 1 &&
        EVP_DigestSign(
            ctx, sig.data(), &sig_len, reinterpret_cast<const unsigned char*>(content.data()), content.size()
        ) == 1 &&
        sig_len == sig.size();
    if (!ok) {
        openssl_failure("Ed25519 signing failed");
    }
    out += "v1a,";
    detail::append_base64(out, sig.data(), sig.size());
}

bool verify_v1a(
    const public_key& key, std::string_view content, const std::vector<unsigned char>& sig
) noexcept
{
    EVP_MD_CTX* ctx = nullptr;
    try {
        ctx = thread_md_context();
    } catch (const std::exception&) {
        return false;
    }
    return EVP_MD_CTX_reset(ctx) == 1 &&
           EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key.native()) == 1 &&
           EVP_DigestVerify(
               ctx,
               sig.data(),
               sig.size(),
               reinterpret_cast<const unsigned char*>(content.data()),
               content.size()
           ) == 1;
}

std::string mask(std::string_view prefix, const std::string& text)
{
    std::string out(prefix);
    if (text.size() > prefix.size()) {
        out.append(text, prefix.size(), 4);
    }
    out += "\u2026";
    return out;
}

boost::system::result<std::vector<unsigned char>>
decode_key(std::string_view text, std::string_view prefix, const message_category& prefix_error)
{
    if (text.substr(0, prefix.size()) != prefix) {
        return detail::make_error(errc::invalid_key, prefix_error);
    }
    const auto encoded = text.substr(prefix.size());
    if (encoded.size() > 44) {
        return detail::make_error(errc::invalid_key, e_key_length);
    }
    auto bytes = detail::decode_base64(encoded);
    if (!bytes) {
        return detail::make_error(errc::invalid_key, e_key_base64);
    }
    if (bytes->size() != ed25519_key_bytes) {
        return detail::make_error(errc::invalid_key, e_key_length);
    }
    return std::move(*bytes);
}

std::optional<std::int64_t> parse_timestamp(std::string_view text) noexcept
{
    if (text.empty() || text.size() > 18 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    std::int64_t value = 0;
    std::from_chars(text.data(), text.data() + text.size(), value);
    return value;
}

} // namespace

boost::system::result<signing_key> signing_key::parse(std::string_view text)
{
    auto seed = decode_key(text, private_prefix, e_private_prefix);
    if (!seed) {
        return seed.error();
    }
    EVP_PKEY* raw = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed->data(), seed->size());
    OPENSSL_cleanse(seed->data(), seed->size());
    if (!raw) {
        return detail::make_error(errc::invalid_key, e_key_openssl);
    }
    signing_key k;
    k.key_ = own(raw);
    k.text_ = std::string(text);
    return k;
}

signing_key signing_key::generate()
{
    std::array<unsigned char, ed25519_key_bytes> seed{};
    detail::random_bytes(seed.data(), seed.size());
    EVP_PKEY* raw = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size());
    if (!raw) {
        OPENSSL_cleanse(seed.data(), seed.size());
        openssl_failure("cannot create an Ed25519 key");
    }
    signing_key k;
    k.key_ = own(raw);
    k.text_.assign(private_prefix);
    detail::append_base64(k.text_, seed.data(), seed.size());
    OPENSSL_cleanse(seed.data(), seed.size());
    return k;
}

std::string signing_key::masked() const
{
    return mask(private_prefix, text_);
}

public_key signing_key::to_public() const
{
    std::array<unsigned char, ed25519_key_bytes> bytes{};
    std::size_t len = bytes.size();
    if (EVP_PKEY_get_raw_public_key(key_.get(), bytes.data(), &len) != 1 || len != bytes.size()) {
        openssl_failure("cannot read the Ed25519 public key");
    }
    EVP_PKEY* raw = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, bytes.data(), bytes.size());
    if (!raw) {
        openssl_failure("cannot create an Ed25519 public key");
    }
    public_key p;
    p.key_ = own(raw);
    p.text_.assign(public_prefix);
    detail::append_base64(p.text_, bytes.data(), bytes.size());
    return p;
}

boost::system::result<public_key> public_key::parse(std::string_view text)
{
    auto bytes = decode_key(text, public_prefix, e_public_prefix);
    if (!bytes) {
        return bytes.error();
    }
    EVP_PKEY* raw = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, bytes->data(), bytes->size());
    if (!raw) {
        return detail::make_error(errc::invalid_key, e_key_openssl);
    }
    public_key p;
    p.key_ = own(raw);
    p.text_ = std::string(text);
    return p;
}

std::string sign_v1(const secret& key, std::string_view msg_id, std::int64_t timestamp, std::string_view body)
{
    std::string out;
    out.reserve(v1_length + 1);
    append_v1(out, key, msg_id, timestamp, body);
    return out;
}

std::string
sign_v1a(const signing_key& key, std::string_view msg_id, std::int64_t timestamp, std::string_view body)
{
    std::string out;
    out.reserve(v1a_length + 1);
    append_v1a(out, key, msg_id, timestamp, body);
    return out;
}

std::string signature_header(
    std::span<const secret> secrets,
    std::span<const signing_key> asymmetric,
    std::string_view msg_id,
    std::int64_t timestamp,
    std::string_view body
)
{
    std::string out;
    // +1 per entry for the separator, +1 for EVP_EncodeBlock's NUL on the last one.
    out.reserve(secrets.size() * (v1_length + 1) + asymmetric.size() * (v1a_length + 1) + 1);
    for (const auto& s : secrets) {
        if (!out.empty()) {
            out += ' ';
        }
        append_v1(out, s, msg_id, timestamp, body);
    }
    for (const auto& k : asymmetric) {
        if (!out.empty()) {
            out += ' ';
        }
        append_v1a(out, k, msg_id, timestamp, body);
    }
    return out;
}

std::string signature_header(
    std::span<const secret> secrets, std::string_view msg_id, std::int64_t timestamp, std::string_view body
)
{
    return signature_header(secrets, {}, msg_id, timestamp, body);
}

boost::system::error_code verify(
    std::span<const secret> secrets,
    std::span<const public_key> public_keys,
    std::string_view msg_id,
    std::string_view timestamp,
    std::string_view signatures,
    std::string_view body,
    std::int64_t now,
    std::chrono::seconds tolerance
)
{
    if (msg_id.empty() || timestamp.empty() || signatures.empty()) {
        return detail::make_error(errc::missing_header, e_missing);
    }
    const auto ts = parse_timestamp(timestamp);
    if (!ts) {
        return detail::make_error(errc::invalid_timestamp, e_timestamp);
    }
    if (now - *ts > tolerance.count()) {
        return errc::timestamp_too_old;
    }
    if (*ts - now > tolerance.count()) {
        return errc::timestamp_too_new;
    }

    // Expected v1 values are computed once per secret, then every offered entry is compared in constant time.
    std::vector<std::string> expected;
    expected.reserve(secrets.size());
    for (const auto& s : secrets) {
        std::string v;
        v.reserve(v1_length + 1);
        append_v1(v, s, msg_id, *ts, body);
        expected.push_back(std::move(v));
    }
    std::string_view content;
    bool content_ready = false;

    std::string_view rest = signatures;
    while (!rest.empty()) {
        const auto space = rest.find(' ');
        const auto entry = rest.substr(0, space);
        rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
        const auto comma = entry.find(',');
        if (comma == std::string_view::npos) {
            continue;
        }
        const auto version = entry.substr(0, comma);
        if (version == "v1") {
            for (const auto& e : expected) {
                if (e.size() == entry.size() && CRYPTO_memcmp(e.data(), entry.data(), e.size()) == 0) {
                    return {};
                }
            }
        } else if (version == "v1a" && !public_keys.empty()) {
            const auto sig = detail::decode_base64(entry.substr(comma + 1));
            if (!sig || sig->size() != ed25519_signature_bytes) {
                continue;
            }
            if (!content_ready) {
                content = signed_content(msg_id, *ts, body);
                content_ready = true;
            }
            for (const auto& k : public_keys) {
                if (verify_v1a(k, content, *sig)) {
                    return {};
                }
            }
        }
    }
    return errc::no_matching_signature;
}

boost::system::error_code verify(
    const secret& key,
    std::string_view msg_id,
    std::string_view timestamp,
    std::string_view signatures,
    std::string_view body,
    std::int64_t now,
    std::chrono::seconds tolerance
)
{
    return verify(std::span(&key, 1), {}, msg_id, timestamp, signatures, body, now, tolerance);
}

std::int64_t unix_now() noexcept
{
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch(
                                                            ))
        .count();
}

} // namespace relay::webhook
