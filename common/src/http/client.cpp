#include "relay/http/client.hpp"

#include "relay/http/client_pool.hpp"
#include "relay/http/client_tls.hpp"
#include "relay/http/client_wire.hpp"
#include "relay/log/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/verify_mode.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <array>
#include <cerrno>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <unordered_map>
#include <variant>

namespace relay::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using boost::system::error_code;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Interim (1xx) responses accepted before the final one; more is a misbehaving server.
constexpr int max_interim_responses = 8;

/// One TCP (optionally TLS) connection with the buffers it reuses from request to request.
class client_connection
{
public:
    using tls_stream = beast::ssl_stream<beast::tcp_stream>;

    client_connection(const asio::any_io_executor& ex, ssl::context* tls, std::size_t read_limit)
        : read_buffer(read_limit)
    {
        if (tls != nullptr) {
            stream.emplace<tls_stream>(ex, *tls);
        } else {
            stream.emplace<beast::tcp_stream>(ex);
        }
    }

    beast::tcp_stream& tcp_layer() noexcept
    {
        if (auto* s = std::get_if<tls_stream>(&stream)) {
            return beast::get_lowest_layer(*s);
        }
        return std::get<beast::tcp_stream>(stream);
    }

    // An idle connection is usable only if the server neither closed it nor sent anything unasked: a
    // non-blocking peek at the socket tells both without consuming a byte.
    bool probe_idle() noexcept
    {
        auto& sock = tcp_layer().socket();
        if (!sock.is_open() || read_buffer.size() != 0) {
            return false;
        }
        char byte = 0;
        const auto n = ::recv(sock.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }

    std::variant<std::monostate, beast::tcp_stream, tls_stream> stream;
    std::string write_buffer;
    beast::flat_buffer read_buffer;
    std::size_t exchanges = 0; ///< completed request/response exchanges
};

using origin_pool = basic_origin_pool<client_connection>;
using pool_handle = origin_pool::handle;

struct send_result
{
    error_code ec;
    client_response resp;
};

/// The outcome of writing one request and reading its response on one connection.
struct exchange_result
{
    error_code ec;                 ///< mapped to client_errc
    error_code raw;                ///< what the stream reported
    bool nothing_received = false; ///< not a single byte of the response arrived
    bool reusable = false;
};

struct string_hash
{
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

bool is_closed_by_peer(const error_code& ec) noexcept
{
    return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::connection_reset || ec == asio::error::connection_aborted ||
           ec == asio::error::broken_pipe || ec == asio::error::not_connected ||
           ec == ssl::error::stream_truncated;
}

// Stream errors while sending or reading a response, in client_errc terms.
error_code map_exchange_error(const error_code& ec) noexcept
{
    if (ec == beast::error::timeout) {
        return client_errc::request_timeout;
    }
    if (is_closed_by_peer(ec) || ec == bhttp::error::partial_message) {
        return client_errc::connection_closed;
    }
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category()) {
        return client_errc::protocol_error; // malformed response, header too large, ...
    }
    if (ec.category() == asio::error::get_ssl_category()) {
        return client_errc::tls_error; // e.g. a corrupt record
    }
    return client_errc::connection_closed;
}

std::string tls_failure_detail(client_connection::tls_stream& s, const error_code& ec)
{
    const auto verify = SSL_get_verify_result(s.native_handle());
    if (verify != X509_V_OK) {
        return std::string("certificate verification failed: ") + X509_verify_cert_error_string(verify);
    }
    return ec.message();
}

/// Resolves `host` and completes at the first of: the result, or `deadline` (client_errc::resolve_timeout).
/// getaddrinfo cannot be interrupted, so on a timeout its late result is dropped rather than awaited.
class resolve_race : public std::enable_shared_from_this<resolve_race>
{
public:
    using signature = void(error_code, tcp::resolver::results_type);

    resolve_race(const asio::any_io_executor& ex, asio::any_completion_handler<signature> handler)
        : resolver_(ex)
        , timer_(ex)
        , handler_(std::move(handler))
    {}

