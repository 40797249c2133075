#pragma once

#include "relay/webhook/error.hpp"

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relay::webhook::detail {

// Boost's error_category has a protected non-virtual destructor by design (categories are never deleted
// through a base pointer); GCC's -Wnon-virtual-dtor flags every derived category anyway.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"

/// A category equal to webhook_category() (same id) with a fixed, more specific message: an error_code made
/// from it still equals `errc::...`, but `message()` says exactly what is wrong.
class message_category final : public boost::system::error_category
{
public:
    explicit constexpr message_category(const char* message) noexcept;

    const char* name() const noexcept override;
    std::string message(int ev) const override;
    char const* message(int ev, char* buffer, std::size_t len) const noexcept override;

private:
    const char* message_;
};

#pragma GCC diagnostic pop

inline constexpr unsigned long long webhook_category_id = 0x5d2e7a91c4b3f068ULL;

constexpr message_category::message_category(const char* message) noexcept
    : boost::system::error_category(webhook_category_id)
    , message_(message)
{}

inline boost::system::error_code make_error(errc e, const message_category& detail) noexcept
{
    return {static_cast<int>(e), detail};
}

/// Standard base64 (with padding) of `in`, appended to `out`.
void append_base64(std::string& out, const unsigned char* in, std::size_t n);

/// Decodes standard-alphabet base64; padding optional, but when present it must be right. No whitespace.
std::optional<std::vector<unsigned char>> decode_base64(std::string_view text);

/// Bytes from the OS CSPRNG. Throws std::runtime_error when OpenSSL cannot provide them.
void random_bytes(unsigned char* out, std::size_t n);

} // namespace relay::webhook::detail
