// The control API and HTTP fault injection, driven over real HTTP on 127.0.0.1 port 0.
#include "tests/sim/control_api.h"

#include <gtest/gtest.h>

#include <chrono>

#include "tests/sim/simulator.h"
#include "tests/sim/test_client.h"

namespace reach::sim {
namespace {

using testing::Http;
using testing::HttpClient;

class ControlApiTest : public ::testing::Test {
 protected:
  void SetUp() override { StartSim({}); }

  void StartSim(SimOptions o) {
    if (sim_) sim_->Stop();
    auto sim = Simulator::Create(std::move(o), clock_);
    ASSERT_TRUE(sim.ok()) << sim.status().ToString();
    sim_ = std::move(*sim);
    ASSERT_TRUE(sim_->Start().ok());
    port_ = sim_->http_port();
  }

  testing::HttpResult AddFault(const std::string& json) {
    return Http(port_, "POST", "/_sim/faults", json);
  }
  testing::HttpResult Post(const std::string& path = "/webhook/t", const std::string& body = "{}") {
    return Http(port_, "POST", path, body);
  }
  boost::json::value Stats() { return Http(port_, "GET", "/_sim/stats").Json(); }

  testing::ManualClock clock_{1'700'000'000'000};
  std::unique_ptr<Simulator> sim_;
  uint16_t port_ = 0;
};

TEST_F(ControlApiTest, Health) {
  auto r = Http(port_, "GET", "/_sim/health");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"ok":true})");
}

TEST_F(ControlApiTest, StatusFaultForTheNextCountRequests) {
  auto added = AddFault(R"({"endpoint":"webhook","status":503,"count":2,"body":"{\"busy\":1}"})");
  ASSERT_EQ(added.status, 200) << added.body;
  EXPECT_EQ(added.Json().at("ids").as_array().size(), 1u);
  auto first = Post();
  EXPECT_EQ(first.status, 503);
  EXPECT_EQ(first.body, R"({"busy":1})");
  EXPECT_EQ(Post().status, 503);
  EXPECT_EQ(Post().status, 200);

  auto s = Stats().at("webhook");
  EXPECT_EQ(s.at("received").as_int64(), 3);
  EXPECT_EQ(s.at("answered").at("503").as_int64(), 2);
  EXPECT_EQ(s.at("answered").at("200").as_int64(), 1);
  EXPECT_EQ(s.at("faulted").as_int64(), 2);
  auto recs = Http(port_, "GET", "/_sim/requests?endpoint=webhook").Json().as_array();
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].at("status").as_int64(), 503);
  EXPECT_FALSE(recs[0].at("fault").is_null());
  EXPECT_TRUE(recs[2].at("fault").is_null());
}

TEST_F(ControlApiTest, TooManyRequestsWithRetryAfter) {
  ASSERT_EQ(AddFault(R"({"endpoint":"webhook","status":429,"retry_after_s":2,"count":1})").status,
            200);
  auto r = Post();
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.headers["retry-after"], "2");
  EXPECT_EQ(r.Json().at("error").at("code").as_string(), "injected_fault");
  EXPECT_EQ(Post().status, 200);
}

TEST_F(ControlApiTest, DelayHoldsTheAnswerOnATimer) {
  ASSERT_EQ(AddFault(R"({"endpoint":"webhook","delay_ms":300})").status, 200);
  // Many concurrent delayed requests finish in about one delay: the thread never blocks.
  constexpr int kClients = 50;
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(std::make_unique<HttpClient>(port_));
  auto start = std::chrono::steady_clock::now();
  for (auto& c : clients) {
    c->SendRaw("POST /webhook/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}");
  }
  for (auto& c : clients) EXPECT_EQ(c->ReadResponse().status, 200);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, std::chrono::milliseconds(290));
  EXPECT_LT(elapsed, std::chrono::milliseconds(2000));
  auto recs = Http(port_, "GET", "/_sim/requests?endpoint=webhook&limit=1").Json().as_array();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].at("delay_ms").as_int64(), 300);
}

TEST_F(ControlApiTest, DropClosesWithoutAnswer) {
  ASSERT_EQ(AddFault(R"({"endpoint":"webhook","drop":true,"count":1})").status, 200);
  auto r = Post();
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(Post().status, 200);
  auto s = Stats().at("webhook");
  EXPECT_EQ(s.at("dropped").as_int64(), 1);
  auto recs = Http(port_, "GET", "/_sim/requests?endpoint=webhook").Json().as_array();
  EXPECT_TRUE(recs[0].at("dropped").as_bool());
  EXPECT_EQ(recs[0].at("status").as_int64(), 0);
}

TEST_F(ControlApiTest, DelayedDropAndDelayedStatus) {
  ASSERT_EQ(AddFault(R"([{"endpoint":"webhook","status":500,"delay_ms":100,"count":1},
                         {"endpoint":"webhook","drop":true,"delay_ms":100,"count":1}])")
                .status,
            200);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Post().status, 500);
  EXPECT_TRUE(Post().closed);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(190));
}

TEST_F(ControlApiTest, ProbabilityZeroNeverApplies) {
  ASSERT_EQ(AddFault(R"({"endpoint":"webhook","status":500,"probability":0})").status, 200);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Post().status, 200);
}

