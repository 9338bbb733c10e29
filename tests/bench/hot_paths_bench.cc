// Per-message costs on the hot paths that need nothing beyond common/ and throttling/: the HMAC of
// a webhook signature, the token bucket of provider pacing, and parsing a send request with
// Boost.JSON (the API's first step). Figures are written down (README Performance), never asserted.
#include <benchmark/benchmark.h>

#include <boost/json.hpp>
#include <string>

#include "common/crypto.h"
#include "throttling/token_bucket.h"

namespace reach {
namespace {

// A typical POST /v1/messages body (~400 bytes).
const char kSendRequest[] =
    R"({"template":"order_shipped","channels":["wechat_subscribe","sms"],)"
    R"("to":{"user_id":"u-1001","phone":"+8613800138000","email":"li.lei@example.com",)"
    R"("miniprogram_openid":"oXYZ0123456789abcdefghij"},)"
    R"("vars":{"name":"李雷","order_no":"A1234","carrier":"顺丰速运","tracking_no":"SF1234567890"},)"
    R"("locale":"zh-CN","category":"transactional","priority":5,"ttl_s":86400,)"
    R"("idempotency_key":"campaign-42:u-1001","metadata":{"campaign_id":"42"}})";

void BM_HmacSha256WebhookContent(benchmark::State& state) {
  const std::string key(32, 'k');
  const std::string content = "msg_123456789.1795000000." + std::string(kSendRequest);
  for (auto _ : state) {
    benchmark::DoNotOptimize(crypto::HmacSha256(key, content));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HmacSha256WebhookContent);

void BM_HmacSha256Base64(benchmark::State& state) {
  const std::string key(32, 'k');
  const std::string content = "msg_123456789.1795000000." + std::string(kSendRequest);
  for (auto _ : state) {
    benchmark::DoNotOptimize(crypto::Base64Encode(crypto::HmacSha256(key, content)));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HmacSha256Base64);

void BM_TokenBucketTryTake(benchmark::State& state) {
  throttling::TokenBucket bucket(1e6, 1000, 0);
  int64_t now_ms = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(bucket.TryTake(++now_ms / 8));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TokenBucketTryTake);

void BM_JsonParseSendRequest(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(boost::json::parse(kSendRequest));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(sizeof(kSendRequest) - 1));
}
BENCHMARK(BM_JsonParseSendRequest);

void BM_JsonParseSendRequestReusedParser(benchmark::State& state) {
  boost::json::parser parser;
  for (auto _ : state) {
    parser.reset();
    parser.write(kSendRequest, sizeof(kSendRequest) - 1);
    benchmark::DoNotOptimize(parser.release());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_JsonParseSendRequestReusedParser);

void BM_JsonSerializePayload(benchmark::State& state) {
  const boost::json::value v = boost::json::parse(kSendRequest);
  for (auto _ : state) {
    benchmark::DoNotOptimize(boost::json::serialize(v));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_JsonSerializePayload);

}  // namespace
}  // namespace reach
