#include "error_detail.hpp"

#include <cstdio>
#include <string>

namespace relay::net {
namespace {

const char* generic_message(int ev) noexcept
{
    switch (static_cast<errc>(ev)) {
    case errc::address_blocked:
        return "destination address is not allowed by the address policy";
    case errc::invalid_url:
        return "invalid URL";
    case errc::invalid_cidr:
        return "invalid CIDR";
    }
    return "unknown relay.net error";
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class net_category_impl final : public boost::system::error_category
{
public:
    constexpr net_category_impl() noexcept
        : boost::system::error_category(detail::net_category_id)
    {}
    const char* name() const noexcept override { return "relay.net"; }
    std::string message(int ev) const override { return generic_message(ev); }
    char const* message(int ev, char*, std::size_t) const noexcept override { return generic_message(ev); }
};
#pragma GCC diagnostic pop

} // namespace

const boost::system::error_category& net_category() noexcept
{
    static const net_category_impl instance;
    return instance;
}

namespace detail {

const char* message_category::name() const noexcept
{
    return "relay.net";
}

std::string message_category::message(int ev) const
{
    return message_ ? std::string(message_) : std::string(generic_message(ev));
}

char const* message_category::message(int ev, char*, std::size_t) const noexcept
{
    return message_ ? message_ : generic_message(ev);
}

} // namespace detail
} // namespace relay::net
