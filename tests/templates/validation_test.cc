// Load-time validation: every problem is reported with its file and key path.
#include <gtest/gtest.h>

#include "templates/catalog.h"
#include "tests/templates/test_util.h"

namespace reach::templates {
namespace {

using testing::TempDir;

std::vector<std::string> Errors(const std::string& file, const std::string& yaml,
                                const config::TemplatesConfig& cfg = {}) {
  TempDir dir;
  dir.Write(file, yaml);
  std::vector<std::string> errors;
  auto c = Catalog::LoadDir(dir.path(), cfg, &errors);
  EXPECT_EQ(c.ok(), errors.empty());
  EXPECT_EQ(LintDir(dir.path(), cfg), errors);
  return errors;
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& e : v) s += e + "\n";
  return s;
}

#define EXPECT_ERROR(errors, text)                                                          \
  EXPECT_NE(Join(errors).find(text), std::string::npos) << "want: " << (text) << "\ngot:\n" \
                                                        << Join(errors)

TEST(ValidationTest, UnknownVariableWithFileAndKeyPath) {
  auto e = Errors("welcome.yaml", R"(templates:
  welcome:
    variables: {name: {type: string, required: true}}
    channels:
      email: {subject: "Hi {{name}}", html: "<p>{{nmae}}</p>"}
    locales:
      en:
        email: {subject: "Hi {{user.name}}", text: x}
)");
  ASSERT_EQ(e.size(), 2u) << Join(e);
  EXPECT_EQ(e[0], "welcome.yaml: templates.welcome.channels.email.html: unknown variable 'nmae'");
  EXPECT_EQ(e[1],
            "welcome.yaml: templates.welcome.locales.en.email.subject: unknown variable 'user'");
}

TEST(ValidationTest, UnknownKeysAreErrors) {
  auto e = Errors("t.yaml", R"(templates:
  t:
    descriptoin: typo
    variables: {name: {type: string, requird: true}}
    channels:
      email: {subject: x, text: y, cc: z}
      fax: {text: x}
other: 1
)");
  EXPECT_ERROR(e, "t.yaml: other: unknown key");
  EXPECT_ERROR(e, "t.yaml: templates.t.descriptoin: unknown key");
  EXPECT_ERROR(e, "t.yaml: templates.t.variables.name.requird: unknown key");
  EXPECT_ERROR(e, "t.yaml: templates.t.channels.email.cc: unknown key");
  EXPECT_ERROR(e, "t.yaml: templates.t.channels.fax: unknown channel");
}

TEST(ValidationTest, VariableDeclarations) {
  auto e = Errors("v.yaml", R"(templates:
  v:
    variables:
      a: {type: text}
      b: {type: number, default: "five"}
      c: {type: string, required: true, default: x}
      d: {type: string, max_length: 3, default: toolong}
      e: {type: bool, max_length: 3}
      f: {type: string, required: yes}
      s: {type: string}
    channels:
      email: {subject: "{{s.x}}", text: x}
)");
  EXPECT_ERROR(
      e, "v.yaml: templates.v.variables.a.type: expected string, number, bool, object or list");
  EXPECT_ERROR(
      e, "v.yaml: templates.v.variables.b.default: default is a string, the variable is a number");
  EXPECT_ERROR(
      e, "v.yaml: templates.v.variables.c.default: a required variable cannot have a default");
  EXPECT_ERROR(e, "v.yaml: templates.v.variables.d.default: longer than max_length");
  EXPECT_ERROR(e,
               "v.yaml: templates.v.variables.e.max_length: only for string and number variables");
  EXPECT_ERROR(e, "v.yaml: templates.v.variables.f.required: expected true or false");
  EXPECT_ERROR(e,
               "v.yaml: templates.v.channels.email.subject: variable 's' is a string; 's.x' does "
               "not resolve");
}

TEST(ValidationTest, SyntaxErrors) {
  auto e = Errors("s.yaml", R"(templates:
  s:
    channels:
      email: {subject: "{{#a}}x", text: "{{name"}
)");
  EXPECT_ERROR(e, "s.yaml: templates.s.channels.email.subject: section '{{#a}}' is not closed");
  EXPECT_ERROR(e, "s.yaml: templates.s.channels.email.text: unclosed tag at offset 0");
  auto y = Errors("bad.yaml", "templates:\n  x: [unclosed\n");
  ASSERT_EQ(y.size(), 1u);
  EXPECT_EQ(y[0].rfind("bad.yaml: YAML error at line", 0), 0u) << y[0];
}

TEST(ValidationTest, ListItemFieldsMayBeUsedInsideSections) {
  auto e = Errors("l.yaml", R"(templates:
  l:
    variables: {items: {type: list}, flag: {type: bool}}
    channels:
      email: {subject: x, text: "{{#items}}{{title}} {{.}}{{/items}}{{#flag}}{{nope}}{{/flag}}"}
)");
  ASSERT_EQ(e.size(), 1u) << Join(e);
  EXPECT_EQ(e[0], "l.yaml: templates.l.channels.email.text: unknown variable 'nope'");
}

TEST(ValidationTest, DuplicateTemplatesAcrossFiles) {
  TempDir dir;
  const char* t = "templates:\n  same: {channels: {email: {subject: a, text: b}}}\n";
  dir.Write("a.yaml", t);
  dir.Write("b.yml", t);
  dir.Write("ignored.txt", "not yaml");
  dir.Write(".hidden.yaml", "garbage: [");
  std::vector<std::string> errors;
  EXPECT_FALSE(Catalog::LoadDir(dir.path(), {}, &errors).ok());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "b.yml: templates.same: template already defined in a.yaml");
}

