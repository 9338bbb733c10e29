#include "gateway/http/server.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

namespace reach::http {

namespace net = boost::asio;
using tcp = net::ip::tcp;

Response JsonResponse(unsigned version, bool keep_alive, int status, std::string body) {
  Response res{static_cast<bhttp::status>(status), version};
  res.set(bhttp::field::server, "reachd");
  res.set(bhttp::field::content_type, "application/json");
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response ErrorResponse(unsigned version, bool keep_alive, int status, const std::string& code,
                       const std::string& message, const std::string& field) {
  boost::json::object err{{"code", code}, {"message", message}};
  if (!field.empty()) err["field"] = field;
  boost::json::object root{{"error", std::move(err)}};
  return JsonResponse(version, keep_alive, status, boost::json::serialize(root));
}

class Server::Session : public std::enable_shared_from_this<Server::Session> {
 public:
  Session(tcp::socket&& socket, Server& server) : stream_(std::move(socket)), server_(server) {}
  ~Session() { server_.connections_.fetch_sub(1); }

  void Start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->DoRead(); });
  }

 private:
  void DoRead() {
    parser_.emplace();
    parser_->body_limit(static_cast<uint64_t>(server_.config_.body_limit_bytes));
    parser_->header_limit(64 * 1024);
    stream_.expires_after(std::chrono::milliseconds(first_ ? server_.config_.read_timeout_ms
                                                           : server_.config_.idle_timeout_ms));
    first_ = false;
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) {
      server_.too_large_.Inc();
      auto res = ErrorResponse(
          11, false, 413, "payload_too_large",
          "request body exceeds " + std::to_string(server_.config_.body_limit_bytes) + " bytes",
          "body");
      Write(std::move(res));
      return;
    }
    if (ec) {
      // end_of_stream, timeout, reset: the client went away or idled out.
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      return;
    }
    Request req = parser_->release();
    // The handler may run long (a store commit); the read timer must not fire meanwhile.
    stream_.expires_never();
    auto self = shared_from_this();
    auto responded = std::make_shared<std::atomic<bool>>(false);
    Responder respond = [self, responded](Response res) {
      if (responded->exchange(true)) return;
      net::post(self->stream_.get_executor(),
                [self, res = std::move(res)]() mutable { self->Write(std::move(res)); });
    };
    try {
      server_.handler_(std::move(req), std::move(respond));
    } catch (const std::exception& e) {
      // Last-resort catch: a handler bug must not take the process down.
      spdlog::error("http: handler threw: {}", e.what());
      Write(ErrorResponse(11, false, 500, "internal", "internal error"));
    }
  }

  void Write(Response res) {
    auto sp = std::make_shared<Response>(std::move(res));
    bool close = !sp->keep_alive();
    stream_.expires_after(std::chrono::milliseconds(server_.config_.read_timeout_ms));
    bhttp::async_write(stream_, *sp,
                       [self = shared_from_this(), sp, close](beast::error_code ec, std::size_t) {
                         if (ec) return;
                         if (close) {
                           self->LingeringClose();
                           return;
                         }
                         self->DoRead();
                       });
  }

  // After an early answer (413), the client may still be sending its body. Closing at once
  // with unread data makes the kernel send RST, which can destroy our answer before the client
  // reads it. So: stop sending, and discard what still arrives for a short while.
  void LingeringClose() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(2));
    Discard();
  }
  void Discard() {
    drain_.resize(64 * 1024);
    stream_.async_read_some(net::buffer(drain_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > (64u << 20)) return;
                              self->Discard();
                            });
  }

  beast::tcp_stream stream_;
  Server& server_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bool first_ = true;
  std::vector<char> drain_;
  size_t drained_ = 0;
};

Server::Server(const config::ServerConfig& config, Handler handler, metrics::Registry& metrics)
    : config_(config),
      handler_(std::move(handler)),
      metrics_(metrics),
      acceptor_(net::make_strand(io_)),
      rejected_connections_(metrics.GetCounter("reach_http_rejected_connections_total",
                                               "Connections closed because of the limit")),
      too_large_(metrics.GetCounter("reach_http_payload_too_large_total",
                                    "Requests rejected for their body size")) {
  metrics.AddCallbackGauge("reach_http_connections", "Open HTTP connections",
                           [this] { return static_cast<int64_t>(connections_.load()); });
}

Server::~Server() { Stop(); }

Result<std::string> Server::Start() {
  auto colon = config_.listen.rfind(':');
  std::string host = config_.listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned short port = static_cast<unsigned short>(std::stoi(config_.listen.substr(colon + 1)));
  beast::error_code ec;
  auto addr = net::ip::make_address(host, ec);
  if (ec) return Status::Config("server.listen: bad address " + host);
  tcp::endpoint ep(addr, port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Status::Unavailable("cannot listen on " + config_.listen + ": " + ec.message());
  auto bound = acceptor_.local_endpoint();
  DoAccept();
  for (int i = 0; i < config_.threads; ++i) {
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "reach-api");
      io_.run();
    });
  }
  std::string h = bound.address().to_string();
  if (bound.address().is_v6()) h = "[" + h + "]";
  return h + ":" + std::to_string(bound.port());
}

void Server::DoAccept() {
  acceptor_.async_accept(net::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
      spdlog::warn("http: accept failed: {}", ec.message());
    } else if (connections_.load() >= config_.max_connections) {
      rejected_connections_.Inc();
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      socket.set_option(tcp::no_delay(true), ec);
      connections_.fetch_add(1);
      std::make_shared<Session>(std::move(socket), *this)->Start();
    }
    DoAccept();
  });
}

void Server::StopAccepting() {
  net::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
}

void Server::Stop() {
  if (threads_.empty()) return;
  StopAccepting();
  io_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace reach::http
