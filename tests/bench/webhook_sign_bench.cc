// Signing one outbound webhook the Standard Webhooks way (adapters/webhook/signer.h): the HMAC,
// the base64 and the string work reachd does per webhook message. Built only when the webhook
// adapter exists (tests/bench/CMakeLists.txt).
#include <benchmark/benchmark.h>

#include <string>

#include "adapters/webhook/signer.h"

namespace reach::adapters {
namespace {

void BM_WebhookSign(benchmark::State& state) {
  auto signer = WebhookSigner::Create("whsec_cmVhY2gtYmVuY2htYXJrLXNpZ25pbmcta2V5LTAx");
  if (!signer.ok()) {
    state.SkipWithError("signer does not accept the secret");
    return;
  }
  const std::string body =
      R"({"type":"message","id":"msg_123456789","template":"welcome","channel":"webhook",)"
      R"("category":"marketing","data":{"event":"user.welcome","name":"李雷","text":"欢迎, 李雷!"},)"
      R"("to":{"user_id":"u-1001"},"metadata":{"campaign_id":"42"}})";
  for (auto _ : state) {
    benchmark::DoNotOptimize(signer->Sign("msg_123456789", 1795000000, body));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WebhookSign);

}  // namespace
}  // namespace reach::adapters
