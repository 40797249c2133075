#pragma once

#include "relay/http/client.hpp"

#include <boost/beast/http/basic_parser.hpp>

#include <cstddef>
#include <string>

namespace relay::http {

/// Checks that `req` can be sent as given. Errors: client_errc::invalid_request when the scheme is not http
/// or https, the host is empty, the method is not an RFC 9110 token, the target is empty or has spaces or
/// control characters, a header name is not a token or is one the client sets itself (Host, Content-Length,
/// Transfer-Encoding, Connection), or a header value holds CR, LF or NUL. Pure.
boost::system::error_code validate_request(const client_request& req) noexcept;

/// Appends the request line and header block of a request that passed validate_request (ending with the empty
/// line) to `out`, adding `Host` (with the port unless it is the scheme's default) and `Content-Length`. The
/// body is not copied. Pure; no allocation beyond `out` growing.
void serialize_request_head(const client_request& req, std::string& out);

/// Parses one HTTP/1.x response into a client_response without storing header fields: it keeps the status,
/// the first Retry-After value and at most `body_cap` bytes of body. When the body goes beyond the cap it
/// sets `truncated` and stops with boost::beast::http::error::body_limit (the connection must then be
/// closed). Responses other than HTTP/1.0 and HTTP/1.1 are refused with http::error::bad_version. Use a new
/// parser per response message (including per 1xx interim response).
class client_response_parser final : public boost::beast::http::basic_parser<false>
{
public:
    /// Writes into `out` (which must outlive the parser); reads at most `body_cap` body bytes.
    client_response_parser(client_response& out, std::size_t body_cap) noexcept;

private:
    using error_code = boost::beast::error_code;
    using string_view = boost::beast::string_view;

    void on_request_impl(boost::beast::http::verb, string_view, string_view, int, error_code& ec) override;
    void on_response_impl(int code, string_view reason, int version, error_code& ec) override;
    void on_field_impl(
        boost::beast::http::field name, string_view name_string, string_view value, error_code& ec
    ) override;
    void on_header_impl(error_code& ec) override;
    void on_body_init_impl(boost::optional<std::uint64_t> const& content_length, error_code& ec) override;
    std::size_t on_body_impl(string_view body, error_code& ec) override;
    void on_chunk_header_impl(std::uint64_t size, string_view extensions, error_code& ec) override;
    std::size_t on_chunk_body_impl(std::uint64_t remain, string_view body, error_code& ec) override;
    void on_finish_impl(error_code& ec) override;

    std::size_t append(string_view body, error_code& ec);

    client_response& out_;
    std::size_t body_cap_;
    bool retry_after_seen_ = false;
};

} // namespace relay::http
