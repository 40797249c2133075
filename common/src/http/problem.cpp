#include "relay/http/problem.hpp"

#include "relay/log/log.hpp"

#include <boost/beast/http/field.hpp>

namespace relay::http {

namespace {

void append_member(std::string& out, std::string_view name, std::string_view value)
{
    out.push_back('"');
    out.append(name);
    out.append("\":\"");
    log::append_json_escaped(out, value);
    out.push_back('"');
}

} // namespace

std::string to_json(const problem_details& p)
{
    std::string out;
    out.reserve(96 + p.title.size() + p.detail.size() + p.type.size());
    out.push_back('{');
    append_member(out, "type", p.type.empty() ? std::string_view("about:blank") : std::string_view(p.type));
    out.push_back(',');
    std::string_view title = p.title;
    if (title.empty()) {
        const auto status = boost::beast::http::int_to_status(p.status);
        const auto reason = boost::beast::http::obsolete_reason(status);
        title = status == boost::beast::http::status::unknown
                    ? std::string_view("Error")
                    : std::string_view(reason.data(), reason.size());
    }
    append_member(out, "title", title);
    out.append(",\"status\":");
    out.append(std::to_string(p.status));
    if (!p.detail.empty()) {
        out.push_back(',');
        append_member(out, "detail", p.detail);
    }
    if (!p.instance.empty()) {
        out.push_back(',');
        append_member(out, "instance", p.instance);
    }
    if (!p.errors.empty()) {
        out.append(",\"errors\":[");
        for (std::size_t i = 0; i < p.errors.size(); ++i) {
            if (i != 0) {
                out.push_back(',');
            }
            out.push_back('{');
            append_member(out, "pointer", p.errors[i].pointer);
            out.push_back(',');
            append_member(out, "detail", p.errors[i].detail);
            out.push_back('}');
        }
        out.push_back(']');
    }
    out.push_back('}');
    return out;
}

response make_problem_response(const problem_details& p, unsigned version)
{
    response res{static_cast<boost::beast::http::status>(p.status), version};
    res.set(boost::beast::http::field::content_type, problem_content_type);
    res.body() = to_json(p);
    res.prepare_payload();
    return res;
}

response make_problem_response(boost::beast::http::status status, std::string_view detail, unsigned version)
{
    problem_details p;
    p.status = static_cast<unsigned>(status);
    p.detail = std::string(detail);
    return make_problem_response(p, version);
}

} // namespace relay::http
