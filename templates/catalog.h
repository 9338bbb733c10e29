// The template catalog: templates that operators own, loaded from YAML files in one folder,
// validated whole at load, compiled once, rendered per message and channel.
//
// File format (one or several templates per file; unknown keys are errors):
//
//   templates:
//     welcome:
//       description: 新用户欢迎
//       category: transactional          # otp | transactional | marketing (default transactional)
//       locale: zh-CN                    # locale of `channels` (default zh-CN)
//       variables:
//         name: {type: string, required: true, max_length: 32, description: 称呼}
//         # type: string | number | bool | object | list; default: <value>; max_length: chars
//       channels:                        # variants in `locale`
//         email: {subject: ..., text: ..., html: ...}
//         ...
//       locales:                         # more locales, same channel keys
//         en:
//           email: {...}
//
// Channel variants (every string is a template, see text_template.h) and the content each one
// renders to (Template::Render, SendRequest.content):
//
//   email:   {subject, text?, html?}   (one of text/html required; html is HTML-escaped,
//            subject has CR/LF folded to spaces)
//            -> {"subject": str, "text": str, "html": str}  (absent parts are omitted)
//   webhook: {body: <any YAML/JSON value>}  strings inside are templates; a string that is one
//            raw tag ("{{{order}}}") inserts the variable's JSON value as is
//            -> {"body": <JSON value>}
//   sms:     {text, sign_name?, max_segments? (default 3),
//             providers: {aliyun: {template_code, sign_name?, params: {name: tpl}},
//                         tencent: {template_id, sign_name?, params: [tpl, ...]}}}
//            -> {"text": "【签名】rendered local text",
//                "providers": {"aliyun": {"template_code", "sign_name", "params": {..str..}},
//                              "tencent": {"template_id", "sign_name", "params": [..str..]}}}
//   rcs:     {text | card: {title, description?, media_url?, suggestions?: [{type: reply|url|dial,
//             text, postback?, url?, phone?}]}, fallback_sms}
//            -> {"text": str} or {"card": {"title", "description", "media_url",
//                "suggestions": [{"type", "text", "postback"?, "url"?, "phone"?}]}},
//               plus "fallback_sms": str
//   wechat_template: {template_id, url?, miniprogram?: {appid, pagepath}, data: {keyword: tpl}}
//            -> {"template_id", "url"?, "miniprogram"?: {"appid", "pagepath"},
//                "data": {keyword: {"value": str}}}
//   wechat_subscribe: {template_id, page?, miniprogram_state?, lang?, data: {thing1: tpl, ...}}
//            keyword prefixes and limits (chars): thing 20, number 32, letter 32, symbol 5,
//            character_string 32, phrase 5, phone_number 17, car_number 8, name 10 (20 if
//            ASCII only); time, date, amount unlimited
//            -> {"template_id", "page"?, "miniprogram_state"?, "lang"?,
//                "data": {keyword: {"value": str}}}
//   wecom:   {msgtype: text|markdown|textcard|template_card, <msgtype>: {...}} as on the wire:
//            text/markdown {content}, textcard {title, description, url, btntxt?},
//            template_card {any JSON tree}
//            -> {"msgtype": str, "<msgtype>": {...rendered...}}
//   push:    {title, body, badge?, sound?, data?: {key: tpl}, apns?, fcm?, jpush?}
//            apns/fcm/jpush are per-platform JSON trees merged by the adapters
//            -> {"title", "body", "badge"?: int, "sound"?, "data"?: {..str..},
//                "apns"?: {...}, "fcm"?: {...}, "jpush"?: {...}}
//
// Locales: Render(channel, locale) picks the variant for `locale` (case and _/- insensitive,
// then its language "en-US" -> "en"), then TemplatesConfig::locale_fallback in order, then the
// template's own locale, then any variant.
//
// Versioning: source() is the canonical source text of one template (a JSON document, which is
// also YAML); version() is the first 16 hex characters of its SHA-256. ParseTemplateSource
// (source()) re-creates the same template with the same version, whatever the files say now.
//
// Thread-safety: Template and Catalog are immutable after load; share them through
// std::shared_ptr<const ...> and call any const method from any thread.
#pragma once

#include <atomic>
#include <boost/json.hpp>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "config/config.h"
#include "templates/catalog_watcher.h"
#include "templates/text_template.h"

namespace reach::templates {

// A declared template variable.
struct VariableSpec {
  std::string name;
  std::string type = "string";  // string | number | bool | object | list
  bool required = false;
  bool has_default = false;
  boost::json::value default_value;  // when has_default
  int max_length = 0;                // chars for strings; 0 = unlimited
  std::string description;
};

// One compiled channel variant (internal representation; see catalog.cc).
struct Variant;

class Template final {
 public:
  ~Template();
  Template(const Template&) = delete;
  Template& operator=(const Template&) = delete;

  const std::string& name() const { return name_; }
  const std::string& description() const { return description_; }
  const std::string& category() const { return category_; }  // otp | transactional | marketing
  const std::string& version() const { return version_; }    // 16 lowercase hex chars
  const std::string& source() const { return source_; }      // canonical source text
  const std::string& default_locale() const { return locale_; }
  const std::vector<VariableSpec>& variables() const { return variables_; }

