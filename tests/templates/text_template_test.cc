#include "templates/text_template.h"

#include <gtest/gtest.h>

namespace reach::templates {
namespace {

namespace json = boost::json;

std::string R(std::string_view src, const json::object& vars, Escape e = Escape::kNone,
              const json::object* defaults = nullptr) {
  auto t = TextTemplate::Parse(src);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  if (!t.ok()) return "<error>";
  std::string out;
  t->Render(Scope{&vars, defaults}, e, &out);
  return out;
}

TEST(TextTemplateTest, VariablesAndDottedPaths) {
  json::object v{{"name", "张三"}, {"order", {{"no", "A-1"}, {"total", 12.5}}}, {"n", 3}};
  EXPECT_EQ(R("Hi {{name}}, order {{ order.no }} = {{order.total}} x{{n}}", v),
            "Hi 张三, order A-1 = 12.5 x3");
  EXPECT_EQ(R("[{{missing}}][{{order.none}}][{{name.x}}]", v), "[][][]");
  EXPECT_EQ(R("{{list.1}}", json::object{{"list", json::array{"a", "b"}}}), "b");
}

TEST(TextTemplateTest, SectionsIterateAndTest) {
  json::object v{{"items", json::array{json::object{{"t", "a"}}, json::object{{"t", "b"}}}},
                 {"on", true},
                 {"off", false},
                 {"empty", json::array{}},
                 {"user", {{"name", "Li"}}},
                 {"tags", json::array{"x", "y"}}};
  EXPECT_EQ(R("{{#items}}<{{t}}>{{/items}}", v), "<a><b>");
  EXPECT_EQ(R("{{#on}}yes{{/on}}{{#off}}no{{/off}}{{^off}}inv{{/off}}", v), "yesinv");
  EXPECT_EQ(R("{{^empty}}none{{/empty}}{{#empty}}x{{/empty}}", v), "none");
  EXPECT_EQ(R("{{#user}}{{name}}{{/user}}", v), "Li");
  EXPECT_EQ(R("{{#tags}}{{.}},{{/tags}}", v), "x,y,");
  EXPECT_EQ(R("{{#missing}}x{{/missing}}{{^missing}}m{{/missing}}", v), "m");
  // Outer context stays visible inside a section.
  EXPECT_EQ(R("{{#items}}{{t}}{{#on}}!{{/on}}{{/items}}", v), "a!b!");
}

TEST(TextTemplateTest, StandaloneSectionLinesAreRemoved) {
  json::object v{{"items", json::array{"a", "b"}}};
  EXPECT_EQ(R("list:\n{{#items}}\n- {{.}}\n{{/items}}\nend\n", v), "list:\n- a\n- b\nend\n");
  EXPECT_EQ(R("  {{! comment }}  \nx", v), "x");
  EXPECT_EQ(R("a {{#items}}{{.}}{{/items}} b", v), "a ab b");
}

TEST(TextTemplateTest, DefaultFilter) {
  json::object v{{"empty", ""}, {"name", "Wang"}, {"nil", nullptr}};
  EXPECT_EQ(R(R"({{name|default:"顾客"}})", v), "Wang");
  EXPECT_EQ(R(R"({{missing|default:"顾客"}}/{{empty | default: "E"}}/{{nil|default:'N'}})", v),
            "顾客/E/N");
  EXPECT_EQ(R(R"({{x|default:"a \"q\""}})", v), "a \"q\"");
  json::object defaults{{"missing", "from-decl"}};
  EXPECT_EQ(R("{{missing}}", v, Escape::kNone, &defaults), "from-decl");
}

TEST(TextTemplateTest, HtmlEscapingAndRaw) {
  json::object v{{"x", "<script>alert('x')</script>&\""}};
  EXPECT_EQ(R("<p>{{x}}</p>", v, Escape::kHtml),
            "<p>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;</p>");
  EXPECT_EQ(R("{{{x}}}|{{&x}}", v, Escape::kHtml),
            "<script>alert('x')</script>&\"|<script>alert('x')</script>&\"");
  EXPECT_EQ(R("{{x}}", v, Escape::kNone), "<script>alert('x')</script>&\"");
  // Defaults and list items are values too: escaped like any variable.
  EXPECT_EQ(R(R"({{nope|default:"<b>&"}})", v, Escape::kHtml), "&lt;b&gt;&amp;");
  json::object list{{"items", json::array{"<i>", json::object{{"t", "\"q\""}}}}};
  EXPECT_EQ(R("{{#items}}[{{.}}]{{/items}}{{#items.1}}{{t}}{{/items.1}}", list, Escape::kHtml),
            "[&lt;i&gt;][{&quot;t&quot;:&quot;\\&quot;q\\&quot;&quot;}]&quot;q&quot;");
}

TEST(TextTemplateTest, JsonEscaping) {
  json::object v{{"x", "a\"b\\c\n\t\x01"}};
  std::string body = "{\"v\":\"" + R("{{x}}", v, Escape::kJson) + "\"}";
  EXPECT_EQ(body, "{\"v\":\"a\\\"b\\\\c\\n\\t\\u0001\"}");
  json::value parsed = json::parse(body);
  EXPECT_EQ(parsed.at("v").as_string(), "a\"b\\c\n\t\x01");
}

TEST(TextTemplateTest, ValuesOfEveryKind) {
  json::object v{{"b", true},   {"i", -7},         {"u", 18446744073709551615ull},
                 {"d", 0.1},    {"o", {{"k", 1}}}, {"a", json::array{1, "x"}},
                 {"n", nullptr}};
  EXPECT_EQ(R("{{b}} {{i}} {{u}} {{d}} {{o}} {{a}} [{{n}}]", v),
            "true -7 18446744073709551615 0.1 {\"k\":1} [1,\"x\"] []");
}

TEST(TextTemplateTest, ParseErrors) {
  for (const char* bad :
       {"{{name", "{{#a}}x", "{{#a}}{{/b}}", "{{/a}}", "{{>partial}}", "{{=<% %>=}}", "{{na me}}",
        "{{a..b}}", "{{x|upper}}", "{{x|default:noquote}}", "{{}}", "{{{x}}"}) {
    EXPECT_FALSE(TextTemplate::Parse(bad).ok()) << bad;
  }
  std::string deep;
  for (int i = 0; i < 17; ++i) deep += "{{#a}}";
  EXPECT_FALSE(TextTemplate::Parse(deep).ok());
  EXPECT_TRUE(TextTemplate::Parse("plain }} text { here").ok());
}

TEST(TextTemplateTest, RefsAndSoleRaw) {
  auto t = TextTemplate::Parse("{{#items}}{{title}}{{/items}}{{order.no}}");
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->refs().size(), 3u);
  EXPECT_EQ(t->refs()[1].path, "title");
  ASSERT_EQ(t->refs()[1].enclosing.size(), 1u);
  EXPECT_EQ(t->refs()[1].enclosing[0], "items");
  EXPECT_EQ(t->SoleRawPath(), nullptr);
  auto raw = TextTemplate::Parse("{{{items}}}");
  ASSERT_TRUE(raw.ok());
  ASSERT_NE(raw->SoleRawPath(), nullptr);
  EXPECT_EQ((*raw->SoleRawPath())[0], "items");
}

TEST(TextTemplateTest, Utf8Counting) {
  EXPECT_EQ(Utf8Chars("a张😀"), 3u);
  EXPECT_EQ(Utf16Units("a张😀"), 4u);
  EXPECT_EQ(Utf8Chars("\xff\xfe"), 2u);  // invalid bytes count one each
}

}  // namespace
}  // namespace reach::templates
