#include "adapters/transport/http_client.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <boost/json.hpp>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/adapters/transport/engines.h"
#include "tests/sim/simulator.h"

namespace reach::transport {
namespace {

TEST(RetryAfterTest, SecondsDatesAndGarbage) {
  EXPECT_EQ(ParseRetryAfterMs("120", 0), 120000);
  EXPECT_EQ(ParseRetryAfterMs(" 0 ", 0), 0);
  EXPECT_EQ(ParseRetryAfterMs("99999999", 0), 86400000);  // capped at a day
  // Wed, 21 Oct 2015 07:28:00 GMT = 1445412480
  EXPECT_EQ(ParseRetryAfterMs("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480000 - 30000), 30000);
  EXPECT_EQ(ParseRetryAfterMs("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480000 + 5000), 0);
  EXPECT_FALSE(ParseRetryAfterMs("", 0).has_value());
  EXPECT_FALSE(ParseRetryAfterMs("-5", 0).has_value());
  EXPECT_FALSE(ParseRetryAfterMs("soon", 0).has_value());
}

// Both HTTP/1.1 engines must behave alike: every test below runs on each (engines.h).
class HttpClientTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto s = sim::Simulator::Create(sim::SimOptions{}, clock_);
    ASSERT_TRUE(s.ok());
    sim_ = std::move(s.value());
    ASSERT_TRUE(sim_->Start().ok());
    client_ = MakeClient(GetParam());
    url_ = "http://127.0.0.1:" + std::to_string(sim_->http_port()) + "/webhook/t";
  }
  void TearDown() override {
    client_->Shutdown();
    sim_->Stop();
  }
  HttpResponse Call(HttpRequest req) { return CallOn(*client_, std::move(req)); }
  void Fault(const std::string& spec) {
    auto f = sim::FaultTable::Parse(boost::json::parse(spec));
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    sim_->faults().Add(std::move(f.value()));
  }

  SystemClock clock_;
  std::unique_ptr<sim::Simulator> sim_;
  std::unique_ptr<HttpClient> client_;
  std::string url_;
};

TEST_P(HttpClientTest, PostsAndReadsStatusHeadersBody) {
  Fault(R"({"endpoint":"webhook","status":429,"retry_after_s":9,"body":"{\"e\":1}","count":1})");
  HttpRequest req;
  req.url = url_;
  req.body = R"({"x":1})";
  req.headers = {{"Content-Type", "application/json"}, {"X-Test", "yes"}};
  HttpResponse r = Call(req);
  ASSERT_EQ(r.error, TransportError::kNone) << r.error_detail;
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.Header("retry-after"), "9");  // names are lower-cased
  EXPECT_EQ(r.body, R"({"e":1})");
  auto rec = sim_->requests().Recent("webhook", 1);
  ASSERT_EQ(rec.size(), 1u);
  EXPECT_EQ(rec[0].method, "POST");
  EXPECT_EQ(rec[0].body, R"({"x":1})");
  EXPECT_NE(rec[0].headers.find("x-test: yes"), std::string::npos);
  EXPECT_EQ(rec[0].headers.find("expect:"), std::string::npos);
  EXPECT_EQ(Call(req).status, 200);
}

// Nothing of one request may carry into the next on the same connection (curl: easy handles are
// pooled configured, not reset, and sequential calls here all reuse one handle).
TEST_P(HttpClientTest, AReusedHandleCarriesNothingOver) {
  HttpRequest put;
  put.method = "PUT";
  put.url = url_;
  put.body = R"({"first":true})";
  put.headers = {{"X-Only-First", "1"}};
  ASSERT_EQ(Call(put).error, TransportError::kNone);
  HttpRequest post;
  post.url = url_;
  post.body = "{}";
  ASSERT_EQ(Call(post).error, TransportError::kNone);
  HttpRequest get;
  get.method = "GET";
  get.url = url_;
  ASSERT_EQ(Call(get).error, TransportError::kNone);
  auto rec = sim_->requests().Recent("webhook", 3);
  ASSERT_EQ(rec.size(), 3u);
  EXPECT_EQ(rec[0].method, "PUT");
  EXPECT_EQ(rec[0].body, R"({"first":true})");
  EXPECT_NE(rec[0].headers.find("x-only-first: 1"), std::string::npos);
  EXPECT_EQ(rec[1].method, "POST");  // not the PUT's custom method
  EXPECT_EQ(rec[1].body, "{}");
  EXPECT_EQ(rec[1].headers.find("x-only-first"), std::string::npos);
  EXPECT_EQ(rec[2].method, "GET");  // not a POST of the last body
  EXPECT_EQ(rec[2].body, "");
  EXPECT_EQ(rec[2].headers.find("content-length"), std::string::npos);
}

// Both engines keep a kept-alive connection in their epoll set while it is idle. When the peer
// closes such an idle connection, the client must drop it (not spin on its readable end), and
// the next request must open a new connection and succeed.
class HttpClientIdleTest : public ::testing::TestWithParam<std::string> {};

TEST_P(HttpClientIdleTest, PeerClosingAnIdleConnectionIsHandled) {
  SystemClock clock;
  sim::SimOptions opts;
  opts.http.idle_timeout = std::chrono::seconds(1);
  auto s = sim::Simulator::Create(opts, clock);
  ASSERT_TRUE(s.ok());
  auto sim = std::move(s.value());
  ASSERT_TRUE(sim->Start().ok());
  auto client = MakeClient(GetParam());
  HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(sim->http_port()) + "/webhook/t";
  req.body = "{}";
  auto call = [&] { return CallOn(*client, req); };
  auto cpu_s = [] {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  };
  HttpResponse first = call();
  ASSERT_EQ(first.status, 200) << first.error_detail;
  EXPECT_EQ(first.new_connections, 1);
  EXPECT_EQ(call().new_connections, 0);  // kept alive and reused
  double cpu0 = cpu_s();
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));  // the simulator closes it
  double idle_cpu = cpu_s() - cpu0;
  EXPECT_LT(idle_cpu, 0.1) << "the loop spun on a closed idle connection";
  HttpResponse after = call();
  ASSERT_EQ(after.status, 200) << after.error_detail;
  EXPECT_EQ(after.new_connections, 1);
  EXPECT_EQ(call().new_connections, 0);
  client->Shutdown();
  sim->Stop();
}

TEST_P(HttpClientTest, TransportErrors) {
  HttpRequest slow;
  slow.url = url_;
  slow.timeout_ms = 300;
  Fault(R"({"endpoint":"webhook","delay_ms":5000,"count":1})");
  EXPECT_EQ(Call(slow).error, TransportError::kTimeout);
  HttpRequest refused;
  refused.url = "http://127.0.0.1:1/x";
  EXPECT_EQ(Call(refused).error, TransportError::kConnect);
}

// On one kept-alive connection each request has its own deadline: a shorter one after a longer
// one times out at its own (the beast engine's timer is brought forward), and a longer one
// outlives an earlier, shorter one (the timer wakes at the first and waits on).
TEST_P(HttpClientTest, EachRequestOnAKeptAliveConnectionHasItsOwnDeadline) {
  auto call = [&](int64_t timeout_ms) {
    HttpRequest req;
    req.url = url_;
    req.body = "{}";
    req.timeout_ms = timeout_ms;
    return Call(req);
  };
  ASSERT_EQ(call(10000).status, 200);
  Fault(R"({"endpoint":"webhook","delay_ms":4000,"count":1})");
  auto started = std::chrono::steady_clock::now();
  HttpResponse shorter = call(300);
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(shorter.error, TransportError::kTimeout) << shorter.error_detail;
  EXPECT_EQ(shorter.new_connections, 0);
  EXPECT_GE(took, std::chrono::milliseconds(290));
  EXPECT_LT(took, std::chrono::milliseconds(2500));

  ASSERT_EQ(call(400).status, 200);  // on a new connection: the timed-out one was closed
  Fault(R"({"endpoint":"webhook","delay_ms":800,"count":1})");
  HttpResponse longer = call(3000);
  ASSERT_EQ(longer.error, TransportError::kNone) << longer.error_detail;
  EXPECT_EQ(longer.status, 200);
  EXPECT_EQ(longer.new_connections, 0);
  EXPECT_GE(longer.elapsed_ms, 800);
  sim_->faults().Clear();
}

TEST_P(HttpClientTest, ShutdownAbortsInFlightAndLaterSends) {
  Fault(R"({"endpoint":"webhook","delay_ms":20000})");
  HttpRequest req;
  req.url = url_;
  std::promise<HttpResponse> p;
  client_->Send(req, [&](HttpResponse r) { p.set_value(std::move(r)); });
  client_->Shutdown();
  auto f = p.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(f.get().error, TransportError::kAborted);
  bool called = false;
  client_->Send(req, [&](HttpResponse r) {
    called = true;
    EXPECT_EQ(r.error, TransportError::kAborted);
  });
  EXPECT_TRUE(called);
  sim_->faults().Clear();
}

TEST_P(HttpClientTest, ReusesOneConnection) {
  HttpRequest req;
  req.url = url_;
  req.body = "{}";
  long connects = 0;
  for (int i = 0; i < 50; ++i) {
    HttpResponse r = Call(req);
    ASSERT_EQ(r.status, 200) << r.body;
    connects += r.new_connections;
  }
  EXPECT_EQ(connects, 1);  // keep-alive: one connect for 50 sequential requests
}

// Requests beyond a peer's connection limit wait in the loop's queue, highest priority first and
// in arrival order within a priority; never more than the limit run at once.
TEST_P(HttpClientTest, WaitingRequestsRunByPriorityWithinTheConnectionLimit) {
  client_->Shutdown();
  client_ = MakeClient(GetParam(), 1);
  Fault(R"({"endpoint":"webhook","status":200,"delay_ms":150})");

  std::mutex mu;
  std::vector<std::string> order;
  long connections = 0;
  std::promise<void> all_done;
  int left = 7;
  auto send = [&](const std::string& name, int priority) {
    HttpRequest req;
    req.url = url_;
    req.body = "{}";
    req.priority = priority;
    client_->Send(std::move(req), [&, name](HttpResponse r) {
      EXPECT_EQ(r.error, TransportError::kNone) << r.error_detail;
      std::lock_guard<std::mutex> lock(mu);
      order.push_back(name);
      connections += r.new_connections;
      if (--left == 0) all_done.set_value();
    });
  };
  send("first", 1);  // added first: takes the only connection; the rest queue behind it
  send("m1", 1);
  send("m2", 1);
  send("t1", 5);
  send("m3", 1);
  send("otp", 9);
  send("t2", 5);
  ASSERT_EQ(all_done.get_future().wait_for(std::chrono::seconds(20)), std::future_status::ready);
  EXPECT_EQ(order, (std::vector<std::string>{"first", "otp", "t1", "t2", "m1", "m2", "m3"}));
  // One connection, reused: never more than the limit at once.
  EXPECT_EQ(connections, 1);
}

INSTANTIATE_TEST_SUITE_P(Engines, HttpClientTest, kEngines, EngineName);
INSTANTIATE_TEST_SUITE_P(Engines, HttpClientIdleTest, kEngines, EngineName);

}  // namespace
}  // namespace reach::transport
