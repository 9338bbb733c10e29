#include "tests/sim/router.h"

#include <algorithm>

namespace reach::sim {
Router::Router(RequestLog& log, FaultTable& faults, const Clock& clock)
    : log_(log), faults_(faults), clock_(clock) {}

void Router::AddEndpoint(std::string prefix, HttpEndpoint* endpoint) {
  log_.AddEndpoint(std::string(endpoint->Name()));
  routes_.push_back({std::move(prefix), endpoint, true});
  std::stable_sort(routes_.begin(), routes_.end(), [](const Route& a, const Route& b) {
    return a.prefix.size() > b.prefix.size();
  });
}

void Router::AddControl(std::string prefix, HttpEndpoint* endpoint) {
  routes_.push_back({std::move(prefix), endpoint, false});
  std::stable_sort(routes_.begin(), routes_.end(), [](const Route& a, const Route& b) {
    return a.prefix.size() > b.prefix.size();
  });
}

bool Router::HasEndpoint(std::string_view name) const {
  return std::any_of(routes_.begin(), routes_.end(),
                     [&](const Route& r) { return r.recorded && r.endpoint->Name() == name; });
}

std::vector<std::string> Router::EndpointNames() const {
  std::vector<std::string> out;
  for (const auto& r : routes_) {
    if (r.recorded) out.emplace_back(r.endpoint->Name());
  }
  return out;
}

HttpReply Router::Dispatch(HttpRequest& req) {
  std::string_view target = req.target();
  const Route* route = nullptr;
  for (const auto& r : routes_) {
    if (target.substr(0, r.prefix.size()) == r.prefix) {
      route = &r;
      break;
    }
  }
  if (route == nullptr) return JsonError(404, "not_found", "no simulated endpoint at this path");
  if (!route->recorded) return route->endpoint->Handle(req);

  const int64_t now_ms = clock_.NowMs();
  HttpReply reply = route->endpoint->Handle(req);
  const std::string name(route->endpoint->Name());

  RecordedRequest rec;
  if (auto fault = faults_.TakeHttp(name)) {
    rec.fault_id = fault->id;
    if (fault->status != 0) {
      auto verified = reply.verified;
      if (fault->body.empty()) {
        reply = JsonError(fault->status, "injected_fault",
                          "status injected by reach-sim (fault " + std::to_string(fault->id) + ")");
      } else {
        reply = HttpReply{};
        reply.status = fault->status;
        reply.body = fault->body;
        reply.content_type = fault->content_type;
      }
      reply.verified = verified;
      if (fault->retry_after_s >= 0) {
        reply.headers.emplace_back("Retry-After", std::to_string(fault->retry_after_s));
      }
    }
    reply.delay_ms += fault->delay_ms;
    reply.drop = reply.drop || fault->drop;
  }

  rec.method = std::string(req.method_string());
  rec.target = std::string(target);
  rec.headers.reserve(256);
  for (const auto& field : req) {
    const size_t start = rec.headers.size();
    rec.headers.append(field.name_string());
    for (size_t i = start; i < rec.headers.size(); ++i) {
      char& c = rec.headers[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    rec.headers.append(": ");
    rec.headers.append(field.value());
    rec.headers.push_back('\n');
  }
  rec.body = std::move(req.body());
  rec.verified = reply.verified;
  rec.received_at_ms = now_ms;
  rec.status = reply.drop ? 0 : reply.status;
  rec.dropped = reply.drop;
  rec.delay_ms = reply.delay_ms;
  log_.Record(name, std::move(rec));
  return reply;
}

}  // namespace reach::sim
