#include "tests/sim/control_api.h"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <charconv>

namespace reach::sim {
namespace http = boost::beast::http;
namespace json = boost::json;
namespace {

constexpr std::string_view kPrefix = "/_sim";

HttpReply JsonReply(unsigned status, const json::value& v) {
  HttpReply r;
  r.status = status;
  r.body = json::serialize(v);
  return r;
}

HttpReply Ok() { return JsonReply(200, json::object{{"ok", true}}); }

struct Query {
  std::string path;
  std::string endpoint;
  std::string path_filter;
  std::string limit;
  bool has_endpoint = false;
};

Result<Query> ParseTarget(std::string_view target) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return Status::InvalidArgument("bad request target");
  Query q;
  q.path = std::string(url->path());
  for (auto param : url->params()) {
    if (param.key == "endpoint") {
      q.endpoint = param.value;
      q.has_endpoint = true;
    } else if (param.key == "limit") {
      q.limit = param.value;
    } else if (param.key == "path") {
      q.path_filter = param.value;
    } else {
      return Status::InvalidArgument("unknown query parameter", param.key);
    }
  }
  return q;
}

Result<size_t> ParseLimit(const std::string& s) {
  if (s.empty()) return size_t{0};
  size_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size()) {
    return Status::InvalidArgument("must be a non-negative integer", "limit");
  }
  return n;
}

HttpReply BadRequest(const Status& st) {
  std::string msg = st.field().empty() ? st.message() : st.field() + ": " + st.message();
  return JsonError(400, "invalid_argument", msg);
}

HttpReply MethodNotAllowed(std::string_view allow) {
  HttpReply r = JsonError(405, "method_not_allowed", "allowed: " + std::string(allow));
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

}  // namespace

HttpReply ControlApi::Handle(const HttpRequest& req) {
  auto q = ParseTarget(req.target());
  if (!q.ok()) return BadRequest(q.status());
  std::string_view path = q->path;
  if (path.substr(0, kPrefix.size()) != kPrefix) return JsonError(404, "not_found", "unknown path");
  path.remove_prefix(kPrefix.size());
  const http::verb method = req.method();

  if (path == "/health") {
    if (method != http::verb::get) return MethodNotAllowed("GET");
    return Ok();
  }
  if (path == "/requests") {
    if (method != http::verb::get) return MethodNotAllowed("GET");
    return Requests(req);
  }
  if (path == "/smtp/messages") {
    if (method != http::verb::get) return MethodNotAllowed("GET");
    auto limit = ParseLimit(q->limit);
    if (!limit.ok()) return BadRequest(limit.status());
    json::array a;
    for (const auto& m : messages_.Recent(*limit)) a.push_back(MessageLog::ToJson(m));
    return JsonReply(200, a);
  }
  if (path == "/stats") {
    if (method != http::verb::get) return MethodNotAllowed("GET");
    json::object o;
    for (const auto& [name, c] : requests_.Counters()) o[name] = RequestLog::ToJson(c);
    o["smtp"] = MessageLog::ToJson(messages_.Counters());
    return JsonReply(200, o);
  }
  if (path == "/faults") {
    if (method == http::verb::get) return JsonReply(200, faults_.ToJson());
    if (method == http::verb::post) return AddFaults(req);
    if (method == http::verb::delete_) {
      size_t removed = faults_.Clear(q->endpoint);
      return JsonReply(200, json::object{{"ok", true}, {"removed", removed}});
    }
    return MethodNotAllowed("GET, POST, DELETE");
  }
  if (path == "/reset") {
    if (method != http::verb::post) return MethodNotAllowed("POST");
    faults_.Clear();
    requests_.Clear();
    messages_.Clear();
    return Ok();
  }
  return JsonError(404, "not_found", "unknown control path");
}

HttpReply ControlApi::Requests(const HttpRequest& req) {
  auto q = ParseTarget(req.target());
  if (!q.ok()) return BadRequest(q.status());
  auto limit = ParseLimit(q->limit);
  if (!limit.ok()) return BadRequest(limit.status());
  std::vector<std::string> names;
  if (q->has_endpoint) {
    if (!router_.HasEndpoint(q->endpoint)) {
      return JsonError(404, "unknown_endpoint", "no endpoint named " + q->endpoint);
    }
    names.push_back(q->endpoint);
  } else {
    names = router_.EndpointNames();
  }
  struct Item {
    std::string endpoint;
    RecordedRequest r;
  };
  std::vector<Item> items;
  for (const auto& name : names) {
    for (auto& r : requests_.Recent(name, *limit, q->path_filter)) {
      items.push_back({name, std::move(r)});
    }
  }
  if (names.size() > 1) {
    std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
      return a.r.received_at_ms < b.r.received_at_ms;
    });
    if (*limit != 0 && items.size() > *limit) {
      items.erase(items.begin(), items.end() - static_cast<std::ptrdiff_t>(*limit));
    }
  }
  json::array a;
  a.reserve(items.size());
  for (const auto& item : items) {
    json::value v = RequestLog::ToJson(item.r);
    v.as_object()["endpoint"] = item.endpoint;
    a.push_back(std::move(v));
  }
  return JsonReply(200, a);
}

HttpReply ControlApi::AddFaults(const HttpRequest& req) {
  boost::system::error_code ec;
  json::value v = json::parse(req.body(), ec);
  if (ec) return JsonError(400, "invalid_json", "the body is not valid JSON");
  std::vector<Fault> parsed;
  auto parse_one = [&](const json::value& item) -> Status {
    auto f = FaultTable::Parse(item);
    if (!f.ok()) return f.status();
    if (const auto* h = std::get_if<HttpFault>(&*f); h && !router_.HasEndpoint(h->endpoint)) {
      return Status::InvalidArgument("no endpoint named " + h->endpoint, "endpoint");
    }
    parsed.push_back(std::move(*f));
    return Status::Ok();
  };
  if (v.is_array()) {
    for (const auto& item : v.get_array()) {
      if (Status st = parse_one(item); !st.ok()) return BadRequest(st);
    }
  } else if (Status st = parse_one(v); !st.ok()) {
    return BadRequest(st);
  }
  json::array ids;
  for (auto& f : parsed) ids.push_back(faults_.Add(std::move(f)));
  return JsonReply(200, json::object{{"ok", true}, {"ids", std::move(ids)}});
}

}  // namespace reach::sim
