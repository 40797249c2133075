#include "bounded_json.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <system_error>

namespace relay::subscription::detail {
namespace {

/// True when the magnitude of the JSON number `t` (already validated by the reader) is at least 1, i.e. when
/// a conversion that is out of range overflowed rather than underflowed.
bool magnitude_at_least_one(std::string_view t)
{
    if (t.starts_with('-'))
        t.remove_prefix(1);
    const auto e = t.find_first_of("eE");
    std::int64_t exponent = 0;
    if (e != std::string_view::npos) {
        auto digits = t.substr(e + 1);
        const bool negative = digits.starts_with('-');
        if (digits.starts_with('-') || digits.starts_with('+'))
            digits.remove_prefix(1);
        // Saturate: any exponent beyond a few thousand decides the outcome by its sign alone.
        for (const char c : digits)
            exponent = std::min<std::int64_t>(exponent * 10 + (c - '0'), 1'000'000'000);
        exponent = negative ? -exponent : exponent;
        t = t.substr(0, e);
    }
    const auto dot = std::min(t.find('.'), t.size());
    const auto first = t.find_first_not_of("0.");
    if (first == std::string_view::npos)
        return false; // zero
    // Decimal exponent of the first significant digit.
    const auto lead =
        first < dot ? static_cast<std::int64_t>(dot - first - 1) : -static_cast<std::int64_t>(first - dot);
    return lead + exponent >= 0;
}

// Forwards SAX events to the document while counting nesting, so deep input fails fast instead of growing.
// Numbers arrive as text (kParseNumbersAsStringsFlag) and are converted here: RapidJSON 1.1.0's
// full-precision conversion turns a zero significand with a large exponent ("0e58") into garbage (8e31)
// through undefined behaviour (__builtin_clzll(0) in DiyFp::Normalize); std::from_chars is exact and
// correctly rounded. The value types match what RapidJSON itself would choose (Int, Uint, Int64, Uint64, else
// Double).
class depth_limiter
{
public:
    depth_limiter(rapidjson::Document& doc, std::size_t max_depth, const rapidjson::MemoryStream& stream)
        : doc_(doc)
        , max_depth_(max_depth)
        , stream_(stream)
    {}

    bool Null() { return doc_.Null(); }
    bool Bool(bool b) { return doc_.Bool(b); }
    bool Int(int i) { return doc_.Int(i); }
    bool Uint(unsigned u) { return doc_.Uint(u); }
    bool Int64(std::int64_t i) { return doc_.Int64(i); }
    bool Uint64(std::uint64_t u) { return doc_.Uint64(u); }
    bool Double(double d) { return doc_.Double(d); }
    bool RawNumber(const char* s, rapidjson::SizeType n, bool) { return number(std::string_view(s, n)); }
    bool String(const char* s, rapidjson::SizeType n, bool copy) { return doc_.String(s, n, copy); }
    bool Key(const char* s, rapidjson::SizeType n, bool copy) { return doc_.Key(s, n, copy); }
    bool StartObject() { return enter() && doc_.StartObject(); }
    bool EndObject(rapidjson::SizeType n)
    {
        --depth_;
        return doc_.EndObject(n);
    }
    bool StartArray() { return enter() && doc_.StartArray(); }
    bool EndArray(rapidjson::SizeType n)
    {
        --depth_;
        return doc_.EndArray(n);
    }

    bool too_deep() const noexcept { return too_deep_; }

    /// Byte offset of a number too large for a double, when that stopped the parse.
    std::optional<std::size_t> number_too_big() const noexcept { return number_too_big_; }

private:
    bool number(std::string_view t)
    {
        const char* end = t.data() + t.size();
        if (t.find_first_of(".eE") == std::string_view::npos) {
            if (t.starts_with('-')) {
                std::int64_t v = 0;
                if (auto [p, ec] = std::from_chars(t.data(), end, v); ec == std::errc{} && p == end) {
                    return v >= std::numeric_limits<int>::min() ? doc_.Int(static_cast<int>(v))
                                                                : doc_.Int64(v);
                }
            } else {
                std::uint64_t v = 0;
                if (auto [p, ec] = std::from_chars(t.data(), end, v); ec == std::errc{} && p == end) {
                    return v <= std::numeric_limits<unsigned>::max() ? doc_.Uint(static_cast<unsigned>(v))
                                                                     : doc_.Uint64(v);
                }
            }
            // Beyond 64 bits: a double, as RapidJSON does.
        }
        double d = 0;
        const auto [p, ec] = std::from_chars(t.data(), end, d);
        if (ec == std::errc::result_out_of_range) {
            if (magnitude_at_least_one(t)) {
                number_too_big_ = stream_.Tell() - t.size();
                return false;
            }
            d = t.starts_with('-') ? -0.0 : 0.0; // underflow: RapidJSON gives a zero too
        } else if (ec != std::errc{} || p != end) {
            return false; // unreachable: the reader validated the number's syntax
        }
        return doc_.Double(d);
    }

    bool enter()
    {
        if (++depth_ > max_depth_) {
            too_deep_ = true;
            return false;
        }
        return true;
    }

    rapidjson::Document& doc_;
    std::size_t max_depth_;
    const rapidjson::MemoryStream& stream_;
    std::size_t depth_ = 0;
    bool too_deep_ = false;
    std::optional<std::size_t> number_too_big_;
};

constexpr unsigned parse_flags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag |
                                 rapidjson::kParseNumbersAsStringsFlag;

} // namespace

std::string parse_bounded(std::string_view text, std::size_t max_depth, rapidjson::Document& doc)
{
    rapidjson::MemoryStream ms(text.data(), text.size());
    rapidjson::Reader reader;
    depth_limiter limiter(doc, max_depth, ms);
    rapidjson::ParseResult result;
    auto generate = [&](rapidjson::Document&) {
        result = reader.Parse<parse_flags>(ms, limiter);
        return !result.IsError();
    };
    doc.Populate(generate);
    if (!result.IsError())
        return {};
    if (limiter.too_deep())
        return "JSON nested deeper than " + std::to_string(max_depth) + " levels";
    if (const auto at = limiter.number_too_big())
        return std::string("invalid JSON at byte ") + std::to_string(*at) + ": " +
               rapidjson::GetParseError_En(rapidjson::kParseErrorNumberTooBig);
    return std::string("invalid JSON at byte ") + std::to_string(result.Offset()) + ": " +
           rapidjson::GetParseError_En(result.Code());
}

std::string child_pointer(std::string_view pointer, std::string_view token)
{
    std::string out;
    out.reserve(pointer.size() + token.size() + 1);
    out.append(pointer);
    out += '/';
    for (const char c : token) {
        if (c == '~')
            out += "~0";
        else if (c == '/')
            out += "~1";
        else
            out += c;
    }
    return out;
}

std::string child_pointer(std::string_view pointer, std::size_t index)
{
    std::string out(pointer);
    out += '/';
    out += std::to_string(index);
    return out;
}

} // namespace relay::subscription::detail