TEST_F(ControlApiTest, ListAndDeleteFaults) {
  ASSERT_EQ(AddFault(R"({"endpoint":"webhook","status":500})").status, 200);
  ASSERT_EQ(AddFault(R"({"endpoint":"smtp","command":"RCPT","reply":"550 5.1.1 User unknown",
                         "match":"bounce@","count":1})")
                .status,
            200);
  auto list = Http(port_, "GET", "/_sim/faults").Json().as_array();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1].at("match").as_string(), "bounce@");
  auto del = Http(port_, "DELETE", "/_sim/faults?endpoint=webhook");
  EXPECT_EQ(del.Json().at("removed").as_int64(), 1);
  EXPECT_EQ(Post().status, 200);
  EXPECT_EQ(Http(port_, "DELETE", "/_sim/faults").Json().at("removed").as_int64(), 1);
  EXPECT_EQ(Http(port_, "GET", "/_sim/faults").Json().as_array().size(), 0u);
}

TEST_F(ControlApiTest, InvalidFaultsGet400) {
  auto unknown = AddFault(R"({"endpoint":"nosuch","status":500})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(unknown.body.find("endpoint"), std::string::npos);
  EXPECT_EQ(AddFault(R"({"endpoint":"webhook","status":500,"extra":1})").status, 400);
  EXPECT_EQ(AddFault("not json").status, 400);
  // An array is all-or-nothing.
  EXPECT_EQ(AddFault(R"([{"endpoint":"webhook","status":500},{"endpoint":"webhook"}])").status,
            400);
  EXPECT_EQ(Http(port_, "GET", "/_sim/faults").Json().as_array().size(), 0u);
}

TEST_F(ControlApiTest, ResetClearsRecordsCountersAndFaults) {
  ASSERT_EQ(AddFault(R"({"endpoint":"webhook","status":500})").status, 200);
  EXPECT_EQ(Post().status, 500);
  EXPECT_EQ(Http(port_, "POST", "/_sim/reset").status, 200);
  EXPECT_EQ(Stats().at("webhook").at("received").as_int64(), 0);
  EXPECT_EQ(Http(port_, "GET", "/_sim/requests?endpoint=webhook").Json().as_array().size(), 0u);
  EXPECT_EQ(Post().status, 200);
}

TEST_F(ControlApiTest, RequestsLimitPathFilterAndErrors) {
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(
        Post(i % 2 == 0 ? "/webhook/even" : "/webhook/odd", "{\"i\":" + std::to_string(i) + "}")
            .status,
        200);
  }
  auto last2 = Http(port_, "GET", "/_sim/requests?endpoint=webhook&limit=2").Json().as_array();
  ASSERT_EQ(last2.size(), 2u);
  EXPECT_EQ(last2[0].at("body").as_string(), R"({"i":3})");
  EXPECT_EQ(last2[1].at("body").as_string(), R"({"i":4})");
  auto odd = Http(port_, "GET", "/_sim/requests?endpoint=webhook&path=/webhook/odd").Json();
  EXPECT_EQ(odd.as_array().size(), 2u);
  auto all = Http(port_, "GET", "/_sim/requests").Json().as_array();
  EXPECT_EQ(all.size(), 5u);
  EXPECT_EQ(all[0].at("endpoint").as_string(), "webhook");
  EXPECT_EQ(Http(port_, "GET", "/_sim/requests?endpoint=nosuch").status, 404);
  EXPECT_EQ(Http(port_, "GET", "/_sim/requests?limit=x").status, 400);
  EXPECT_EQ(Http(port_, "POST", "/_sim/stats").status, 405);
  EXPECT_EQ(Http(port_, "GET", "/_sim/nothing").status, 404);
}

TEST_F(ControlApiTest, RecordLimitKeepsTheLastNButCountsExactly) {
  SimOptions o;
  o.record_limit = 3;
  StartSim(o);
  HttpClient client(port_);
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(client.Request("POST", "/webhook/r", "{\"i\":" + std::to_string(i) + "}").status,
              200);
  }
  auto recs = Http(port_, "GET", "/_sim/requests?endpoint=webhook").Json().as_array();
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].at("body").as_string(), R"({"i":7})");
  EXPECT_EQ(recs[2].at("body").as_string(), R"({"i":9})");
  EXPECT_EQ(recs[2].at("seq").as_int64(), 10);
  EXPECT_EQ(Stats().at("webhook").at("received").as_int64(), 10);
}

TEST_F(ControlApiTest, FaultsFromOptionsApplyAtStart) {
  SimOptions o;
  o.faults = {R"({"endpoint":"webhook","status":502,"count":1})"};
  StartSim(o);
  EXPECT_EQ(Post().status, 502);
  EXPECT_EQ(Post().status, 200);
  SimOptions bad;
  bad.faults = {R"({"endpoint":"nosuch","status":502})"};
  EXPECT_FALSE(Simulator::Create(bad, clock_).ok());
}

TEST_F(ControlApiTest, SeveralThreadsServeAndCountExactly) {
  SimOptions o;
  o.threads = 2;
  StartSim(o);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this] {
      HttpClient client(port_);
      for (int i = 0; i < 200; ++i)
        EXPECT_EQ(client.Request("POST", "/webhook/mt", "{}").status, 200);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(Stats().at("webhook").at("answered").at("200").as_int64(), 800);
}

}  // namespace
}  // namespace reach::sim
