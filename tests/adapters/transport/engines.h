// What the transport tests share: a client of either HTTP/1.1 engine ("beast", "curl"), a
// blocking call on it, and the parameter list that runs a test on both.
#pragma once

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <string>

#include "adapters/transport/http_client.h"

namespace reach::transport {

inline std::unique_ptr<HttpClient> MakeClient(const std::string& engine,
                                              long max_host_connections = 0,
                                              std::string ca_file = {}, bool verify_peer = true) {
  if (engine == "curl") {
    CurlHttpClientOptions o;
    o.loop.max_host_connections = max_host_connections;
    o.ca_file = std::move(ca_file);
    o.verify_peer = verify_peer;
    return MakeCurlHttpClient(o);
  }
  BeastHttpClientOptions o;
  o.max_host_connections = max_host_connections;
  o.ca_file = std::move(ca_file);
  o.verify_peer = verify_peer;
  return MakeBeastHttpClient(o);
}

// Sends `req` and waits (at most 20 s) for its answer.
inline HttpResponse CallOn(HttpClient& client, HttpRequest req) {
  std::promise<HttpResponse> p;
  client.Send(std::move(req), [&](HttpResponse r) { p.set_value(std::move(r)); });
  auto f = p.get_future();
  EXPECT_EQ(f.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  return f.get();
}

inline const auto kEngines = ::testing::Values(std::string("beast"), std::string("curl"));
inline std::string EngineName(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

}  // namespace reach::transport
