#include "detail.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

namespace relay::webhook {
namespace {

const char* generic_message(int ev) noexcept
{
    switch (static_cast<errc>(ev)) {
    case errc::invalid_secret:
        return "invalid webhook secret";
    case errc::invalid_key:
        return "invalid webhook signing key";
    case errc::missing_header:
        return "missing webhook-id, webhook-timestamp or webhook-signature header";
    case errc::invalid_timestamp:
        return "webhook-timestamp is not a unix time in seconds";
    case errc::timestamp_too_old:
        return "webhook-timestamp is too old";
    case errc::timestamp_too_new:
        return "webhook-timestamp is too far in the future";
    case errc::no_matching_signature:
        return "no matching signature found";
    }
    return "unknown relay.webhook error";
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class webhook_category_impl final : public boost::system::error_category
{
public:
    constexpr webhook_category_impl() noexcept
        : boost::system::error_category(detail::webhook_category_id)
    {}
    const char* name() const noexcept override { return "relay.webhook"; }
    std::string message(int ev) const override { return generic_message(ev); }
    char const* message(int ev, char*, std::size_t) const noexcept override { return generic_message(ev); }
};
#pragma GCC diagnostic pop

constexpr std::array<signed char, 256> make_decode_table()
{
    std::array<signed char, 256> t{};
    for (auto& v : t) {
        v = -1;
    }
    constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (std::size_t i = 0; i < alphabet.size(); ++i) {
        t[static_cast<unsigned char>(alphabet[i])] = static_cast<signed char>(i);
    }
    return t;
}

constexpr auto decode_table = make_decode_table();

} // namespace

const boost::system::error_category& webhook_category() noexcept
{
    static const webhook_category_impl instance;
    return instance;
}

namespace detail {

const char* message_category::name() const noexcept
{
    return "relay.webhook";
}

std::string message_category::message(int ev) const
{
    return message_ ? std::string(message_) : std::string(generic_message(ev));
}

char const* message_category::message(int ev, char*, std::size_t) const noexcept
{
    return message_ ? message_ : generic_message(ev);
}

void append_base64(std::string& out, const unsigned char* in, std::size_t n)
{
    const std::size_t old = out.size();
    const std::size_t encoded = 4 * ((n + 2) / 3);
    // EVP_EncodeBlock writes a trailing NUL, which the resize below drops again.
    out.resize(old + encoded + 1);
    const int written =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + old), in, static_cast<int>(n));
    out.resize(old + static_cast<std::size_t>(written));
}

std::optional<std::vector<unsigned char>> decode_base64(std::string_view text)
{
    // Padding is optional, but a present one must complete the last quantum exactly.
    std::size_t pad = 0;
    while (!text.empty() && text.back() == '=' && pad < 2) {
        text.remove_suffix(1);
        ++pad;
    }
    if (pad > 0 && (text.size() + pad) % 4 != 0) {
        return std::nullopt;
    }
    if (text.size() % 4 == 1) {
        return std::nullopt;
    }
    std::vector<unsigned char> out;
    out.reserve(text.size() * 3 / 4);
    std::uint32_t acc = 0;
    int bits = 0;
    for (const char c : text) {
        const int v = decode_table[static_cast<unsigned char>(c)];
        if (v < 0) {
            return std::nullopt;
        }
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<unsigned char>((acc >> bits) & 0xff));
        }
    }
    // Leftover bits must be zero, so every byte string has exactly one accepted encoding.
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
        return std::nullopt;
    }
    return out;
}

void random_bytes(unsigned char* out, std::size_t n)
{
    if (RAND_bytes(out, static_cast<int>(n)) != 1) {
        throw std::runtime_error("OpenSSL RAND_bytes failed: no randomness for a new key");
    }
}

} // namespace detail
} // namespace relay::webhook
