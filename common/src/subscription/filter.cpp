#include "relay/subscription/filter.hpp"

#include "bounded_json.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>

namespace relay::subscription {
namespace {

struct number
{
    enum class kind : std::uint8_t
    {
        signed_int,
        unsigned_int,
        real,
    };
    kind k = kind::signed_int;
    std::int64_t i = 0;
    std::uint64_t u = 0;
    double d = 0;

    static number of(const rapidjson::Value& v) noexcept
    {
        number n;
        if (v.IsInt64()) {
            n.k = kind::signed_int;
            n.i = v.GetInt64();
        } else if (v.IsUint64()) {
            n.k = kind::unsigned_int;
            n.u = v.GetUint64();
        } else {
            n.k = kind::real;
            n.d = v.GetDouble();
        }
        return n;
    }

    double as_double() const noexcept
    {
        switch (k) {
        case kind::signed_int:
            return static_cast<double>(i);
        case kind::unsigned_int:
            return static_cast<double>(u);
        case kind::real:
            break;
        }
        return d;
    }
};

// Member names and literals are short: a plain loop beats a call into libc's memcmp for them.
bool same_bytes(const char* a, const char* b, std::size_t n) noexcept
{
    if (n > 32)
        return std::memcmp(a, b, n) == 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (a[i] != b[i])
            return false;
    }
    return true;
}

template <class T>
int three_way(T a, T b) noexcept
{
    return a < b ? -1 : (b < a ? 1 : 0);
}

// Integers compare exactly (a uint64 above INT64_MAX is never equal to a signed value); anything involving a
// double compares as double.
int compare(const number& a, const number& b) noexcept
{
    using k = number::kind;
    if (a.k == k::real || b.k == k::real)
        return three_way(a.as_double(), b.as_double());
    if (a.k == k::signed_int && b.k == k::signed_int)
        return three_way(a.i, b.i);
    if (a.k == k::unsigned_int && b.k == k::unsigned_int)
        return three_way(a.u, b.u);
    if (a.k == k::signed_int) // b unsigned and above INT64_MAX
        return -1;
    return 1;
}

struct scalar
{
    enum class kind : std::uint8_t
    {
        null,
        boolean,
        num,
        string,
    };
    kind k = kind::null;
    bool b = false;
    number n;
    std::string s;

    bool equals(const rapidjson::Value& v) const noexcept
    {
        switch (k) {
        case kind::null:
            return v.IsNull();
        case kind::boolean:
            return v.IsBool() && v.GetBool() == b;
        case kind::num:
            return v.IsNumber() && compare(number::of(v), n) == 0;
        case kind::string:
            return v.IsString() && v.GetStringLength() == s.size() &&
                   same_bytes(v.GetString(), s.data(), s.size());
        }
        return false;
    }
};

enum class op : std::uint8_t
{
    eq,
    ne,
    in,
    nin,
    exists,
    gt,
    gte,
    lt,
    lte,
    prefix,
};

constexpr std::array<std::pair<std::string_view, op>, 10> operators{{
    {"eq", op::eq},
    {"ne", op::ne},
    {"in", op::in},
    {"nin", op::nin},
    {"exists", op::exists},
    {"gt", op::gt},
    {"gte", op::gte},
    {"lt", op::lt},
    {"lte", op::lte},
    {"prefix", op::prefix},
}};

constexpr std::string_view operator_names = "eq, ne, in, nin, exists, gt, gte, lt, lte, prefix";

struct test
{
    op o = op::eq;
    scalar operand;           // eq, ne, gt..lte, prefix (string)
    std::vector<scalar> set;  // in, nin
    bool should_exist = true; // exists

    bool holds(const rapidjson::Value* v) const noexcept
    {
        switch (o) {
        case op::eq:
            return v && operand.equals(*v);
        case op::ne:
            return !(v && operand.equals(*v));
        case op::in:
            return v && contains(*v);
        case op::nin:
            return !(v && contains(*v));
        case op::exists:
            return (v != nullptr) == should_exist;
        case op::gt:
            return v && v->IsNumber() && compare(number::of(*v), operand.n) > 0;
        case op::gte:
            return v && v->IsNumber() && compare(number::of(*v), operand.n) >= 0;
        case op::lt:
            return v && v->IsNumber() && compare(number::of(*v), operand.n) < 0;
        case op::lte:
            return v && v->IsNumber() && compare(number::of(*v), operand.n) <= 0;
        case op::prefix:
            return v && v->IsString() && v->GetStringLength() >= operand.s.size() &&
                   same_bytes(v->GetString(), operand.s.data(), operand.s.size());
        }
        return false;
    }

