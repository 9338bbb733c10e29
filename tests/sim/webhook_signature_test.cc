#include "tests/sim/webhook_signature.h"

#include <gtest/gtest.h>

#include "tests/sim/test_client.h"

namespace reach::sim {
namespace {

// The Standard Webhooks spec test vector (libraries/python/tests/test_webhooks.py).
constexpr std::string_view kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view kId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr std::string_view kTs = "1614265330";
constexpr std::string_view kBody = R"({"test": 2432232314})";
constexpr std::string_view kSig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
constexpr int64_t kTsMs = 1614265330LL * 1000;

class WebhookVerifierTest : public ::testing::Test {
 protected:
  testing::ManualClock clock_{kTsMs};
  WebhookVerifier verifier_ = WebhookVerifier::Create(kSecret, clock_).value();
};

TEST_F(WebhookVerifierTest, SignsTheSpecVector) {
  EXPECT_EQ(verifier_.Sign(kId, kTs, kBody), kSig);
}

TEST_F(WebhookVerifierTest, AcceptsTheSpecVectorWithInjectedClock) {
  EXPECT_TRUE(verifier_.Verify(kId, kTs, kSig, kBody).ok());
}

TEST_F(WebhookVerifierTest, AcceptsAnyOfSeveralSignatures) {
  std::string header =
      "v1a,ZmFrZQ== v1,Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE= " + std::string(kSig);
  EXPECT_TRUE(verifier_.Verify(kId, kTs, header, kBody).ok());
}

TEST_F(WebhookVerifierTest, AcceptsSecretWithoutPrefix) {
  auto v = WebhookVerifier::Create(kSecret.substr(6), clock_);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->Verify(kId, kTs, kSig, kBody).ok());
}

TEST_F(WebhookVerifierTest, RejectsTamperedBodyIdOrTimestamp) {
  EXPECT_FALSE(verifier_.Verify(kId, kTs, kSig, R"({"test": 2432232315})").ok());
  EXPECT_FALSE(verifier_.Verify("msg_other", kTs, kSig, kBody).ok());
  clock_.Set(kTsMs + 1000);
  EXPECT_FALSE(verifier_.Verify(kId, "1614265331", kSig, kBody).ok());
}

TEST_F(WebhookVerifierTest, RejectsWrongSecret) {
  auto other = WebhookVerifier::Create("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx", clock_);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->Verify(kId, kTs, kSig, kBody).ok());
}

TEST_F(WebhookVerifierTest, RejectsMissingOrMalformedHeaders) {
  EXPECT_EQ(verifier_.Verify("", kTs, kSig, kBody).field(), "webhook-id");
  EXPECT_EQ(verifier_.Verify(kId, "", kSig, kBody).field(), "webhook-timestamp");
  EXPECT_EQ(verifier_.Verify(kId, kTs, "", kBody).field(), "webhook-signature");
  EXPECT_EQ(verifier_.Verify(kId, "16142653x0", kSig, kBody).field(), "webhook-timestamp");
  // Only v1 entries count; the bare signature without "v1," is not accepted.
  EXPECT_FALSE(verifier_.Verify(kId, kTs, std::string(kSig.substr(3)), kBody).ok());
  EXPECT_FALSE(verifier_.Verify(kId, kTs, "v2," + std::string(kSig.substr(3)), kBody).ok());
}

TEST_F(WebhookVerifierTest, TimestampToleranceIsFiveMinutesBothWays) {
  clock_.Set(kTsMs + 300 * 1000);
  EXPECT_TRUE(verifier_.Verify(kId, kTs, kSig, kBody).ok());
  clock_.Set(kTsMs + 301 * 1000);
  Status old = verifier_.Verify(kId, kTs, kSig, kBody);
  EXPECT_FALSE(old.ok());
  EXPECT_NE(old.message().find("too old"), std::string::npos);
  clock_.Set(kTsMs - 300 * 1000);
  EXPECT_TRUE(verifier_.Verify(kId, kTs, kSig, kBody).ok());
  clock_.Set(kTsMs - 301 * 1000);
  Status ahead = verifier_.Verify(kId, kTs, kSig, kBody);
  EXPECT_FALSE(ahead.ok());
  EXPECT_NE(ahead.message().find("too new"), std::string::npos);
}

TEST(WebhookVerifierCreateTest, RejectsBadSecrets) {
  testing::ManualClock clock(0);
  EXPECT_FALSE(WebhookVerifier::Create("whsec_", clock).ok());
  EXPECT_FALSE(WebhookVerifier::Create("whsec_not base64!", clock).ok());
}

}  // namespace
}  // namespace reach::sim
