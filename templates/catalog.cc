#include "templates/catalog.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/crypto.h"
#include "templates/sms_segments.h"

namespace reach::templates {

namespace json = boost::json;
namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Compiled content tree: renders to the JSON content of one channel variant.

// kSmsSegments: limit_max is the segment count; the text is also held to kMaxSmsChars.
enum class Limit : uint8_t { kNone, kChars, kBytes, kWechatName, kSmsSegments };

struct Node {
  enum class Kind : uint8_t { kConst, kText, kRaw, kObject, kArray, kInt };
  Kind kind = Kind::kConst;
  Escape escape = Escape::kNone;
  bool single_line = false;  // fold CR/LF to spaces (subjects, titles)
  Limit limit = Limit::kNone;
  size_t limit_max = 0;
  std::string label;  // what the limit is about, for render errors
  json::value constant;
  TextTemplate text;
  std::vector<std::string> keys;  // kObject: member names, parallel to items
  std::vector<Node> items;        // kObject members or kArray items
};

struct Variant {
  std::string channel;
  std::string locale;
  Node content;  // always an object node
};

namespace {

constexpr const char* kChannels[] = {"email",           "webhook",          "sms",   "rcs",
                                     "wechat_template", "wechat_subscribe", "wecom", "push"};

bool KnownChannel(std::string_view c) {
  return std::find(std::begin(kChannels), std::end(kChannels), c) != std::end(kChannels);
}

// ---- errors ----

struct Errors {
  std::string file;
  std::vector<std::string> list;
  void Add(const std::string& path, const std::string& msg) {
    list.push_back(file + ": " + (path.empty() ? std::string() : path + ": ") + msg);
  }
};

// ---- YAML -> JSON, with one typing rule shared by the loader and the canonical source ----

bool IsJsonNumber(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  if (i >= s.size()) return false;
  if (s[i] == '0') {
    ++i;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  } else {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t d = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == d) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t d = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == d) return false;
  }
  return i == s.size();
}

json::value PlainScalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (IsJsonNumber(s)) {
    json::error_code ec;
    json::value v = json::parse(s, ec);
    if (!ec) return v;
  }
  return json::string(s);
}

constexpr int kMaxYamlDepth = 64;
// YAML aliases (*a) share one node that the conversion copies at every use, so a small file can
// expand exponentially ("billion laughs"). A template file never needs this many nodes.
constexpr size_t kMaxYamlNodes = 100000;

void YamlToJson(const YAML::Node& n, const std::string& path, int depth, size_t* budget,
                Errors* errs, json::value* out) {
  if (depth > kMaxYamlDepth) {
    errs->Add(path, "nested deeper than " + std::to_string(kMaxYamlDepth));
    return;
  }
  if (*budget == 0) return;  // reported once, below
  if (--*budget == 0) {
    errs->Add(path, "more than " + std::to_string(kMaxYamlNodes) +
                        " values after expanding aliases; the file is too large");
    return;
  }
  switch (n.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      *out = nullptr;
      return;
    case YAML::NodeType::Scalar:
      if (n.Tag() == "?") {
        *out = PlainScalar(n.Scalar());
      } else {
        *out = json::string(n.Scalar());
      }
      return;
    case YAML::NodeType::Sequence: {
      json::array& a = out->emplace_array();
      size_t i = 0;
      for (const auto& item : n) {
        json::value v;
        YamlToJson(item, path + "[" + std::to_string(i++) + "]", depth + 1, budget, errs, &v);
        a.push_back(std::move(v));
      }
      return;
    }
    case YAML::NodeType::Map: {
      json::object& o = out->emplace_object();
      for (const auto& kv : n) {
        if (!kv.first.IsScalar()) {
          errs->Add(path, "keys must be plain strings");
          continue;
        }
        const std::string& key = kv.first.Scalar();
        std::string sub = path.empty() ? key : path + "." + key;
        if (o.contains(key)) {
          errs->Add(sub, "duplicate key");
          continue;
        }
        json::value v;
        YamlToJson(kv.second, sub, depth + 1, budget, errs, &v);
        o.emplace(key, std::move(v));
      }
      return;
    }
  }
}