    template <class CompletionToken>
    static auto async_resolve(
        const asio::any_io_executor& ex,
        const std::string& host,
        std::uint16_t port,
        clock_type::time_point deadline,
        CompletionToken&& token
    )
    {
        return asio::async_initiate<CompletionToken, signature>(
            [&ex, &host, port, deadline](auto handler) {
                // Constructed in place: Boost 1.81's any_completion_handler move assignment recurses forever.
                auto self = std::make_shared<resolve_race>(
                    ex, asio::any_completion_handler<signature>(std::move(handler))
                );
                self->resolver_.async_resolve(
                    host,
                    std::to_string(port),
                    tcp::resolver::numeric_service,
                    [self](error_code ec, tcp::resolver::results_type results) {
                        self->finish(ec, std::move(results));
                    }
                );
                self->timer_.expires_at(deadline);
                self->timer_.async_wait([self](error_code ec) {
                    if (!ec) {
                        self->resolver_.cancel();
                        self->finish(client_errc::resolve_timeout, {});
                    }
                });
            },
            token
        );
    }

private:
    void finish(error_code ec, tcp::resolver::results_type results)
    {
        if (!handler_) {
            return;
        }
        timer_.cancel();
        asio::dispatch(asio::append(std::move(handler_), ec, std::move(results)));
    }

    tcp::resolver resolver_;
    asio::steady_timer timer_;
    asio::any_completion_handler<signature> handler_;
};

} // namespace

struct client::impl
{
    impl(executor_type ex, client_params p, std::shared_ptr<ssl::context> tls_ctx)
        : executor(std::move(ex))
        , params(std::move(p))
        , tls(std::move(tls_ctx))
    {
        if (!tls) {
            tls = make_client_tls_context(params.extra_ca_file);
        }
    }

    asio::awaitable<send_result> send(const client_request& req);
    asio::awaitable<error_code>
    send_on_pool(const client_request& req, clock_type::time_point deadline, client_response& resp);
    asio::awaitable<error_code>
    connect(pool_handle& h, const net::url& url, clock_type::time_point deadline, client_response& resp);
    template <class Stream>
    asio::awaitable<exchange_result> exchange(
        Stream& stream,
        client_connection& conn,
        const client_request& req,
        clock_type::time_point deadline,
        client_response& resp
    );

    std::shared_ptr<origin_pool> pool_for(const net::url& url);
    void close_now();

    executor_type executor;
    client_params params;
    std::shared_ptr<ssl::context> tls;
    std::unordered_map<std::string, std::shared_ptr<origin_pool>, string_hash, std::equal_to<>> pools;
    std::string key_scratch; // reused to look pools up without allocating
    std::size_t sweep_at = 64;
    bool closed = false;
};

std::shared_ptr<origin_pool> client::impl::pool_for(const net::url& url)
{
    key_scratch.clear();
    key_scratch.append(url.scheme).append("://").append(url.host).append(":");
    key_scratch.append(std::to_string(url.port));
    if (auto it = pools.find(std::string_view(key_scratch)); it != pools.end()) {
        return it->second;
    }
    // Origins come and go with subscriptions: drop pools nobody uses, amortised over insertions.
    if (pools.size() >= sweep_at) {
        std::erase_if(pools, [](const auto& entry) { return entry.second->unused(); });
        sweep_at = std::max<std::size_t>(64, pools.size() * 2);
    }
    auto pool =
        std::make_shared<origin_pool>(executor, params.max_connections_per_origin, params.idle_timeout);
    pools.emplace(key_scratch, pool);
    return pool;
}

void client::impl::close_now()
{
    closed = true;
    for (auto& [key, pool] : pools) {
        pool->close();
    }
    pools.clear();
}

asio::awaitable<send_result> client::impl::send(const client_request& req)
{
    send_result out;
    const auto start = clock_type::now();
    try {
        out.ec = co_await send_on_pool(req, start + req.timeout, out.resp);
    } catch (const std::exception& e) {
        // Only allocation failures can get here; end this request, not the process.
        log::error("http client: request failed with an exception", {{"error", e.what()}});
        out.ec = make_error_code(boost::system::errc::not_enough_memory);
        out.resp.error_detail = e.what();
    }
    if (out.ec && out.resp.error_detail.empty()) {
        out.resp.error_detail = out.ec.message();
    }
    out.resp.elapsed = clock_type::now() - start;
    co_return out;
}

