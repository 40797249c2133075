// TLS to subscribers: a throwaway CA and leaf certificates are generated in memory for each test run; a TLS
// server on loopback presents them. Verification against the configured CA, refusal without it, host name
// mismatch, SNI, and IP-address certificates.

#include "relay/http/client.hpp"
#include "relay/http/client_tls.hpp"

#include "test_server.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <unistd.h>

namespace {

using namespace relay_test;
using relay::http::client;
using relay::http::client_errc;
namespace ssl = boost::asio::ssl;

template <auto Free>
struct c_deleter
{
    template <class T>
    void operator()(T* p) const noexcept
    {
        Free(p);
    }
};
using key_ptr = std::unique_ptr<EVP_PKEY, c_deleter<&EVP_PKEY_free>>;
using cert_ptr = std::unique_ptr<X509, c_deleter<&X509_free>>;
using bio_ptr = std::unique_ptr<BIO, c_deleter<&BIO_free>>;

void check(bool ok, const char* what)
{
    if (!ok) {
        throw std::runtime_error(std::string("OpenSSL failed: ") + what);
    }
}

key_ptr make_key()
{
    key_ptr key(EVP_EC_gen("P-256"));
    check(key != nullptr, "EVP_EC_gen");
    return key;
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    check(ext != nullptr, value);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

// A certificate for `key` named `cn`, signed by `issuer`/`issuer_key` (self-signed when issuer is null).
cert_ptr
make_cert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuer_key, const char* san, long serial)
{
    cert_ptr cert(X509_new());
    check(cert != nullptr, "X509_new");
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
    X509_set_pubkey(cert.get(), key);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(
        name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0
    );
    X509* signer = issuer != nullptr ? issuer : cert.get();
    X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
    if (issuer == nullptr) {
        add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
        add_ext(cert.get(), signer, NID_subject_key_identifier, "hash");
    } else {
        add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(cert.get(), signer, NID_key_usage, "critical,digitalSignature");
        add_ext(cert.get(), signer, NID_ext_key_usage, "serverAuth");
        add_ext(cert.get(), signer, NID_subject_alt_name, san);
        add_ext(cert.get(), signer, NID_authority_key_identifier, "keyid");
    }
    check(X509_sign(cert.get(), issuer_key, EVP_sha256()) > 0, "X509_sign");
    return cert;
}

std::string bio_text(BIO* bio)
{
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(n));
}

std::string cert_pem(X509* cert)
{
    bio_ptr bio(BIO_new(BIO_s_mem()));
    check(PEM_write_bio_X509(bio.get(), cert) == 1, "PEM_write_bio_X509");
    return bio_text(bio.get());
}

std::string key_pem(EVP_PKEY* key)
{
    bio_ptr bio(BIO_new(BIO_s_mem()));
    check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1, "PEM key");
    return bio_text(bio.get());
}

/// A throwaway CA that issues server certificates.
struct test_ca
{
    test_ca()
        : key(make_key())
        , cert(make_cert(key.get(), "Relay Test CA", nullptr, key.get(), nullptr, 1))
        , pem(cert_pem(cert.get()))
    {}

    /// A server TLS context presenting a leaf certificate with `san` (e.g. "DNS:localhost").
    std::unique_ptr<ssl::context> server_context(const char* san)
    {
        auto leaf_key = make_key();
        auto leaf = make_cert(leaf_key.get(), "relay test server", cert.get(), key.get(), san, ++serial);
        auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
        const auto chain = cert_pem(leaf.get());
        const auto leaf_key_pem = key_pem(leaf_key.get());
        ctx->use_certificate_chain(asio::buffer(chain));
        ctx->use_private_key(asio::buffer(leaf_key_pem), ssl::context::pem);
        return ctx;
    }

    key_ptr key;
    cert_ptr cert;
    std::string pem;
    long serial = 1;
};

