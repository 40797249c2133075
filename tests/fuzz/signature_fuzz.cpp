// Fuzzes Standard Webhooks key parsing, signing and verification (relay/webhook/*) and the custom header
// rules. Input lines: key text ("whsec_...", "whsk_..." or "whpk_..."), webhook-id, webhook-timestamp,
// webhook-signature, then the body (the rest).
// Invariants: no exception escapes the parsers and verify() (errors are values); a parsed key re-parses from
// its own text to the same key, its masked form does not reveal it; sign -> verify succeeds for any id/body,
// and fails once the body changes; verify of arbitrary headers returns success or a webhook errc; an accepted
// custom header is a token without CR/LF/NUL and not one Relay sets itself.

#include "relay/webhook/headers.hpp"
#include "relay/webhook/secret.hpp"
#include "relay/webhook/signing.hpp"

#include "fuzz_support.hpp"

#include <array>
#include <string>
#include <strings.h>

namespace {

namespace wh = relay::webhook;

constexpr std::int64_t now = 1'700'000'000;

bool is_webhook_error(const boost::system::error_code& ec)
{
    return !ec || (ec.category() == wh::webhook_category() && ec.value() >= 1 && ec.value() <= 7);
}

bool istarts_with(std::string_view s, std::string_view prefix)
{
    return s.size() >= prefix.size() && ::strncasecmp(s.data(), prefix.data(), prefix.size()) == 0;
}

bool iequals(std::string_view a, std::string_view b)
{
    return a.size() == b.size() && istarts_with(a, b);
}

// The fixed secret the fuzzed headers are verified against when the key line is not a usable secret.
const wh::secret& fallback_secret()
{
    static const wh::secret s = wh::parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").value();
    return s;
}

void check_secret(const wh::secret& s, std::string_view id, std::string_view body)
{
    RELAY_FUZZ_CHECK(s.key.size() >= 24 && s.key.size() <= 64);
    auto again = wh::parse_secret(s.text);
    RELAY_FUZZ_CHECK(again && again->key == s.key);
    const auto masked = s.masked();
    RELAY_FUZZ_CHECK(masked.starts_with("whsec_") && masked.find(s.text) == std::string::npos);

    const auto sig = wh::sign_v1(s, id, now, body);
    RELAY_FUZZ_CHECK(sig.starts_with("v1,"));
    const auto ts = std::to_string(now);
    if (id.empty()) {
        RELAY_FUZZ_CHECK(wh::verify(s, id, ts, sig, body, now) == wh::errc::missing_header);
        return;
    }
    RELAY_FUZZ_CHECK(!wh::verify(s, id, ts, sig, body, now));
    const std::string tampered = std::string(body) + "x";
    RELAY_FUZZ_CHECK(wh::verify(s, id, ts, sig, tampered, now) == wh::errc::no_matching_signature);
    const std::array<wh::secret, 2> both{fallback_secret(), s};
    const auto header = wh::signature_header(both, id, now, body);
    RELAY_FUZZ_CHECK(!wh::verify(s, id, ts, header, body, now));
    RELAY_FUZZ_CHECK(!wh::verify(fallback_secret(), id, ts, header, body, now));
}

void check_signing_key(const wh::signing_key& k, std::string_view id, std::string_view body)
{
    auto again = wh::signing_key::parse(k.text());
    RELAY_FUZZ_CHECK(again.has_value());
    RELAY_FUZZ_CHECK(k.masked().find(k.text()) == std::string::npos);
    const auto pub = k.to_public();
    RELAY_FUZZ_CHECK(wh::public_key::parse(pub.text()).has_value());
    if (id.empty())
        return;
    const auto sig = wh::sign_v1a(k, id, now, body);
    RELAY_FUZZ_CHECK(sig.starts_with("v1a,"));
    const std::array<wh::public_key, 1> keys{pub};
    const auto ts = std::to_string(now);
    RELAY_FUZZ_CHECK(!wh::verify({}, keys, id, ts, sig, body, now));
    RELAY_FUZZ_CHECK(
        wh::verify({}, keys, id, ts, sig, std::string(body) + "x", now) == wh::errc::no_matching_signature
    );
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    relay::fuzz::fields in(relay::fuzz::as_text(data, size));
    const auto key_text = in.next();
    const auto id = in.next();
    const auto timestamp = in.next();
    const auto signatures = in.next();
    const auto body = in.rest();

    auto secret = wh::parse_secret(key_text);
    if (secret) {
        check_secret(*secret, id, body);
    } else {
        RELAY_FUZZ_CHECK(secret.error() == wh::errc::invalid_secret);
    }
    if (auto sk = wh::signing_key::parse(key_text)) {
        check_signing_key(*sk, id, body);
    } else {
        RELAY_FUZZ_CHECK(sk.error() == wh::errc::invalid_key);
    }
    auto pk = wh::public_key::parse(key_text);
    RELAY_FUZZ_CHECK(pk || pk.error() == wh::errc::invalid_key);

    // Arbitrary received headers: a value, never an exception.
    const auto& verify_secret = secret ? *secret : fallback_secret();
    const std::array<wh::secret, 1> secrets{verify_secret};
    std::vector<wh::public_key> public_keys;
    if (pk)
        public_keys.push_back(*pk);
    const auto ec = wh::verify(secrets, public_keys, id, timestamp, signatures, body, now);
    RELAY_FUZZ_CHECK(is_webhook_error(ec));
    RELAY_FUZZ_CHECK(is_webhook_error(wh::verify(verify_secret, id, timestamp, signatures, body, now)));

    // Custom header rules, the id line as the name and the signature line as the value.
    const auto problem = wh::validate_custom_header(id, signatures);
    if (problem.empty()) {
        RELAY_FUZZ_CHECK(wh::is_token(id) && id.size() <= 256);
        RELAY_FUZZ_CHECK(signatures.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos);
        RELAY_FUZZ_CHECK(signatures.size() <= 8 * 1024);
        for (std::string_view reserved : {"host", "content-length", "transfer-encoding", "connection"})
            RELAY_FUZZ_CHECK(!iequals(id, reserved));
        RELAY_FUZZ_CHECK(!istarts_with(id, "webhook-") && !istarts_with(id, "ce-"));
    }
    return 0;
}
