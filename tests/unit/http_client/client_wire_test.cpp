#include "relay/http/client_wire.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <gtest/gtest.h>

#include <string>

namespace {

using relay::http::client_errc;
using relay::http::client_request;
using relay::http::client_response;
using relay::http::client_response_parser;
namespace bhttp = boost::beast::http;

client_request make_request(std::string url_text)
{
    client_request req;
    req.url = relay::net::parse_url(url_text).value();
    return req;
}

std::string head_of(const client_request& req)
{
    std::string out;
    relay::http::serialize_request_head(req, out);
    return out;
}

TEST(http_client_wire, writes_request_line_host_headers_in_order_and_content_length)
{
    auto req = make_request("https://hooks.example.com/in/1?a=b");
    req.headers = {{"content-type", "application/json"}, {"webhook-id", "msg_1"}};
    req.body = R"({"x":1})";
    ASSERT_FALSE(relay::http::validate_request(req));
    EXPECT_EQ(
        head_of(req),
        "POST /in/1?a=b HTTP/1.1\r\nHost: hooks.example.com\r\ncontent-type: application/json\r\n"
        "webhook-id: msg_1\r\nContent-Length: 7\r\n\r\n"
    );
}

TEST(http_client_wire, host_header_carries_a_non_default_port_and_brackets_ipv6)
{
    EXPECT_NE(
        head_of(make_request("http://example.com:8080/")).find("Host: example.com:8080\r\n"),
        std::string::npos
    );
    EXPECT_NE(
        head_of(make_request("http://example.com:80/")).find("Host: example.com\r\n"), std::string::npos
    );
    EXPECT_NE(
        head_of(make_request("https://example.com:80/")).find("Host: example.com:80\r\n"), std::string::npos
    );
    EXPECT_NE(
        head_of(make_request("http://[2001:db8::1]:81/")).find("Host: [2001:db8::1]:81\r\n"),
        std::string::npos
    );
}

TEST(http_client_wire, empty_body_sends_content_length_zero)
{
    EXPECT_NE(
        head_of(make_request("http://example.com/")).find("Content-Length: 0\r\n\r\n"), std::string::npos
    );
}

TEST(http_client_wire, refuses_header_values_with_line_breaks_or_nul)
{
    const std::string_view bads[] = {"a\r\nx-injected: 1", "a\nb", std::string_view("a\0b", 3)};
    for (std::string_view bad : bads) {
        auto req = make_request("http://example.com/");
        req.headers = {{"x-custom", bad}};
        EXPECT_EQ(relay::http::validate_request(req), client_errc::invalid_request) << bad;
    }
}

TEST(http_client_wire, refuses_headers_the_client_sets_itself)
{
    for (std::string_view name : {"Host", "content-length", "Transfer-Encoding", "CONNECTION"}) {
        auto req = make_request("http://example.com/");
        req.headers = {{name, "x"}};
        EXPECT_EQ(relay::http::validate_request(req), client_errc::invalid_request) << name;
    }
}

TEST(http_client_wire, refuses_non_token_header_names_and_methods)
{
    auto req = make_request("http://example.com/");
    req.headers = {{"bad name", "x"}};
    EXPECT_EQ(relay::http::validate_request(req), client_errc::invalid_request);
    req.headers = {{"", "x"}};
    EXPECT_EQ(relay::http::validate_request(req), client_errc::invalid_request);
    req.headers.clear();
    req.method = "PO ST";
    EXPECT_EQ(relay::http::validate_request(req), client_errc::invalid_request);
    req.method = "PUT";
    EXPECT_FALSE(relay::http::validate_request(req));
}

TEST(http_client_wire, refuses_a_default_constructed_url)
{
    client_request req;
    EXPECT_EQ(relay::http::validate_request(req), client_errc::invalid_request);
}

// Feeds `wire` to a fresh parser as a server would send it in one piece; returns the parser's error.
boost::system::error_code
parse(std::string_view wire, client_response& out, std::size_t cap, bool* done = nullptr)
{
    client_response_parser parser(out, cap);
    parser.eager(true);
    parser.body_limit(boost::none);
    boost::system::error_code ec;
    std::size_t used = 0;
    while (!ec && !parser.is_done() && used < wire.size()) {
        used += parser.put(boost::asio::buffer(wire.data() + used, wire.size() - used), ec);
    }
    if (done != nullptr) {
        *done = parser.is_done();
    }
    return ec;
}

TEST(http_client_response_parser, keeps_status_body_and_the_first_retry_after)
{
    client_response r;
    bool done = false;
    auto ec = parse(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 120\r\nretry-after: 5\r\nContent-Length: "
        "4\r\n\r\nbusy",
        r,
        64,
        &done
    );
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_TRUE(done);
    EXPECT_EQ(r.status, 503u);
    EXPECT_EQ(r.retry_after, "120");
    EXPECT_EQ(r.body, "busy");
    EXPECT_FALSE(r.truncated);
}

TEST(http_client_response_parser, body_exactly_at_the_cap_is_not_truncated)
{
    client_response r;
    bool done = false;
    EXPECT_FALSE(parse("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n12345678", r, 8, &done));
    EXPECT_TRUE(done);
    EXPECT_EQ(r.body, "12345678");
    EXPECT_FALSE(r.truncated);
}

TEST(http_client_response_parser, body_over_the_cap_keeps_the_cap_and_stops)
{
    client_response r;
    auto ec = parse("HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n0123456789abcdef", r, 10);
    EXPECT_EQ(ec, bhttp::error::body_limit);
    EXPECT_EQ(r.body, "0123456789");
    EXPECT_TRUE(r.truncated);
}

TEST(http_client_response_parser, chunked_body_over_the_cap_keeps_the_cap_and_stops)
{
    client_response r;
    auto ec =
        parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nghijkl\r\n", r, 8);
    EXPECT_EQ(ec, bhttp::error::body_limit);
    EXPECT_EQ(r.body, "abcdefgh");
    EXPECT_TRUE(r.truncated);
}

TEST(http_client_response_parser, chunked_body_within_the_cap_is_joined)
{
    client_response r;
    bool done = false;
    EXPECT_FALSE(parse(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", r, 64, &done
    ));
    EXPECT_TRUE(done);
    EXPECT_EQ(r.body, "abcde");
}

TEST(http_client_response_parser, refuses_versions_other_than_1_0_and_1_1)
{
    client_response r;
    EXPECT_EQ(parse("HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", r, 64), bhttp::error::bad_version);
}

TEST(http_client_response_parser, refuses_garbage)
{
    client_response r;
    EXPECT_TRUE(parse("this is not http\r\n\r\n", r, 64));
}

} // namespace
