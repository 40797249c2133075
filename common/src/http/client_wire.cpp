#include "relay/http/client_wire.hpp"

#include <boost/beast/http/error.hpp>

#include <algorithm>
#include <charconv>

namespace relay::http {
namespace {

namespace bhttp = boost::beast::http;

// RFC 9110 tchar.
bool is_tchar(char c) noexcept
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return true;
    }
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

bool is_token(std::string_view s) noexcept
{
    return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

bool iequals(std::string_view a, std::string_view b) noexcept
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               const auto lx = (x >= 'A' && x <= 'Z') ? static_cast<char>(x - 'A' + 'a') : x;
               return lx == y;
           });
}

// Header names the client writes itself; a second copy would make the message ambiguous (request smuggling).
bool is_reserved_name(std::string_view name) noexcept
{
    return iequals(name, "host") || iequals(name, "content-length") || iequals(name, "transfer-encoding") ||
           iequals(name, "connection");
}

bool is_valid_value(std::string_view v) noexcept
{
    return std::none_of(v.begin(), v.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

bool is_valid_target(std::string_view t) noexcept
{
    return !t.empty() && std::none_of(t.begin(), t.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7f;
    });
}

void append_number(std::string& out, std::uint64_t n)
{
    char buf[24];
    const auto res = std::to_chars(buf, buf + sizeof buf, n);
    out.append(buf, res.ptr);
}

} // namespace

boost::system::error_code validate_request(const client_request& req) noexcept
{
    const auto& url = req.url;
    if ((url.scheme != "http" && url.scheme != "https") || url.host.empty() || !is_token(req.method) ||
        !is_valid_target(url.target)) {
        return client_errc::invalid_request;
    }
    for (const auto& h : req.headers) {
        if (!is_token(h.name) || is_reserved_name(h.name) || !is_valid_value(h.value)) {
            return client_errc::invalid_request;
        }
    }
    return {};
}

void serialize_request_head(const client_request& req, std::string& out)
{
    const auto& url = req.url;
    out.append(req.method);
    out += ' ';
    out.append(url.target);
    out.append(" HTTP/1.1\r\nHost: ");
    const bool ipv6 = url.host.find(':') != std::string::npos;
    if (ipv6) {
        out += '[';
    }
    out.append(url.host);
    if (ipv6) {
        out += ']';
    }
    const bool default_port =
        (url.scheme == "http" && url.port == 80) || (url.scheme == "https" && url.port == 443);
    if (!default_port) {
        out += ':';
        append_number(out, url.port);
    }
    out.append("\r\n");
    for (const auto& h : req.headers) {
        out.append(h.name);
        out.append(": ");
        out.append(h.value);
        out.append("\r\n");
    }
    out.append("Content-Length: ");
    append_number(out, req.body.size());
    out.append("\r\n\r\n");
}

client_response_parser::client_response_parser(client_response& out, std::size_t body_cap) noexcept
    : out_(out)
    , body_cap_(body_cap)
{}

void client_response_parser::on_request_impl(bhttp::verb, string_view, string_view, int, error_code& ec)
{
    ec = bhttp::error::bad_method; // unreachable for a response parser
}

void client_response_parser::on_response_impl(int code, string_view, int version, error_code& ec)
{
    if (version != 10 && version != 11) {
        ec = bhttp::error::bad_version;
        return;
    }
    out_.status = static_cast<unsigned>(code);
}

void client_response_parser::on_field_impl(bhttp::field name, string_view, string_view value, error_code&)
{
    if (name == bhttp::field::retry_after && !retry_after_seen_) {
        retry_after_seen_ = true;
        out_.retry_after.assign(value.data(), value.size());
    }
}

void client_response_parser::on_header_impl(error_code&) {}

void client_response_parser::
    on_body_init_impl(boost::optional<std::uint64_t> const& content_length, error_code&)
{
    if (content_length) {
        out_.body.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(*content_length, body_cap_)));
    }
}

std::size_t client_response_parser::on_body_impl(string_view body, error_code& ec)
{
    return append(body, ec);
}

void client_response_parser::on_chunk_header_impl(std::uint64_t, string_view, error_code&) {}

std::size_t client_response_parser::on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec)
{
    return append(body, ec);
}

void client_response_parser::on_finish_impl(error_code&) {}

std::size_t client_response_parser::append(string_view body, error_code& ec)
{
    const auto room = body_cap_ - std::min(body_cap_, out_.body.size());
    const auto n = std::min(room, body.size());
    out_.body.append(body.data(), n);
    if (n < body.size()) {
        out_.truncated = true;
        ec = bhttp::error::body_limit;
    }
    return n;
}

} // namespace relay::http