asio::awaitable<error_code>
client::impl::send_on_pool(const client_request& req, clock_type::time_point deadline, client_response& resp)
{
    if (closed) {
        co_return client_errc::shutting_down;
    }
    if (auto ec = validate_request(req)) {
        resp.error_detail =
            "invalid scheme, method, target or header (names must be tokens, values free of "
            "CR/LF/NUL; Host, Content-Length, Transfer-Encoding and Connection are set by the "
            "client)";
        co_return ec;
    }
    auto pool = pool_for(req.url);
    auto h = pool->try_acquire();
    if (!h.valid()) {
        error_code ec;
        std::tie(ec, h) = co_await pool->async_acquire(deadline, use_tuple);
        if (ec) {
            co_return ec;
        }
    }
    for (int attempt = 0;; ++attempt) {
        if (h.get() == nullptr) {
            if (auto ec = co_await connect(h, req.url, deadline, resp)) {
                co_return ec;
            }
        }
        auto& conn = *h;
        const bool reused = conn.exchanges > 0;
        exchange_result r;
        if (auto* s = std::get_if<client_connection::tls_stream>(&conn.stream)) {
            r = co_await exchange(*s, conn, req, deadline, resp);
        } else {
            r = co_await exchange(std::get<beast::tcp_stream>(conn.stream), conn, req, deadline, resp);
        }
        if (!r.ec) {
            ++conn.exchanges;
            if (r.reusable) {
                h.keep_alive();
            }
            co_return error_code{};
        }
        // The keep-alive race: the server closed the idle connection while we were sending. It did not
        // answer, so sending once more on a new connection is safe (and the webhook-id makes duplicates
        // harmless).
        if (reused && attempt == 0 && r.nothing_received && is_closed_by_peer(r.raw) &&
            clock_type::now() < deadline) {
            if (log::enabled(log::level::debug)) {
                log::debug(
                    "http client: reused connection was closed, retrying on a new one",
                    {{"host", req.url.host}, {"port", req.url.port}, {"error", r.raw.message()}}
                );
            }
            if (auto ec = co_await connect(h, req.url, deadline, resp)) {
                co_return ec;
            }
            continue;
        }
        if (resp.error_detail.empty()) {
            resp.error_detail = r.raw.message();
        }
        co_return r.ec;
    }
}

asio::awaitable<error_code> client::impl::connect(
    pool_handle& h, const net::url& url, clock_type::time_point deadline, client_response& resp
)
{
    const auto connect_deadline = std::min(clock_type::now() + params.connect_timeout, deadline);
    // When the request deadline is the one that runs out, the request timed out, not the connect.
    const auto timeout_error = [&](client_errc connect_phase_error) -> error_code {
        return connect_deadline == deadline ? client_errc::request_timeout : connect_phase_error;
    };

    std::vector<tcp::endpoint> candidates;
    if (url.host_is_literal) {
        error_code ec;
        const auto addr = asio::ip::make_address(url.host, ec);
        if (ec) {
            resp.error_detail = "invalid IP address literal";
            co_return client_errc::invalid_request;
        }
        candidates.emplace_back(addr, url.port);
    } else {
        auto [ec, results] =
            co_await resolve_race::async_resolve(executor, url.host, url.port, connect_deadline, use_tuple);
        if (ec == client_errc::resolve_timeout) {
            resp.error_detail = "resolving " + url.host + " timed out";
            co_return timeout_error(client_errc::resolve_timeout);
        }
        if (ec) {
            resp.error_detail = "resolving " + url.host + ": " + ec.message();
            co_return client_errc::resolve_failed;
        }
        for (const auto& entry : results) {
            candidates.push_back(entry.endpoint());
        }
    }

    // Every resolved address is checked; only allowed ones are tried (design.md section 9).
    error_code blocked;
    std::erase_if(candidates, [&](const tcp::endpoint& ep) {
        auto ec = params.address_policy.check(ep.address());
        if (ec && !blocked) {
            blocked = ec;
            resp.error_detail = "address " + ep.address().to_string() + " is " +
                                std::string(net::to_string(net::classify(ep.address()))) +
                                " and not allowed by the address policy";
        }
        return static_cast<bool>(ec);
    });
    if (candidates.empty()) {
        if (blocked) {
            co_return blocked;
        }
        resp.error_detail = "resolving " + url.host + " returned no address";
        co_return client_errc::resolve_failed;
    }

    const bool use_tls = url.scheme == "https";
    auto& conn = h.emplace(executor, use_tls ? tls.get() : nullptr, params.max_response_header + 16u * 1024);
    auto& tcp_layer = conn.tcp_layer();
    tcp_layer.expires_at(connect_deadline);
    auto [cec, ep] = co_await tcp_layer.async_connect(candidates, use_tuple);
    if (cec) {
        resp.error_detail = "connecting to " + url.host + ": " + cec.message();
        co_return cec == beast::error::timeout ? timeout_error(client_errc::connect_timeout)
                                               : error_code(client_errc::connect_failed);
    }

    if (auto* s = std::get_if<client_connection::tls_stream>(&conn.stream)) {
        SSL* native = s->native_handle();
        s->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
        // OpenSSL's own host check (the one ssl::host_name_verification wraps) runs inside chain
        // verification, so a mismatch shows up as X509_V_ERR_HOSTNAME_MISMATCH in the verify result and the
        // error detail.
        bool ok = true;
        if (url.host_is_literal) {
            ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native), url.host.c_str()) == 1;
        } else {
            ok = SSL_set_tlsext_host_name(native, url.host.c_str()) == 1 &&
                 SSL_set1_host(native, url.host.c_str()) == 1;
        }
        if (!ok) {
            resp.error_detail = "cannot set the TLS host name";
            co_return client_errc::tls_error;
        }
        auto [hec] = co_await s->async_handshake(ssl::stream_base::client, use_tuple);
        if (hec) {
            resp.error_detail = "TLS handshake with " + url.host + ": " + tls_failure_detail(*s, hec);
            co_return hec == beast::error::timeout ? timeout_error(client_errc::connect_timeout)
                                                   : error_code(client_errc::tls_error);
        }
    }
    co_return error_code{};
}