// Rejects flow nesting that would make the YAML parser recurse without bound.
bool FlowNestingOk(std::string_view text) {
  int depth = 0;
  for (char c : text) {
    if (c == '[' || c == '{') {
      if (++depth > 200) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

// ---- key readers ----

const char* KindName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a bool";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "a list";
    case json::kind::object:
      return "a map";
  }
  return "?";
}

// Reads one mapping: reports unknown keys and type errors with their key path.
class Fields {
 public:
  Fields(const json::value& v, std::string path, Errors* errs,
         std::initializer_list<std::string_view> allowed)
      : path_(std::move(path)), errs_(errs) {
    obj_ = v.if_object();
    if (obj_ == nullptr) {
      errs_->Add(path_, std::string("expected a map, got ") + KindName(v));
      return;
    }
    for (const auto& kv : *obj_) {
      if (std::find(allowed.begin(), allowed.end(), std::string_view(kv.key())) == allowed.end()) {
        errs_->Add(Path(kv.key()), "unknown key");
      }
    }
  }
  bool ok() const { return obj_ != nullptr; }
  std::string Path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  const json::value* Get(std::string_view key) const {
    if (obj_ == nullptr) return nullptr;
    const json::value* v = obj_->if_contains(key);
    return (v == nullptr || v->is_null()) ? nullptr : v;
  }
  const json::value* Required(std::string_view key) const {
    const json::value* v = Get(key);
    if (v == nullptr && obj_ != nullptr) errs_->Add(Path(key), "missing");
    return v;
  }
  // A scalar as text (numbers are accepted and printed: template ids are often unquoted).
  std::optional<std::string> Str(std::string_view key, bool required) const {
    const json::value* v = required ? Required(key) : Get(key);
    if (v == nullptr) return std::nullopt;
    if (v->is_string()) return std::string(v->get_string());
    if (v->is_int64() || v->is_uint64()) {
      std::string s;
      AppendValue(*v, Escape::kNone, &s);
      return s;
    }
    errs_->Add(Path(key), std::string("expected a string, got ") + KindName(*v));
    return std::nullopt;
  }
  const json::object* obj() const { return obj_; }

 private:
  std::string path_;
  Errors* errs_;
  const json::object* obj_ = nullptr;
};

// ---- compile context: declared variables + error sink ----

struct Ctx {
  Errors* errs;
  const std::vector<VariableSpec>* vars;
  const config::TemplatesConfig* config;
  std::string category;

  const VariableSpec* Find(std::string_view name) const {
    for (const auto& v : *vars) {
      if (v.name == name) return &v;
    }
    return nullptr;
  }
};

std::string_view Root(std::string_view path) { return path.substr(0, path.find('.')); }

void CheckRefs(const TextTemplate& t, const std::string& path, const Ctx& ctx) {
  for (const VarRef& r : t.refs()) {
    if (r.path == ".") continue;
    std::string_view root = Root(r.path);
    const VariableSpec* spec = ctx.Find(root);
    if (spec != nullptr) {
      if (r.path.size() > root.size() && spec->type != "object" && spec->type != "list") {
        ctx.errs->Add(path, "variable '" + std::string(root) + "' is a " + spec->type + "; '" +
                                r.path + "' does not resolve");
      }
      continue;
    }
    bool item_field = false;  // may resolve against a list item or object in an open section
    for (const auto& e : r.enclosing) {
      const VariableSpec* s = ctx.Find(Root(e));
      if (e == "." || (s != nullptr && (s->type == "list" || s->type == "object"))) {
        item_field = true;
      }
    }
    if (!item_field) ctx.errs->Add(path, "unknown variable '" + std::string(root) + "'");
  }
}

size_t Measure(std::string_view s, Limit unit) {
  return unit == Limit::kBytes ? s.size() : Utf8Chars(s);
}

// Worst-case length of a rendered template with every variable at its max_length.
struct Estimate {
  size_t literal = 0;
  size_t vars = 0;
  std::string unbounded;  // first variable without a bound ("" = all bounded)
  std::string longest;    // the variable contributing most
  size_t total() const { return literal + vars; }
};

Estimate EstimateLength(const TextTemplate& t, Limit unit, const Ctx& ctx) {
  Estimate e;
  e.literal = Measure(t.literal_text(), unit);
  // Bytes: 3 per char (any BMP character, all of CJK); 4-byte emoji can exceed the estimate and
  // are then caught by the render-time limit check.
  size_t per_char = unit == Limit::kBytes ? 3 : 1;
  size_t longest = 0;
  for (const VarRef& r : t.refs()) {
    if (r.section) continue;
    const VariableSpec* spec = r.path == "." ? nullptr : ctx.Find(Root(r.path));
    bool in_list = false;
    for (const auto& enc : r.enclosing) {
      const VariableSpec* s = ctx.Find(Root(enc));
      if (enc == "." || s == nullptr || s->type == "list") in_list = true;
    }
    size_t n = 0;
    if (spec == nullptr || in_list || spec->type == "object" || spec->type == "list") {
      if (e.unbounded.empty()) e.unbounded = r.path;
      continue;
    }
    if (spec->type == "bool") {
      n = 5;
    } else if (spec->max_length > 0) {
      n = static_cast<size_t>(spec->max_length) * per_char;
    } else if (spec->type == "number") {
      n = 20;
    } else {
      if (e.unbounded.empty()) e.unbounded = r.path;
      continue;
    }
    if (r.has_default) n = std::max(n, Measure(r.default_text, unit));
    e.vars += n;
    if (n > longest) {
      longest = n;
      e.longest = r.path;
    }
  }
  return e;
}

// ---- node compilers ----

Node CompileText(const json::value& v, const std::string& path, Escape escape, const Ctx& ctx,
                 std::string_view prefix = {}) {
  Node n;
  std::string src(prefix);
  if (v.is_string()) {
    src += std::string_view(v.get_string());
  } else if (v.is_number() || v.is_bool()) {
    AppendValue(v, Escape::kNone, &src);
  } else {
    ctx.errs->Add(path, std::string("expected a string, got ") + KindName(v));
    return n;
  }
  auto parsed = TextTemplate::Parse(src);
  if (!parsed.ok()) {
    ctx.errs->Add(path, parsed.status().message());
    return n;
  }
  CheckRefs(*parsed, path, ctx);
  if (parsed->constant()) {
    n.kind = Node::Kind::kConst;
    // Literal text is operator-written (markup included) and never escaped.
    const std::string& lit = parsed->literal_text();
    n.constant = json::string(lit);
  } else {
    n.kind = Node::Kind::kText;
  }
  n.escape = escape;
  n.text = std::move(*parsed);
  return n;
}

// Any JSON tree (webhook body, per-platform overrides, WeCom template cards).
Node CompileTree(const json::value& v, const std::string& path, const Ctx& ctx) {
  Node n;
  switch (v.kind()) {
    case json::kind::object:
      n.kind = Node::Kind::kObject;
      for (const auto& kv : v.get_object()) {
        n.keys.emplace_back(kv.key());
        n.items.push_back(CompileTree(kv.value(), path + "." + std::string(kv.key()), ctx));
      }
      return n;
    case json::kind::array: {
      n.kind = Node::Kind::kArray;
      size_t i = 0;
      for (const auto& item : v.get_array()) {
        n.items.push_back(CompileTree(item, path + "[" + std::to_string(i++) + "]", ctx));
      }
      return n;
    }
    case json::kind::string: {
      Node t = CompileText(v, path, Escape::kNone, ctx);
      if (t.text.SoleRawPath() != nullptr) t.kind = Node::Kind::kRaw;
      return t;
    }
    default:
      n.constant = v;
      return n;
  }
}

Node Object() {
  Node n;
  n.kind = Node::Kind::kObject;
  return n;
}

Node Const(json::value v) {
  Node n;
  n.constant = std::move(v);
  return n;
}

void Add(Node* obj, std::string key, Node n) {
  obj->keys.push_back(std::move(key));
  obj->items.push_back(std::move(n));
}

// Checks a text field against a length limit at load (literal and declared max_length) and
// arms the render-time check.
void ApplyLimit(Node* n, const std::string& path, Limit unit, size_t max, const std::string& what,
                const Ctx& ctx, bool require_bounded) {
  n->limit = unit;
  n->limit_max = max;
  n->label = what;
  if (n->kind == Node::Kind::kConst && !n->constant.is_string()) return;
  const char* units = unit == Limit::kBytes ? "bytes" : "chars";
  Estimate e = EstimateLength(n->text, unit == Limit::kWechatName ? Limit::kChars : unit, ctx);
  if (e.literal > max) {
    ctx.errs->Add(path, "literal text is " + std::to_string(e.literal) + " " + units + "; " + what +
                            " allows at most " + std::to_string(max));
  } else if (!e.unbounded.empty()) {
    if (require_bounded) {
      ctx.errs->Add(path, "variable '" + e.unbounded + "' has no max_length; " + what +
                              " allows at most " + std::to_string(max) + " " + units);
    }
  } else if (e.total() > max) {
    ctx.errs->Add(path, "with '" + e.longest + "' at its max_length the value reaches " +
                            std::to_string(e.total()) + " " + units + "; " + what +
                            " allows at most " + std::to_string(max));
  }
}

// ---- channels ----

Node CompileEmail(const json::value& v, const std::string& path, const Ctx& ctx) {
  Fields f(v, path, ctx.errs, {"subject", "text", "html"});
  Node out = Object();
  if (!f.ok()) return out;
  if (const json::value* s = f.Required("subject")) {
    Node n = CompileText(*s, f.Path("subject"), Escape::kNone, ctx);
    n.single_line = true;
    Add(&out, "subject", std::move(n));
  }
  const json::value* text = f.Get("text");
  const json::value* html = f.Get("html");
  if (text == nullptr && html == nullptr) ctx.errs->Add(path, "needs text or html (or both)");
  if (text != nullptr) Add(&out, "text", CompileText(*text, f.Path("text"), Escape::kNone, ctx));
  if (html != nullptr) Add(&out, "html", CompileText(*html, f.Path("html"), Escape::kHtml, ctx));
  return out;
}

Node CompileWebhook(const json::value& v, const std::string& path, const Ctx& ctx) {
  Fields f(v, path, ctx.errs, {"body"});
  Node out = Object();
  if (const json::value* b = f.Required("body"))
    Add(&out, "body", CompileTree(*b, f.Path("body"), ctx));
  return out;
}

constexpr int kDefaultMaxSmsSegments = 3;
constexpr size_t kMaxSmsChars = 500;  // mainland providers: signature + body (reference section 7)

// Arms the render-time check of a rendered SMS text: variables without max_length can make it
// longer than the load-time estimate.
void ArmSmsLimit(Node* n, int max_segments, std::string label) {
  n->limit = Limit::kSmsSegments;
  n->limit_max = static_cast<size_t>(max_segments);
  n->label = std::move(label);
}

// A signature name as the providers take it: bare (no 【】), 2-16 characters.
void CheckSignName(const std::string& name, const std::string& path, const Ctx& ctx) {
  if (name.find("【") != std::string::npos || name.find("】") != std::string::npos) {
    ctx.errs->Add(path, "the signature name is given without 【】");
  }
  size_t n = Utf8Chars(name);
  if (n < 2 || n > 16) {
    ctx.errs->Add(path, "a signature name has 2 to 16 characters, this one " + std::to_string(n));
  }
}

// Returns the signature in a leading or trailing 【...】, or "".
std::string TextSignature(std::string_view text) {
  static constexpr std::string_view kOpen = "【", kClose = "】";
  if (text.substr(0, kOpen.size()) == kOpen) {
    size_t end = text.find(kClose);
    if (end != std::string_view::npos) {
      return std::string(text.substr(kOpen.size(), end - kOpen.size()));
    }
  }
  if (text.size() >= kClose.size() && text.substr(text.size() - kClose.size()) == kClose) {
    size_t start = text.rfind(kOpen);
    if (start != std::string_view::npos) {
      return std::string(
          text.substr(start + kOpen.size(), text.size() - kClose.size() - start - kOpen.size()));
    }
  }
  return "";
}

// SMS length rules on a template text (already carrying its signature).
void CheckSmsLength(const TextTemplate& t, const std::string& path, int max_segments,
                    const Ctx& ctx) {
  Estimate e = EstimateLength(t, Limit::kChars, ctx);
  SmsCount lit = CountSms(t.literal_text());
  bool gsm = lit.encoding == SmsEncoding::kGsm7;
  for (const VarRef& r : t.refs()) {
    const VariableSpec* s = ctx.Find(Root(r.path));
    if (!r.section && (s == nullptr || (s->type != "number" && s->type != "bool"))) gsm = false;
  }
  SmsEncoding enc = gsm ? SmsEncoding::kGsm7 : SmsEncoding::kUcs2;
  size_t units = (gsm ? lit.units : Utf16Units(t.literal_text())) + e.vars;
  size_t segments = SmsSegments(enc, units);
  std::string how =
      e.unbounded.empty() ? "" : " (not counting '" + e.unbounded + "', which has no max_length)";
  if (e.total() > kMaxSmsChars) {
    ctx.errs->Add(path, "text can reach " + std::to_string(e.total()) + " chars" + how +
                            "; an SMS allows at most " + std::to_string(kMaxSmsChars));
  }
  if (segments > static_cast<size_t>(max_segments)) {
    ctx.errs->Add(path, "text can reach " + std::to_string(units) + " " + SmsEncodingName(enc) +
                            " units = " + std::to_string(segments) +
                            " segments with variables at max_length" + how + "; max_segments is " +
                            std::to_string(max_segments));
  }
}

Node CompileSms(const json::value& v, const std::string& path, const Ctx& ctx) {
  Fields f(v, path, ctx.errs, {"text", "sign_name", "max_segments", "providers"});
  Node out = Object();
  if (!f.ok()) return out;
  std::optional<std::string> sign = f.Str("sign_name", false);
  if (sign) CheckSignName(*sign, f.Path("sign_name"), ctx);
  int max_segments = kDefaultMaxSmsSegments;
  if (const json::value* m = f.Get("max_segments")) {
    if (!m->is_int64() || m->get_int64() < 1 || m->get_int64() > 10) {
      ctx.errs->Add(f.Path("max_segments"), "expected an integer 1..10");
    } else {
      max_segments = static_cast<int>(m->get_int64());
    }
  }
  // Providers first: their sign names count as "sign_name given".
  Node providers = Object();
  bool all_providers_signed = true;
  bool any_provider = false;
  if (const json::value* p = f.Get("providers")) {
    Fields pf(*p, f.Path("providers"), ctx.errs, {"aliyun", "tencent"});
    if (const json::value* a = pf.Get("aliyun")) {
      any_provider = true;
      Fields af(*a, pf.Path("aliyun"), ctx.errs, {"template_code", "sign_name", "params"});
      Node n = Object();
      Add(&n, "template_code", Const(json::string(af.Str("template_code", true).value_or(""))));
      std::optional<std::string> s = af.Str("sign_name", false);
      if (s) CheckSignName(*s, af.Path("sign_name"), ctx);
      if (!s) s = sign;
      if (!s) all_providers_signed = false;
      Add(&n, "sign_name", Const(json::string(s.value_or(""))));
      Node params = Object();
      if (const json::value* pv = af.Get("params")) {
        if (!pv->is_object()) {
          ctx.errs->Add(af.Path("params"), "expected a map of parameter name to text");
        } else {
          for (const auto& kv : pv->get_object()) {
            std::string key(kv.key());
            Add(&params, key,
                CompileText(kv.value(), af.Path("params") + "." + key, Escape::kNone, ctx));
          }
        }
      }
      Add(&n, "params", std::move(params));
      Add(&providers, "aliyun", std::move(n));
    }
    if (const json::value* t = pf.Get("tencent")) {
      any_provider = true;
      Fields tf(*t, pf.Path("tencent"), ctx.errs, {"template_id", "sign_name", "params"});
      Node n = Object();
      Add(&n, "template_id", Const(json::string(tf.Str("template_id", true).value_or(""))));
      std::optional<std::string> s = tf.Str("sign_name", false);
      if (s) CheckSignName(*s, tf.Path("sign_name"), ctx);
      if (!s) s = sign;
      if (!s) all_providers_signed = false;
      Add(&n, "sign_name", Const(json::string(s.value_or(""))));
      Node params;
      params.kind = Node::Kind::kArray;
      if (const json::value* pv = tf.Get("params")) {
        if (!pv->is_array()) {
          ctx.errs->Add(tf.Path("params"), "expected a list of texts ({1}, {2}, ...)");
        } else {
          size_t i = 0;
          for (const auto& item : pv->get_array()) {
            params.items.push_back(CompileText(
                item, tf.Path("params") + "[" + std::to_string(i++) + "]", Escape::kNone, ctx));
          }
        }
      }
      Add(&n, "params", std::move(params));
      Add(&providers, "tencent", std::move(n));
    }
  }
  const json::value* text = f.Required("text");
  if (text != nullptr && text->is_string()) {
    std::string_view raw(text->get_string());
    std::string in_text = TextSignature(raw);
    std::string prefix;
    std::string text_path = f.Path("text");
    if (in_text.empty()) {
      if (sign) {
        prefix = "【" + *sign + "】";
      } else if (!(any_provider && all_providers_signed)) {
        ctx.errs->Add(text_path, "no 【signature】: start the text with 【签名】 or set sign_name");
      }
    } else if (sign && *sign != in_text) {
      ctx.errs->Add(text_path,
                    "signature 【" + in_text + "】 differs from sign_name '" + *sign + "'");
    }
    // Marketing texts end with the opt-out wording; other categories must not carry it
    // (Aliyun refuses 通知 templates with it; reference section 7).
    const std::string& optout = ctx.config->sms_optout_text;
    bool has_optout = !optout.empty() && raw.find(optout) != std::string_view::npos;
    std::string_view body = raw;
    while (!body.empty() && (body.back() == ' ' || body.back() == '\n' || body.back() == '\t')) {
      body.remove_suffix(1);
    }
    if (ctx.category == "marketing" && !optout.empty() && !body.ends_with(optout)) {
      ctx.errs->Add(text_path, "marketing SMS must end with the opt-out text '" + optout + "'");
    } else if (ctx.category != "marketing" && has_optout) {
      ctx.errs->Add(text_path, "the opt-out text '" + optout + "' is only for marketing SMS");
    }
    Node n = CompileText(*text, text_path, Escape::kNone, ctx, prefix);
    CheckSmsLength(n.text, text_path, max_segments, ctx);
    ArmSmsLimit(&n, max_segments, "the SMS text");
    Add(&out, "text", std::move(n));
  } else if (text != nullptr) {
    ctx.errs->Add(f.Path("text"), std::string("expected a string, got ") + KindName(*text));
  }
  if (!providers.items.empty()) Add(&out, "providers", std::move(providers));
  return out;
}

Node CompileRcs(const json::value& v, const std::string& path, const Ctx& ctx) {
  Fields f(v, path, ctx.errs, {"text", "card", "fallback_sms"});
  Node out = Object();
  if (!f.ok()) return out;
  const json::value* text = f.Get("text");
  const json::value* card = f.Get("card");
  if ((text == nullptr) == (card == nullptr))
    ctx.errs->Add(path, "needs exactly one of text or card");
  if (text != nullptr) {
    Node n = CompileText(*text, f.Path("text"), Escape::kNone, ctx);
    ApplyLimit(&n, f.Path("text"), Limit::kChars, 2000, "an RCS text", ctx, false);
    Add(&out, "text", std::move(n));
  }
  if (card != nullptr) {
    Fields cf(*card, f.Path("card"), ctx.errs,
              {"title", "description", "media_url", "suggestions"});
    Node c = Object();
    if (const json::value* t = cf.Required("title")) {
      Node n = CompileText(*t, cf.Path("title"), Escape::kNone, ctx);
      ApplyLimit(&n, cf.Path("title"), Limit::kChars, 200, "a card title", ctx, false);
      Add(&c, "title", std::move(n));
    }
    if (const json::value* d = cf.Get("description")) {
      Node n = CompileText(*d, cf.Path("description"), Escape::kNone, ctx);
      ApplyLimit(&n, cf.Path("description"), Limit::kChars, 2000, "a card description", ctx, false);
      Add(&c, "description", std::move(n));
    }
    if (const json::value* m = cf.Get("media_url")) {
      Add(&c, "media_url", CompileText(*m, cf.Path("media_url"), Escape::kNone, ctx));
    }
    if (const json::value* s = cf.Get("suggestions")) {
      Node list;
      list.kind = Node::Kind::kArray;
      if (!s->is_array()) {
        ctx.errs->Add(cf.Path("suggestions"), "expected a list");
      } else {
        if (s->get_array().size() > 4)
          ctx.errs->Add(cf.Path("suggestions"), "at most 4 suggestions per card");
        size_t i = 0;
        for (const auto& item : s->get_array()) {
          std::string p = cf.Path("suggestions") + "[" + std::to_string(i++) + "]";
          Fields sf(item, p, ctx.errs, {"type", "text", "postback", "url", "phone"});
          Node sn = Object();
          std::string type = sf.Str("type", true).value_or("");
          if (!type.empty() && type != "reply" && type != "url" && type != "dial") {
            ctx.errs->Add(sf.Path("type"), "expected reply, url or dial");
          }
          Add(&sn, "type", Const(json::string(type)));
          if (const json::value* t = sf.Required("text")) {
            Node n = CompileText(*t, sf.Path("text"), Escape::kNone, ctx);
            ApplyLimit(&n, sf.Path("text"), Limit::kBytes, 25, "a suggestion text", ctx, false);
            Add(&sn, "text", std::move(n));
          }
          if (const json::value* pb = sf.Get("postback"))
            Add(&sn, "postback", CompileText(*pb, sf.Path("postback"), Escape::kNone, ctx));
          const json::value* url = type == "url" ? sf.Required("url") : sf.Get("url");
          if (url != nullptr)
            Add(&sn, "url", CompileText(*url, sf.Path("url"), Escape::kNone, ctx));
          const json::value* phone = type == "dial" ? sf.Required("phone") : sf.Get("phone");
          if (phone != nullptr)
            Add(&sn, "phone", CompileText(*phone, sf.Path("phone"), Escape::kNone, ctx));
          list.items.push_back(std::move(sn));
        }
      }
      Add(&c, "suggestions", std::move(list));
    }
    Add(&out, "card", std::move(c));
  }
  if (const json::value* fb = f.Required("fallback_sms")) {
    Node n = CompileText(*fb, f.Path("fallback_sms"), Escape::kNone, ctx);
    CheckSmsLength(n.text, f.Path("fallback_sms"), kDefaultMaxSmsSegments, ctx);
    ArmSmsLimit(&n, kDefaultMaxSmsSegments, "the fallback SMS");
    Add(&out, "fallback_sms", std::move(n));
  }
  return out;
}

Node CompileWechatData(const json::value& v, const std::string& path, const Ctx& ctx,
                       bool subscribe) {
  Node data = Object();
  if (!v.is_object()) {
    ctx.errs->Add(path, std::string("expected a map of keyword to text, got ") + KindName(v));
    return data;
  }
  struct Rule {
    std::string_view prefix;
    size_t max;  // 0 = no length limit
  };
  static constexpr Rule kRules[] = {{"character_string", 32},
                                    {"phone_number", 17},
                                    {"car_number", 8},
                                    {"thing", 20},
                                    {"number", 32},
                                    {"letter", 32},
                                    {"symbol", 5},
                                    {"phrase", 5},
                                    {"name", 10},
                                    {"time", 0},
                                    {"date", 0},
                                    {"amount", 0}};
  for (const auto& kv : v.get_object()) {
    std::string key(kv.key());
    std::string p = path + "." + key;
    Node value = CompileText(kv.value(), p, Escape::kNone, ctx);
    if (subscribe) {
      const Rule* rule = nullptr;
      for (const Rule& r : kRules) {
        if (key.size() > r.prefix.size() && key.compare(0, r.prefix.size(), r.prefix) == 0 &&
            std::all_of(key.begin() + static_cast<long>(r.prefix.size()), key.end(),
                        [](char c) { return c >= '0' && c <= '9'; })) {
          rule = &r;
          break;
        }
      }
      if (rule == nullptr) {
        ctx.errs->Add(p, "keyword must be a WeChat type plus index (thing1, number2, time3, ...)");
      } else if (rule->max > 0) {
        std::string what = "a " + std::string(rule->prefix) + " field";
        ApplyLimit(&value, p, rule->prefix == "name" ? Limit::kWechatName : Limit::kChars,
                   rule->max, what, ctx, true);
      }
    }
    Node entry = Object();
    Add(&entry, "value", std::move(value));
    Add(&data, key, std::move(entry));
  }
  return data;
}

Node CompileWechatTemplate(const json::value& v, const std::string& path, const Ctx& ctx) {
  Fields f(v, path, ctx.errs, {"template_id", "url", "miniprogram", "data"});
  Node out = Object();
  if (!f.ok()) return out;
  Add(&out, "template_id", Const(json::string(f.Str("template_id", true).value_or(""))));
  if (const json::value* u = f.Get("url"))
    Add(&out, "url", CompileText(*u, f.Path("url"), Escape::kNone, ctx));
  if (const json::value* m = f.Get("miniprogram")) {
    Fields mf(*m, f.Path("miniprogram"), ctx.errs, {"appid", "pagepath"});
    Node mp = Object();
    Add(&mp, "appid", Const(json::string(mf.Str("appid", true).value_or(""))));
    if (const json::value* pp = mf.Required("pagepath")) {
      Add(&mp, "pagepath", CompileText(*pp, mf.Path("pagepath"), Escape::kNone, ctx));
    }
    Add(&out, "miniprogram", std::move(mp));
  }
  if (const json::value* d = f.Required("data"))
    Add(&out, "data", CompileWechatData(*d, f.Path("data"), ctx, false));
  return out;
}

Node CompileWechatSubscribe(const json::value& v, const std::string& path, const Ctx& ctx) {
  Fields f(v, path, ctx.errs, {"template_id", "page", "miniprogram_state", "lang", "data"});
  Node out = Object();
  if (!f.ok()) return out;
  Add(&out, "template_id", Const(json::string(f.Str("template_id", true).value_or(""))));
  if (const json::value* p = f.Get("page"))
    Add(&out, "page", CompileText(*p, f.Path("page"), Escape::kNone, ctx));
  if (auto s = f.Str("miniprogram_state", false)) {
    if (*s != "developer" && *s != "trial" && *s != "formal") {
      ctx.errs->Add(f.Path("miniprogram_state"), "expected developer, trial or formal");
    }
    Add(&out, "miniprogram_state", Const(json::string(*s)));
  }
  if (auto l = f.Str("lang", false)) {
    if (*l != "zh_CN" && *l != "en_US" && *l != "zh_HK" && *l != "zh_TW") {
      ctx.errs->Add(f.Path("lang"), "expected zh_CN, en_US, zh_HK or zh_TW");
    }
    Add(&out, "lang", Const(json::string(*l)));
  }
  if (const json::value* d = f.Required("data"))
    Add(&out, "data", CompileWechatData(*d, f.Path("data"), ctx, true));
  return out;
}

Node CompileWecom(const json::value& v, const std::string& path, const Ctx& ctx) {
  Fields f(v, path, ctx.errs, {"msgtype", "text", "markdown", "textcard", "template_card"});
  Node out = Object();
  if (!f.ok()) return out;
  std::string type = f.Str("msgtype", true).value_or("");
  if (type.empty()) return out;
  for (std::string_view other : {"text", "markdown", "textcard", "template_card"}) {
    if (other != type && f.Get(other) != nullptr) {
      ctx.errs->Add(f.Path(other), "msgtype is " + type + "; remove this block");
    }
  }
  Add(&out, "msgtype", Const(json::string(type)));
  const json::value* body = nullptr;
  if (type == "text" || type == "markdown" || type == "textcard" || type == "template_card") {
    body = f.Required(type);
  } else {
    ctx.errs->Add(f.Path("msgtype"), "expected text, markdown, textcard or template_card");
  }
  if (body == nullptr) return out;
  std::string bp = f.Path(type);
  if (type == "text" || type == "markdown") {
    Fields bf(*body, bp, ctx.errs, {"content"});
    Node b = Object();
    if (const json::value* c = bf.Required("content")) {
      Node n = CompileText(*c, bf.Path("content"), Escape::kNone, ctx);
      ApplyLimit(&n, bf.Path("content"), Limit::kBytes, 2048, "a WeCom " + type + " content", ctx,
                 false);
      Add(&b, "content", std::move(n));
    }
    Add(&out, type, std::move(b));
  } else if (type == "textcard") {
    Fields bf(*body, bp, ctx.errs, {"title", "description", "url", "btntxt"});
    Node b = Object();
    struct Part {
      const char* key;
      size_t max;
      Limit unit;
      bool required;
    };
    for (const Part& part :
         {Part{"title", 128, Limit::kBytes, true}, Part{"description", 512, Limit::kBytes, true},
          Part{"url", 2048, Limit::kBytes, true}, Part{"btntxt", 4, Limit::kChars, false}}) {
      const json::value* pv = part.required ? bf.Required(part.key) : bf.Get(part.key);
      if (pv == nullptr) continue;
      Node n = CompileText(*pv, bf.Path(part.key), Escape::kNone, ctx);
      ApplyLimit(&n, bf.Path(part.key), part.unit, part.max, std::string("a textcard ") + part.key,
                 ctx, false);
      Add(&b, part.key, std::move(n));
    }
    Add(&out, type, std::move(b));
  } else {
    if (!body->is_object() || body->get_object().if_contains("card_type") == nullptr) {
      ctx.errs->Add(bp + ".card_type", "missing");
    }
    Add(&out, type, CompileTree(*body, bp, ctx));
  }
  return out;
}

// Estimated serialized size in bytes of a compiled tree (variables at max_length, 3 bytes
// per char; unbounded variables count as 0).
size_t EstimateBytes(const Node& n, const Ctx& ctx) {
  switch (n.kind) {
    case Node::Kind::kConst:
      return json::serialize(n.constant).size();
    case Node::Kind::kText:
    case Node::Kind::kInt:
    case Node::Kind::kRaw:
      return EstimateLength(n.text, Limit::kBytes, ctx).total() + 2;
    case Node::Kind::kObject: {
      size_t s = 2;
      for (size_t i = 0; i < n.items.size(); ++i) {
        s += n.keys[i].size() + 4 + EstimateBytes(n.items[i], ctx);
      }
      return s;
    }
    case Node::Kind::kArray: {
      size_t s = 2;
      for (const auto& m : n.items) s += 1 + EstimateBytes(m, ctx);
      return s;
    }
  }
  return 0;
}

constexpr size_t kApnsMaxBytes = 4096;

// Bytes of a JSON string literal for `s` as json::serialize writes it.
size_t JsonStringSize(std::string_view s) {
  size_t n = 2;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t') {
      n += 2;
    } else if (c < 0x20) {
      n += 6;
    } else {
      n += 1;
    }
  }
  return n;
}