/// What the TLS server saw, written on its thread.
struct tls_observations
{
    std::mutex m;
    std::string server_name; // SNI of the last handshake
    int handshakes_ok = 0;
};

/// A TLS server on loopback answering 200 "secure" to every request on the connection.
scripted_server::session_fn tls_session(ssl::context& ctx, tls_observations& seen)
{
    return [&ctx, &seen](tcp::socket s, int, server_stats& st) -> asio::awaitable<void> {
        ssl::stream<tcp::socket> stream(std::move(s), ctx);
        auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
        if (ec) {
            co_return;
        }
        {
            std::lock_guard lock(seen.m);
            const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
            seen.server_name = sni != nullptr ? sni : "";
            ++seen.handshakes_ok;
        }
        beast::flat_buffer buf;
        while (co_await read_request(stream, buf, st)) {
            if (!co_await write_raw(stream, response(200, "secure"))) {
                co_return;
            }
        }
    };
}

class http_client_tls : public ::testing::Test
{
protected:
    std::string https_url(const scripted_server& srv, std::string_view host)
    {
        return "https://" + std::string(host) + ":" + std::to_string(srv.port()) + "/hook";
    }

    client make_client(std::shared_ptr<ssl::context> tls)
    {
        return client(driver_.context().get_executor(), loopback_params(), std::move(tls));
    }

    std::shared_ptr<ssl::context> trusting_ca()
    {
        auto ctx = relay::http::make_client_tls_context();
        ctx->add_certificate_authority(asio::buffer(ca_.pem));
        return ctx;
    }

    test_ca ca_;
    tls_observations seen_;
    client_driver driver_;
};

TEST_F(http_client_tls, verifies_the_server_with_the_configured_ca_and_sends_sni)
{
    auto server_ctx = ca_.server_context("DNS:localhost");
    scripted_server srv(tls_session(*server_ctx, seen_));
    auto c = make_client(trusting_ca());
    auto req = make_request(https_url(srv, "localhost"));
    for (int i = 0; i < 2; ++i) {
        auto out = driver_.send(c, req);
        ASSERT_FALSE(out.ec) << out.ec.message() << ": " << out.resp.error_detail;
        EXPECT_EQ(out.resp.status, 200u);
        EXPECT_EQ(out.resp.body, "secure");
    }
    EXPECT_EQ(srv.stats().connections.load(), 1) << "keep-alive over TLS";
    std::lock_guard lock(seen_.m);
    EXPECT_EQ(seen_.server_name, "localhost");
}

TEST_F(http_client_tls, refuses_a_server_whose_ca_is_not_trusted)
{
    auto server_ctx = ca_.server_context("DNS:localhost");
    scripted_server srv(tls_session(*server_ctx, seen_));
    auto c = make_client(relay::http::make_client_tls_context());
    auto req = make_request(https_url(srv, "localhost"));
    auto out = driver_.send(c, req);
    EXPECT_EQ(out.ec, client_errc::tls_error);
    EXPECT_TRUE(relay::http::is_retryable(out.ec));
    EXPECT_NE(out.resp.error_detail.find("certificate verification failed"), std::string::npos)
        << out.resp.error_detail;
    EXPECT_EQ(srv.stats().requests.load(), 0);
}

TEST_F(http_client_tls, refuses_a_certificate_for_another_host_name)
{
    auto server_ctx = ca_.server_context("DNS:wrong.example");
    scripted_server srv(tls_session(*server_ctx, seen_));
    auto c = make_client(trusting_ca());
    auto req = make_request(https_url(srv, "localhost"));
    auto out = driver_.send(c, req);
    EXPECT_EQ(out.ec, client_errc::tls_error);
    EXPECT_NE(out.resp.error_detail.find("hostname mismatch"), std::string::npos) << out.resp.error_detail;
    EXPECT_EQ(srv.stats().requests.load(), 0);
}

