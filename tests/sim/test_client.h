// Small blocking clients for the simulator's tests: HTTP/1.1 over a kept-alive connection and a
// line-based SMTP client. Every read has a 5 s timeout so a broken server fails a test instead of
// hanging it. Not thread-safe; one per test thread.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"

namespace reach::sim::testing {

// A clock the test sets by hand.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now_ms) : now_ms_(now_ms) {}
  int64_t NowMs() const override { return now_ms_.load(); }
  int64_t MonotonicMs() const override { return now_ms_.load(); }
  void Set(int64_t now_ms) { now_ms_.store(now_ms); }

 private:
  std::atomic<int64_t> now_ms_;
};

struct HttpResult {
  int status = 0;                              // 0 when the connection closed without an answer
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
  bool closed = false;  // the server closed the connection instead of answering
  boost::json::value Json() const;
};

class HttpClient final {
 public:
  explicit HttpClient(uint16_t port);
  HttpResult Request(const std::string& method, const std::string& target,
                     const std::string& body = {},
                     const std::vector<std::pair<std::string, std::string>>& headers = {});
  // Sends raw bytes and reads one response (for malformed requests and Expect: 100-continue).
  void SendRaw(const std::string& bytes);
  HttpResult ReadResponse();
  std::string ReadSome();  // whatever arrives next (empty on close/timeout)

 private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

// One request on a fresh connection.
HttpResult Http(uint16_t port, const std::string& method, const std::string& target,
                const std::string& body = {},
                const std::vector<std::pair<std::string, std::string>>& headers = {});

class SmtpClient final {
 public:
  explicit SmtpClient(uint16_t port);
  // Reads one complete (possibly multi-line) reply; empty when the connection closed.
  std::string ReadReply();
  // Sends `line` + CRLF and reads the reply.
  std::string Command(const std::string& line);
  void SendRaw(const std::string& bytes);
  bool Closed();  // true when the server has closed the connection (reads EOF)

 private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket socket_;
  std::string buffer_;
};

}  // namespace reach::sim::testing
