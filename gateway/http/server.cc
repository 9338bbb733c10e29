#include "gateway/http/server.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <array>
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

void SerializeHead(const Response& res, std::string& out) {
  out.clear();
  out.append(res.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  out.append(std::to_string(res.result_int())).append(1, ' ');
  beast::string_view reason = res.reason();
  out.append(reason.data(), reason.size()).append("\r\n");
  for (const auto& f : res) {
    beast::string_view name = f.name_string();
    beast::string_view value = f.value();
    out.append(name.data(), name.size()).append(": ").append(value.data(), value.size());
    out.append("\r\n");
  }
  out.append("\r\n");
}

Response ErrorResponse(unsigned version, bool keep_alive, int status, const std::string& code,
                       const std::string& message, const std::string& field) {
  boost::json::object err{{"code", code}, {"message", message}};
  if (!field.empty()) err["field"] = field;
  boost::json::object root{{"error", std::move(err)}};
  return JsonResponse(version, keep_alive, status, boost::json::serialize(root));
}

// The session's executor and I/O objects are typed on the strand (no type-erased executor to
// copy on every operation).
using Strand = net::strand<net::io_context::executor_type>;
using Socket = net::basic_stream_socket<tcp, Strand>;
using Timer = net::basic_waitable_timer<std::chrono::steady_clock,
                                        net::wait_traits<std::chrono::steady_clock>, Strand>;

class Server::Session : public std::enable_shared_from_this<Server::Session> {
 public:
  Session(Socket&& socket, Server& server)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), server_(server) {}
  ~Session() { server_.connections_.fetch_sub(1); }

  void Start() {
    net::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->DoRead(); });
  }

 private:
  using Clock = std::chrono::steady_clock;

  // Timeouts. Setting a deadline is a plain store: one timer per connection wakes when the
  // earliest deadline it knows of passes and re-arms itself if the deadline moved later, so a
  // request costs no timer operation (a timed async op per read and write would arm and cancel
  // a timer twice per request). Runs on the strand, as does OnTimer.
  void SetDeadline(std::chrono::milliseconds after) {
    deadline_ = Clock::now() + after;
    if (!timer_armed_) {
      ArmTimer();
    } else if (deadline_ < timer_.expiry()) {
      timer_.cancel();  // OnTimer re-arms at the earlier deadline
    }
  }
  void ClearDeadline() { deadline_ = Clock::time_point::max(); }

  void ArmTimer() {
    timer_armed_ = true;
    timer_.expires_at(deadline_);
    timer_.async_wait([self = shared_from_this()](beast::error_code) { self->OnTimer(); });
  }

  void OnTimer() {
    timer_armed_ = false;
    if (closed_ || deadline_ == Clock::time_point::max()) return;
    if (Clock::now() >= deadline_) {
      Close();  // pending reads and writes complete with operation_aborted
      return;
    }
    ArmTimer();
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    timer_.cancel();
  }

  void DoRead() {
    parser_.emplace();
    parser_->body_limit(static_cast<uint64_t>(server_.config_.body_limit_bytes));
    parser_->header_limit(64 * 1024);
    SetDeadline(std::chrono::milliseconds(first_ ? server_.config_.read_timeout_ms
                                                 : server_.config_.idle_timeout_ms));
    first_ = false;
    bhttp::async_read(
        socket_, buffer_, *parser_,
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
      Close();
      return;
    }
    Request req = parser_->release();
    // The handler may run long (a store commit); the read timeout must not fire meanwhile.
    ClearDeadline();
    auto self = shared_from_this();
    auto responded = std::make_shared<std::atomic<bool>>(false);
    Responder respond = [self, responded](Response res) {
      if (responded->exchange(true)) return;
      net::post(self->socket_.get_executor(),
                [self, res = std::move(res)]() mutable { self->Write(std::move(res)); });
    };
    try {
      server_.handler_(std::move(req), std::move(respond));
    } catch (const std::exception& e) {
      // Last-resort catch: a handler bug must not take the process down.
      spdlog::error("http: handler threw: {}", e.what());
      // Unless it answered before it threw: one response per request (the session holds it).
      if (!responded->exchange(true)) {
        Write(ErrorResponse(11, false, 500, "internal", "internal error"));
      }
    }
  }

  void Write(Response res) {
    if (closed_) return;
    // One response is in flight at a time (the next read starts after it), so the session
    // holds it.
    res_.emplace(std::move(res));
    bool close = !res_->keep_alive();
    SetDeadline(std::chrono::milliseconds(server_.config_.read_timeout_ms));
    SerializeHead(*res_, head_);
    std::array<net::const_buffer, 2> buffers{net::buffer(head_), net::buffer(res_->body())};
    net::async_write(socket_, buffers,
                     [self = shared_from_this(), close](beast::error_code ec, std::size_t) {
                       self->res_.reset();
                       if (ec) {
                         self->Close();
                         return;
                       }
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
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    SetDeadline(std::chrono::seconds(2));
    Discard();
  }
  void Discard() {
    drain_.resize(64 * 1024);
    socket_.async_read_some(net::buffer(drain_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > (64u << 20)) {
                                self->Close();
                                return;
                              }
                              self->Discard();
                            });
  }

  Socket socket_;
  Timer timer_;
  Server& server_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<Response> res_;
  std::string head_;  // res_'s status line and fields, serialized (capacity kept across requests)
  Clock::time_point deadline_ = Clock::time_point::max();
  bool timer_armed_ = false;
  bool closed_ = false;
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
  acceptor_.async_accept(net::make_strand(io_), [this](beast::error_code ec, Socket socket) {
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
