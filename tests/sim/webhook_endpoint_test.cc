// The webhook receiver, driven over real HTTP on 127.0.0.1 port 0.
#include "tests/sim/webhook_endpoint.h"

#include <gtest/gtest.h>

#include "tests/sim/simulator.h"
#include "tests/sim/test_client.h"

namespace reach::sim {
namespace {

using testing::Http;
using testing::HttpClient;

constexpr std::string_view kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr char kId[] = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr char kTs[] = "1614265330";
constexpr char kBody[] = R"({"test": 2432232314})";
constexpr char kSig[] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
constexpr int64_t kTsMs = 1614265330LL * 1000;

class WebhookEndpointTest : public ::testing::Test {
 protected:
  void StartSim(std::string secret, uint64_t body_limit = 1024 * 1024) {
    SimOptions o;
    o.webhook_secret = std::move(secret);
    o.http.body_limit = body_limit;
    auto sim = Simulator::Create(o, clock_);
    ASSERT_TRUE(sim.ok()) << sim.status().ToString();
    sim_ = std::move(*sim);
    ASSERT_TRUE(sim_->Start().ok());
    port_ = sim_->http_port();
  }

  std::vector<std::pair<std::string, std::string>> Signed(const char* sig = kSig) {
    return {{"webhook-id", kId},
            {"webhook-timestamp", kTs},
            {"webhook-signature", sig},
            {"Content-Type", "application/json"}};
  }

  boost::json::array Records() {
    auto r = Http(port_, "GET", "/_sim/requests?endpoint=webhook");
    EXPECT_EQ(r.status, 200);
    return r.Json().as_array();
  }

  testing::ManualClock clock_{kTsMs};
  std::unique_ptr<Simulator> sim_;
  uint16_t port_ = 0;
};

TEST_F(WebhookEndpointTest, ValidSignatureGets200AndIsRecordedVerified) {
  StartSim(std::string(kSecret));
  auto r = Http(port_, "POST", "/webhook/campaign-engine", kBody, Signed());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"ok":true})");
  auto recs = Records();
  ASSERT_EQ(recs.size(), 1u);
  const auto& rec = recs[0].as_object();
  EXPECT_EQ(rec.at("method").as_string(), "POST");
  EXPECT_EQ(rec.at("path").as_string(), "/webhook/campaign-engine");
  EXPECT_EQ(rec.at("body").as_string(), kBody);
  EXPECT_EQ(rec.at("verified").as_bool(), true);
  EXPECT_EQ(rec.at("status").as_int64(), 200);
  EXPECT_EQ(rec.at("received_at").as_int64(), kTsMs);
  EXPECT_EQ(rec.at("headers").at("webhook-id").as_string(), kId);
  EXPECT_EQ(rec.at("headers").at("content-type").as_string(), "application/json");
}

TEST_F(WebhookEndpointTest, MissingOrBadSignatureGets401WithJsonError) {
  StartSim(std::string(kSecret));
  auto missing = Http(port_, "POST", "/webhook/x", kBody, {{"Content-Type", "application/json"}});
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(missing.headers["content-type"], "application/json");
  EXPECT_EQ(missing.Json().at("error").at("code").as_string(), "invalid_signature");

  auto bad = Http(port_, "POST", "/webhook/x", kBody,
                  Signed("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
  EXPECT_EQ(bad.status, 401);
  auto tampered = Http(port_, "POST", "/webhook/x", R"({"test": 1})", Signed());
  EXPECT_EQ(tampered.status, 401);

  auto recs = Records();
  ASSERT_EQ(recs.size(), 3u);
  for (const auto& rec : recs) {
    EXPECT_EQ(rec.at("verified").as_bool(), false);
    EXPECT_EQ(rec.at("status").as_int64(), 401);
  }
}

TEST_F(WebhookEndpointTest, StaleTimestampGets401) {
  StartSim(std::string(kSecret));
  clock_.Set(kTsMs + 301 * 1000);
  auto r = Http(port_, "POST", "/webhook/x", kBody, Signed());
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("too old"), std::string::npos);
}

TEST_F(WebhookEndpointTest, NonJsonBodyGets400AfterSignatureCheck) {
  StartSim(std::string(kSecret));
  // Correctly signed, but not JSON.
  auto verifier = WebhookVerifier::Create(kSecret, clock_).value();
  std::string body = "not json";
  auto r = Http(port_, "POST", "/webhook/x", body, Signed(verifier.Sign(kId, kTs, body).c_str()));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json().at("error").at("code").as_string(), "invalid_json");
}

TEST_F(WebhookEndpointTest, WithoutSecretAcceptsUnsignedAndRecordsUnverified) {
  StartSim("");
  EXPECT_EQ(Http(port_, "POST", "/webhook/a", R"({"x":1})").status, 200);
  EXPECT_EQ(Http(port_, "POST", "/webhook/a", "{broken").status, 400);
  auto recs = Records();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].at("verified").as_bool(), false);
}

TEST_F(WebhookEndpointTest, OtherMethodsGet405AndUnknownPaths404) {
  StartSim("");
  auto r = Http(port_, "GET", "/webhook/a");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["allow"], "POST");
  EXPECT_EQ(Http(port_, "POST", "/nothing-here", "{}").status, 404);
}

TEST_F(WebhookEndpointTest, KeepsTheConnectionAlive) {
  StartSim("");
  HttpClient client(port_);
  for (int i = 0; i < 20; ++i) {
    auto r = client.Request("POST", "/webhook/k", R"({"i":)" + std::to_string(i) + "}");
    ASSERT_EQ(r.status, 200) << i;
    EXPECT_FALSE(r.closed);
  }
  EXPECT_EQ(Records().size(), 20u);
}

TEST_F(WebhookEndpointTest, BodyOverLimitGets413) {
  StartSim("", /*body_limit=*/100);
  auto r = Http(port_, "POST", "/webhook/big", std::string(1000, ' ') + "{}");
  EXPECT_EQ(r.status, 413);
}

TEST_F(WebhookEndpointTest, AnswersExpect100Continue) {
  StartSim("");
  HttpClient client(port_);
  client.SendRaw(
      "POST /webhook/c HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 7\r\nExpect: 100-continue\r\n\r\n");
  std::string interim = client.ReadSome();
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  client.SendRaw(R"({"a":1})");
  auto r = client.ReadResponse();
  EXPECT_EQ(r.status, 200);
}

TEST_F(WebhookEndpointTest, MalformedRequestGets400) {
  StartSim("");
  HttpClient client(port_);
  client.SendRaw("POST /webhook/c HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n");
  auto r = client.ReadResponse();
  EXPECT_EQ(r.status, 400);
}

}  // namespace
}  // namespace reach::sim
