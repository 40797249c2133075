#include "relay/http/client_tls.hpp"

#include <openssl/ssl.h>

#include <fstream>
#include <iterator>
#include <stdexcept>

namespace relay::http {

std::shared_ptr<boost::asio::ssl::context> make_client_tls_context(const std::string& extra_ca_file)
{
    namespace ssl = boost::asio::ssl;
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    ctx->set_options(
        ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
        ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::no_compression
    );
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    ctx->set_default_verify_paths();
    if (!extra_ca_file.empty()) {
        std::ifstream in(extra_ca_file, std::ios::binary);
        if (!in) {
            throw std::runtime_error("cannot read the CA file '" + extra_ca_file + "'");
        }
        const std::string pem{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        boost::system::error_code ec;
        ctx->add_certificate_authority(boost::asio::buffer(pem), ec);
        if (ec) {
            throw std::runtime_error(
                "the CA file '" + extra_ca_file + "' holds no usable PEM certificate: " + ec.message()
            );
        }
    }
    return ctx;
}

} // namespace relay::http
