// Async HTTP/1.1 server (Boost.Beast) in front of a Router: keep-alive, a body limit, an idle
// timeout, "Expect: 100-continue", and injected delays/drops on timers (never blocking a thread).
//
// Thread-safety: Listen/Start/Stop from the owning thread. The acceptor runs on pool.Main();
// each accepted connection is pinned to one context of the pool (round-robin) for its life.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "tests/sim/io_pool.h"
#include "tests/sim/router.h"

namespace reach::sim {

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;                       // 0: pick a free port
  uint64_t body_limit = 1024 * 1024;       // bytes; larger bodies get 413 and a close
  std::chrono::seconds idle_timeout{120};  // no progress for this long: close
};

class HttpServer final {
 public:
  // `pool` and `router` must outlive the server.
  HttpServer(IoPool& pool, Router& router, HttpServerOptions options);
  ~HttpServer();

  // Binds and listens. After it returns ok, port() is the bound port.
  Status Listen();
  // Starts accepting (asynchronously, on pool.Main()).
  void Start();
  // Closes the acceptor; open connections end when the pool stops.
  void Stop();
  uint16_t port() const { return port_; }

 private:
  void Accept();

  IoPool& pool_;
  Router& router_;
  const HttpServerOptions options_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;  // backs off after accept errors (e.g. EMFILE)
  uint16_t port_ = 0;
};

}  // namespace reach::sim
