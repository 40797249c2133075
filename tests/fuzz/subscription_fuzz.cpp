// Fuzzes the subscription JSON codec (relay/subscription/codec.hpp) as the API (create requests) and the
// store (records of the compacted topic, static config arrays) use it. Input: the JSON text; its first byte
// also picks http allowed or not. Invariants: no exception escapes (problems are values); a rejected document
// has 1..max_problems+1 problems with non-empty messages; an accepted one satisfies the model's invariants,
// and to_json(full) parses back (as a stored record) to an equal subscription whose JSON is identical; masked
// JSON contains no secret.

#include "relay/subscription/codec.hpp"

#include "fuzz_support.hpp"

#include <string>

namespace {

namespace sub = relay::subscription;

void check_problems(const sub::problem_list& problems, const sub::parse_options& options)
{
    RELAY_FUZZ_CHECK(!problems.empty() && problems.size() <= options.max_problems + 1);
    for (const auto& p : problems)
        RELAY_FUZZ_CHECK(!p.message.empty() && (p.pointer.empty() || p.pointer.starts_with('/')));
}

void check_roundtrip(const sub::subscription& s, const sub::parse_options& options)
{
    RELAY_FUZZ_CHECK(sub::is_valid_id(s.id));
    RELAY_FUZZ_CHECK(!s.secrets.empty());
    RELAY_FUZZ_CHECK(
        s.timeout >= sub::subscription::min_timeout && s.timeout <= sub::subscription::max_timeout
    );
    RELAY_FUZZ_CHECK(s.max_in_flight >= 1 && s.max_in_flight <= sub::subscription::max_max_in_flight);
    RELAY_FUZZ_CHECK(s.endpoint.scheme == "https" || (options.allow_http && s.endpoint.scheme == "http"));
    RELAY_FUZZ_CHECK(!s.disabled_reason || !s.enabled);

    const auto full = sub::to_json(s, sub::secret_mode::full);
    sub::parse_options stored;
    stored.allow_http = options.allow_http;
    stored.id = sub::when_missing::require;
    stored.secrets = sub::when_missing::require;
    stored.accept_server_fields = true;
    auto back = sub::parse_subscription(full, stored);
    if (!back)
        std::fprintf(
            stderr, "to_json output rejected: %s\n%s\n", sub::to_string(back.error()).c_str(), full.c_str()
        );
    RELAY_FUZZ_CHECK(back.has_value());
    RELAY_FUZZ_CHECK(*back == s);
    RELAY_FUZZ_CHECK(sub::to_json(*back, sub::secret_mode::full) == full);

    const auto masked = sub::to_json(s, sub::secret_mode::masked);
    for (const auto& entry : s.secrets)
        RELAY_FUZZ_CHECK(masked.find(entry.secret.text) == std::string::npos);
    if (s.signing_key)
        RELAY_FUZZ_CHECK(masked.find(*s.signing_key) == std::string::npos);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto text = relay::fuzz::as_text(data, size);
    const bool allow_http = size > 0 && (data[0] & 1) != 0;

    // An API create request: id and secret generated when absent, server fields read-only.
    sub::parse_options api;
    api.allow_http = allow_http;
    api.accept_server_fields = false;
    if (auto s = sub::parse_subscription(text, api))
        check_roundtrip(*s, api);
    else
        check_problems(s.error(), api);

    // A stored record: nothing generated.
    sub::parse_options stored;
    stored.allow_http = allow_http;
    stored.id = sub::when_missing::require;
    stored.secrets = sub::when_missing::require;
    if (auto s = sub::parse_subscription(text, stored))
        check_roundtrip(*s, stored);
    else
        check_problems(s.error(), stored);

    // Static subscriptions: an array.
    if (auto list = sub::parse_subscriptions(text, stored)) {
        for (const auto& s : *list)
            check_roundtrip(s, stored);
    } else {
        check_problems(list.error(), stored);
    }
    return 0;
}
