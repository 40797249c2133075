#include "relay/webhook/secret.hpp"

#include "detail.hpp"

namespace relay::webhook {
namespace {

using detail::message_category;

constexpr std::string_view prefix = "whsec_";
constexpr std::size_t min_key_bytes = 24;
constexpr std::size_t max_key_bytes = 64;
constexpr std::size_t generated_key_bytes = 32;

constexpr message_category e_prefix{"invalid webhook secret: must start with \"whsec_\""};
constexpr message_category e_base64{"invalid webhook secret: the part after \"whsec_\" is not valid base64 "
                                    "(standard alphabet, no whitespace)"};
constexpr message_category e_length{"invalid webhook secret: the decoded key must be 24 to 64 bytes long"};

} // namespace

std::string secret::masked() const
{
    std::string out(prefix);
    if (text.size() > prefix.size()) {
        out.append(text, prefix.size(), 4);
    }
    out += "\u2026";
    return out;
}

boost::system::result<secret> parse_secret(std::string_view text)
{
    if (text.substr(0, prefix.size()) != prefix) {
        return detail::make_error(errc::invalid_secret, e_prefix);
    }
    // A key of more than 64 bytes never fits, so the base64 length bounds the work done on hostile input.
    const auto encoded = text.substr(prefix.size());
    if (encoded.size() > 4 * ((max_key_bytes + 2) / 3)) {
        return detail::make_error(errc::invalid_secret, e_length);
    }
    auto key = detail::decode_base64(encoded);
    if (!key) {
        return detail::make_error(errc::invalid_secret, e_base64);
    }
    if (key->size() < min_key_bytes || key->size() > max_key_bytes) {
        return detail::make_error(errc::invalid_secret, e_length);
    }
    return secret{std::move(*key), std::string(text)};
}

secret generate_secret()
{
    secret s;
    s.key.resize(generated_key_bytes);
    detail::random_bytes(s.key.data(), s.key.size());
    s.text.assign(prefix);
    detail::append_base64(s.text, s.key.data(), s.key.size());
    return s;
}

} // namespace relay::webhook
