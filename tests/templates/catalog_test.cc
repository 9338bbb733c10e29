#include "templates/catalog.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "tests/templates/test_util.h"

namespace reach::templates {
namespace {

namespace json = boost::json;
using testing::ExpectGolden;
using testing::TempDir;

std::shared_ptr<const Catalog> LoadExample() {
  std::vector<std::string> errors;
  auto c = Catalog::LoadDir(REACH_TEMPLATES_CATALOG_DIR, config::TemplatesConfig{}, &errors);
  for (const auto& e : errors) ADD_FAILURE() << e;
  return c.ok() ? c.value() : nullptr;
}

TEST(CatalogTest, ExampleCatalogLoadsClean) {
  EXPECT_TRUE(LintDir(REACH_TEMPLATES_CATALOG_DIR, config::TemplatesConfig{}).empty());
  auto c = LoadExample();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->size(), 4u);
  const Template* w = c->Find("welcome");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->channels(),
            (std::vector<std::string>{"email", "push", "rcs", "sms", "webhook", "wechat_subscribe",
                                      "wechat_template", "wecom"}));
  EXPECT_EQ(w->locales(), (std::vector<std::string>{"en", "zh-CN"}));
  EXPECT_EQ(w->version().size(), 16u);
  EXPECT_EQ(c->version().size(), 16u);
  EXPECT_EQ(c->Find("nope"), nullptr);
  EXPECT_EQ(c->FindShared("otp_code")->category(), "otp");
}

// Every channel variant of the example catalog, rendered and compared byte for byte.
TEST(CatalogTest, GoldenPerChannel) {
  auto c = LoadExample();
  ASSERT_TRUE(c);
  json::object vars{{"name", "张三"}};
  const Template* w = c->Find("welcome");
  for (const auto& channel : w->channels()) {
    for (const auto& locale : w->locales(channel)) {
      auto r = w->Render(channel, locale, vars);
      ASSERT_TRUE(r.ok()) << channel << " " << r.status().ToString();
      ExpectGolden("welcome." + channel + "." + locale + ".json", PrettyJson(r.value()));
    }
  }
  json::object order{{"order_no", "SO20260101001"},
                     {"carrier", "顺丰速运"},
                     {"tracking_no", "SF1234567890"},
                     {"items", json::array{{{"title", "保温杯"}, {"qty", 2}},
                                           {{"title", "茶叶 <礼盒>"}, {"qty", 1}}}}};
  const Template* o = c->Find("order_shipped");
  for (const auto& channel : o->channels()) {
    auto r = o->Render(channel, "zh-CN", order);
    ASSERT_TRUE(r.ok()) << channel << " " << r.status().ToString();
    ExpectGolden("order_shipped." + channel + ".json", PrettyJson(r.value()));
  }
  auto otp = c->Find("otp_code")->Render("sms", "en", json::object{{"code", "123456"}});
  ASSERT_TRUE(otp.ok());
  ExpectGolden("otp_code.sms.en.json", PrettyJson(otp.value()));
  auto sale = c->Find("spring_sale")->Render("sms", "zh-CN", json::object{{"discount", "8折"}});
  ASSERT_TRUE(sale.ok());
  ExpectGolden("spring_sale.sms.json", PrettyJson(sale.value()));
}

TEST(CatalogTest, PreviewGolden) {
  auto c = LoadExample();
  ASSERT_TRUE(c);
  json::object vars{{"name", "张三"}};
  for (const char* channel : {"sms", "email", "rcs", "push", "wecom"}) {
    auto p = RenderPreview(*c, "welcome", channel, "zh-CN", vars);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    // The version line changes with the source; keep goldens stable across edits.
    std::string text = p.value();
    size_t v = text.find("version ");
    text.replace(v + 8, 16, "<version>");
    ExpectGolden(std::string("preview.welcome.") + channel + ".txt", text);
  }
  auto sms_en = RenderPreview(*c, "otp_code", "sms", "en", json::object{{"code", "123456"}});
  ASSERT_TRUE(sms_en.ok());
  // The 【Reach】 signature prepended from sign_name makes it UCS-2.
  EXPECT_NE(sms_en->find("UCS-2"), std::string::npos) << *sms_en;
  EXPECT_EQ(RenderPreview(*c, "nope", "sms", "en", {}).status().code(), StatusCode::kNotFound);
}

