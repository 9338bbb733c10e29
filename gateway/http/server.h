// An asynchronous HTTP/1.1 server on Boost.Beast: keep-alive, body limit, read and idle timeouts,
// connection limit. Requests go to a Handler; the handler answers through a Responder that may
// be called later from any thread (it posts back to the connection's strand).
//
// Thread-safety: Start/Stop from the owning thread; each connection is owned by its strand.
#pragma once

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "config/config.h"
#include "gateway/metrics/metrics.h"

namespace reach::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

using Request = bhttp::request<bhttp::string_body>;
using Response = bhttp::response<bhttp::string_body>;
// Call exactly once. Safe from any thread.
using Responder = std::function<void(Response)>;
using Handler = std::function<void(Request&&, Responder)>;

class Server {
 public:
  Server(const config::ServerConfig& config, Handler handler, metrics::Registry& metrics);
  ~Server();

  // Binds and starts the io threads. Returns the bound "host:port" (port 0 resolved).
  Result<std::string> Start();
  // Stops accepting new connections; open connections finish their current request.
  void StopAccepting();
  // Stops everything and joins the threads.
  void Stop();

  int connections() const { return connections_.load(); }

 private:
  class Session;
  void DoAccept();

  config::ServerConfig config_;
  Handler handler_;
  metrics::Registry& metrics_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  std::atomic<int> connections_{0};
  metrics::Counter& rejected_connections_;
  metrics::Counter& too_large_;
};

// A JSON response with the API's error shape:
// {"error":{"code":"invalid_argument","message":"...","field":"..."}}.
Response ErrorResponse(unsigned version, bool keep_alive, int status, const std::string& code,
                       const std::string& message, const std::string& field = {});
Response JsonResponse(unsigned version, bool keep_alive, int status, std::string body);

// The status line and header fields of `res` as they go on the wire, byte for byte what Beast's
// serializer writes for a response with a string body (which the server writes after it).
// Written by hand: the serializer's scatter list of several buffers per field cost ~4 % of an
// HTTP thread's CPU per request.
void SerializeHead(const Response& res, std::string& out);

}  // namespace reach::http
