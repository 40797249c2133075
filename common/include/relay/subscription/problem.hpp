#pragma once

#include <boost/system/result.hpp>

#include <string>
#include <vector>

namespace relay::subscription {

/// One thing wrong with a JSON document: where (an RFC 6901 JSON Pointer, "" for the whole document) and
/// what. Messages never echo secrets. Thread-safety: a value type.
struct problem
{
    std::string pointer; ///< e.g. "/headers/Host", "/0/url"; tokens escaped as RFC 6901 says (~0, ~1)
    std::string message; ///< e.g. "may not be set"

    /// "pointer: message" (or just the message when the pointer is empty), as shown to users.
    std::string to_string() const;

    friend bool operator==(const problem&, const problem&) = default;
};

/// Every problem found, in document order. Parsers report all of them at once rather than the first only.
using problem_list = std::vector<problem>;

/// The value, or every problem that prevented it.
template <class T>
using parse_result = boost::system::result<T, problem_list>;

/// Joins problems one per line with `to_string()`.
std::string to_string(const problem_list& problems);

/// Lets `parse_result<T>::value()` throw at start-up boundaries (config loading): throws
/// std::invalid_argument whose what() lists every problem, one per line.
[[noreturn]] void throw_exception_from_error(const problem_list& problems, const boost::source_location& loc);

} // namespace relay::subscription
