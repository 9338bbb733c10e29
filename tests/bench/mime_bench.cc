// Building the MIME text of one notification e-mail (adapters/email/mime.h): RFC 2047 subject,
// quoted-printable text and HTML parts, List-Unsubscribe. Built only when the e-mail adapter
// exists (tests/bench/CMakeLists.txt).
#include <benchmark/benchmark.h>

#include "adapters/email/mime.h"

namespace reach::adapters::mime {
namespace {

void BM_MimeBuildWelcome(benchmark::State& state) {
  Email e;
  e.from_address = "noreply@reach.example";
  e.from_name = "Reach 通知";
  e.to_address = "li.lei@example.com";
  e.subject = "欢迎, 李雷!";
  e.text = "李雷，您好：\n\n欢迎加入 Reach。您的账户已经开通。\n";
  e.html = "<p>李雷，您好：</p>\n<p>欢迎加入 <b>Reach</b>。您的账户已经开通。</p>\n";
  e.message_id = "msg_123456789.1795000000@reach.example";
  e.date_s = 1795000000;
  e.list_unsubscribe_url = "https://reach.example/u/3q2+7w";
  e.list_unsubscribe_mailto = "unsubscribe@reach.example?subject=3q2+7w";
  e.boundary = "=_reach_0123456789abcdef";
  for (auto _ : state) {
    auto r = Build(e);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MimeBuildWelcome);

}  // namespace
}  // namespace reach::adapters::mime
