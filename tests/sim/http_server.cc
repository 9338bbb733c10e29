#include "tests/sim/http_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

namespace reach::sim {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

using Executor = asio::io_context::executor_type;
// Concrete executor types: no type-erased any_io_executor copies on every operation.
using Socket = tcp::socket::rebind_executor<Executor>::other;
using Timer = asio::basic_waitable_timer<std::chrono::steady_clock,
                                         asio::wait_traits<std::chrono::steady_clock>, Executor>;

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// One HTTP connection. Owned by the shared_ptrs in its pending handlers; runs on one thread.
class Session final : public std::enable_shared_from_this<Session> {
 public:
  Session(Socket socket, Router& router, const HttpServerOptions& options)
      : stream_(std::move(socket)),
        timer_(stream_.get_executor()),
        idle_timer_(stream_.get_executor()),
        router_(router),
        options_(options) {}

  void Run() {
    Touch();
    ArmIdleTimer();
    ReadHeader();
  }

 private:
  void ReadHeader() {
    parser_.emplace();
    parser_->body_limit(options_.body_limit);
    // Parse the body in the same pass when it arrived with the header (the common case), so
    // most requests need one read operation; the header is still inspected for 100-continue.
    parser_->eager(true);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    Touch();
    if (parser_->is_done()) return OnRead({});  // the body (if any) came with the header
    auto& req = parser_->get();
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      // libcurl waits up to a second for this before sending a large body.
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = shared_from_this()](beast::error_code ec, size_t) {
                          if (ec) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      return Send(JsonError(413, "payload_too_large", "the body exceeds the limit"));
    }
    if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout || ec == asio::error::connection_reset ||
        ec == asio::error::eof) {
      return Close();
    }
    if (ec.category() == beast::error_code(http::error::bad_target).category()) {  // parse error
      keep_alive_ = false;
      return Send(JsonError(400, "bad_request", "malformed HTTP request: " + ec.message()));
    }
    spdlog::debug("http read: {}", ec.message());
    Close();
  }

  void OnRead(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    HttpRequest req = parser_->release();
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    HttpReply reply = router_.Dispatch(req);
    if (reply.delay_ms > 0) {
      pending_ = std::move(reply);
      timer_.expires_after(std::chrono::milliseconds(pending_->delay_ms));
      timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (ec) return self->Close();
        HttpReply r = std::move(*self->pending_);
        self->pending_.reset();
        self->Finish(std::move(r));
      });
      return;
    }
    Finish(std::move(reply));
  }

  void Finish(HttpReply reply) {
    if (reply.drop) return Abort();
    Send(std::move(reply));
  }

  // Serializes the response by hand: a handful of known headers, no per-field allocations.
  void Send(HttpReply reply) {
    out_.clear();
    out_ += version_ == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    out_ += std::to_string(reply.status);
    out_ += ' ';
    std::string_view reason = http::obsolete_reason(http::int_to_status(reply.status));
    out_ += reason.empty() || reason.front() == '<' ? std::string_view("Unknown") : reason;
    out_ += "\r\nServer: reach-sim\r\nContent-Type: ";
    out_ += reply.content_type;
    out_ += "\r\n";
    for (const auto& [k, v] : reply.headers) {
      out_ += k;
      out_ += ": ";
      out_ += v;
      out_ += "\r\n";
    }
    out_ += "Content-Length: ";
    out_ += std::to_string(reply.body.size());
    out_ += "\r\n";
    if (!keep_alive_) {
      out_ += "Connection: close\r\n";
    } else if (version_ == 10) {
      out_ += "Connection: keep-alive\r\n";
    }
    out_ += "\r\n";
    out_ += reply.body;
    asio::async_write(
        stream_, asio::buffer(out_),
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWrite(ec); });
  }

  void OnWrite(beast::error_code ec) {
    if (ec) return Close();
    Touch();
    if (!keep_alive_) {
      beast::error_code ignored;
      stream_.shutdown(tcp::socket::shutdown_send, ignored);
      return Close();
    }
    ReadHeader();
  }

  // Drops the connection without answering, as a crashed or overloaded provider would.
  void Abort() {
    beast::error_code ignored;
    stream_.shutdown(tcp::socket::shutdown_both, ignored);
    Close();
  }

  void Close() {
    beast::error_code ignored;
    timer_.cancel();
    idle_timer_.cancel();
    stream_.close(ignored);
  }

  void Touch() { last_activity_ = std::chrono::steady_clock::now(); }

  // A coarse idle timeout: one timer per connection that checks for progress, instead of
  // arming and cancelling a timer around every read and write.
  void ArmIdleTimer() {
    idle_timer_.expires_after(std::min<std::chrono::steady_clock::duration>(
        options_.idle_timeout, std::chrono::seconds(10)));
    idle_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      const bool idle =
          std::chrono::steady_clock::now() - self->last_activity_ >= self->options_.idle_timeout;
      // Never while an answer is deliberately held back.
      if (idle && !self->pending_) return self->Close();
      self->ArmIdleTimer();
    });
  }

  Socket stream_;
  Timer timer_;
  Timer idle_timer_;
  std::chrono::steady_clock::time_point last_activity_;
  beast::flat_buffer buffer_;
  Router& router_;
  const HttpServerOptions& options_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string out_;  // the serialized response being written
  std::optional<HttpReply> pending_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
};

}  // namespace

HttpServer::HttpServer(IoPool& pool, Router& router, HttpServerOptions options)
    : pool_(pool),
      router_(router),
      options_(std::move(options)),
      acceptor_(pool.Main()),
      retry_timer_(pool.Main()) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Listen() {
  beast::error_code ec;
  auto address = asio::ip::make_address(options_.address, ec);
  if (ec) return Status(StatusCode::kConfig, "bad address " + options_.address, "http");
  tcp::endpoint ep(address, options_.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("http listen on " + options_.address + ":" +
                               std::to_string(options_.port) + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  return Status::Ok();
}

void HttpServer::Start() {
  asio::dispatch(acceptor_.get_executor(), [this] { Accept(); });
}

void HttpServer::Stop() {
  beast::error_code ignored;
  acceptor_.close(ignored);
  retry_timer_.cancel();
}

void HttpServer::Accept() {
  acceptor_.async_accept(pool_.Next(), [this](beast::error_code ec, Socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      // Start the session on the context that owns the socket.
      auto executor = socket.get_executor();
      auto session = std::make_shared<Session>(std::move(socket), router_, options_);
      asio::dispatch(executor, [session] { session->Run(); });
    } else {
      // Out of descriptors or similar: retry shortly instead of spinning.
      spdlog::warn("http accept: {}", ec.message());
      retry_timer_.expires_after(std::chrono::milliseconds(50));
      retry_timer_.async_wait([this](const boost::system::error_code& wait_ec) {
        if (!wait_ec && acceptor_.is_open()) Accept();
      });
      return;
    }
    Accept();
  });
}

}  // namespace reach::sim
