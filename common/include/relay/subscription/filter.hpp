#pragma once

#include "relay/subscription/problem.hpp"

#include <rapidjson/document.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace relay::subscription {

/// Bounds on what a filter may contain (its input is untrusted).
struct filter_limits
{
    std::size_t max_conditions = 256;   ///< conditions (path/operator pairs) in the whole filter
    std::size_t max_depth = 8;          ///< nesting of `any` groups
    std::size_t max_path_segments = 32; ///< segments of one path
    std::size_t max_set_size = 1024;    ///< values of one `in`/`nin` array
    std::size_t max_string = 1024;      ///< bytes of one path or string literal
};

/// A payload filter: selects events by their content. The language, a JSON object:
///
/// ```json
/// {"data.currency": "EUR",                              // equality (type-strict)
///  "data.amount":   {"gte": 100, "lt": 10000},          // operators, all must hold
///  "data.items.0.sku": {"prefix": "SKU-"},               // array index by a digit segment
///  "any": [{"data.country": "DE"}, {"data.vip": true}]}  // OR of filters
/// ```
///
/// Every key but `any` is a *path* into the event JSON (the whole envelope: `type`, `source`, `data...`) and
/// its value a *condition* on what the path points to. All keys of an object must hold (AND).
///
/// Paths:
/// - dotted: `data.customer.id`. A segment of digits indexes an array when the value there is an array, and
///   names an object member otherwise (`data.items.0.sku`). Empty segments are refused.
/// - JSON Pointer (RFC 6901) when the key starts with `/`: `/data/a.b`, `/data/x~1y`, `/any`. Use it for
/// member
///   names containing `.`, and for a top-level event member literally named `any`.
///
/// Conditions:
/// - a literal string, number, boolean or null: equality. Type-strict: "1" does not equal 1, true does not
///   equal 1, null equals only null. Numbers compare by value (1 equals 1.0). Array or object literals are
///   refused (use `in` for one-of).
/// - an operator object with one or more of these operators, all of which must hold:
///   - `eq`, `ne`: a scalar literal. `ne` is the negation of `eq`, so it also holds when the path is missing.
///   - `in`, `nin`: a non-empty array of scalar literals; equal to one of / to none of them. `nin` also holds
///     when the path is missing.
///   - `exists`: a boolean. true: the path is present (a null value is present); false: it is absent.
///   - `gt`, `gte`, `lt`, `lte`: a number; holds only when the value is a number that compares so.
///   - `prefix`: a string; holds only when the value is a string starting with it (byte-wise).
///
/// OR: `"any": [filter, ...]` (a non-empty array of filter objects) holds when at least one of them holds. It
/// may appear in any filter object next to other keys (it is ANDed with them) and may nest. An empty filter
/// `{}` matches every event.
///
/// Evaluation walks the event in place: it never allocates, never throws, and is safe to run from any number
/// of threads at once. A filter is immutable and cheap to copy (copies share the compiled form).
class filter
{
public:
    /// Compiles a filter from its JSON value. `pointer` prefixes problem pointers (e.g. "/filter").
    /// Errors: every problem found (bad operator, wrong operand type, bad path, limits exceeded).
    static parse_result<filter>
    parse(const rapidjson::Value& json, std::string_view pointer = "", const filter_limits& limits = {});

    /// Compiles a filter from JSON text (parsed with a depth cap; at most 64 KiB).
    static parse_result<filter> parse(std::string_view json_text, const filter_limits& limits = {});

    /// True when `event` (the whole event JSON) satisfies the filter.
    bool matches(const rapidjson::Value& event) const noexcept;

    /// The filter as compact JSON text (the input re-serialized: stable, used to store and compare it).
    const std::string& json() const noexcept;

    /// Filters are equal when their JSON texts are.
    friend bool operator==(const filter& a, const filter& b) noexcept { return a.json() == b.json(); }

private:
    struct impl;
    explicit filter(std::shared_ptr<const impl> p) noexcept
        : impl_(std::move(p))
    {}
    std::shared_ptr<const impl> impl_;
};

} // namespace relay::subscription
