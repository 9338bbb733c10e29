#include "tests/sim/test_client.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>

namespace reach::sim::testing {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

void Connect(tcp::socket& socket, uint16_t port) {
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  timeval tv{5, 0};
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  socket.set_option(tcp::no_delay(true));
}

}  // namespace

boost::json::value HttpResult::Json() const {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  return ec ? boost::json::value() : v;
}

HttpClient::HttpClient(uint16_t port) : socket_(ioc_) { Connect(socket_, port); }

HttpResult HttpClient::Request(const std::string& method, const std::string& target,
                               const std::string& body,
                               const std::vector<std::pair<std::string, std::string>>& headers) {
  http::request<http::string_body> req(http::string_to_verb(method), target, 11);
  req.set(http::field::host, "127.0.0.1");
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty() || method == "POST" || method == "PUT") {
    req.body() = body;
    req.prepare_payload();
  }
  beast::error_code ec;
  http::write(socket_, req, ec);
  if (ec) {
    HttpResult r;
    r.closed = true;
    return r;
  }
  return ReadResponse();
}

void HttpClient::SendRaw(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }

HttpResult HttpClient::ReadResponse() {
  HttpResult r;
  http::response<http::string_body> res;
  beast::error_code ec;
  http::read(socket_, buffer_, res, ec);
  if (ec) {
    r.closed = true;
    return r;
  }
  r.status = static_cast<int>(res.result_int());
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[name] = std::string(f.value());
  }
  r.body = res.body();
  return r;
}

std::string HttpClient::ReadSome() {
  char buf[4096];
  beast::error_code ec;
  size_t n = socket_.read_some(asio::buffer(buf), ec);
  return ec ? std::string() : std::string(buf, n);
}

HttpResult Http(uint16_t port, const std::string& method, const std::string& target,
                const std::string& body,
                const std::vector<std::pair<std::string, std::string>>& headers) {
  HttpClient client(port);
  return client.Request(method, target, body, headers);
}

SmtpClient::SmtpClient(uint16_t port) : socket_(ioc_) { Connect(socket_, port); }

std::string SmtpClient::ReadReply() {
  std::string reply;
  for (;;) {
    size_t nl = buffer_.find("\r\n");
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 2);
      if (!reply.empty()) reply += "\n";
      reply += line;
      // "250-..." continues, "250 ..." (or a bare code) ends the reply.
      if (line.size() <= 3 || line[3] != '-') return reply;
      continue;
    }
    char buf[4096];
    beast::error_code ec;
    size_t n = socket_.read_some(asio::buffer(buf), ec);
    if (ec) return reply;
    buffer_.append(buf, n);
  }
}

std::string SmtpClient::Command(const std::string& line) {
  SendRaw(line + "\r\n");
  return ReadReply();
}

void SmtpClient::SendRaw(const std::string& bytes) {
  beast::error_code ec;
  asio::write(socket_, asio::buffer(bytes), ec);
}

bool SmtpClient::Closed() {
  if (!buffer_.empty()) return false;
  char buf[256];
  beast::error_code ec;
  size_t n = socket_.read_some(asio::buffer(buf), ec);
  if (ec) return ec == asio::error::eof || ec == asio::error::connection_reset;
  buffer_.append(buf, n);
  return false;
}

}  // namespace reach::sim::testing