    bool contains(const rapidjson::Value& v) const noexcept
    {
        for (const scalar& s : set) {
            if (s.equals(v))
                return true;
        }
        return false;
    }
};

struct segment
{
    std::string key;
    std::uint32_t index = 0;
    bool is_index = false; // all digits, no leading zero, fits in 32 bits
};

struct condition
{
    std::vector<segment> path;
    std::vector<test> tests;
};

struct node
{
    std::vector<condition> conditions;
    std::vector<std::vector<node>> any_groups; // each group: at least one node must hold
};

const rapidjson::Value* resolve(const rapidjson::Value& root, const std::vector<segment>& path) noexcept
{
    const rapidjson::Value* v = &root;
    for (const segment& seg : path) {
        if (v->IsObject()) {
            const rapidjson::Value* found = nullptr;
            for (auto m = v->MemberBegin(); m != v->MemberEnd(); ++m) {
                if (m->name.GetStringLength() == seg.key.size() &&
                    same_bytes(m->name.GetString(), seg.key.data(), seg.key.size())) {
                    found = &m->value;
                    break;
                }
            }
            if (!found)
                return nullptr;
            v = found;
        } else if (v->IsArray() && seg.is_index && seg.index < v->Size()) {
            v = &(*v)[seg.index];
        } else {
            return nullptr;
        }
    }
    return v;
}

bool evaluate(const node& n, const rapidjson::Value& event) noexcept
{
    for (const condition& c : n.conditions) {
        const rapidjson::Value* v = resolve(event, c.path);
        for (const test& t : c.tests) {
            if (!t.holds(v))
                return false;
        }
    }
    for (const std::vector<node>& group : n.any_groups) {
        bool any = false;
        for (const node& alternative : group) {
            if (evaluate(alternative, event)) {
                any = true;
                break;
            }
        }
        if (!any)
            return false;
    }
    return true;
}

std::string_view view(const rapidjson::Value& v) noexcept
{
    return {v.GetString(), v.GetStringLength()};
}

class compiler
{
public:
    compiler(const filter_limits& limits, problem_list& problems)
        : limits_(limits)
        , problems_(problems)
    {}

    void compile(const rapidjson::Value& v, const std::string& pointer, std::size_t depth, node& out)
    {
        if (!v.IsObject()) {
            add(pointer, "must be an object of path: condition pairs");
            return;
        }
        if (v.MemberCount() > limits_.max_conditions) {
            add(pointer, "has more than " + std::to_string(limits_.max_conditions) + " keys");
            return;
        }
        for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
            const std::string_view key = view(m->name);
            const std::string ptr = detail::child_pointer(pointer, key);
            if (is_duplicate(v, m)) {
                add(ptr, "duplicate key");
                continue;
            }
            if (key == "any") {
                compile_any(m->value, ptr, depth, out);
                continue;
            }
            condition c;
            if (!parse_path(key, ptr, c.path))
                continue;
            compile_condition(m->value, ptr, c);
            if (!c.tests.empty())
                out.conditions.push_back(std::move(c));
        }
    }

private:
    void add(std::string pointer, std::string message)
    {
        problems_.push_back(problem{std::move(pointer), std::move(message)});
    }

    static bool is_duplicate(const rapidjson::Value& object, rapidjson::Value::ConstMemberIterator m)
    {
        for (auto it = object.MemberBegin(); it != m; ++it) {
            if (it->name == m->name)
                return true;
        }
        return false;
    }

