#pragma once

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string>

namespace relay::http {

/// Builds the TLS context every outbound connection shares (design.md section 9): TLS 1.2 or newer, peer
/// verification required, trust = the system store (set_default_verify_paths) plus the PEM certificates of
/// `extra_ca_file` when it is not empty. There is deliberately no way to turn verification off; host names
/// are checked per connection by relay::http::client. Further CAs can be added with
/// `add_certificate_authority` before the context is first used.
/// Throws std::runtime_error naming the file when `extra_ca_file` cannot be read or holds no certificate
/// (a start-up error). Thread-safety: the returned context may be shared by clients on several threads once
/// it is no longer modified.
std::shared_ptr<boost::asio::ssl::context> make_client_tls_context(const std::string& extra_ca_file = {});

} // namespace relay::http