// Bytes of json::serialize(v), counted without building the text.
size_t JsonSize(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string:
      return JsonStringSize(v.get_string());
    case json::kind::object: {
      const json::object& o = v.get_object();
      size_t n = 2 + (o.empty() ? 0 : o.size() - 1);  // braces, commas
      for (const auto& kv : o) n += JsonStringSize(kv.key()) + 1 + JsonSize(kv.value());
      return n;
    }
    case json::kind::array: {
      const json::array& a = v.get_array();
      size_t n = 2 + (a.empty() ? 0 : a.size() - 1);
      for (const auto& item : a) n += JsonSize(item);
      return n;
    }
    default:
      return json::serialize(v).size();
  }
}

// Size of the APNs payload the push adapter builds from rendered push content:
// {"aps":{"alert":{"title":..,"body":..},"badge":..,"sound":..},<data keys>} plus the `apns`
// overrides counted as a separate tree (an upper bound of the merge).
size_t ApnsPayloadBytes(const json::object& c) {
  size_t n = std::string_view(R"({"aps":{"alert":{}}})").size();
  size_t alert_members = 0;
  size_t aps_members = 1;
  for (const char* key : {"title", "body"}) {
    if (const json::value* v = c.if_contains(key)) {
      n += std::strlen(key) + 3 + JsonSize(*v);  // "key":value
      ++alert_members;
    }
  }
  for (const char* key : {"badge", "sound"}) {
    if (const json::value* v = c.if_contains(key)) {
      n += std::strlen(key) + 3 + JsonSize(*v);
      ++aps_members;
    }
  }
  if (alert_members > 1) n += alert_members - 1;
  n += aps_members - 1;
  if (const json::value* d = c.if_contains("data"); d != nullptr && d->is_object()) {
    for (const auto& kv : d->get_object()) {
      n += 1 + JsonStringSize(kv.key()) + 1 + JsonSize(kv.value());  // ,"key":value
    }
  }
  if (const json::value* a = c.if_contains("apns")) n += JsonSize(*a);
  return n;
}

