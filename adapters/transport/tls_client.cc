#include "adapters/transport/tls_client.h"

#include <openssl/x509v3.h>

namespace reach::transport {

std::string SetUpTlsClientContext(boost::asio::ssl::context& context, bool verify_peer,
                                  const std::string& ca_file) {
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
  if (!verify_peer) {
    context.set_verify_mode(boost::asio::ssl::verify_none);
    return "";
  }
  context.set_verify_mode(boost::asio::ssl::verify_peer);
  boost::system::error_code ec;
  context.set_default_verify_paths(ec);
  if (!ca_file.empty()) context.load_verify_file(ca_file, ec);
  return ec ? "CA bundle " + ca_file + ": " + ec.message() : "";
}

void SetUpTlsClientConnection(SSL* ssl, const std::string& host, bool ip_literal,
                              bool verify_peer) {
  if (!ip_literal) SSL_set_tlsext_host_name(ssl, host.c_str());
  if (!verify_peer) return;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (ip_literal) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  }
}

}  // namespace reach::transport