TEST(ValidationTest, WechatSubscribeLimits) {
  auto e = Errors("w.yaml", R"(templates:
  w:
    variables:
      name: {type: string, max_length: 32}
      short: {type: string, max_length: 5}
      free: {type: string}
    channels:
      wechat_subscribe:
        template_id: T
        data:
          thing1: 这是一段超过二十个字符的很长很长很长的文字说明
          thing2: "{{name}}"
          thing3: "{{free}}"
          phrase4: "{{short}}"
          symbol5: "{{short}}!"
          foo6: x
          time7: "{{free}}"
)");
  EXPECT_ERROR(e,
               "w.yaml: templates.w.channels.wechat_subscribe.data.thing1: literal text is 23 "
               "chars; a thing field allows at most 20");
  EXPECT_ERROR(e,
               "w.yaml: templates.w.channels.wechat_subscribe.data.thing2: with 'name' at its "
               "max_length the value reaches 32 chars; a thing field allows at most 20");
  EXPECT_ERROR(e,
               "w.yaml: templates.w.channels.wechat_subscribe.data.thing3: variable 'free' has no "
               "max_length; a thing field allows at most 20 chars");
  EXPECT_ERROR(e,
               "w.yaml: templates.w.channels.wechat_subscribe.data.symbol5: with 'short' at its "
               "max_length the value reaches 6 chars; a symbol field allows at most 5");
  EXPECT_ERROR(
      e, "w.yaml: templates.w.channels.wechat_subscribe.data.foo6: keyword must be a WeChat type");
  EXPECT_EQ(Join(e).find("phrase4"), std::string::npos);  // 5 <= 5
  EXPECT_EQ(Join(e).find("time7"), std::string::npos);    // no length rule
}

TEST(ValidationTest, WechatRenderTimeLimit) {
  config::TemplatesConfig cfg;
  auto t = ParseTemplateSource(R"(templates:
  w:
    variables: {items: {type: list}}
    channels:
      wechat_subscribe:
        template_id: T
        data: {phrase1: "{{#items}}{{.}}{{/items}}"}
)",
                               cfg);
  // A list has no max_length: refused at load.
  EXPECT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("has no max_length"), std::string::npos);
}

