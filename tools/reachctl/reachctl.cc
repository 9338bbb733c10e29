#include "tools/reachctl/reachctl.h"

#include <curl/curl.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "common/status.h"
#include "config/config.h"
#include "config/config_loader.h"
#include "templates/catalog.h"

namespace reach::ctl {
namespace {

namespace json = boost::json;

constexpr int kOk = 0;
constexpr int kApiError = 1;
constexpr int kUsage = 2;
constexpr int kUnreachable = 3;

constexpr char kUsageText[] =
    R"(usage: reachctl [--server URL | --url URL] [--api-key KEY] [--json] COMMAND ...

commands:
  send --template NAME --channel C [--channel C2 ...] [--channels C,C2] [--to KIND=ADDRESS ...]
       [--to-email A] [--to-phone +86...]
       [--to-user-id U] [--to-webhook-url URL] [--to-wechat-openid ID] [--to-miniprogram-openid ID]
       [--to-wecom-userid ID] [--to-apns-token T] [--to-fcm-token T] [--to-jpush-registration-id ID]
       [--var k=v ...] [--vars JSON] [--locale L] [--category C] [--priority N] [--send-at RFC3339]
       [--ttl-s N] [--idempotency-key K] [--metadata k=v ...]
  status ID [--wait] [--wait-timeout-s N]     show a message, its attempts and receipts
  cancel ID                                    cancel a message not sent yet
  batch FILE.jsonl [--chunk N]                 one send request (JSON) per line
  health                                       /healthz and /readyz
  templates list | show NAME                   the catalog reachd is using
  templates lint [DIR] [--config FILE]         validate a template folder offline (with the
                                               daemon's templates settings from FILE)
  render NAME --channel C [--locale L] [--var k=v ...] [--vars JSON] [--dir DIR] [--config FILE]
                                               render a template offline (SMS: chars and segments)
  reload                                       reload templates (same as SIGHUP)

The server defaults to $REACH_SERVER or http://127.0.0.1:8080.
)";

struct Global {
  std::string server;
  std::string api_key;
  bool json = false;
};

struct HttpResult {
  bool connected = false;
  std::string error;
  long status = 0;
  std::string body;
};

size_t Collect(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

HttpResult Call(const Global& g, const std::string& method, const std::string& path,
                const std::string& body = "") {
  HttpResult r;
  CURL* easy = curl_easy_init();
  std::string url = g.server;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += path;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");
  if (!g.api_key.empty()) {
    headers = curl_slist_append(headers, ("Authorization: Bearer " + g.api_key).c_str());
  }
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT, 120L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "reachctl/1");
  if (method == "POST") {
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  } else if (method != "GET") {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  CURLcode rc = curl_easy_perform(easy);
  if (rc == CURLE_OK) {
    r.connected = true;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r.status);
  } else {
    r.error = curl_easy_strerror(rc);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(easy);
  return r;
}

// Prints the API's error shape ({"error": {code, field, message}}) or the raw answer.
int ReportError(const HttpResult& r, std::ostream& err) {
  if (!r.connected) {
    err << "reachctl: cannot reach the server: " << r.error << "\n";
    return kUnreachable;
  }
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (!ec && v.is_object() && v.as_object().contains("error") && v.at("error").is_object()) {
    const json::object& e = v.at("error").as_object();
    auto str = [&](const char* k) {
      auto* x = e.if_contains(k);
      return x && x->is_string() ? std::string(x->get_string()) : std::string();
    };
    err << "error: " << r.status << " " << str("code");
    if (!str("field").empty()) err << " " << str("field");
    err << ": " << str("message") << "\n";
  } else {
    err << "error: HTTP " << r.status << ": " << r.body.substr(0, 500) << "\n";
  }
  return kApiError;
}

// A tiny argument cursor: flags with values, repeated flags, positionals.
class Args {
 public:
  explicit Args(std::vector<std::string> a) : a_(std::move(a)) {}
  bool Empty() const { return i_ >= a_.size(); }
  const std::string& Peek() const { return a_[i_]; }
  std::string Next() { return a_[i_++]; }
  bool NextValue(std::string* v) {
    if (Empty()) return false;
    *v = Next();
    return true;
  }

 private:
  std::vector<std::string> a_;
  size_t i_ = 0;
};

bool SplitKv(const std::string& kv, std::string* k, std::string* v) {
  size_t eq = kv.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  *k = kv.substr(0, eq);
  *v = kv.substr(eq + 1);
  return true;
}

std::string Str(const json::object& o, const char* k) {
  auto* x = o.if_contains(k);
  if (!x) return "";
  if (x->is_string()) return std::string(x->get_string());
  return json::serialize(*x);
}

int Usage(std::ostream& err, const std::string& why) {
  err << "reachctl: " << why << "\n\n" << kUsageText;
  return kUsage;
}

int Send(const Global& g, Args& a, std::ostream& out, std::ostream& err) {
  static const std::map<std::string, std::string> kTo = {
      {"--to-email", "email"},
      {"--to-phone", "phone"},
      {"--to-user-id", "user_id"},
      {"--to-webhook-url", "webhook_url"},
      {"--to-wechat-openid", "wechat_openid"},
      {"--to-miniprogram-openid", "miniprogram_openid"},
      {"--to-wecom-userid", "wecom_userid"},
      {"--to-apns-token", "apns_token"},
      {"--to-fcm-token", "fcm_token"},
      {"--to-jpush-registration-id", "jpush_registration_id"}};
  json::object req, to, vars, metadata;
  json::array channels;
  while (!a.Empty()) {
    std::string flag = a.Next();
    std::string v;
    if (!a.NextValue(&v)) return Usage(err, flag + " needs a value");
    if (flag == "--template") {
      req["template"] = v;
    } else if (flag == "--channel") {
      channels.push_back(json::string(v));
    } else if (flag == "--channels") {
      std::stringstream ss(v);
      for (std::string c; std::getline(ss, c, ',');) {
        if (!c.empty()) channels.push_back(json::string(c));
      }
    } else if (kTo.count(flag)) {
      to[kTo.at(flag)] = v;
    } else if (flag == "--to") {  // --to KIND=ADDRESS, e.g. --to email=a@b.cn
      std::string k, val;
      if (!SplitKv(v, &k, &val)) return Usage(err, "--to takes kind=address");
      to[k] = val;
    } else if (flag == "--var" || flag == "--metadata") {
      std::string k, val;
      if (!SplitKv(v, &k, &val)) return Usage(err, flag + " takes key=value");
      (flag == "--var" ? vars : metadata)[k] = val;
    } else if (flag == "--vars") {
      boost::system::error_code ec;
      json::value parsed = json::parse(v, ec);
      if (ec || !parsed.is_object()) return Usage(err, "--vars must be a JSON object");
      for (const auto& kv : parsed.as_object()) vars[kv.key()] = kv.value();
    } else if (flag == "--locale" || flag == "--category" || flag == "--send-at" ||
               flag == "--idempotency-key") {
      std::string key = flag.substr(2);
      for (char& c : key) {
        if (c == '-') c = '_';
      }
      req[key] = v;
    } else if (flag == "--priority" || flag == "--ttl-s") {
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0') return Usage(err, flag + " takes a number");
      req[flag == "--priority" ? "priority" : "ttl_s"] = n;
    } else {
      return Usage(err, "send: unknown option " + flag);
    }
  }
  if (!req.contains("template")) return Usage(err, "send needs --template");
  if (channels.empty()) return Usage(err, "send needs --channel");
  req["channels"] = std::move(channels);
  req["to"] = std::move(to);
  if (!vars.empty()) req["vars"] = std::move(vars);
  if (!metadata.empty()) req["metadata"] = std::move(metadata);
  HttpResult r = Call(g, "POST", "/v1/messages", json::serialize(req));
  if (!r.connected || r.status != 202) return ReportError(r, err);
  if (g.json) {
    out << r.body << "\n";
    return kOk;
  }
  json::value v = json::parse(r.body);
  out << Str(v.as_object(), "id") << "\t" << Str(v.as_object(), "status") << "\n";
  return kOk;
}

bool IsFinal(const std::string& s) {
  return s == "sent" || s == "delivered" || s == "read" || s == "failed" || s == "expired" ||
         s == "cancelled" || s == "suppressed";
}

int ShowStatus(const Global& g, Args& a, std::ostream& out, std::ostream& err) {
  std::string id;
  bool wait = false;
  int wait_s = 60;
  while (!a.Empty()) {
    std::string x = a.Next();
    if (x == "--wait") {
      wait = true;
    } else if (x == "--wait-timeout-s") {
      std::string v;
      if (!a.NextValue(&v)) return Usage(err, "--wait-timeout-s needs a value");
      wait_s = std::atoi(v.c_str());
    } else if (!x.empty() && x[0] != '-' && id.empty()) {
      id = x;
    } else {
      return Usage(err, "status: unexpected " + x);
    }
  }
  if (id.empty()) return Usage(err, "status needs a message id");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_s);
  HttpResult r;
  json::object m;
  for (;;) {
    r = Call(g, "GET", "/v1/messages/" + id);
    if (!r.connected || r.status != 200) return ReportError(r, err);
    m = json::parse(r.body).as_object();
    if (!wait || IsFinal(Str(m, "status")) || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (g.json) {
    out << r.body << "\n";
    return kOk;
  }
  out << "id: " << Str(m, "id") << "\n";
  out << "status: " << Str(m, "status") << "\n";
  out << "channel: " << Str(m, "channel") << "\n";
  out << "template: " << Str(m, "template") << " (version " << Str(m, "template_version") << ")\n";
  if (m.contains("reason")) out << "reason: " << Str(m, "reason") << "\n";
  if (m.contains("next_attempt_at")) out << "next attempt: " << Str(m, "next_attempt_at") << "\n";
  out << "attempts:\n";
  if (auto* at = m.if_contains("attempts"); at && at->is_array()) {
    if (at->as_array().empty()) out << "  (none yet)\n";
    for (const auto& x : at->as_array()) {
      const json::object& o = x.as_object();
      out << "  " << Str(o, "at") << "  " << Str(o, "channel") << "  " << Str(o, "provider") << "  "
          << Str(o, "outcome") << "  " << Str(o, "code") << "  " << Str(o, "provider_message_id")
          << "  " << Str(o, "detail") << "\n";
    }
  }
  if (auto* rc = m.if_contains("receipts"); rc && rc->is_array() && !rc->as_array().empty()) {
    out << "receipts:\n";
    for (const auto& x : rc->as_array()) out << "  " << json::serialize(x) << "\n";
  }
  return kOk;
}

int Cancel(const Global& g, Args& a, std::ostream& out, std::ostream& err) {
  if (a.Empty()) return Usage(err, "cancel needs a message id");
  std::string id = a.Next();
  if (!a.Empty()) return Usage(err, "cancel takes one id");
  HttpResult r = Call(g, "DELETE", "/v1/messages/" + id);
  if (!r.connected || r.status != 200) return ReportError(r, err);
  out << (g.json ? r.body : id + "\tcancelled") << "\n";
  return kOk;
}

int Batch(const Global& g, Args& a, std::ostream& out, std::ostream& err) {
  std::string file;
  size_t chunk = 1000;
  while (!a.Empty()) {
    std::string x = a.Next();
    if (x == "--chunk") {
      std::string v;
      if (!a.NextValue(&v) || std::atoi(v.c_str()) < 1 || std::atoi(v.c_str()) > 10000) {
        return Usage(err, "--chunk takes 1..10000");
      }
      chunk = static_cast<size_t>(std::atoi(v.c_str()));
    } else if (file.empty()) {
      file = x;
    } else {
      return Usage(err, "batch takes one file");
    }
  }
  if (file.empty()) return Usage(err, "batch needs a JSONL file");
  std::ifstream in(file);
  if (!in) return Usage(err, "cannot open " + file);
  size_t accepted = 0, rejected = 0;
  // Lines are reported in file order: a line that is not JSON waits in `pending` (with its error
  // already known) until the chunk around it has been answered.
  struct Pending {
    size_t line;
    std::optional<json::object> request;  // nullopt: rejected locally with `local_error`
    std::string local_error;
  };
  std::vector<Pending> pending;
  size_t requests_pending = 0;
  auto flush = [&]() -> int {
    if (pending.empty()) return kOk;
    json::array items;
    for (auto& p : pending) {
      if (p.request) items.push_back(*p.request);
    }
    HttpResult r;
    const json::array* results = nullptr;
    json::value answer;
    if (!items.empty()) {
      r = Call(g, "POST", "/v1/messages/batch",
               json::serialize(json::object{{"messages", std::move(items)}}));
      if (!r.connected || r.status != 202) {
        int rc = ReportError(r, err);
        if (rc == kUnreachable) return rc;
      } else {
        answer = json::parse(r.body);
        results = &answer.at("results").as_array();
      }
    }
    size_t k = 0;
    for (auto& p : pending) {
      if (!p.request) {
        out << p.line << "\terror\tinvalid_json\t\t" << p.local_error << "\n";
        ++rejected;
        continue;
      }
      if (results == nullptr || k >= results->size()) {
        out << p.line << "\terror\thttp_" << r.status << "\t\tthe batch request was refused\n";
        ++rejected;
        ++k;
        continue;
      }
      const json::object& res = (*results)[k++].as_object();
      if (res.contains("id")) {
        out << p.line << "\t" << Str(res, "id") << "\t" << Str(res, "status") << "\n";
        ++accepted;
      } else {
        const json::object& e = res.at("error").as_object();
        // The server names the field inside its batch ("messages[2].vars.name"); the line number
        // already says which item, so print the field as it is in that line.
        std::string field = Str(e, "field");
        if (field.starts_with("messages[")) {
          size_t dot = field.find("].");
          if (dot != std::string::npos) field = field.substr(dot + 2);
        }
        out << p.line << "\terror\t" << Str(e, "code") << "\t" << field << "\t" << Str(e, "message")
            << "\n";
        ++rejected;
      }
    }
    pending.clear();
    requests_pending = 0;
    return kOk;
  };
  std::string text;
  size_t line_no = 0;
  while (std::getline(in, text)) {
    ++line_no;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec || !v.is_object()) {
      pending.push_back({line_no, std::nullopt, ec ? ec.message() : "not an object"});
      continue;
    }
    pending.push_back({line_no, std::move(v.as_object()), {}});
    if (++requests_pending >= chunk) {
      if (int rc = flush(); rc != kOk) return rc;
    }
  }
  if (int rc = flush(); rc != kOk) return rc;
  err << accepted << " accepted, " << rejected << " rejected\n";
  return rejected == 0 ? kOk : kApiError;
}

int Health(const Global& g, std::ostream& out, std::ostream& err) {
  int rc = kOk;
  for (const char* path : {"/healthz", "/readyz"}) {
    HttpResult r = Call(g, "GET", path);
    if (!r.connected) return ReportError(r, err);
    out << path << "\t" << r.status << "\t" << r.body << (r.body.ends_with("\n") ? "" : "\n");
    if (r.status != 200) rc = kApiError;
  }
  return rc;
}

Result<json::object> ParseVars(Args& a, std::string* channel, std::string* locale, std::string* dir,
                               std::string* config_path, std::ostream& err, bool* usage) {
  json::object vars;
  while (!a.Empty()) {
    std::string flag = a.Next();
    std::string v;
    if (!a.NextValue(&v)) {
      *usage = true;
      err << "reachctl: " << flag << " needs a value\n";
      return Status::InvalidArgument("usage");
    }
    if (flag == "--channel") {
      *channel = v;
    } else if (flag == "--locale") {
      *locale = v;
    } else if (flag == "--dir") {
      *dir = v;
    } else if (flag == "--config") {
      *config_path = v;
    } else if (flag == "--var") {
      std::string k, val;
      if (!SplitKv(v, &k, &val)) {
        *usage = true;
        err << "reachctl: --var takes key=value\n";
        return Status::InvalidArgument("usage");
      }
      vars[k] = val;
    } else if (flag == "--vars") {
      boost::system::error_code ec;
      json::value parsed = json::parse(v, ec);
      if (ec || !parsed.is_object()) {
        *usage = true;
        err << "reachctl: --vars must be a JSON object\n";
        return Status::InvalidArgument("usage");
      }
      for (const auto& kv : parsed.as_object()) vars[kv.key()] = kv.value();
    } else {
      *usage = true;
      err << "reachctl: unknown option " << flag << "\n";
      return Status::InvalidArgument("usage");
    }
  }
  return vars;
}

// The `templates` section of a reachd config file (paths resolved as reachd resolves them).
bool LoadTemplatesConfig(const std::string& path, config::TemplatesConfig* out, std::ostream& err) {
  auto loaded = config::LoadConfigFile(path);
  if (!loaded.errors.empty()) {
    for (const auto& e : loaded.errors) err << e << "\n";
    return false;
  }
  *out = loaded.config.templates;
  return true;
}

int Render(Args& a, std::ostream& out, std::ostream& err) {
  if (a.Empty()) return Usage(err, "render needs a template name");
  std::string name = a.Next();
  std::string channel, locale, dir, config_path;
  bool usage = false;
  auto vars = ParseVars(a, &channel, &locale, &dir, &config_path, err, &usage);
  if (!vars.ok()) return kUsage;
  if (channel.empty()) return Usage(err, "render needs --channel");
  config::TemplatesConfig cfg;
  if (!config_path.empty() && !LoadTemplatesConfig(config_path, &cfg, err)) return kApiError;
  if (dir.empty()) dir = config_path.empty() ? "config/templates" : cfg.dir;
  std::vector<std::string> errors;
  auto catalog = templates::Catalog::LoadDir(dir, cfg, &errors);
  if (!catalog.ok()) {
    for (const auto& e : errors) err << e << "\n";
    if (errors.empty()) err << catalog.status().ToString() << "\n";
    return kApiError;
  }
  auto text = templates::RenderPreview(**catalog, name, channel, locale, *vars);
  if (!text.ok()) {
    err << "error: " << text.status().ToString() << "\n";
    return kApiError;
  }
  out << *text << (text->ends_with("\n") ? "" : "\n");
  return kOk;
}

int Templates(const Global& g, Args& a, std::ostream& out, std::ostream& err) {
  if (a.Empty()) return Usage(err, "templates needs list, show NAME or lint DIR");
  std::string sub = a.Next();
  if (sub == "lint") {
    std::string dir, config_path;
    while (!a.Empty()) {
      std::string x = a.Next();
      if (x == "--config") {
        if (!a.NextValue(&config_path)) return Usage(err, "--config needs a file");
      } else if (dir.empty()) {
        dir = x;
      } else {
        return Usage(err, "templates lint takes one folder");
      }
    }
    // With --config, the daemon's templates settings apply (opt-out wording, locale fallback,
    // the folder itself when DIR is not given).
    config::TemplatesConfig cfg;
    if (!config_path.empty() && !LoadTemplatesConfig(config_path, &cfg, err)) return kApiError;
    if (dir.empty()) dir = config_path.empty() ? "" : cfg.dir;
    if (dir.empty()) return Usage(err, "templates lint needs a folder or --config FILE");
    std::vector<std::string> errors = templates::LintDir(dir, cfg);
    for (const auto& e : errors) out << e << "\n";
    if (errors.empty()) out << dir << ": ok\n";
    return errors.empty() ? kOk : kApiError;
  }
  if (sub == "list" || sub == "show") {
    std::string path = "/v1/templates";
    if (sub == "show") {
      if (a.Empty()) return Usage(err, "templates show needs a name");
      path += "/" + a.Next();
    }
    HttpResult r = Call(g, "GET", path);
    if (!r.connected || r.status != 200) return ReportError(r, err);
    json::value v = json::parse(r.body);
    if (g.json || sub == "show") {
      out << templates::PrettyJson(v) << "\n";
      return kOk;
    }
    out << "catalog version " << Str(v.as_object(), "version") << "\n";
    if (auto* ts = v.as_object().if_contains("templates"); ts && ts->is_array()) {
      for (const auto& t : ts->as_array()) {
        const json::object& o = t.as_object();
        out << Str(o, "name") << "\t" << Str(o, "category") << "\t" << Str(o, "version") << "\t"
            << Str(o, "channels") << "\n";
      }
    }
    return kOk;
  }
  return Usage(err, "templates: unknown subcommand " + sub);
}

}  // namespace

int RunReachctl(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  Global g;
  if (const char* s = std::getenv("REACH_SERVER"); s && *s) g.server = s;
  if (const char* k = std::getenv("REACH_API_KEY"); k && *k) g.api_key = k;
  if (g.server.empty()) g.server = "http://127.0.0.1:8080";
  Args a(argv);
  while (!a.Empty() && a.Peek().rfind("--", 0) == 0) {
    std::string flag = a.Next();
    if (flag == "--json") {
      g.json = true;
    } else if (flag == "--help") {
      out << kUsageText;
      return kOk;
    } else if (flag == "--server" || flag == "--url" || flag == "--api-key") {
      std::string v;
      if (!a.NextValue(&v)) return Usage(err, flag + " needs a value");
      (flag == "--api-key" ? g.api_key : g.server) = v;
    } else {
      return Usage(err, "unknown option " + flag);
    }
  }
  if (a.Empty()) return Usage(err, "missing command");
  std::string cmd = a.Next();
  if (cmd == "send") return Send(g, a, out, err);
  if (cmd == "status") return ShowStatus(g, a, out, err);
  if (cmd == "cancel") return Cancel(g, a, out, err);
  if (cmd == "batch") return Batch(g, a, out, err);
  if (cmd == "health") return Health(g, out, err);
  if (cmd == "templates") return Templates(g, a, out, err);
  if (cmd == "render") return Render(a, out, err);
  if (cmd == "reload") {
    HttpResult r = Call(g, "POST", "/v1/admin/reload", "{}");
    if (!r.connected || r.status != 200) return ReportError(r, err);
    out << r.body << "\n";
    return kOk;
  }
  if (cmd == "help") {
    out << kUsageText;
    return kOk;
  }
  return Usage(err, "unknown command " + cmd);
}

}  // namespace reach::ctl
