#include "config/config_loader.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace reach::config {
namespace {

namespace fs = std::filesystem;

// Walks one YAML mapping; remembers which keys were read so the rest can be reported as unknown.
class MapReader {
 public:
  MapReader(const YAML::Node& node, std::string path, std::vector<std::string>* errors)
      : node_(node), path_(std::move(path)), errors_(errors) {
    if (node_ && !node_.IsNull() && !node_.IsMap()) {
      Error(path_.empty() ? "(root)" : path_, "must be a mapping");
      valid_ = false;
    }
  }
  ~MapReader() {
    if (!valid_ || !node_ || !node_.IsMap()) return;
    for (const auto& kv : node_) {
      std::string key = kv.first.as<std::string>("");
      if (!known_.count(key)) Error(Join(key), "unknown key");
    }
  }

  std::string Join(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  YAML::Node Child(const std::string& key) {
    known_.insert(key);
    if (!valid_ || !node_ || !node_.IsMap()) return YAML::Node();
    return node_[key];
  }

  template <typename T>
  void Get(const std::string& key, T* out) {
    YAML::Node n = Child(key);
    if (!n || n.IsNull()) return;
    try {
      *out = n.as<T>();
    } catch (const YAML::Exception&) {
      Error(Join(key), std::string("wrong type (expected ") + TypeName(out) + ")");
    }
  }

  void GetInt(const std::string& key, int64_t* out, int64_t min, int64_t max) {
    int64_t v = *out;
    Get(key, &v);
    if (v < min || v > max) {
      Error(Join(key), "must be between " + std::to_string(min) + " and " + std::to_string(max));
      return;
    }
    *out = v;
  }
  void GetInt(const std::string& key, int* out, int64_t min, int64_t max) {
    int64_t v = *out;
    GetInt(key, &v, min, max);
    *out = static_cast<int>(v);
  }

  void GetEnum(const std::string& key, std::string* out, const std::set<std::string>& allowed) {
    Get(key, out);
    if (!allowed.count(*out)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      Error(Join(key), "must be one of: " + list);
    }
  }

  // Reads `key` or `key_file` (a file holding the secret; trailing newline stripped).
  void GetSecret(const std::string& key, std::string* out, const std::string& base_dir) {
    Get(key, out);
    std::string file;
    Get(key + "_file", &file);
    if (file.empty()) return;
    if (!out->empty()) {
      Error(Join(key + "_file"), "set either " + key + " or " + key + "_file, not both");
      return;
    }
    fs::path p(file);
    if (p.is_relative()) p = fs::path(base_dir) / p;
    std::ifstream in(p, std::ios::binary);
    if (!in) {
      Error(Join(key + "_file"), "cannot read " + p.string());
      return;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    *out = ss.str();
    while (!out->empty() && (out->back() == '\n' || out->back() == '\r')) out->pop_back();
  }

  void Error(const std::string& path, const std::string& msg) {
    errors_->push_back(path + ": " + msg);
  }

  const std::string& path() const { return path_; }
  std::vector<std::string>* errors() { return errors_; }

 private:
  static const char* TypeName(const std::string*) { return "string"; }
  static const char* TypeName(const int64_t*) { return "integer"; }
  static const char* TypeName(const int*) { return "integer"; }
  static const char* TypeName(const double*) { return "number"; }
  static const char* TypeName(const bool*) { return "boolean"; }
  static const char* TypeName(const std::vector<std::string>*) { return "list of strings"; }

  YAML::Node node_;
  std::string path_;
  std::vector<std::string>* errors_;
  std::set<std::string> known_;
  bool valid_ = true;
};

bool ValidHostPort(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  std::string port = s.substr(colon + 1);
  if (port.empty() || port.size() > 5) return false;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
  }
  return std::stoi(port) <= 65535;
}

void LoadRetry(MapReader& parent, const std::string& key, RetryConfig* r) {
  MapReader m(parent.Child(key), parent.Join(key), parent.errors());
  m.GetInt("max_attempts", &r->max_attempts, 1, 1000);
  m.GetInt("base_delay_ms", &r->base_delay_ms, 0, 86400000);
  m.GetInt("max_delay_ms", &r->max_delay_ms, 0, 7 * 86400000LL);
  m.Get("multiplier", &r->multiplier);
  m.Get("jitter", &r->jitter);
  if (r->multiplier < 1.0) m.Error(m.Join("multiplier"), "must be >= 1.0");
  if (r->jitter < 0.0 || r->jitter >= 1.0) m.Error(m.Join("jitter"), "must be in [0, 1)");
  if (r->max_delay_ms < r->base_delay_ms) {
    m.Error(m.Join("max_delay_ms"), "must be >= base_delay_ms");
  }
}

void LoadEmail(MapReader& channels, const std::string& base_dir, SmtpConfig* c) {
  YAML::Node node = channels.Child("email");
  if (!node || node.IsNull()) return;  // absent or empty: the channel is off
  MapReader m(node, channels.Join("email"), channels.errors());
  c->enabled = true;
  m.Get("enabled", &c->enabled);
  m.Get("url", &c->url);
  m.GetEnum("tls", &c->tls, {"none", "starttls", "implicit"});
  m.GetEnum("engine", &c->engine, {"curl", "pipelining"});
  m.Get("username", &c->username);
  m.GetSecret("password", &c->password, base_dir);
  m.Get("ehlo_domain", &c->ehlo_domain);
  m.Get("from_address", &c->from_address);
  m.Get("from_name", &c->from_name);
  m.Get("message_id_domain", &c->message_id_domain);
  m.Get("list_unsubscribe_url", &c->list_unsubscribe_url);
  m.Get("list_unsubscribe_mailto", &c->list_unsubscribe_mailto);
  m.GetInt("max_connections", &c->max_connections, 1, 1000);
  m.GetInt("threads", &c->threads, 1, 16);
  m.GetInt("timeout_ms", &c->timeout_ms, 100, 600000);
  m.Get("ca_file", &c->ca_file);
  m.Get("verify_peer", &c->verify_peer);
  LoadRetry(m, "retry", &c->retry);
  if (!c->enabled) return;
  if (c->url.rfind("smtp://", 0) != 0 && c->url.rfind("smtps://", 0) != 0) {
    m.Error(m.Join("url"), "must start with smtp:// or smtps://");
  }
  if (c->url.rfind("smtps://", 0) == 0 && c->tls == "none") c->tls = "implicit";
  if (c->from_address.find('@') == std::string::npos) {
    m.Error(m.Join("from_address"), "missing or not an e-mail address");
  }
  if (!c->ca_file.empty() && fs::path(c->ca_file).is_relative()) {
    c->ca_file = (fs::path(base_dir) / c->ca_file).string();
  }
  // Caught here rather than as a TLS failure of every message later.
  if (!c->ca_file.empty() && !std::ifstream(c->ca_file).good()) {
    m.Error(m.Join("ca_file"), "cannot read " + c->ca_file);
  }
}

void LoadWebhook(MapReader& channels, const std::string& base_dir, WebhookConfig* c) {
  YAML::Node node = channels.Child("webhook");
  if (!node || node.IsNull()) return;  // absent or empty: the channel is off
  MapReader m(node, channels.Join("webhook"), channels.errors());
  c->enabled = true;
  m.Get("enabled", &c->enabled);
  m.Get("url", &c->url);
  m.GetSecret("secret", &c->secret, base_dir);
  m.GetInt("timeout_ms", &c->timeout_ms, 100, 600000);
  m.GetInt("max_connections", &c->max_connections, 1, 100000);
  LoadRetry(m, "retry", &c->retry);
  if (!c->enabled) return;
  if (!c->url.empty() && c->url.rfind("http://", 0) != 0 && c->url.rfind("https://", 0) != 0) {
    m.Error(m.Join("url"), "must start with http:// or https://");
  }
  if (c->secret.rfind("whsec_", 0) != 0) {
    m.Error(m.Join("secret"), "missing or not a Standard Webhooks secret (whsec_<base64>)");
  }
}

void LoadRoot(const YAML::Node& root, const std::string& base_dir, Config* cfg,
              std::vector<std::string>* errors) {
  MapReader r(root, "", errors);
  {
    MapReader m(r.Child("server"), "server", errors);
    m.Get("listen", &cfg->server.listen);
    if (!ValidHostPort(cfg->server.listen)) m.Error("server.listen", "must be HOST:PORT");
    m.GetInt("threads", &cfg->server.threads, 1, 64);
    m.GetInt("body_limit_bytes", &cfg->server.body_limit_bytes, 1024, 1LL << 30);
    m.GetInt("max_connections", &cfg->server.max_connections, 1, 1000000);
    m.GetInt("read_timeout_ms", &cfg->server.read_timeout_ms, 100, 3600000);
    m.GetInt("idle_timeout_ms", &cfg->server.idle_timeout_ms, 100, 3600000);
    m.GetInt("max_batch_items", &cfg->server.max_batch_items, 1, 10000);
  }
  {
    MapReader m(r.Child("store"), "store", errors);
    m.Get("data_dir", &cfg->store.data_dir);
    m.GetEnum("synchronous", &cfg->store.synchronous, {"full", "normal"});
    m.GetInt("group_commit_max_items", &cfg->store.group_commit_max_items, 1, 1000000);
    m.GetInt("lease_ms", &cfg->store.lease_ms, 1000, 86400000);
    if (fs::path(cfg->store.data_dir).is_relative()) {
      cfg->store.data_dir = (fs::path(base_dir) / cfg->store.data_dir).lexically_normal().string();
    }
  }
  {
    MapReader m(r.Child("dispatch"), "dispatch", errors);
    m.GetInt("max_in_flight", &cfg->dispatch.max_in_flight, 1, 1000000);
    m.GetInt("claim_batch", &cfg->dispatch.claim_batch, 1, 100000);
    m.GetInt("poll_interval_ms", &cfg->dispatch.poll_interval_ms, 1, 60000);
  }
  {
    MapReader m(r.Child("channels"), "channels", errors);
    LoadEmail(m, base_dir, &cfg->channels.email);
    LoadWebhook(m, base_dir, &cfg->channels.webhook);
  }
  {
    MapReader m(r.Child("http_client"), "http_client", errors);
    m.GetEnum("engine", &cfg->http_client.engine, {"beast", "curl"});
    m.GetInt("idle_timeout_ms", &cfg->http_client.idle_timeout_ms, 1000, 3600000);
  }
  {
    MapReader m(r.Child("log"), "log", errors);
    m.GetEnum("level", &cfg->log.level, {"trace", "debug", "info", "warn", "error"});
    m.GetEnum("format", &cfg->log.format, {"text", "json"});
  }
  {
    MapReader m(r.Child("templates"), "templates", errors);
    m.Get("dir", &cfg->templates.dir);
    m.Get("locale_fallback", &cfg->templates.locale_fallback);
    m.Get("watch", &cfg->templates.watch);
    m.Get("sms_optout_text", &cfg->templates.sms_optout_text);
    if (fs::path(cfg->templates.dir).is_relative()) {
      cfg->templates.dir = (fs::path(base_dir) / cfg->templates.dir).lexically_normal().string();
    }
    if (!fs::is_directory(cfg->templates.dir)) {
      m.Error("templates.dir", "not a directory: " + cfg->templates.dir);
    }
  }
  {
    MapReader m(r.Child("categories"), "categories", errors);
    m.GetInt("otp_priority", &cfg->categories.otp_priority, 0, 9);
    m.GetInt("transactional_priority", &cfg->categories.transactional_priority, 0, 9);
    m.GetInt("marketing_priority", &cfg->categories.marketing_priority, 0, 9);
  }
}

LoadResult LoadNode(const YAML::Node& root, const std::string& base_dir) {
  LoadResult out;
  LoadRoot(root, base_dir, &out.config, &out.errors);
  return out;
}

}  // namespace

LoadResult LoadConfigText(const std::string& text, const std::string& base_dir) {
  try {
    return LoadNode(YAML::Load(text), base_dir);
  } catch (const YAML::Exception& e) {
    LoadResult out;
    out.errors.push_back("line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
    return out;
  }
}

void ApplyOverrides(const Overrides& o, LoadResult* result) {
  if (o.listen) {
    if (ValidHostPort(*o.listen)) {
      result->config.server.listen = *o.listen;
    } else {
      result->errors.push_back("--listen: must be HOST:PORT with a port up to 65535, got '" +
                               *o.listen + "'");
    }
  }
  if (o.data_dir) {
    if (o.data_dir->empty()) {
      result->errors.push_back("--data-dir: must not be empty");
    } else {
      result->config.store.data_dir = fs::absolute(fs::path(*o.data_dir)).lexically_normal();
    }
  }
}

LoadResult LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult out;
    out.errors.push_back(path + ": cannot read file");
    return out;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string base = fs::absolute(fs::path(path)).parent_path().string();
  LoadResult out = LoadConfigText(ss.str(), base);
  out.config.source_path = path;
  for (auto& e : out.errors) e = path + ": " + e;
  return out;
}

}  // namespace reach::config
