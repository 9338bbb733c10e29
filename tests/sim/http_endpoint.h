// The interface of one fake provider endpoint served over HTTP/1.1, and the answer it gives.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace reach::sim {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;

struct HttpReply {
  unsigned status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra response headers
  // Whether the request carried a valid signature (recorded); nullopt when not checked.
  std::optional<bool> verified;
  int delay_ms = 0;   // answer (or drop) after this long, on a timer
  bool drop = false;  // close the connection without answering
};

// Builds {"error":{"code":code,"message":message}}-style JSON replies the endpoints share.
HttpReply JsonError(unsigned status, std::string_view code, std::string_view message);

// One provider endpoint, e.g. the webhook receiver. Registered with the Router under a path
// prefix; answers as the real provider would.
// Thread-safety: Handle() is called concurrently from every server thread; implementations
// must be safe for that (they are stateless or lock their own state).
class HttpEndpoint {
 public:
  virtual ~HttpEndpoint() = default;
  // Name used for records, stats and faults ("webhook"); [a-z0-9_-]+.
  virtual std::string_view Name() const = 0;
  // Answers one request. Must not block: delays are expressed through HttpReply::delay_ms.
  virtual HttpReply Handle(const HttpRequest& req) = 0;
};

}  // namespace reach::sim