    void compile_any(const rapidjson::Value& v, const std::string& ptr, std::size_t depth, node& out)
    {
        if (!v.IsArray() || v.Empty()) {
            add(ptr, "must be a non-empty array of filters (any one of them must hold)");
            return;
        }
        if (depth + 1 > limits_.max_depth) {
            add(ptr, "nested deeper than " + std::to_string(limits_.max_depth) + " levels");
            return;
        }
        std::vector<node> group(v.Size());
        for (rapidjson::SizeType i = 0; i < v.Size(); ++i)
            compile(v[i], detail::child_pointer(ptr, i), depth + 1, group[i]);
        out.any_groups.push_back(std::move(group));
    }

    bool parse_path(std::string_view key, const std::string& ptr, std::vector<segment>& out)
    {
        if (key.empty()) {
            add(ptr, "empty path");
            return false;
        }
        if (key.size() > limits_.max_string) {
            add(ptr, "path longer than " + std::to_string(limits_.max_string) + " bytes");
            return false;
        }
        const bool pointer_form = key.front() == '/';
        const char separator = pointer_form ? '/' : '.';
        std::string_view rest = pointer_form ? key.substr(1) : key;
        while (true) {
            const auto end = rest.find(separator);
            const std::string_view token = rest.substr(0, end);
            segment seg;
            if (pointer_form) {
                for (std::size_t i = 0; i < token.size(); ++i) {
                    if (token[i] != '~') {
                        seg.key += token[i];
                    } else if (i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
                        seg.key += token[i + 1] == '0' ? '~' : '/';
                        ++i;
                    } else {
                        add(ptr, "invalid JSON Pointer: '~' must be followed by 0 or 1");
                        return false;
                    }
                }
            } else if (token.empty()) {
                add(ptr, "empty segment in path (use a JSON Pointer such as \"/a/b\" for unusual names)");
                return false;
            } else {
                seg.key = token;
            }
            set_index(seg);
            out.push_back(std::move(seg));
            if (out.size() > limits_.max_path_segments) {
                add(ptr, "path has more than " + std::to_string(limits_.max_path_segments) + " segments");
                return false;
            }
            if (end == std::string_view::npos)
                break;
            rest = rest.substr(end + 1);
        }
        return true;
    }

    static void set_index(segment& seg)
    {
        const std::string& k = seg.key;
        if (k.empty() || k.size() > 10 || (k.size() > 1 && k[0] == '0'))
            return;
        std::uint64_t v = 0;
        for (const char c : k) {
            if (c < '0' || c > '9')
                return;
            v = v * 10 + static_cast<std::uint64_t>(c - '0');
        }
        if (v > std::numeric_limits<std::uint32_t>::max())
            return;
        seg.index = static_cast<std::uint32_t>(v);
        seg.is_index = true;
    }

    bool count_condition(const std::string& ptr)
    {
        if (++conditions_ > limits_.max_conditions) {
            if (!reported_too_many_) {
                add(ptr, "filter has more than " + std::to_string(limits_.max_conditions) + " conditions");
                reported_too_many_ = true;
            }
            return false;
        }
        return true;
    }

    // A literal scalar; reports and returns false otherwise.
    bool to_scalar(const rapidjson::Value& v, const std::string& ptr, scalar& out)
    {
        if (v.IsNull()) {
            out.k = scalar::kind::null;
        } else if (v.IsBool()) {
            out.k = scalar::kind::boolean;
            out.b = v.GetBool();
        } else if (v.IsNumber()) {
            out.k = scalar::kind::num;
            out.n = number::of(v);
        } else if (v.IsString()) {
            if (v.GetStringLength() > limits_.max_string) {
                add(ptr, "string longer than " + std::to_string(limits_.max_string) + " bytes");
                return false;
            }
            out.k = scalar::kind::string;
            out.s.assign(v.GetString(), v.GetStringLength());
        } else {
            add(ptr, "must be a string, number, boolean or null");
            return false;
        }
        return true;
    }

