#include <gtest/gtest.h>

#include <future>

#include "adapters/webhook/signer.h"
#include "adapters/webhook/webhook_adapter.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_http_client.h"
#include "tests/sim/simulator.h"

namespace reach::adapters {
namespace {

namespace json = boost::json;
constexpr char kSecret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

TEST(WebhookSignerTest, ReproducesTheStandardWebhooksTestVector) {
  auto s = WebhookSigner::Create(kSecret);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  // The bare base64 key (no prefix) is the same key.
  auto bare = WebhookSigner::Create("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->Sign("a", 1, "b"), s->Sign("a", 1, "b"));
}

TEST(WebhookSignerTest, RejectsBadSecrets) {
  EXPECT_FALSE(WebhookSigner::Create("").ok());
  EXPECT_FALSE(WebhookSigner::Create("whsec_").ok());
  EXPECT_FALSE(WebhookSigner::Create("whsec_not base64!").ok());
  EXPECT_FALSE(WebhookSigner::Create("whsec_c2hvcnQ=").ok());  // "short": under 16 bytes
}

TEST(WebhookSignerTest, VerifyChecksSignatureAndTimestamp) {
  auto s = WebhookSigner::Create(kSecret);
  ASSERT_TRUE(s.ok());
  std::string sig = s->Sign("msg_1", 1000, "{}");
  EXPECT_TRUE(s->Verify("msg_1", "1000", "{}", sig, 1000).ok());
  EXPECT_TRUE(s->Verify("msg_1", "1000", "{}", "v1,bm9wZQ== " + sig, 1200).ok());  // rotation
  EXPECT_FALSE(s->Verify("msg_1", "1000", "{ }", sig, 1000).ok());                 // tampered body
  EXPECT_FALSE(s->Verify("msg_2", "1000", "{}", sig, 1000).ok());                  // other id
  EXPECT_FALSE(s->Verify("msg_1", "1000", "{}", sig, 1301).ok());                  // too old
  EXPECT_FALSE(s->Verify("msg_1", "1000", "{}", sig, 699).ok());  // from the future
  EXPECT_FALSE(s->Verify("msg_1", "10x0", "{}", sig, 1000).ok());
  auto other = WebhookSigner::Create("whsec_dGVzdC1zZWNyZXQtZm9yLWludGVncmF0aW9u");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->Verify("msg_1", "1000", "{}", sig, 1000).ok());
}

transport::HttpResponse Answer(int status, std::string body = "",
                               std::vector<std::pair<std::string, std::string>> headers = {}) {
  transport::HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

transport::HttpResponse Failure(transport::TransportError e) {
  transport::HttpResponse r;
  r.error = e;
  r.error_detail = "simulated";
  return r;
}

TEST(WebhookClassifyTest, EveryRow) {
  struct Row {
    transport::HttpResponse answer;
    Outcome want;
  };
  std::vector<Row> rows = {
      {Answer(200), Outcome::kSent},
      {Answer(202), Outcome::kSent},
      {Answer(204), Outcome::kSent},
      {Answer(301), Outcome::kPermanent},
      {Answer(400), Outcome::kPermanent},
      {Answer(404), Outcome::kPermanent},
      {Answer(413), Outcome::kPermanent},
      {Answer(422), Outcome::kPermanent},
      {Answer(401), Outcome::kConfig},
      {Answer(403), Outcome::kConfig},
      {Answer(408), Outcome::kRetry},
      {Answer(410), Outcome::kRecipientInvalid},
      {Answer(429), Outcome::kThrottled},
      {Answer(500), Outcome::kRetry},
      {Answer(502), Outcome::kThrottled},
      {Answer(503), Outcome::kRetry},
      {Answer(504), Outcome::kThrottled},
      {Failure(transport::TransportError::kConnect), Outcome::kRetry},
      {Failure(transport::TransportError::kResolve), Outcome::kRetry},
      {Failure(transport::TransportError::kTimeout), Outcome::kRetry},
      {Failure(transport::TransportError::kConnection), Outcome::kRetry},
      {Failure(transport::TransportError::kAborted), Outcome::kRetry},
      {Failure(transport::TransportError::kTls), Outcome::kConfig},
  };
  for (const auto& row : rows) {
    SendResult r = ClassifyWebhookAnswer(row.answer, 0);
    EXPECT_EQ(r.outcome, row.want)
        << "status " << row.answer.status << " error " << TransportErrorName(row.answer.error);
    EXPECT_EQ(r.provider, "webhook");
  }
}

TEST(WebhookClassifyTest, RetryAfterAndProviderId) {
  auto r = ClassifyWebhookAnswer(Answer(429, "slow down", {{"retry-after", "7"}}), 0);
  EXPECT_EQ(r.retry_after_ms, 7000);
  EXPECT_EQ(r.code, "429");
  EXPECT_EQ(r.detail, "slow down");
  auto ok = ClassifyWebhookAnswer(Answer(200, R"({"id":"rcv-9"})"), 0);
  EXPECT_EQ(ok.provider_message_id, "rcv-9");
  EXPECT_EQ(ok.code, "200");
}

SendRequest Request() {
  SendRequest req;
  req.message_id = 42;
  req.external_id = "msg_42";
  req.channel = "webhook";
  req.attempt = 2;
  req.category = "transactional";
  req.locale = "zh-CN";
  req.to.user_id = "u-1";
  req.content["body"] = json::parse(R"({"event":"user.welcome","name":"李雷 \"q\""})");
  req.metadata["campaign"] = "42";
  return req;
}

SendResult SendAndWait(Adapter& a, SendRequest req) {
  std::promise<SendResult> p;
  a.Send(std::move(req), [&](SendResult r) { p.set_value(std::move(r)); });
  auto f = p.get_future();
  EXPECT_EQ(f.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  return f.get();
}

TEST(WebhookAdapterTest, BuildsTheSignedEnvelope) {
  FakeClock clock(1'700'000'000'123);
  FakeHttpClient http;
  config::WebhookConfig cfg;
  cfg.url = "https://hooks.example.com/reach";
  cfg.secret = kSecret;
  cfg.timeout_ms = 1234;
  auto a = MakeWebhookAdapter(cfg, clock, http);
  ASSERT_TRUE(a.ok());
  SendResult r = SendAndWait(**a, Request());
  EXPECT_EQ(r.outcome, Outcome::kSent);
  auto reqs = http.requests();
  ASSERT_EQ(reqs.size(), 1u);
  const auto& h = reqs[0];
  EXPECT_EQ(h.method, "POST");
  EXPECT_EQ(h.url, "https://hooks.example.com/reach");
  EXPECT_EQ(h.timeout_ms, 1234);
  std::map<std::string, std::string> headers(h.headers.begin(), h.headers.end());
  EXPECT_EQ(headers["content-type"], "application/json");
  EXPECT_EQ(headers["webhook-id"], "msg_42");
  EXPECT_EQ(headers["webhook-timestamp"], "1700000000");
  auto signer = WebhookSigner::Create(kSecret);
  EXPECT_EQ(headers["webhook-signature"], signer->Sign("msg_42", 1700000000, h.body));
  // Byte for byte (the signature covers these bytes; receivers may log or diff them).
  EXPECT_EQ(
      h.body,
      R"({"type":"message","id":"msg_42","timestamp":"2023-11-14T22:13:20.123Z",)"
      R"("data":{"channel":"webhook","category":"transactional","locale":"zh-CN",)"
      R"("attempt":2,"to":{"user_id":"u-1"},)"
      R"("body":{"event":"user.welcome","name":"李雷 \"q\""},"metadata":{"campaign":"42"}}})");
  json::value body = json::parse(h.body);
  EXPECT_EQ(body.at("type"), "message");
  EXPECT_EQ(body.at("id"), "msg_42");
  EXPECT_EQ(body.at("timestamp"), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(body.at("data").at("body").at("name"), "李雷 \"q\"");
  EXPECT_EQ(body.at("data").at("attempt"), 2);
  EXPECT_EQ(body.at("data").at("to").at("user_id"), "u-1");
  EXPECT_EQ(body.at("data").at("metadata").at("campaign"), "42");

  // A message's own URL wins; no URL at all is a config error, answered asynchronously.
  SendRequest own = Request();
  own.to.webhook_url = "http://127.0.0.1:1/x";
  SendAndWait(**a, own);
  EXPECT_EQ(http.requests().back().url, "http://127.0.0.1:1/x");
  config::WebhookConfig no_url = cfg;
  no_url.url.clear();
  auto b = MakeWebhookAdapter(no_url, clock, http);
  EXPECT_EQ(SendAndWait(**b, Request()).outcome, Outcome::kConfig);
  EXPECT_FALSE(MakeWebhookAdapter(config::WebhookConfig{}, clock, http).ok());
}

class WebhookSimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim::SimOptions o;
    o.webhook_secret = kSecret;
    auto s = sim::Simulator::Create(o, clock_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    sim_ = std::move(s.value());
    ASSERT_TRUE(sim_->Start().ok());
    http_ = transport::MakeHttpClient({});  // what reachd runs: Beast for HTTP/1.1
    cfg_.url = "http://127.0.0.1:" + std::to_string(sim_->http_port()) + "/webhook/test";
    cfg_.secret = kSecret;
    cfg_.timeout_ms = 2000;
  }
  void TearDown() override {
    http_->Shutdown();
    sim_->Stop();
  }
  void Fault(const std::string& spec) {
    auto f = sim::FaultTable::Parse(json::parse(spec));
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    sim_->faults().Add(std::move(f.value()));
  }

