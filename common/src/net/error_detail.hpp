#pragma once

#include "relay/net/address_policy.hpp"

#include <boost/system/error_code.hpp>

namespace relay::net::detail {

// Boost's error_category has a protected non-virtual destructor by design (categories are never deleted
// through a base pointer); GCC's -Wnon-virtual-dtor flags every derived category anyway.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"

/// A category that compares equal to net_category() (same id) but whose message is a fixed, more specific
/// text. An error_code built from it still equals `errc::...`, yet `message()` says exactly what is wrong.
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

/// The id net_category() and every message_category share.
inline constexpr unsigned long long net_category_id = 0x8f1c3a5e2d6b4790ULL;

constexpr message_category::message_category(const char* message) noexcept
    : boost::system::error_category(net_category_id)
    , message_(message)
{}

inline boost::system::error_code make_error(errc e, const message_category& detail) noexcept
{
    return {static_cast<int>(e), detail};
}

} // namespace relay::net::detail