Node CompilePush(const json::value& v, const std::string& path, const Ctx& ctx) {
  Fields f(v, path, ctx.errs, {"title", "body", "badge", "sound", "data", "apns", "fcm", "jpush"});
  Node out = Object();
  if (!f.ok()) return out;
  if (const json::value* t = f.Required("title")) {
    Node n = CompileText(*t, f.Path("title"), Escape::kNone, ctx);
    n.single_line = true;
    Add(&out, "title", std::move(n));
  }
  if (const json::value* b = f.Required("body"))
    Add(&out, "body", CompileText(*b, f.Path("body"), Escape::kNone, ctx));
  if (const json::value* b = f.Get("badge")) {
    if (b->is_int64() || b->is_uint64()) {
      Add(&out, "badge", Const(*b));
    } else if (b->is_string()) {
      Node n = CompileText(*b, f.Path("badge"), Escape::kNone, ctx);
      n.kind = Node::Kind::kInt;
      n.label = "badge";
      Add(&out, "badge", std::move(n));
    } else {
      ctx.errs->Add(f.Path("badge"), "expected an integer or a template");
    }
  }
  if (const json::value* s = f.Get("sound"))
    Add(&out, "sound", CompileText(*s, f.Path("sound"), Escape::kNone, ctx));
  if (const json::value* d = f.Get("data")) {
    Node data = Object();
    if (!d->is_object()) {
      ctx.errs->Add(f.Path("data"), "expected a map of key to text");
    } else {
      for (const auto& kv : d->get_object()) {
        std::string key(kv.key());
        Add(&data, key, CompileText(kv.value(), f.Path("data") + "." + key, Escape::kNone, ctx));
      }
    }
    Add(&out, "data", std::move(data));
  }
  for (const char* platform : {"apns", "fcm", "jpush"}) {
    if (const json::value* p = f.Get(platform)) {
      if (!p->is_object()) {
        ctx.errs->Add(f.Path(platform), "expected a map");
        continue;
      }
      Add(&out, platform, CompileTree(*p, f.Path(platform), ctx));
    }
  }
  // APNs payload: {"aps":{"alert":{"title","body"},"badge","sound"}, data..., apns overrides}.
  size_t estimate = 40;  // {"aps":{"alert":{"title":,"body":}}} skeleton
  for (size_t i = 0; i < out.items.size(); ++i) {
    if (out.keys[i] == "fcm" || out.keys[i] == "jpush") continue;
    estimate += out.keys[i].size() + 4 + EstimateBytes(out.items[i], ctx);
  }
  if (estimate > kApnsMaxBytes) {
    ctx.errs->Add(path, "estimated APNs payload " + std::to_string(estimate) +
                            " bytes (variables at max_length) exceeds " +
                            std::to_string(kApnsMaxBytes));
  }
  return out;
}