  SystemClock clock_;
  std::unique_ptr<sim::Simulator> sim_;
  std::unique_ptr<transport::HttpClient> http_;
  config::WebhookConfig cfg_;
};

TEST_F(WebhookSimTest, SimulatorVerifiesOurSignature) {
  auto a = MakeWebhookAdapter(cfg_, clock_, *http_);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(SendAndWait(**a, Request()).outcome, Outcome::kSent);
  auto recent = sim_->requests().Recent("webhook", 10, "");
  ASSERT_EQ(recent.size(), 1u);
  EXPECT_EQ(recent[0].verified, std::optional<bool>(true));

  config::WebhookConfig wrong = cfg_;
  wrong.secret = "whsec_dGVzdC1zZWNyZXQtZm9yLWludGVncmF0aW9u";
  auto b = MakeWebhookAdapter(wrong, clock_, *http_);
  SendResult r = SendAndWait(**b, Request());
  EXPECT_EQ(r.outcome, Outcome::kConfig);
  EXPECT_EQ(r.code, "401");
}

TEST_F(WebhookSimTest, FaultsMapToOutcomes) {
  auto a = MakeWebhookAdapter(cfg_, clock_, *http_);
  ASSERT_TRUE(a.ok());
  Fault(R"({"endpoint":"webhook","status":503,"retry_after_s":3,"count":1})");
  SendResult r = SendAndWait(**a, Request());
  EXPECT_EQ(r.outcome, Outcome::kRetry);
  EXPECT_EQ(r.retry_after_ms, 3000);
  Fault(R"({"endpoint":"webhook","status":429,"count":1})");
  EXPECT_EQ(SendAndWait(**a, Request()).outcome, Outcome::kThrottled);
  // libcurl retries once by itself when a reused connection dies before answering, so every
  // request is dropped here.
  Fault(R"({"endpoint":"webhook","drop":true})");
  r = SendAndWait(**a, Request());
  EXPECT_EQ(r.outcome, Outcome::kRetry);
  EXPECT_EQ(r.code, "connection");
  sim_->faults().Clear("webhook");
  Fault(R"({"endpoint":"webhook","delay_ms":3000,"count":1})");
  r = SendAndWait(**a, Request());
  EXPECT_EQ(r.outcome, Outcome::kRetry);
  EXPECT_EQ(r.code, "timeout");
  EXPECT_EQ(SendAndWait(**a, Request()).outcome, Outcome::kSent);
}

