#pragma once

#include <string>
#include <string_view>

namespace relay::webhook {

/// Checks a custom header a subscription asks to send. Returns an empty string when acceptable, otherwise a
/// message saying what is wrong (it may quote the name, never the value). Rules (design.md section 5): the
/// name is an RFC 9110 token of at most 256 characters; the value has no CR, LF or NUL (other control
/// characters except HTAB are refused too) and at most 8 KiB; the name is not Host, Content-Length,
/// Transfer-Encoding, Connection, Content-Type, User-Agent or any `webhook-*` header (case-insensitive),
/// which Relay sets itself. Also refused, because they change framing or the meaning of the signed body:
/// Keep-Alive, Upgrade, TE, Trailer, Proxy-Connection, Expect, Content-Encoding, and `ce-*` (the
/// CloudEvents binding's headers, which Relay sets).
std::string validate_custom_header(std::string_view name, std::string_view value);

/// True when `name` is an RFC 9110 token (1*tchar).
bool is_token(std::string_view name) noexcept;

} // namespace relay::webhook
