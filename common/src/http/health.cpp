#include "relay/http/health.hpp"

#include "relay/log/log.hpp"

namespace relay::http {

namespace {

void append_string(std::string& out, std::string_view s)
{
    out.push_back('"');
    log::append_json_escaped(out, s);
    out.push_back('"');
}

void append_broken(std::string& out, const std::map<std::string, std::string, std::less<>>& broken)
{
    out.append("\"broken\":{");
    bool first = true;
    for (const auto& [name, reason] : broken) {
        if (!first) {
            out.push_back(',');
        }
        first = false;
        append_string(out, name);
        out.push_back(':');
        append_string(out, reason);
    }
    out.push_back('}');
}

} // namespace

void health::add_check(std::string name, bool ready, std::string reason)
{
    std::lock_guard lock(mutex_);
    auto& s = checks_[std::move(name)];
    s.ready = ready;
    s.reason = ready ? std::string() : std::move(reason);
}

void health::set_ready(std::string_view name, bool ready, std::string reason)
{
    std::lock_guard lock(mutex_);
    auto it = checks_.find(name);
    if (it == checks_.end()) {
        it = checks_.emplace(std::string(name), state{}).first;
    }
    it->second.ready = ready;
    it->second.reason = ready ? std::string() : std::move(reason);
}

void health::remove_check(std::string_view name)
{
    std::lock_guard lock(mutex_);
    if (const auto it = checks_.find(name); it != checks_.end()) {
        checks_.erase(it);
    }
}

void health::report_broken(std::string component, std::string reason)
{
    std::lock_guard lock(mutex_);
    broken_[std::move(component)] = std::move(reason);
}

void health::clear_broken(std::string_view component)
{
    std::lock_guard lock(mutex_);
    if (const auto it = broken_.find(component); it != broken_.end()) {
        broken_.erase(it);
    }
}

bool health::live() const
{
    std::lock_guard lock(mutex_);
    return broken_.empty();
}

bool health::ready() const
{
    std::lock_guard lock(mutex_);
    if (!broken_.empty()) {
        return false;
    }
    for (const auto& [name, s] : checks_) {
        if (!s.ready) {
            return false;
        }
    }
    return true;
}

std::vector<health::entry> health::checks() const
{
    std::lock_guard lock(mutex_);
    std::vector<entry> out;
    out.reserve(checks_.size());
    for (const auto& [name, s] : checks_) {
        out.push_back({name, s.ready, s.reason});
    }
    return out;
}

std::vector<health::entry> health::broken() const
{
    std::lock_guard lock(mutex_);
    std::vector<entry> out;
    out.reserve(broken_.size());
    for (const auto& [name, reason] : broken_) {
        out.push_back({name, false, reason});
    }
    return out;
}

std::string health::liveness_json(bool& ok) const
{
    std::lock_guard lock(mutex_);
    ok = broken_.empty();
    if (ok) {
        return R"({"status":"ok"})";
    }
    std::string out = R"({"status":"broken",)";
    append_broken(out, broken_);
    out.push_back('}');
    return out;
}

std::string health::readiness_json(bool& ok) const
{
    std::lock_guard lock(mutex_);
    ok = broken_.empty();
    std::string checks = "\"checks\":{";
    std::string not_ready = "\"not_ready\":[";
    bool first_check = true;
    bool first_not_ready = true;
    for (const auto& [name, s] : checks_) {
        if (!first_check) {
            checks.push_back(',');
        }
        first_check = false;
        append_string(checks, name);
        checks.append(s.ready ? R"(:{"ready":true)" : R"(:{"ready":false)");
        if (!s.ready) {
            ok = false;
            if (!s.reason.empty()) {
                checks.append(",\"reason\":");
                append_string(checks, s.reason);
            }
            if (!first_not_ready) {
                not_ready.push_back(',');
            }
            first_not_ready = false;
            append_string(not_ready, name);
        }
        checks.push_back('}');
    }
    checks.push_back('}');
    not_ready.push_back(']');

    std::string out = ok ? R"({"status":"ready",)" : R"({"status":"not_ready",)";
    out.append(checks);
    out.push_back(',');
    out.append(not_ready);
    if (!broken_.empty()) {
        out.push_back(',');
        append_broken(out, broken_);
    }
    out.push_back('}');
    return out;
}

} // namespace relay::http