    void compile_condition(const rapidjson::Value& v, const std::string& ptr, condition& c)
    {
        if (v.IsArray()) {
            add(ptr, "an array is not a condition (use {\"in\": [...]} to match one of several values)");
            return;
        }
        if (!v.IsObject()) {
            test t;
            if (to_scalar(v, ptr, t.operand) && count_condition(ptr))
                c.tests.push_back(std::move(t));
            return;
        }
        if (v.ObjectEmpty()) {
            add(ptr, std::string("empty operator object (use ").append(operator_names).append(")"));
            return;
        }
        if (v.MemberCount() > operators.size()) {
            add(ptr, "too many operators");
            return;
        }
        for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
            const std::string_view name = view(m->name);
            const std::string op_ptr = detail::child_pointer(ptr, name);
            if (is_duplicate(v, m)) {
                add(op_ptr, "duplicate operator");
                continue;
            }
            const auto* found = std::find_if(operators.begin(), operators.end(), [&](const auto& entry) {
                return entry.first == name;
            });
            if (found == operators.end()) {
                add(op_ptr, std::string("unknown operator (use ").append(operator_names).append(")"));
                continue;
            }
            test t;
            t.o = found->second;
            if (compile_operand(m->value, op_ptr, t) && count_condition(op_ptr))
                c.tests.push_back(std::move(t));
        }
    }

    bool compile_operand(const rapidjson::Value& v, const std::string& ptr, test& t)
    {
        switch (t.o) {
        case op::eq:
        case op::ne:
            return to_scalar(v, ptr, t.operand);
        case op::in:
        case op::nin: {
            if (!v.IsArray() || v.Empty()) {
                add(ptr, "must be a non-empty array of strings, numbers, booleans or nulls");
                return false;
            }
            if (v.Size() > limits_.max_set_size) {
                add(ptr, "has more than " + std::to_string(limits_.max_set_size) + " values");
                return false;
            }
            bool ok = true;
            t.set.resize(v.Size());
            for (rapidjson::SizeType i = 0; i < v.Size(); ++i)
                ok = to_scalar(v[i], detail::child_pointer(ptr, i), t.set[i]) && ok;
            return ok;
        }
        case op::exists:
            if (!v.IsBool()) {
                add(ptr, "must be true or false");
                return false;
            }
            t.should_exist = v.GetBool();
            return true;
        case op::gt:
        case op::gte:
        case op::lt:
        case op::lte:
            if (!v.IsNumber()) {
                add(ptr, "must be a number");
                return false;
            }
            return to_scalar(v, ptr, t.operand);
        case op::prefix:
            if (!v.IsString()) {
                add(ptr, "must be a string");
                return false;
            }
            return to_scalar(v, ptr, t.operand);
        }
        return false;
    }

    const filter_limits& limits_;
    problem_list& problems_;
    std::size_t conditions_ = 0;
    bool reported_too_many_ = false;
};

} // namespace

struct filter::impl
{
    node root;
    std::string json;
};

parse_result<filter>
filter::parse(const rapidjson::Value& json, std::string_view pointer, const filter_limits& limits)
{
    problem_list problems;
    auto compiled = std::make_shared<impl>();
    compiler(limits, problems).compile(json, std::string(pointer), 0, compiled->root);
    if (!problems.empty())
        return parse_result<filter>(boost::system::in_place_error, std::move(problems));
    // Serialized only after validation: the accepted structure is shallow, so Accept() cannot recurse deeply.
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    json.Accept(writer);
    compiled->json.assign(buffer.GetString(), buffer.GetSize());
    return filter(std::move(compiled));
}

parse_result<filter> filter::parse(std::string_view json_text, const filter_limits& limits)
{
    constexpr std::size_t max_text = 64 * 1024;
    if (json_text.size() > max_text)
        return parse_result<filter>(
            boost::system::in_place_error,
            problem_list{{"", "filter larger than " + std::to_string(max_text) + " bytes"}}
        );
    rapidjson::Document doc;
    // Each `any` level adds an object and an array; conditions add an operator object and an `in` array.
    if (auto error = detail::parse_bounded(json_text, 2 * limits.max_depth + 4, doc); !error.empty())
        return parse_result<filter>(boost::system::in_place_error, problem_list{{"", std::move(error)}});
    return parse(doc, "", limits);
}

// A moved-from filter (no impl) behaves as the empty filter.
bool filter::matches(const rapidjson::Value& event) const noexcept
{
    return !impl_ || evaluate(impl_->root, event);
}

const std::string& filter::json() const noexcept
{
    static const std::string empty = "{}";
    return impl_ ? impl_->json : empty;
}

} // namespace relay::subscription
