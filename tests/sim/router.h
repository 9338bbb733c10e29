// Routes each HTTP request to the endpoint registered for the longest matching path prefix,
// applies injected faults and records the exchange.
//
// Endpoints are registered explicitly by whoever builds the simulator (no static registration).
// Thread-safety: Add* before the server starts; Dispatch() from any server thread afterwards.
#pragma once

#include <string>
#include <vector>

#include "common/clock.h"
#include "tests/sim/fault_table.h"
#include "tests/sim/http_endpoint.h"
#include "tests/sim/request_log.h"

namespace reach::sim {

class Router final {
 public:
  Router(RequestLog& log, FaultTable& faults, const Clock& clock);

  // Requests whose path starts with `prefix` go to `endpoint` (not owned; must outlive the
  // router). Recorded and fault-injected under endpoint->Name().
  void AddEndpoint(std::string prefix, HttpEndpoint* endpoint);
  // Like AddEndpoint, but neither recorded nor subject to faults (the control API).
  void AddControl(std::string prefix, HttpEndpoint* endpoint);

  bool HasEndpoint(std::string_view name) const;
  std::vector<std::string> EndpointNames() const;

  // Answers `req`; may move its body into the record.
  HttpReply Dispatch(HttpRequest& req);

 private:
  struct Route {
    std::string prefix;
    HttpEndpoint* endpoint;
    bool recorded;
  };
  RequestLog& log_;
  FaultTable& faults_;
  const Clock& clock_;
  std::vector<Route> routes_;  // longest prefix first
};

}  // namespace reach::sim
