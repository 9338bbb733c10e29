// Reach configuration as plain structs. Only config/config_loader.cc knows the file format (YAML);
// every other module receives its own struct. Each field documents its unit and default.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace reach::config {

struct ServerConfig {
  std::string listen = "127.0.0.1:8080";        // HOST:PORT; port 0 picks a free port
  int threads = 2;                              // io_context threads for the HTTP API
  int64_t body_limit_bytes = 16 * 1024 * 1024;  // largest accepted request body (a 10k batch fits)
  int max_connections = 4096;                   // connections above this are closed at accept
  int read_timeout_ms = 30000;                  // per request read (headers + body)
  int idle_timeout_ms = 60000;                  // keep-alive idle limit
  int max_batch_items = 10000;                  // items per POST /v1/messages/batch
};

struct StoreConfig {
  std::string data_dir = "./data";  // SQLite database lives at <data_dir>/reach.db
  // "full": every commit is fsynced before its 202 (default). "normal": WAL commits are synced
  // at checkpoints only; a power loss (not a process crash) may lose the last commits.
  std::string synchronous = "full";
  int group_commit_max_items = 20000;  // most messages folded into one transaction
  int lease_ms = 60000;                // a claimed message comes back if not completed by then
};

struct RetryConfig {
  int max_attempts = 5;           // attempts per channel before moving to the next channel
  int64_t base_delay_ms = 1000;   // first backoff
  int64_t max_delay_ms = 600000;  // backoff ceiling
  double multiplier = 2.0;
  double jitter = 0.2;  // +- fraction of the delay, drawn at random
};

struct DispatchConfig {
  int max_in_flight = 4096;    // sends in flight across all channels
  int claim_batch = 512;       // messages claimed per store round-trip
  int poll_interval_ms = 200;  // idle poll when nothing is due (enqueues also wake it)
};

struct SmtpConfig {
  bool enabled = false;
  std::string url;           // smtp://host:port or smtps://host:port
  std::string tls = "none";  // "none" | "starttls" | "implicit" (smtps://)
  // "curl" (libcurl) | "pipelining" (Reach's own client with SMTP PIPELINING); both speak every
  // `tls` mode
  std::string engine = "curl";
  std::string username;
  std::string password;  // or password_file
  std::string ehlo_domain = "reach.localdomain";
  std::string from_address;  // envelope and header From address
  std::string from_name;     // display name (UTF-8, RFC 2047 encoded on the wire)
  std::string message_id_domain = "reach.localdomain";
  std::string list_unsubscribe_url;     // https URL prefix; a per-message token is appended
  std::string list_unsubscribe_mailto;  // mailto address, optional
  int max_connections = 8;              // parallel SMTP connections (in all, across `threads`)
  int threads = 2;                      // libcurl event loops sharing the connections (1..16)
  int timeout_ms = 30000;
  std::string ca_file;  // extra CA bundle (tests); empty = system store
  bool verify_peer = true;
  RetryConfig retry;
};

struct WebhookConfig {
  bool enabled = false;
  std::string url;     // default target; a message's to.webhook_url overrides it
  std::string secret;  // "whsec_<base64>" (Standard Webhooks); or secret_file
  int timeout_ms = 15000;
  int max_connections = 256;
  RetryConfig retry;
};

struct ChannelsConfig {
  SmtpConfig email;
  WebhookConfig webhook;
};

// The HTTP client every HTTP-based channel shares.
struct HttpClientConfig {
  std::string engine = "beast";     // beast (Boost.Beast, HTTP/1.1) | curl (libcurl); HTTP/2: curl
  int64_t idle_timeout_ms = 60000;  // a kept-alive connection idle this long is closed (beast)
};

struct LogConfig {
  std::string level = "info";   // trace|debug|info|warn|error
  std::string format = "text";  // text | json (one JSON object per line)
};

struct TemplatesConfig {
  std::string dir = "templates";  // relative to the config file's folder (config/templates)
  std::vector<std::string> locale_fallback = {"zh-CN",
                                              "en"};  // tried in order after the asked locale
  bool watch = true;                                  // reload on file change
  std::string sms_optout_text = "拒收请回复R";        // required in marketing SMS
};

struct CategoryConfig {
  int otp_priority = 9;  // priority 0..9, higher goes first
  int transactional_priority = 5;
  int marketing_priority = 1;
};

struct Config {
  std::string source_path;  // the file this was loaded from (for relative paths)
  ServerConfig server;
  StoreConfig store;
  DispatchConfig dispatch;
  ChannelsConfig channels;
  HttpClientConfig http_client;
  LogConfig log;
  TemplatesConfig templates;
  CategoryConfig categories;
};

}  // namespace reach::config
