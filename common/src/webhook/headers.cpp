#include "relay/webhook/headers.hpp"

#include <algorithm>
#include <array>

namespace relay::webhook {
namespace {

constexpr std::size_t max_name_length = 256;
constexpr std::size_t max_value_length = 8192;

char lower(char c) noexcept
{
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept
{
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

bool istarts_with(std::string_view s, std::string_view prefix) noexcept
{
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// Headers Relay writes itself or that change how the message is framed or routed: a subscription overriding
// them would break delivery, request smuggling defences, or the signature.
constexpr std::array<std::string_view, 13> reserved_names{
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "content-type",
    "user-agent",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
    "expect",
    "content-encoding",
};

} // namespace

bool is_token(std::string_view name) noexcept
{
    if (name.empty()) {
        return false;
    }
    return std::all_of(name.begin(), name.end(), [](char c) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
            return true;
        }
        constexpr std::string_view specials = "!#$%&'*+-.^_`|~";
        return specials.find(c) != std::string_view::npos;
    });
}

std::string validate_custom_header(std::string_view name, std::string_view value)
{
    // Never echo the value: custom headers often carry credentials.
    if (name.size() > max_name_length) {
        return "header name is longer than 256 characters";
    }
    if (!is_token(name)) {
        return "header name must be a non-empty RFC 9110 token (letters, digits and !#$%&'*+-.^_`|~)";
    }
    for (const auto reserved : reserved_names) {
        if (iequals(name, reserved)) {
            return "header \"" + std::string(name) + "\" is set by Relay and cannot be configured";
        }
    }
    if (istarts_with(name, "webhook-")) {
        return "header \"" + std::string(name) + "\": webhook-* headers are set by Relay (Standard Webhooks)";
    }
    if (istarts_with(name, "ce-")) {
        return "header \"" + std::string(name) + "\": ce-* headers are set by Relay (CloudEvents binding)";
    }
    if (value.size() > max_value_length) {
        return "value of header \"" + std::string(name) + "\" is longer than 8192 bytes";
    }
    for (const char ch : value) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '\r' || c == '\n' || c == '\0') {
            return "value of header \"" + std::string(name) + "\" contains CR, LF or NUL";
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return "value of header \"" + std::string(name) + "\" contains a control character";
        }
    }
    return {};
}

} // namespace relay::webhook
