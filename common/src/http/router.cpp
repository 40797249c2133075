#include "relay/http/router.hpp"

#include <algorithm>
#include <stdexcept>

namespace relay::http {

namespace {

int hex_value(char c) noexcept
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

// Splits "/a/b/" into {"a", "b", ""}: a trailing slash is a distinct (empty) last segment, so "/x" and "/x/"
// are different routes.
template <class Fn>
bool for_each_segment(std::string_view path, Fn&& fn)
{
    if (path.empty() || path.front() != '/') {
        return false;
    }
    path.remove_prefix(1);
    for (;;) {
        const auto slash = path.find('/');
        if (!fn(path.substr(0, slash))) {
            return false;
        }
        if (slash == std::string_view::npos) {
            return true;
        }
        path.remove_prefix(slash + 1);
    }
}

void add_allowed(std::vector<boost::beast::http::verb>& allowed, boost::beast::http::verb v)
{
    if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
        allowed.push_back(v);
    }
}

} // namespace

std::optional<std::string> percent_decode(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c != '%') {
            out.push_back(c);
            continue;
        }
        if (i + 2 >= text.size()) {
            return std::nullopt;
        }
        const int hi = hex_value(text[i + 1]);
        const int lo = hex_value(text[i + 2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            return std::nullopt;
        }
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return out;
}

router& router::add(boost::beast::http::verb method, std::string_view pattern, handler h)
{
    if (pattern.empty() || pattern.front() != '/') {
        throw std::invalid_argument("route pattern must start with '/': " + std::string(pattern));
    }
    std::vector<segment> segments;
    bool has_capture = false;
    std::string error;
    for_each_segment(pattern, [&](std::string_view seg) {
        const auto open = seg.find('{');
        const auto close = seg.find('}');
        if (open == std::string_view::npos && close == std::string_view::npos) {
            segments.push_back({std::string(seg), false});
            return true;
        }
        if (open != 0 || close != seg.size() - 1 || seg.size() < 3) {
            error = "a capture must be a whole segment like {name}";
            return false;
        }
        std::string name(seg.substr(1, seg.size() - 2));
        if (name.find_first_of("{}") != std::string::npos) {
            error = "a capture must be a whole segment like {name}";
            return false;
        }
        for (const auto& s : segments) {
            if (s.capture && s.text == name) {
                error = "duplicate capture name {" + name + "}";
                return false;
            }
        }
        segments.push_back({std::move(name), true});
        has_capture = true;
        return true;
    });
    if (!error.empty()) {
        throw std::invalid_argument("route pattern " + std::string(pattern) + ": " + error);
    }
    if (!has_capture) {
        exact_[std::string(pattern)].emplace_back(method, std::move(h));
    } else {
        patterns_.push_back({std::string(pattern), std::move(segments), method, std::move(h)});
    }
    return *this;
}

router& router::add_prefix(boost::beast::http::verb method, std::string_view prefix, handler h)
{
    if (prefix.empty() || prefix.front() != '/') {
        throw std::invalid_argument("route prefix must start with '/': " + std::string(prefix));
    }
    prefix_route route{std::string(prefix), method, std::move(h)};
    // Longest prefix first; stable so that equal prefixes keep the order they were added in.
    const auto pos = std::find_if(prefixes_.begin(), prefixes_.end(), [&](const prefix_route& r) {
        return r.prefix.size() < route.prefix.size();
    });
    prefixes_.insert(pos, std::move(route));
    return *this;
}

router& router::set_fallback(handler h)
{
    fallback_ = std::move(h);
    return *this;
}

bool router::match_pattern(const pattern_route& route, std::string_view path, path_params* out)
{
    std::size_t i = 0;
    const auto& segs = route.segments;
    const bool ok = for_each_segment(path, [&](std::string_view seg) {
        if (i >= segs.size()) {
            return false;
        }
        const auto& expected = segs[i++];
        if (!expected.capture) {
            return seg == expected.text;
        }
        if (seg.empty()) {
            return false;
        }
        if (out == nullptr) {
            return true;
        }
        auto decoded = percent_decode(seg);
        if (!decoded) {
            return false;
        }
        out->add(expected.text, std::move(*decoded));
        return true;
    });
    return ok && i == segs.size();
}

router::match_result router::match(boost::beast::http::verb method, std::string_view path) const
{
    match_result result;
    if (!exact_.empty()) {
        if (const auto it = exact_.find(path); it != exact_.end()) {
            for (const auto& [m, h] : it->second) {
                if (m == method) {
                    result.target = &h;
                    return result;
                }
                add_allowed(result.allowed, m);
            }
        }
    }
    for (const auto& route : patterns_) {
        if (route.method == method) {
            if (match_pattern(route, path, &result.params)) {
                result.target = &route.h;
                result.allowed.clear();
                return result;
            }
            result.params.clear();
        } else if (match_pattern(route, path, nullptr)) {
            add_allowed(result.allowed, route.method);
        }
    }
    for (const auto& route : prefixes_) {
        if (path.starts_with(route.prefix)) {
            if (route.method == method) {
                result.target = &route.h;
                result.allowed.clear();
                return result;
            }
            add_allowed(result.allowed, route.method);
        }
    }
    if (result.allowed.empty() && fallback_) {
        result.target = &*fallback_;
    }
    return result;
}

} // namespace relay::http