Node CompileChannel(std::string_view channel, const json::value& v, const std::string& path,
                    const Ctx& ctx) {
  if (channel == "email") return CompileEmail(v, path, ctx);
  if (channel == "webhook") return CompileWebhook(v, path, ctx);
  if (channel == "sms") return CompileSms(v, path, ctx);
  if (channel == "rcs") return CompileRcs(v, path, ctx);
  if (channel == "wechat_template") return CompileWechatTemplate(v, path, ctx);
  if (channel == "wechat_subscribe") return CompileWechatSubscribe(v, path, ctx);
  if (channel == "wecom") return CompileWecom(v, path, ctx);
  return CompilePush(v, path, ctx);
}

// ---- rendering ----

const json::value* LookupTop(const std::vector<std::string>& path, const Scope& scope) {
  const json::value* v = nullptr;
  if (scope.vars != nullptr) v = scope.vars->if_contains(path[0]);
  if (v == nullptr && scope.defaults != nullptr) v = scope.defaults->if_contains(path[0]);
  for (size_t i = 1; i < path.size() && v != nullptr; ++i) {
    const json::object* o = v->if_object();
    v = o != nullptr ? o->if_contains(path[i]) : nullptr;
  }
  return v;
}

Status RenderNode(const Node& n, const Scope& scope, std::string* scratch, json::value* out) {
  switch (n.kind) {
    case Node::Kind::kConst:
      *out = n.constant;
      break;
    case Node::Kind::kRaw: {
      const json::value* v = LookupTop(*n.text.SoleRawPath(), scope);
      *out = v != nullptr ? *v : json::value(nullptr);
      return Status::Ok();
    }
    case Node::Kind::kText:
    case Node::Kind::kInt: {
      scratch->clear();
      n.text.Render(scope, n.escape, scratch);
      if (n.single_line) {
        for (char& c : *scratch) {
          if (c == '\r' || c == '\n') c = ' ';
        }
      }
      if (n.kind == Node::Kind::kInt) {
        int64_t i = 0;
        auto [p, ec] = std::from_chars(scratch->data(), scratch->data() + scratch->size(), i);
        if (ec != std::errc() || p != scratch->data() + scratch->size()) {
          return Status::InvalidArgument(n.label + " renders to '" + *scratch + "', not an integer",
                                         "vars");
        }
        *out = i;
        return Status::Ok();
      }
      *out = json::string(*scratch);
      break;
    }
    case Node::Kind::kObject: {
      json::object& o = out->emplace_object();
      o.reserve(n.items.size());
      for (size_t i = 0; i < n.items.size(); ++i) {
        json::value v;
        if (Status st = RenderNode(n.items[i], scope, scratch, &v); !st.ok()) return st;
        o.emplace(n.keys[i], std::move(v));
      }
      return Status::Ok();
    }
    case Node::Kind::kArray: {
      json::array& a = out->emplace_array();
      a.reserve(n.items.size());
      for (const auto& m : n.items) {
        json::value v;
        if (Status st = RenderNode(m, scope, scratch, &v); !st.ok()) return st;
        a.push_back(std::move(v));
      }
      return Status::Ok();
    }
  }
  if (n.limit == Limit::kSmsSegments && out->is_string()) {
    SmsCount c = CountSms(std::string_view(out->get_string()));
    if (c.segments > n.limit_max || c.chars > kMaxSmsChars) {
      return Status::InvalidArgument(n.label + " renders to " + std::to_string(c.chars) +
                                         " chars = " + std::to_string(c.segments) + " " +
                                         SmsEncodingName(c.encoding) + " segments; at most " +
                                         std::to_string(n.limit_max) + " segments and " +
                                         std::to_string(kMaxSmsChars) + " chars",
                                     "vars");
    }
  } else if (n.limit != Limit::kNone && out->is_string()) {
    std::string_view s(out->get_string());
    size_t len = n.limit == Limit::kBytes ? s.size() : Utf8Chars(s);
    size_t max = n.limit_max;
    if (n.limit == Limit::kWechatName && std::all_of(s.begin(), s.end(), [](char c) {
          return static_cast<unsigned char>(c) < 0x80;
        })) {
      max *= 2;
    }
    if (len > max) {
      return Status::InvalidArgument("rendered value is " + std::to_string(len) + " " +
                                         (n.limit == Limit::kBytes ? "bytes" : "chars") + "; " +
                                         n.label + " allows at most " + std::to_string(max),
                                     "vars");
    }
  }
  return Status::Ok();
}

