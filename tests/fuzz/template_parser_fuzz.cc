// libFuzzer target for the template parsers. The first byte picks the parser: even = the
// Mustache-style text template (parsed, then rendered in every escape mode), odd = a YAML
// template source (ParseTemplateSource, then every channel rendered). Nothing may crash, hang
// or trip a sanitizer; errors are fine.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "templates/catalog.h"
#include "templates/sms_segments.h"
#include "templates/text_template.h"

namespace json = boost::json;
using namespace reach::templates;  // NOLINT(google-build-using-namespace)

namespace {

const json::object& Vars() {
  static const json::object vars{
      {"name", "张三<&>\"'"},
      {"order", {{"no", "A-1"}, {"items", json::array{1, "x", nullptr}}}},
      {"items", json::array{json::object{{"title", "t"}, {"qty", 2}}, "s", 3.5, false}},
      {"flag", true},
      {"n", 0},
      {"code", "123456"},
  };
  return vars;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 16384) return 0;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  if ((data[0] & 1) == 0) {
    auto t = TextTemplate::Parse(input);
    if (!t.ok()) return 0;
    json::object defaults{{"missing", "d"}};
    Scope scope{&Vars(), &defaults};
    for (Escape e : {Escape::kNone, Escape::kHtml, Escape::kJson}) {
      std::string out;
      t->Render(scope, e, &out);
      (void)CountSms(out);
    }
    return 0;
  }
  reach::config::TemplatesConfig cfg;
  auto parsed = ParseTemplateSource(input, cfg);
  if (!parsed.ok()) return 0;
  const Template& t = *parsed.value();
  for (const std::string& channel : t.channels()) {
    for (const std::string& locale : t.locales(channel)) {
      auto r = t.Render(channel, locale, Vars());
      (void)r;
    }
  }
  (void)DescribeTemplate(t);
  auto again = ParseTemplateSource(t.source(), cfg);
  (void)again;
  return 0;
}