TEST_F(WebhookSimTest, ManyInFlightOnOneThread) {
  auto a = MakeWebhookAdapter(cfg_, clock_, *http_);
  ASSERT_TRUE(a.ok());
  // Every answer is held 500 ms. If sends overlap, all of them have reached the simulator by the
  // time the first answer comes back; one at a time, only one would have.
  Fault(R"({"endpoint":"webhook","delay_ms":500})");
  constexpr int kN = 300;
  std::atomic<int> sent{0};
  std::atomic<int> done{0};
  std::atomic<int64_t> received_at_first_answer{-1};
  std::promise<void> all;
  for (int i = 0; i < kN; ++i) {
    SendRequest req = Request();
    req.external_id = "msg_" + std::to_string(i);
    (*a)->Send(req, [&](SendResult r) {
      int64_t expected = -1;
      received_at_first_answer.compare_exchange_strong(
          expected, static_cast<int64_t>(sim_->requests().Counters()["webhook"].received));
      if (r.outcome == Outcome::kSent) sent++;
      if (++done == kN) all.set_value();
    });
  }
  ASSERT_EQ(all.get_future().wait_for(std::chrono::seconds(120)), std::future_status::ready);
  EXPECT_EQ(sent.load(), kN);
  EXPECT_GE(received_at_first_answer.load(), kN * 9 / 10);
  EXPECT_EQ(sim_->requests().Counters()["webhook"].verified, static_cast<uint64_t>(kN));
}

}  // namespace
}  // namespace reach::adapters