TEST_F(http_client_tls, ip_address_url_needs_a_matching_ip_in_the_certificate)
{
    auto dns_only = ca_.server_context("DNS:localhost");
    scripted_server dns_srv(tls_session(*dns_only, seen_));
    auto c = make_client(trusting_ca());
    auto refused_req = make_request(https_url(dns_srv, "127.0.0.1"));
    auto refused = driver_.send(c, refused_req);
    EXPECT_EQ(refused.ec, client_errc::tls_error);

    auto with_ip = ca_.server_context("IP:127.0.0.1");
    scripted_server ip_srv(tls_session(*with_ip, seen_));
    auto ok_req = make_request(https_url(ip_srv, "127.0.0.1"));
    auto ok = driver_.send(c, ok_req);
    EXPECT_FALSE(ok.ec) << ok.ec.message() << ": " << ok.resp.error_detail;
}

TEST_F(http_client_tls, extra_ca_file_is_trusted)
{
    char path[] = "/tmp/relay-client-ca-XXXXXX";
    const int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ::close(fd);
    {
        std::ofstream out(path, std::ios::binary);
        out << ca_.pem;
    }
    auto server_ctx = ca_.server_context("DNS:localhost");
    scripted_server srv(tls_session(*server_ctx, seen_));
    auto params = loopback_params();
    params.extra_ca_file = path;
    client c(driver_.context().get_executor(), params);
    auto req = make_request(https_url(srv, "localhost"));
    auto out = driver_.send(c, req);
    std::remove(path);
    EXPECT_FALSE(out.ec) << out.ec.message() << ": " << out.resp.error_detail;
}

TEST_F(http_client_tls, unreadable_extra_ca_file_is_a_start_up_error)
{
    EXPECT_THROW(relay::http::make_client_tls_context("/nonexistent/relay-ca.pem"), std::runtime_error);
}

TEST_F(http_client_tls, plain_http_server_behind_an_https_url_is_a_tls_error)
{
    scripted_server srv([](tcp::socket s, int, server_stats& st) -> asio::awaitable<void> {
        beast::flat_buffer buf;
        co_await read_request(s, buf, st); // the ClientHello is not HTTP: fails and closes
        co_await write_raw(s, response(400));
    });
    auto c = make_client(trusting_ca());
    auto req = make_request(https_url(srv, "localhost"));
    auto out = driver_.send(c, req);
    EXPECT_EQ(out.ec, client_errc::tls_error);
}

// Accepts TCP but never answers the TLS ClientHello: the connection is never established.
asio::awaitable<void> silent(tcp::socket s, int, server_stats&)
{
    char sink[4096];
    for (;;) {
        auto [ec, n] = co_await s.async_read_some(asio::buffer(sink), use_tuple);
        if (ec) {
            co_return;
        }
    }
}

TEST_F(http_client_tls, stalled_handshake_fails_with_connect_timeout_before_the_request_timeout)
{
    scripted_server srv(silent);
    auto params = loopback_params();
    params.connect_timeout = 300ms;
    client c(driver_.context().get_executor(), params, trusting_ca());
    auto req = make_request(https_url(srv, "localhost"));
    req.timeout = 10s;
    auto out = driver_.send(c, req);
    EXPECT_EQ(out.ec, client_errc::connect_timeout);
    EXPECT_TRUE(relay::http::is_retryable(out.ec));
    EXPECT_GE(out.resp.elapsed, 250ms);
    EXPECT_LT(out.resp.elapsed, 5s);
}

TEST_F(http_client_tls, request_timeout_shorter_than_connect_timeout_reports_request_timeout)
{
    scripted_server srv(silent);
    auto params = loopback_params();
    params.connect_timeout = 10s;
    client c(driver_.context().get_executor(), params, trusting_ca());
    auto req = make_request(https_url(srv, "localhost"));
    req.timeout = 300ms;
    auto out = driver_.send(c, req);
    EXPECT_EQ(out.ec, client_errc::request_timeout);
    EXPECT_LT(out.resp.elapsed, 5s);
}

} // namespace