TEST(ValidationTest, PushPayloadOverApnsLimit) {
  auto e = Errors("p.yaml", R"(templates:
  p:
    variables:
      body: {type: string, max_length: 1300}
      title: {type: string, max_length: 100}
    channels:
      push: {title: "{{title}}", body: "{{body}}", data: {k: x}}
)");
  ASSERT_EQ(e.size(), 1u) << Join(e);
  EXPECT_EQ(e[0].rfind("p.yaml: templates.p.channels.push: estimated APNs payload ", 0), 0u)
      << e[0];
  EXPECT_ERROR(e, "exceeds 4096");
  auto ok = Errors("p.yaml", R"(templates:
  p:
    variables: {body: {type: string, max_length: 500}}
    channels:
      push: {title: t, body: "{{body}}", badge: "{{n}}"}
)");
  EXPECT_ERROR(ok, "p.yaml: templates.p.channels.push.badge: unknown variable 'n'");
}

TEST(ValidationTest, SmsRules) {
  auto e = Errors("sms.yaml", R"(templates:
  nosign:
    channels: {sms: {text: "您的订单已发货"}}
  signed_by_name:
    channels: {sms: {text: "您的订单已发货", sign_name: Reach}}
  signed_by_providers:
    channels:
      sms:
        text: "您的订单已发货"
        providers:
          aliyun: {template_code: SMS_1, sign_name: Reach}
          tencent: {template_id: 1, sign_name: Reach, params: []}
  mismatch:
    channels: {sms: {text: "【Other】您好", sign_name: Reach}}
  toolong:
    variables: {v: {type: string, max_length: 200}}
    channels: {sms: {text: "【Reach】{{v}}"}}
  toolong_ok:
    variables: {v: {type: string, max_length: 200}}
    channels: {sms: {text: "【Reach】{{v}}", max_segments: 4}}
  provider_missing:
    channels:
      sms:
        text: "【Reach】x"
        providers: {aliyun: {params: {a: "{{zz}}"}}, huawei: {}}
)");
  EXPECT_ERROR(e, "sms.yaml: templates.nosign.channels.sms.text: no 【signature】");
  EXPECT_ERROR(e,
               "sms.yaml: templates.mismatch.channels.sms.text: signature 【Other】 differs from "
               "sign_name 'Reach'");
  EXPECT_ERROR(e,
               "sms.yaml: templates.toolong.channels.sms.text: text can reach 207 UCS-2 units = 4 "
               "segments with variables at max_length; max_segments is 3");
  EXPECT_ERROR(
      e,
      "sms.yaml: templates.provider_missing.channels.sms.providers.aliyun.template_code: missing");
  EXPECT_ERROR(e,
               "sms.yaml: templates.provider_missing.channels.sms.providers.aliyun.params.a: "
               "unknown variable 'zz'");
  EXPECT_ERROR(e,
               "sms.yaml: templates.provider_missing.channels.sms.providers.huawei: unknown key");
  EXPECT_EQ(Join(e).find("signed_by"), std::string::npos) << Join(e);
  EXPECT_EQ(Join(e).find("toolong_ok"), std::string::npos) << Join(e);
  EXPECT_EQ(e.size(), 6u) << Join(e);
}

TEST(ValidationTest, MarketingSmsNeedsOptOut) {
  const char* yaml = R"(templates:
  sale:
    category: marketing
    channels: {sms: {text: "【Reach】全场8折"}}
  notice:
    channels: {sms: {text: "【Reach】通知。拒收请回复R"}}
  sale_ok:
    category: marketing
    channels: {sms: {text: "【Reach】全场8折，拒收请回复R"}}
  sale_middle:
    category: marketing
    channels: {sms: {text: "【Reach】拒收请回复R。全场8折"}}
)";
  auto e = Errors("m.yaml", yaml);
  ASSERT_EQ(e.size(), 3u) << Join(e);
  EXPECT_EQ(e[0],
            "m.yaml: templates.sale.channels.sms.text: marketing SMS must end with the opt-out "
            "text '拒收请回复R'");
  EXPECT_EQ(e[1],
            "m.yaml: templates.notice.channels.sms.text: the opt-out text '拒收请回复R' is only "
            "for marketing SMS");
  EXPECT_EQ(e[2],
            "m.yaml: templates.sale_middle.channels.sms.text: marketing SMS must end with the "
            "opt-out text '拒收请回复R'");
  config::TemplatesConfig td;
  td.sms_optout_text = "回TD退订";
  auto e2 = Errors("m.yaml", yaml, td);
  EXPECT_ERROR(e2,
               "templates.sale_ok.channels.sms.text: marketing SMS must end with the opt-out text "
               "'回TD退订'");
}