TEST(CatalogTest, LocaleSelectionAndFallback) {
  auto c = LoadExample();
  ASSERT_TRUE(c);
  const Template* w = c->Find("welcome");
  EXPECT_EQ(w->SelectLocale("email", "en"), "en");
  EXPECT_EQ(w->SelectLocale("email", "en-US"), "en");
  EXPECT_EQ(w->SelectLocale("email", "EN_us"), "en");
  EXPECT_EQ(w->SelectLocale("email", "zh-TW"), "zh-CN");  // fallback chain zh-CN, en
  EXPECT_EQ(w->SelectLocale("email", ""), "zh-CN");
  EXPECT_EQ(w->SelectLocale("rcs", "en"), "zh-CN");  // no en variant: any variant
  EXPECT_EQ(w->SelectLocale("fax", "en"), "");

  config::TemplatesConfig en_first;
  en_first.locale_fallback = {"en"};
  TempDir dir;
  dir.Write("w.yaml",
            testing::ReadFile(std::string(REACH_TEMPLATES_CATALOG_DIR) + "/welcome.yaml"));
  auto c2 = Catalog::LoadDir(dir.path(), en_first, nullptr);
  ASSERT_TRUE(c2.ok());
  EXPECT_EQ(c2.value()->Find("welcome")->SelectLocale("email", "ja"), "en");
  auto r = c2.value()->Find("welcome")->Render("email", "ja", json::object{{"name", "Ann"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->at("subject").as_string(), "Welcome, Ann!");
}

TEST(CatalogTest, HtmlEscapingInEmail) {
  auto c = LoadExample();
  ASSERT_TRUE(c);
  auto r = c->Find("welcome")->Render("email", "en",
                                      json::object{{"name", "<script>alert(\"x\")</script>"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::string html(r->at("html").as_string());
  EXPECT_EQ(html.find("<script>"), std::string::npos) << html;
  EXPECT_NE(html.find("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("<b>Reach</b>"), std::string::npos);  // template markup untouched
  // Plain text and subject are not HTML-escaped.
  EXPECT_NE(std::string(r->at("text").as_string()).find("<script>"), std::string::npos);
}

TEST(CatalogTest, SubjectNewlinesAreFolded) {
  auto c = LoadExample();
  ASSERT_TRUE(c);
  auto r = c->Find("welcome")->Render("email", "en", json::object{{"name", "a\r\nBcc: x"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->at("subject").as_string(), "Welcome, a  Bcc: x!");
}

TEST(CatalogTest, WebhookBodyStaysValidJson) {
  auto c = LoadExample();
  ASSERT_TRUE(c);
  std::string nasty = "q\"t \\b\\s \n\t\x01\x1f </script> 😀";  // 24 chars
  auto r = c->Find("welcome")->Render("webhook", "zh-CN", json::object{{"name", nasty}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::string wire = json::serialize(r->at("body"));
  json::error_code ec;
  json::value back = json::parse(wire, ec);
  ASSERT_FALSE(ec) << wire;
  EXPECT_EQ(back.at("name").as_string(), nasty);
  EXPECT_EQ(back.at("text").as_string(), "欢迎, " + nasty + "!");
  EXPECT_EQ(back.at("event").as_string(), "user.welcome");
  // A whole-value raw tag inserts the variable's JSON value as is.
  json::object order{{"order_no", "1"},
                     {"carrier", "SF"},
                     {"items", json::array{{{"title", "x\"y"}, {"qty", 2}}}}};
  auto o = c->Find("order_shipped")->Render("webhook", "", order);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->at("body").at("items"), order.at("items"));
}

TEST(CatalogTest, ValidateVars) {
  auto c = LoadExample();
  ASSERT_TRUE(c);
  const Template* w = c->Find("welcome");
  EXPECT_TRUE(w->ValidateVars(json::object{{"name", "x"}, {"extra", 1}}).ok());
  Status missing = w->ValidateVars(json::object{});
  EXPECT_EQ(missing.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(missing.field(), "vars.name");
  Status null_value = w->ValidateVars(json::object{{"name", nullptr}});
  EXPECT_EQ(null_value.field(), "vars.name");
  Status wrong = w->ValidateVars(json::object{{"name", 5}});
  EXPECT_EQ(wrong.field(), "vars.name");
  EXPECT_NE(wrong.message().find("must be a string"), std::string::npos);
  Status too_long = w->ValidateVars(json::object{{"name", std::string(33, 'x')}});
  EXPECT_EQ(too_long.field(), "vars.name");
  EXPECT_TRUE(w
                  ->ValidateVars(json::object{
                      {"name", "张三张三张三张三张三张三张三张三张三张三张三张三张三张三张三张三"}})
                  .ok());
  // Render refuses invalid vars too.
  EXPECT_EQ(w->Render("sms", "zh-CN", json::object{}).status().field(), "vars.name");
  // Defaults apply when absent.
  auto otp = c->Find("otp_code")->Render("sms", "zh-CN", json::object{{"code", "1234"}});
  ASSERT_TRUE(otp.ok());
  EXPECT_NE(std::string(otp->at("text").as_string()).find("5分钟"), std::string::npos);
  EXPECT_EQ(
      c->Find("otp_code")->ValidateVars(json::object{{"code", "1"}, {"minutes", "5"}}).field(),
      "vars.minutes");
  EXPECT_EQ(w->Render("fax", "zh-CN", json::object{{"name", "x"}}).status().code(),
            StatusCode::kNotFound);
}

TEST(CatalogTest, SourceRoundTripsWithSameVersion) {
  auto c = LoadExample();
  ASSERT_TRUE(c);
  for (const auto& t : c->All()) {
    auto again = ParseTemplateSource(t->source(), config::TemplatesConfig{});
    ASSERT_TRUE(again.ok()) << t->name() << ": " << again.status().ToString();
    EXPECT_EQ(again.value()->version(), t->version()) << t->name();
    EXPECT_EQ(again.value()->source(), t->source()) << t->name();
  }
  EXPECT_FALSE(ParseTemplateSource("templates: {}", config::TemplatesConfig{}).ok());
  EXPECT_FALSE(ParseTemplateSource("{{{", config::TemplatesConfig{}).ok());
}

constexpr const char* kV1 = R"(templates:
  hello:
    variables: {who: {type: string, required: true, max_length: 10}}
    channels:
      email: {subject: "v1 {{who}}", text: "one"}
)";
constexpr const char* kV2 = R"(templates:
  hello:
    variables: {who: {type: string, required: true, max_length: 10}}
    channels:
      email: {subject: "v2 {{who}}", text: "two"}
)";

TEST(CatalogTest, ReloadSwapsOnlyValidCatalogs) {
  TempDir dir;
  config::TemplatesConfig cfg;
  dir.Write("hello.yaml", kV1);
  CatalogHolder holder;
  EXPECT_EQ(holder.Get(), nullptr);
  ASSERT_TRUE(ReloadFromDir(&holder, dir.path(), cfg).ok());
  auto v1 = holder.Get();
  ASSERT_TRUE(v1);
  std::shared_ptr<const Template> old = v1->FindShared("hello");
  std::string old_version = old->version();
  std::string old_source = old->source();

  // A broken catalog is refused whole; the old one stays.
  dir.Write("hello.yaml", kV2);
  dir.Write("broken.yaml",
            "templates:\n  bad:\n    channels: {email: {subject: '{{nmae}}', text: x}}\n");
  std::vector<std::string> errors;
  Status st = ReloadFromDir(&holder, dir.path(), cfg, &errors);
  EXPECT_EQ(st.code(), StatusCode::kConfig);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0],
            "broken.yaml: templates.bad.channels.email.subject: unknown variable 'nmae'");
  EXPECT_EQ(holder.Get(), v1);

  // Fixed: swapped in, new version.
  dir.Remove("broken.yaml");
  ASSERT_TRUE(ReloadFromDir(&holder, dir.path(), cfg).ok());
  auto v2 = holder.Get();
  ASSERT_NE(v2, v1);
  EXPECT_NE(v2->version(), v1->version());
  EXPECT_NE(v2->Find("hello")->version(), old_version);
  json::object vars{{"who", "Ann"}};
  EXPECT_EQ(v2->Find("hello")->Render("email", "", vars)->at("subject").as_string(), "v2 Ann");

  // A message accepted with v1 still renders v1 from the stored source.
  auto restored = ParseTemplateSource(old_source, cfg);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored.value()->version(), old_version);
  EXPECT_EQ(restored.value()->Render("email", "", vars)->at("subject").as_string(), "v1 Ann");
  // The old catalog object is still alive for readers that hold it.
  EXPECT_EQ(v1->Find("hello")->Render("email", "", vars)->at("text").as_string(), "one");
}

TEST(CatalogTest, VersionIgnoresFormattingButNotContent) {
  config::TemplatesConfig cfg;
  auto a = ParseTemplateSource(kV1, cfg);
  auto b = ParseTemplateSource(
      "# comment\ntemplates: {hello: {variables: {who: {type: string, required: true, "
      "max_length: 10}}, channels: {email: {subject: 'v1 {{who}}', text: one}}}}",
      cfg);
  auto d = ParseTemplateSource(kV2, cfg);
  ASSERT_TRUE(a.ok() && b.ok() && d.ok());
  EXPECT_EQ(a.value()->version(), b.value()->version());
  EXPECT_NE(a.value()->version(), d.value()->version());
}

TEST(CatalogTest, Describe) {
  auto c = LoadExample();
  ASSERT_TRUE(c);
  json::object d = DescribeTemplate(*c->Find("welcome"));
  EXPECT_EQ(d.at("name").as_string(), "welcome");
  EXPECT_EQ(d.at("category").as_string(), "transactional");
  EXPECT_EQ(d.at("version").as_string(), c->Find("welcome")->version());
  EXPECT_EQ(
      json::serialize(d.at("variables")),
      R"([{"name":"name","type":"string","required":true,"max_length":32,"description":"用户称呼"}])");
  EXPECT_EQ(d.at("channels").as_array().size(), 8u);
  EXPECT_EQ(json::serialize(d.at("locales")), R"(["en","zh-CN"])");
  EXPECT_EQ(json::serialize(d.at("variants").at("email")), R"(["zh-CN","en"])");
  json::array all = DescribeCatalog(*c);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].at("name").as_string(), "order_shipped");
}

TEST(CatalogTest, WatcherCallsBackAfterChanges) {
  TempDir dir;
  std::mutex mu;
  std::condition_variable cv;
  int calls = 0;
  CatalogWatcher watcher(
      dir.path(),
      [&] {
        std::lock_guard<std::mutex> l(mu);
        ++calls;
        cv.notify_all();
      },
      std::chrono::milliseconds(50));
  ASSERT_TRUE(watcher.Start().ok());
  dir.Write("a.yaml", kV1);
  dir.Write("a.yaml", kV2);  // a burst: one callback
  {
    std::unique_lock<std::mutex> l(mu);
    ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(5), [&] { return calls >= 1; }));
  }
  watcher.Stop();
  int after_stop = calls;
  dir.Write("b.yaml", kV1);
  {
    // Stopped: a change is not reported, even after six debounce periods.
    std::unique_lock<std::mutex> l(mu);
    EXPECT_FALSE(
        cv.wait_for(l, std::chrono::milliseconds(300), [&] { return calls > after_stop; }));
  }
  CatalogWatcher missing("/nonexistent/reach", [] {});
  EXPECT_FALSE(missing.Start().ok());
}

}  // namespace
}  // namespace reach::templates
