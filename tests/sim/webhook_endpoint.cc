#include "tests/sim/webhook_endpoint.h"

#include <boost/json/basic_parser_impl.hpp>
#include <cstdint>

namespace reach::sim {
namespace http = boost::beast::http;
namespace {

// A basic_parser handler that builds nothing: validation without allocating a DOM.
struct NullHandler {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);
  using ec_t = boost::json::error_code;
  using sv = boost::json::string_view;
  bool on_document_begin(ec_t&) { return true; }
  bool on_document_end(ec_t&) { return true; }
  bool on_array_begin(ec_t&) { return true; }
  bool on_array_end(std::size_t, ec_t&) { return true; }
  bool on_object_begin(ec_t&) { return true; }
  bool on_object_end(std::size_t, ec_t&) { return true; }
  bool on_string_part(sv, std::size_t, ec_t&) { return true; }
  bool on_string(sv, std::size_t, ec_t&) { return true; }
  bool on_key_part(sv, std::size_t, ec_t&) { return true; }
  bool on_key(sv, std::size_t, ec_t&) { return true; }
  bool on_number_part(sv, ec_t&) { return true; }
  bool on_int64(std::int64_t, sv, ec_t&) { return true; }
  bool on_uint64(std::uint64_t, sv, ec_t&) { return true; }
  bool on_double(double, sv, ec_t&) { return true; }
  bool on_bool(bool, ec_t&) { return true; }
  bool on_null(ec_t&) { return true; }
  bool on_comment_part(sv, ec_t&) { return true; }
  bool on_comment(sv, ec_t&) { return true; }
};

bool IsJson(std::string_view body) {
  // One parser per thread: its stack is reused, so validation does not allocate per request.
  thread_local boost::json::basic_parser<NullHandler> parser{boost::json::parse_options()};
  parser.reset();
  boost::json::error_code ec;
  size_t n = parser.write_some(false, body.data(), body.size(), ec);
  return !ec && n == body.size();
}

}  // namespace

HttpReply WebhookEndpoint::Handle(const HttpRequest& req) {
  if (req.method() != http::verb::post) {
    HttpReply r = JsonError(405, "method_not_allowed", "use POST");
    r.headers.emplace_back("Allow", "POST");
    return r;
  }
  bool verified = false;
  if (verifier_.has_value()) {
    Status st = verifier_->Verify(req["webhook-id"], req["webhook-timestamp"],
                                  req["webhook-signature"], req.body());
    if (!st.ok()) {
      HttpReply r = JsonError(401, "invalid_signature", st.message());
      r.verified = false;
      return r;
    }
    verified = true;
  }
  if (!IsJson(req.body())) {
    HttpReply r = JsonError(400, "invalid_json", "the body is not valid JSON");
    r.verified = verified;
    return r;
  }
  HttpReply r;
  r.status = 200;
  r.body = R"({"ok":true})";
  r.verified = verified;
  return r;
}

}  // namespace reach::sim
