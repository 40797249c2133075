#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace relay::subscription::detail {

/// Parses untrusted JSON text into `doc`: explicit length, UTF-8 validated, full-precision numbers, no
/// recursion (iterative parser), nesting capped at `max_depth`. Returns an empty string on success, otherwise
/// a message saying what is wrong and where (byte offset).
std::string parse_bounded(std::string_view text, std::size_t max_depth, rapidjson::Document& doc);

/// Appends "/" and `token` escaped as RFC 6901 says (~ as ~0, / as ~1) to `pointer`.
std::string child_pointer(std::string_view pointer, std::string_view token);

/// Appends "/" and the index.
std::string child_pointer(std::string_view pointer, std::size_t index);

} // namespace relay::subscription::detail