std::string NormalizeLocale(std::string_view l) {
  std::string s(l);
  for (char& c : s) {
    if (c == '_') c = '-';
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

bool ValidLocale(std::string_view l) {
  if (l.empty() || l.size() > 35) return false;
  return std::all_of(l.begin(), l.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

bool ValidName(std::string_view n) {
  if (n.empty() || n.size() > 128) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

bool TypeMatches(const std::string& type, const json::value& v) {
  if (type == "string") return v.is_string();
  if (type == "number") return v.is_number();
  if (type == "bool") return v.is_bool();
  if (type == "object") return v.is_object();
  if (type == "list") return v.is_array();
  return false;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Template

Template::Template() = default;
Template::~Template() = default;

struct TemplateBuilder {
  // Builds one template from its converted JSON tree. `path` is "templates.<name>".
  static std::shared_ptr<const Template> Build(const std::string& name, const json::value& tpl,
                                               const std::string& path,
                                               const config::TemplatesConfig& config,
                                               Errors* errs) {
    size_t errors_before = errs->list.size();
    std::shared_ptr<Template> t(new Template());
    t->name_ = name;
    t->fallback_ = config.locale_fallback;
    if (!ValidName(name)) errs->Add(path, "template names use letters, digits, _ - . only");
    Fields f(tpl, path, errs,
             {"description", "category", "locale", "variables", "channels", "locales"});
    if (!f.ok()) return nullptr;
    t->description_ = f.Str("description", false).value_or("");
    t->category_ = f.Str("category", false).value_or("transactional");
    if (t->category_ != "otp" && t->category_ != "transactional" && t->category_ != "marketing") {
      errs->Add(f.Path("category"), "expected otp, transactional or marketing");
    }
    t->locale_ = f.Str("locale", false).value_or("zh-CN");
    if (!ValidLocale(t->locale_)) errs->Add(f.Path("locale"), "not a locale tag");

    if (const json::value* vars = f.Get("variables"))
      ParseVariables(*vars, f.Path("variables"), t.get(), errs);
    Ctx ctx{errs, &t->variables_, &config, t->category_};

    auto add_channels = [&](const json::value& chans, const std::string& cpath,
                            const std::string& locale) {
      const json::object* o = chans.if_object();
      if (o == nullptr) {
        errs->Add(cpath,
                  std::string("expected a map of channel to variant, got ") + KindName(chans));
        return;
      }
      for (const auto& kv : *o) {
        std::string channel(kv.key());
        std::string vpath = cpath + "." + channel;
        if (!KnownChannel(channel)) {
          errs->Add(vpath,
                    "unknown channel (email, webhook, sms, rcs, wechat_template, "
                    "wechat_subscribe, wecom, push)");
          continue;
        }
        auto variant = std::make_unique<Variant>();
        variant->channel = channel;
        variant->locale = locale;
        variant->content = CompileChannel(channel, kv.value(), vpath, ctx);
        t->variants_[channel].push_back(std::move(variant));
      }
    };
    if (const json::value* chans = f.Get("channels"))
      add_channels(*chans, f.Path("channels"), t->locale_);
    if (const json::value* locs = f.Get("locales")) {
      if (!locs->is_object()) {
        errs->Add(f.Path("locales"), "expected a map of locale to channels");
      } else {
        for (const auto& kv : locs->get_object()) {
          std::string loc(kv.key());
          std::string lpath = f.Path("locales") + "." + loc;
          if (!ValidLocale(loc)) errs->Add(lpath, "not a locale tag");
          if (NormalizeLocale(loc) == NormalizeLocale(t->locale_)) {
            errs->Add(lpath, "same locale as the template's `locale`; put it under channels");
          }
          add_channels(kv.value(), lpath, loc);
        }
      }
    }
    if (t->variants_.empty())
      errs->Add(f.Path("channels"), "a template needs at least one channel");
    if (errs->list.size() != errors_before) return nullptr;

    json::object root;
    json::object one;
    one.emplace(name, tpl);
    root.emplace("templates", std::move(one));
    t->source_ = json::serialize(root);
    t->version_ = crypto::HexEncode(crypto::Sha256(t->source_)).substr(0, 16);
    return t;
  }

  static void ParseVariables(const json::value& v, const std::string& path, Template* t,
                             Errors* errs) {
    const json::object* o = v.if_object();
    if (o == nullptr) {
      errs->Add(path, "expected a map of variable name to declaration");
      return;
    }
    for (const auto& kv : *o) {
      VariableSpec spec;
      spec.name = std::string(kv.key());
      std::string p = path + "." + spec.name;
      if (spec.name.empty() || spec.name.find('.') != std::string::npos ||
          !std::all_of(spec.name.begin(), spec.name.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
          })) {
        errs->Add(p, "variable names use letters, digits, _ and - only");
      }
      Fields f(kv.value(), p, errs, {"type", "required", "default", "max_length", "description"});
      if (!f.ok()) continue;
      spec.type = f.Str("type", false).value_or("string");
      if (spec.type != "string" && spec.type != "number" && spec.type != "bool" &&
          spec.type != "object" && spec.type != "list") {
        errs->Add(f.Path("type"), "expected string, number, bool, object or list");
      }
      if (const json::value* r = f.Get("required")) {
        if (!r->is_bool()) {
          errs->Add(f.Path("required"), "expected true or false");
        } else {
          spec.required = r->get_bool();
        }
      }
      if (const json::value* m = f.Get("max_length")) {
        if (!m->is_int64() || m->get_int64() < 1 || m->get_int64() > 1000000) {
          errs->Add(f.Path("max_length"), "expected a positive integer");
        } else if (spec.type != "string" && spec.type != "number") {
          errs->Add(f.Path("max_length"), "only for string and number variables");
        } else {
          spec.max_length = static_cast<int>(m->get_int64());
        }
      }
      if (const json::value* d = f.Get("default")) {
        spec.has_default = true;
        spec.default_value = *d;
        if (spec.required)
          errs->Add(f.Path("default"), "a required variable cannot have a default");
        if (!TypeMatches(spec.type, *d)) {
          errs->Add(f.Path("default"),
                    "default is " + std::string(KindName(*d)) + ", the variable is a " + spec.type);
        } else if (spec.max_length > 0 && d->is_string() &&
                   Utf8Chars(d->get_string()) > static_cast<size_t>(spec.max_length)) {
          errs->Add(f.Path("default"), "longer than max_length");
        }
        t->defaults_.emplace(spec.name, *d);
      }
      spec.description = f.Str("description", false).value_or("");
      t->variables_.push_back(std::move(spec));
    }
  }
};

bool Template::HasChannel(std::string_view channel) const {
  return variants_.find(channel) != variants_.end();
}

std::vector<std::string> Template::channels() const {
  std::vector<std::string> out;
  for (const auto& [c, v] : variants_) out.push_back(c);
  return out;
}

std::vector<std::string> Template::locales(std::string_view channel) const {
  std::vector<std::string> out;
  auto it = variants_.find(channel);
  if (it == variants_.end()) return out;
  for (const auto& v : it->second) out.push_back(v->locale);
  return out;
}

std::vector<std::string> Template::locales() const {
  std::set<std::string> all;
  for (const auto& [c, vs] : variants_) {
    for (const auto& v : vs) all.insert(v->locale);
  }
  return {all.begin(), all.end()};
}

const Variant* Template::Select(std::string_view channel, std::string_view locale) const {
  auto it = variants_.find(channel);
  if (it == variants_.end() || it->second.empty()) return nullptr;
  const auto& vs = it->second;
  auto find = [&vs](std::string_view want) -> const Variant* {
    if (want.empty()) return nullptr;
    std::string n = NormalizeLocale(want);
    for (const auto& v : vs) {
      if (NormalizeLocale(v->locale) == n) return v.get();
    }
    return nullptr;
  };
  if (const Variant* v = find(locale)) return v;
  std::string asked = NormalizeLocale(locale);
  if (size_t dash = asked.find('-'); dash != std::string::npos) {
    if (const Variant* v = find(asked.substr(0, dash))) return v;
  }
  for (const auto& l : fallback_) {
    if (const Variant* v = find(l)) return v;
  }
  if (const Variant* v = find(locale_)) return v;
  return vs.front().get();
}

std::string Template::SelectLocale(std::string_view channel, std::string_view locale) const {
  const Variant* v = Select(channel, locale);
  return v != nullptr ? v->locale : std::string();
}

Status Template::ValidateVars(const json::object& vars) const {
  for (const VariableSpec& spec : variables_) {
    const json::value* v = vars.if_contains(spec.name);
    std::string field = "vars." + spec.name;
    if (v == nullptr || v->is_null()) {
      if (spec.required) {
        return Status::InvalidArgument("missing required variable '" + spec.name + "'", field);
      }
      continue;
    }
    if (!TypeMatches(spec.type, *v)) {
      return Status::InvalidArgument(
          "variable '" + spec.name + "' must be a " + spec.type + ", got " + KindName(*v), field);
    }
    if (spec.max_length > 0) {
      size_t len = 0;
      if (v->is_string()) {
        len = Utf8Chars(v->get_string());
      } else {
        std::string s;
        AppendValue(*v, Escape::kNone, &s);
        len = s.size();
      }
      if (len > static_cast<size_t>(spec.max_length)) {
        return Status::InvalidArgument("variable '" + spec.name + "' is " + std::to_string(len) +
                                           " characters; max_length is " +
                                           std::to_string(spec.max_length),
                                       field);
      }
    }
  }
  return Status::Ok();
}

Result<json::object> Template::Render(std::string_view channel, std::string_view locale,
                                      const json::object& vars) const {
  const Variant* v = Select(channel, locale);
  if (v == nullptr) {
    return Status::NotFound("template '" + name_ + "' has no variant for channel " +
                            std::string(channel));
  }
  if (Status st = ValidateVars(vars); !st.ok()) return st;
  Scope scope{&vars, &defaults_};
  std::string scratch;
  scratch.reserve(512);
  json::value out;
  if (Status st = RenderNode(v->content, scope, &scratch, &out); !st.ok()) return st;
  if (v->channel == "push") {
    // Variables without max_length are not in the load-time estimate; check what was rendered.
    if (size_t bytes = ApnsPayloadBytes(out.get_object()); bytes > kApnsMaxBytes) {
      return Status::InvalidArgument("the APNs payload renders to " + std::to_string(bytes) +
                                         " bytes; APNs allows at most " +
                                         std::to_string(kApnsMaxBytes),
                                     "vars");
    }
  }
  return std::move(out.get_object());
}

// ---------------------------------------------------------------------------------------------
// Parsing documents

namespace {

void ParseDocument(std::string_view text, const config::TemplatesConfig& config, Errors* errs,
                   std::vector<std::shared_ptr<const Template>>* out) {
  if (!FlowNestingOk(text)) {
    errs->Add("", "nesting too deep");
    return;
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    errs->Add("", "YAML error at line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
    return;
  } catch (const std::exception& e) {
    errs->Add("", std::string("YAML error: ") + e.what());
    return;
  }
  json::value doc;
  size_t budget = kMaxYamlNodes;
  try {
    YamlToJson(root, "", 0, &budget, errs, &doc);
  } catch (const std::exception& e) {
    errs->Add("", std::string("YAML error: ") + e.what());
    return;
  }
  if (budget == 0) return;
  if (doc.is_null()) return;  // empty file
  Fields f(doc, "", errs, {"templates"});
  if (!f.ok()) return;
  const json::value* tpls = f.Required("templates");
  if (tpls == nullptr) return;
  const json::object* o = tpls->if_object();
  if (o == nullptr) {
    errs->Add("templates", "expected a map of template name to template");
    return;
  }
  for (const auto& kv : *o) {
    std::string name(kv.key());
    auto t = TemplateBuilder::Build(name, kv.value(), "templates." + name, config, errs);
    if (t) out->push_back(std::move(t));
  }
}

std::string JoinErrors(const std::vector<std::string>& errors) {
  std::string all;
  for (const auto& e : errors) all += (all.empty() ? "" : "; ") + e;
  return all;
}

}  // namespace

Result<std::shared_ptr<const Template>> ParseTemplateSource(std::string_view source,
                                                            const config::TemplatesConfig& config) {
  Errors errs;
  errs.file = "<source>";
  std::vector<std::shared_ptr<const Template>> out;
  ParseDocument(source, config, &errs, &out);
  if (errs.list.empty() && out.size() != 1) {
    errs.Add("templates", "expected exactly one template, found " + std::to_string(out.size()));
  }
  if (!errs.list.empty()) return Status::InvalidArgument(JoinErrors(errs.list), "templates");
  return out.front();
}

// ---------------------------------------------------------------------------------------------
// Catalog

Result<std::shared_ptr<const Catalog>> Catalog::LoadDir(const std::string& dir,
                                                        const config::TemplatesConfig& config,
                                                        std::vector<std::string>* errors) {
  Errors errs;
  std::vector<std::string> files;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    errs.file = dir;
    errs.Add("", "cannot read the template folder: " + ec.message());
  } else {
    for (const auto& entry : it) {
      std::string fname = entry.path().filename().string();
      std::string ext = entry.path().extension().string();
      if (fname.empty() || fname[0] == '.' || (ext != ".yaml" && ext != ".yml")) continue;
      if (!entry.is_regular_file(ec)) continue;
      files.push_back(fname);
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<std::shared_ptr<const Template>> all;
  std::map<std::string, std::string> where;  // template name -> file
  for (const auto& fname : files) {
    errs.file = fname;
    std::ifstream in(fs::path(dir) / fname, std::ios::binary);
    if (!in) {
      errs.Add("", "cannot open");
      continue;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::vector<std::shared_ptr<const Template>> got;
    ParseDocument(ss.str(), config, &errs, &got);
    for (auto& t : got) {
      auto [pos, inserted] = where.emplace(t->name(), fname);
      if (!inserted) {
        errs.Add("templates." + t->name(), "template already defined in " + pos->second);
        continue;
      }
      all.push_back(std::move(t));
    }
  }
  if (errors != nullptr) errors->insert(errors->end(), errs.list.begin(), errs.list.end());
  if (!errs.list.empty()) {
    return Status::Config(std::to_string(errs.list.size()) +
                          " template error(s); first: " + errs.list.front());
  }
  return FromTemplates(std::move(all));
}

Result<std::shared_ptr<const Catalog>> Catalog::FromTemplates(
    std::vector<std::shared_ptr<const Template>> templates) {
  std::shared_ptr<Catalog> c(new Catalog());
  for (auto& t : templates) {
    if (!t) return Status::InvalidArgument("null template");
    std::string name = t->name();
    if (!c->templates_.emplace(name, std::move(t)).second) {
      return Status::InvalidArgument("template '" + name + "' defined twice");
    }
  }
  std::string all;
  for (const auto& [name, t] : c->templates_) all += name + " " + t->version() + "\n";
  c->version_ = crypto::HexEncode(crypto::Sha256(all)).substr(0, 16);
  return std::shared_ptr<const Catalog>(std::move(c));
}

const Template* Catalog::Find(std::string_view name) const {
  auto it = templates_.find(name);
  return it == templates_.end() ? nullptr : it->second.get();
}

std::shared_ptr<const Template> Catalog::FindShared(std::string_view name) const {
  auto it = templates_.find(name);
  return it == templates_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const Template>> Catalog::All() const {
  std::vector<std::shared_ptr<const Template>> out;
  out.reserve(templates_.size());
  for (const auto& [name, t] : templates_) out.push_back(t);
  return out;
}

Status ReloadFromDir(CatalogHolder* holder, const std::string& dir,
                     const config::TemplatesConfig& config, std::vector<std::string>* errors) {
  auto loaded = Catalog::LoadDir(dir, config, errors);
  if (!loaded.ok()) return loaded.status();
  holder->Swap(std::move(loaded.value()));
  return Status::Ok();
}

}  // namespace reach::templates