TEST(ValidationTest, SignatureNames) {
  auto e = Errors("sig.yaml", R"(templates:
  bracketed:
    channels: {sms: {text: "您好", sign_name: "【Reach】"}}
  short:
    channels: {sms: {text: "您好", sign_name: R}}
  provider_long:
    channels:
      sms:
        text: "【Reach】您好"
        providers: {aliyun: {template_code: SMS_1, sign_name: 一二三四五六七八九十一二三四五六七}}
  fine:
    channels: {sms: {text: "您好", sign_name: 阿里云}}
)");
  EXPECT_ERROR(e,
               "sig.yaml: templates.bracketed.channels.sms.sign_name: the signature name is given "
               "without 【】");
  EXPECT_ERROR(e,
               "sig.yaml: templates.short.channels.sms.sign_name: a signature name has 2 to 16 "
               "characters, this one 1");
  EXPECT_ERROR(e,
               "sig.yaml: templates.provider_long.channels.sms.providers.aliyun.sign_name: a "
               "signature name has 2 to 16 characters, this one 17");
  EXPECT_EQ(Join(e).find("fine"), std::string::npos) << Join(e);
}

// GSM-7 texts (no signature in the text: the providers add theirs) use 160/153; number variables
// keep a text GSM-7, string variables may carry any character and count as UCS-2.
TEST(ValidationTest, SmsSegmentsGsm7AtLoad) {
  std::string a150(150, 'a');
  std::string a151(151, 'a');
  std::string tpl = "templates:\n";
  auto add = [&tpl](const std::string& name, const std::string& var, const std::string& text,
                    int max_segments) {
    tpl += "  " + name + ":\n    variables: {v: " + var + "}\n    channels:\n      sms:\n" +
           "        text: \"" + text + "\"\n        max_segments: " + std::to_string(max_segments) +
           "\n        providers: {aliyun: {template_code: SMS_1, sign_name: Reach}}\n";
  };
  add("gsm_fits", "{type: number, max_length: 10}", a150 + "{{v}}", 1);  // 160 septets
  add("gsm_over", "{type: number, max_length: 10}", a151 + "{{v}}", 1);  // 161 septets
  add("gsm_two", "{type: number, max_length: 10}", a151 + "{{v}}", 2);   // 2 x 153
  add("ucs_over", "{type: string, max_length: 10}", std::string(61, 'a') + "{{v}}", 1);  // 71
  add("ext_fits", "{type: number, max_length: 2}", std::string(79, '[') + "{{v}}", 1);   // 158+2
  add("ext_over", "{type: number, max_length: 2}", std::string(80, '[') + "{{v}}", 1);   // 160+2
  auto e = Errors("g.yaml", tpl);
  EXPECT_ERROR(e,
               "g.yaml: templates.gsm_over.channels.sms.text: text can reach 161 GSM-7 units = 2 "
               "segments with variables at max_length; max_segments is 1");
  EXPECT_ERROR(e,
               "g.yaml: templates.ucs_over.channels.sms.text: text can reach 71 UCS-2 units = 2 "
               "segments");
  EXPECT_EQ(Join(e).find("gsm_fits"), std::string::npos) << Join(e);
  EXPECT_EQ(Join(e).find("gsm_two"), std::string::npos) << Join(e);
  EXPECT_EQ(Join(e).find("ext_fits"), std::string::npos) << Join(e);  // exactly 160 septets
  EXPECT_ERROR(e,
               "g.yaml: templates.ext_over.channels.sms.text: text can reach 162 GSM-7 units = 2 "
               "segments");
  EXPECT_EQ(e.size(), 3u) << Join(e);
}

