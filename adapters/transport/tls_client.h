// TLS client setup shared by Reach's Asio clients (the Beast HTTP client and the pipelining SMTP
// engine): one context per client, and the per-connection name checks.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <string>

namespace reach::transport {

// A TLS client context: TLS 1.2 or later; with `verify_peer`, the system's trust store plus
// `ca_file` when set. Returns why `ca_file` could not be read ("" when it could, or is unset).
std::string SetUpTlsClientContext(boost::asio::ssl::context& context, bool verify_peer,
                                  const std::string& ca_file);

// Per connection, before the handshake: SNI for a host name (not an IP literal) and, with
// `verify_peer`, the name the certificate must carry (host name or IP address, RFC 6125).
void SetUpTlsClientConnection(SSL* ssl, const std::string& host, bool ip_literal, bool verify_peer);

}  // namespace reach::transport
