#include "tests/sim/http_endpoint.h"

namespace reach::sim {

HttpReply JsonError(unsigned status, std::string_view code, std::string_view message) {
  HttpReply r;
  r.status = status;
  r.body = R"({"ok":false,"error":{"code":")";
  r.body += code;
  r.body += R"(","message":")";
  for (char c : message) {
    if (c == '"' || c == '\\') r.body += '\\';
    r.body += c;
  }
  r.body += "\"}}";
  return r;
}

}  // namespace reach::sim