  bool HasChannel(std::string_view channel) const;
  std::vector<std::string> channels() const;                         // sorted
  std::vector<std::string> locales(std::string_view channel) const;  // in declaration order
  std::vector<std::string> locales() const;                          // all, sorted

  // Checks the message's variables: InvalidArgument with field "vars.<name>" for a missing
  // required variable, a wrong type, or a string longer than max_length. Unknown extra
  // variables are allowed (ignored).
  Status ValidateVars(const boost::json::object& vars) const;

  // Renders the content for `channel` (shapes in the file comment). Declared defaults apply to
  // absent variables. Errors: NotFound (no variant for the channel), InvalidArgument (vars fail
  // ValidateVars, or a rendered value breaks a provider limit such as a WeChat `thing` field).
  Result<boost::json::object> Render(std::string_view channel, std::string_view locale,
                                     const boost::json::object& vars) const;

  // The locale of the variant Render would use, or "" when there is no variant.
  std::string SelectLocale(std::string_view channel, std::string_view locale) const;

 private:
  friend struct TemplateBuilder;
  Template();
  const Variant* Select(std::string_view channel, std::string_view locale) const;

  std::string name_;
  std::string description_;
  std::string category_ = "transactional";
  std::string version_;
  std::string source_;
  std::string locale_ = "zh-CN";
  std::vector<std::string> fallback_;
  std::vector<VariableSpec> variables_;
  boost::json::object defaults_;
  // channel -> variants in declaration order (the template's own locale first).
  std::map<std::string, std::vector<std::unique_ptr<Variant>>, std::less<>> variants_;
};

// Parses one template from its canonical source (Template::source()) or any YAML document of
// the file format holding exactly one template. The same validation as a catalog load applies;
// errors are InvalidArgument with every problem joined by "; ".
Result<std::shared_ptr<const Template>> ParseTemplateSource(std::string_view source,
                                                            const config::TemplatesConfig& config);

class Catalog final {
 public:
  // Loads every *.yaml / *.yml file directly in `dir` (not sub-folders; names starting with '.'
  // are skipped). Every problem is appended to `errors` (may be null) as
  // "<file>: <key path>: <message>"; on any problem the result is a kConfig error and no catalog.
  static Result<std::shared_ptr<const Catalog>> LoadDir(const std::string& dir,
                                                        const config::TemplatesConfig& config,
                                                        std::vector<std::string>* errors);
  // A catalog of already-parsed templates (names must be unique).
  static Result<std::shared_ptr<const Catalog>> FromTemplates(
      std::vector<std::shared_ptr<const Template>> templates);

  const Template* Find(std::string_view name) const;
  std::shared_ptr<const Template> FindShared(std::string_view name) const;
  std::vector<std::shared_ptr<const Template>> All() const;  // sorted by name
  size_t size() const { return templates_.size(); }
  // First 16 hex chars of SHA-256 over "name version\n" of every template, sorted by name.
  const std::string& version() const { return version_; }

 private:
  Catalog() = default;
  std::map<std::string, std::shared_ptr<const Template>, std::less<>> templates_;
  std::string version_;
};

// Holds the current catalog. Get() and Swap() are thread-safe (atomic shared_ptr); readers keep
// the catalog they got alive for as long as they hold the pointer.
class CatalogHolder final {
 public:
  std::shared_ptr<const Catalog> Get() const { return current_.load(std::memory_order_acquire); }
  // Installs `next` and returns the previous catalog.
  std::shared_ptr<const Catalog> Swap(std::shared_ptr<const Catalog> next) {
    return current_.exchange(std::move(next), std::memory_order_acq_rel);
  }

 private:
  std::atomic<std::shared_ptr<const Catalog>> current_;
};

// Loads `dir` whole and swaps it in only when it is valid. On failure the holder keeps the old
// catalog, `errors` (may be null) lists every problem and the status is kConfig.
Status ReloadFromDir(CatalogHolder* holder, const std::string& dir,
                     const config::TemplatesConfig& config,
                     std::vector<std::string>* errors = nullptr);

// ---- Operator tools (reachctl, HTTP API) ----

// The same validation as LoadDir; empty = the folder is fine.
std::vector<std::string> LintDir(const std::string& dir, const config::TemplatesConfig& config);

// Human-readable rendering of one variant, for operators. For SMS it includes the character
// count, the encoding (GSM-7 / UCS-2) and the segment count. Errors as Template::Render, plus
// NotFound for an unknown template.
Result<std::string> RenderPreview(const Catalog& catalog, std::string_view name,
                                  std::string_view channel, std::string_view locale,
                                  const boost::json::object& vars);

// {"name", "description", "category", "version", "variables": [{"name", "type", "required",
//  "default"?, "max_length"?, "description"?}], "channels": [..], "locales": [..],
//  "variants": {channel: [locales..]}}
boost::json::object DescribeTemplate(const Template& t);
// One DescribeTemplate object per template, sorted by name.
boost::json::array DescribeCatalog(const Catalog& catalog);

// Pretty-prints JSON with two-space indentation (used by previews and goldens).
std::string PrettyJson(const boost::json::value& v);

}  // namespace reach::templates
