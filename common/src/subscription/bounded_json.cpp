#include "bounded_json.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

namespace relay::subscription::detail {
namespace {

// Forwards SAX events to the document while counting nesting, so deep input fails fast instead of growing.
class depth_limiter
{
public:
    depth_limiter(rapidjson::Document& doc, std::size_t max_depth)
        : doc_(doc)
        , max_depth_(max_depth)
    {}

    bool Null() { return doc_.Null(); }
    bool Bool(bool b) { return doc_.Bool(b); }
    bool Int(int i) { return doc_.Int(i); }
    bool Uint(unsigned u) { return doc_.Uint(u); }
    bool Int64(std::int64_t i) { return doc_.Int64(i); }
    bool Uint64(std::uint64_t u) { return doc_.Uint64(u); }
    bool Double(double d) { return doc_.Double(d); }
    bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) { return doc_.RawNumber(s, n, copy); }
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

private:
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
    std::size_t depth_ = 0;
    bool too_deep_ = false;
};

constexpr unsigned parse_flags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag |
                                 rapidjson::kParseFullPrecisionFlag;

} // namespace

std::string parse_bounded(std::string_view text, std::size_t max_depth, rapidjson::Document& doc)
{
    rapidjson::MemoryStream ms(text.data(), text.size());
    rapidjson::Reader reader;
    depth_limiter limiter(doc, max_depth);
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
