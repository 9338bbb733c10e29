// Render cost per message for the example catalog (config/templates).
#include <benchmark/benchmark.h>

#include "templates/catalog.h"
#include "templates/text_template.h"

namespace reach::templates {
namespace {

namespace json = boost::json;

std::shared_ptr<const Catalog> Example() {
  static std::shared_ptr<const Catalog> catalog = [] {
    auto c = Catalog::LoadDir(REACH_TEMPLATES_CATALOG_DIR, config::TemplatesConfig{}, nullptr);
    return c.ok() ? c.value() : nullptr;
  }();
  return catalog;
}

void RenderChannel(benchmark::State& state, const char* name, const char* channel,
                   const char* locale, json::object vars) {
  auto catalog = Example();
  if (!catalog) {
    state.SkipWithError("example catalog does not load");
    return;
  }
  const Template* t = catalog->Find(name);
  if (!t->Render(channel, locale, vars).ok()) {
    state.SkipWithError("render fails");
    return;
  }
  for (auto _ : state) {
    auto r = t->Render(channel, locale, vars);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}

// One benchmark per channel variant of `welcome` (zh-CN; sms also en, GSM-7 text), so the
// figures read as "render cost per message" for each channel.
void BM_RenderWelcome(benchmark::State& state, const char* channel, const char* locale) {
  RenderChannel(state, "welcome", channel, locale, json::object{{"name", "张三"}});
}
BENCHMARK_CAPTURE(BM_RenderWelcome, sms, "sms", "zh-CN");
BENCHMARK_CAPTURE(BM_RenderWelcome, sms_en, "sms", "en");
BENCHMARK_CAPTURE(BM_RenderWelcome, rcs, "rcs", "zh-CN");
BENCHMARK_CAPTURE(BM_RenderWelcome, wechat_template, "wechat_template", "zh-CN");
BENCHMARK_CAPTURE(BM_RenderWelcome, wechat_subscribe, "wechat_subscribe", "zh-CN");
BENCHMARK_CAPTURE(BM_RenderWelcome, wecom, "wecom", "zh-CN");
BENCHMARK_CAPTURE(BM_RenderWelcome, push, "push", "zh-CN");
BENCHMARK_CAPTURE(BM_RenderWelcome, email, "email", "zh-CN");
BENCHMARK_CAPTURE(BM_RenderWelcome, webhook, "webhook", "zh-CN");

void BM_RenderOrderShippedEmail(benchmark::State& state) {
  json::array items;
  for (int i = 0; i < 5; ++i) items.push_back(json::object{{"title", "保温杯"}, {"qty", i + 1}});
  RenderChannel(state, "order_shipped", "email", "zh-CN",
                json::object{{"order_no", "SO20260101001"},
                             {"carrier", "顺丰速运"},
                             {"tracking_no", "SF1234567890"},
                             {"items", items}});
}
BENCHMARK(BM_RenderOrderShippedEmail);

// The engine alone: one compiled text appended into a reused buffer.
void BM_TextTemplateRender(benchmark::State& state) {
  auto t = TextTemplate::Parse("<p>{{name}}，您好：</p><p>订单 <b>{{order.no}}</b> 已发货。</p>");
  json::object vars{{"name", "<张三>"}, {"order", {{"no", "SO1"}}}};
  std::string out;
  out.reserve(256);
  for (auto _ : state) {
    out.clear();
    t->Render(Scope{&vars, nullptr}, Escape::kHtml, &out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_TextTemplateRender);

void BM_ParseTemplateSource(benchmark::State& state) {
  auto catalog = Example();
  if (!catalog) {
    state.SkipWithError("example catalog does not load");
    return;
  }
  std::string source = catalog->Find("welcome")->source();
  config::TemplatesConfig cfg;
  for (auto _ : state) {
    auto t = ParseTemplateSource(source, cfg);
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(BM_ParseTemplateSource);

}  // namespace
}  // namespace reach::templates