// Variables without max_length are not in the load-time estimates; what they render to is
// checked at render time and refused as InvalidArgument (the dispatcher fails the message).
TEST(ValidationTest, RenderTimeSmsAndApnsLimits) {
  config::TemplatesConfig cfg;
  auto t = ParseTemplateSource(R"(templates:
  r:
    variables: {v: {type: string}}
    channels:
      sms: {text: "【Reach】{{v}}", max_segments: 1}
      rcs: {text: "{{v}}", fallback_sms: "【Reach】{{v}}"}
      push: {title: t, body: "{{v}}"}
)",
                               cfg);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  const Template& r = *t.value();
  auto vars = [](size_t n) { return boost::json::object{{"v", std::string(n, 'x')}}; };
  // 【Reach】 is 7 chars and makes the text UCS-2: 63 more = 70 = one segment.
  EXPECT_TRUE(r.Render("sms", "", vars(63)).ok());
  auto two = r.Render("sms", "", vars(64));
  EXPECT_EQ(two.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(two.status().field(), "vars");
  EXPECT_NE(two.status().message().find("71 chars = 2 UCS-2 segments; at most 1 segments"),
            std::string::npos)
      << two.status().ToString();
  // The RCS fallback keeps the default of 3 segments: 7 + 194 = 201 > 3 x 67.
  EXPECT_TRUE(r.Render("rcs", "", vars(194)).ok());
  EXPECT_EQ(r.Render("rcs", "", vars(195)).status().code(), StatusCode::kInvalidArgument);
  // {"aps":{"alert":{"title":"t","body":""}}} is 41 bytes; the body brings it to 4096 exactly.
  EXPECT_TRUE(r.Render("push", "", vars(4055)).ok());
  // A quote is 2 bytes in the payload: 2027 quotes + 1 = 4055 bytes fits, 2028 quotes do not.
  EXPECT_TRUE(r.Render("push", "", {{"v", std::string(2027, '"') + "x"}}).ok());
  EXPECT_FALSE(r.Render("push", "", {{"v", std::string(2028, '"')}}).ok());
  auto big = r.Render("push", "", vars(4056));
  EXPECT_EQ(big.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(big.status().message().find("APNs allows at most 4096"), std::string::npos)
      << big.status().ToString();
}

TEST(ValidationTest, YamlAliasExpansionIsBounded) {
  // Ten levels of ten aliases expand to 10^10 values; refused instead of exhausting memory.
  std::string yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    yaml += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) yaml += (k ? ", " : "") + prev;
    yaml += "]\n";
  }
  yaml += "templates: {}\n";
  auto e = Errors("bomb.yaml", yaml);
  ASSERT_FALSE(e.empty());
  EXPECT_ERROR(e, "values after expanding aliases; the file is too large");
}

TEST(ValidationTest, ChannelShapes) {
  auto e = Errors("c.yaml", R"(templates:
  c:
    channels:
      email: {subject: x}
      rcs: {text: a, card: {title: b}}
      wecom: {msgtype: textcard, text: {content: x}, textcard: {title: t, url: u}}
      wechat_template: {data: {first: x}}
      webhook: {}
)");
  EXPECT_ERROR(e, "c.yaml: templates.c.channels.email: needs text or html");
  EXPECT_ERROR(e, "c.yaml: templates.c.channels.rcs: needs exactly one of text or card");
  EXPECT_ERROR(e, "c.yaml: templates.c.channels.rcs.fallback_sms: missing");
  EXPECT_ERROR(e,
               "c.yaml: templates.c.channels.wecom.text: msgtype is textcard; remove this block");
  EXPECT_ERROR(e, "c.yaml: templates.c.channels.wecom.textcard.description: missing");
  EXPECT_ERROR(e, "c.yaml: templates.c.channels.wechat_template.template_id: missing");
  EXPECT_ERROR(e, "c.yaml: templates.c.channels.webhook.body: missing");
}

}  // namespace
}  // namespace reach::templates
