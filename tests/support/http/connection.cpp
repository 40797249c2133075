#include "support/http/connection.hpp"

#include <boost/asio/ip/address_v4.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace relay::test {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

http_connection::http_connection(std::uint16_t port, std::chrono::milliseconds timeout)
    : stream_(ioc_)
    , port_(port)
    , timeout_(timeout)
{
    const tcp::endpoint ep(asio::ip::address_v4::loopback(), port);
    const auto ec = run([&](auto done) { stream_.async_connect(ep, done); }, timeout_);
    if (ec) {
        throw boost::system::system_error(ec, "connect to 127.0.0.1:" + std::to_string(port));
    }
    boost::system::error_code ignored;
    stream_.socket().set_option(tcp::no_delay(true), ignored);
}

template <class Op>
boost::system::error_code http_connection::run(Op&& op, std::chrono::steady_clock::duration timeout)
{
    boost::system::error_code result = asio::error::would_block;
    stream_.expires_after(timeout);
    op([&result](boost::system::error_code ec, auto&&...) { result = ec; });
    ioc_.restart();
    ioc_.run();
    return result;
}

boost::system::result<http::response> http_connection::roundtrip(http::request req)
{
    if (req.find(bhttp::field::host) == req.end()) {
        req.set(bhttp::field::host, "127.0.0.1:" + std::to_string(port_));
    }
    req.prepare_payload();
    const auto ec = run([&](auto done) { bhttp::async_write(stream_, req, done); }, timeout_);
    if (ec) {
        return ec;
    }
    for (;;) {
        auto res = read_response();
        if (!res || res->result_int() >= 200) {
            return res;
        }
    }
}

boost::system::result<http::response> http_connection::get(std::string_view target)
{
    return roundtrip(http::request{
        bhttp::verb::get, boost::beast::string_view(target.data(), target.size()), 11});
}

boost::system::result<http::response> http_connection::post(std::string_view target, std::string body)
{
    http::request req{bhttp::verb::post, boost::beast::string_view(target.data(), target.size()), 11};
    req.set(bhttp::field::content_type, "application/json");
    req.body() = std::move(body);
    return roundtrip(std::move(req));
}

boost::system::error_code http_connection::write_raw(std::string_view bytes)
{
    return run(
        [&](auto done) { asio::async_write(stream_, asio::buffer(bytes.data(), bytes.size()), done); },
        timeout_
    );
}

boost::system::result<http::response> http_connection::read_response()
{
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(std::uint64_t{64} * 1024 * 1024);
    const auto ec = run([&](auto done) { bhttp::async_read(stream_, buffer_, parser, done); }, timeout_);
    if (ec) {
        return ec;
    }
    return parser.release();
}

bool http_connection::wait_closed(std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    buffer_.clear();
    for (;;) {
        const auto left = deadline - std::chrono::steady_clock::now();
        if (left <= std::chrono::steady_clock::duration::zero()) {
            return false;
        }
        char discard[4096];
        const auto ec = run([&](auto done) { stream_.async_read_some(asio::buffer(discard), done); }, left);
        if (ec == boost::beast::error::timeout) {
            return false;
        }
        if (ec) {
            return true;
        }
    }
}

std::uint16_t http_connection::local_port() const
{
    boost::system::error_code ec;
    return stream_.socket().local_endpoint(ec).port();
}

boost::system::error_code try_connect(std::uint16_t port)
{
    asio::io_context ioc;
    tcp::socket socket(ioc);
    boost::system::error_code ec;
    socket.connect(tcp::endpoint(asio::ip::address_v4::loopback(), port), ec);
    return ec;
}

} // namespace relay::test