template <class Stream>
asio::awaitable<exchange_result> client::impl::exchange(
    Stream& stream,
    client_connection& conn,
    const client_request& req,
    clock_type::time_point deadline,
    client_response& resp
)
{
    exchange_result out;
    conn.write_buffer.clear();
    serialize_request_head(req, conn.write_buffer);
    conn.tcp_layer().expires_at(deadline);
    const std::array<asio::const_buffer, 2> buffers{asio::buffer(conn.write_buffer), asio::buffer(req.body)};
    auto [wec, written] = co_await asio::async_write(stream, buffers, use_tuple);
    if (wec) {
        out.raw = wec;
        out.ec = map_exchange_error(wec);
        out.nothing_received = conn.read_buffer.size() == 0;
        co_return out;
    }

    for (int interim = 0;; ++interim) {
        resp.status = 0;
        std::optional<client_response_parser> parser;
        parser.emplace(resp, params.max_response_body);
        parser->header_limit(static_cast<std::uint32_t>(params.max_response_header));
        parser->body_limit(boost::none); // the parser itself enforces the cap, keeping what fits
        if (req.method == "HEAD") {
            parser->skip(true);
        }
        auto [rec, n] = co_await bhttp::async_read(stream, conn.read_buffer, *parser, use_tuple);
        if (rec == bhttp::error::body_limit && resp.truncated) {
            conn.tcp_layer().expires_never();
            co_return out; // a capped body is a response; its connection is not reusable
        }
        if (rec) {
            out.raw = rec;
            out.ec = map_exchange_error(rec);
            out.nothing_received = interim == 0 && !parser->got_some() && conn.read_buffer.size() == 0;
            co_return out;
        }
        if (resp.status >= 100 && resp.status < 200) {
            if (resp.status == 101 || interim + 1 >= max_interim_responses) {
                out.ec = out.raw = client_errc::protocol_error;
                resp.error_detail = resp.status == 101 ? "unexpected 101 Switching Protocols"
                                                       : "too many interim (1xx) responses";
                co_return out;
            }
            continue;
        }
        if (resp.status < 100 || resp.status > 999) {
            out.ec = out.raw = client_errc::protocol_error;
            resp.error_detail = "invalid status code";
            co_return out;
        }
        conn.tcp_layer().expires_never();
        out.reusable = parser->keep_alive() && conn.read_buffer.size() == 0;
        co_return out;
    }
}

client::client(executor_type executor, client_params params, std::shared_ptr<ssl::context> tls)
    : impl_(std::make_shared<impl>(std::move(executor), std::move(params), std::move(tls)))
{}

client::~client()
{
    close();
}

void client::close()
{
    asio::dispatch(impl_->executor, [impl = impl_] { impl->close_now(); });
}

client::executor_type client::get_executor() const noexcept
{
    return impl_->executor;
}

const client_params& client::params() const noexcept
{
    return impl_->params;
}

void client::start_send(
    std::shared_ptr<impl> im, const client_request& req, asio::any_completion_handler<send_signature> handler
)
{
    auto work = asio::prefer(
        asio::get_associated_executor(handler, im->executor), asio::execution::outstanding_work.tracked
    );
    auto& executor = im->executor;
    auto op = im->send(req);
    asio::co_spawn(
        executor,
        std::move(op),
        [im = std::move(im),
         handler = std::move(handler),
         work = std::move(work)](const std::exception_ptr&, send_result result) mutable {
            // send() catches everything it can throw, so the exception pointer is always empty.
            asio::dispatch(work, asio::append(std::move(handler), result.ec, std::move(result.resp)));
        }
    );
}

} // namespace relay::http
