// The public HTTP API, version 1 (../shared/API.md; gateway/http/openapi.yaml): request
// validation, enqueue through the store's group commit, look-up, cancel, operations endpoints.
//
// Thread-safety: Handle() runs on the HTTP server's io threads; store callbacks arrive on a
// store thread (the sync thread, once the commit is on disk) and answer through the Responder
// (which posts to the connection).
#pragma once

#include <boost/json.hpp>
#include <functional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "config/config.h"
#include "gateway/http/server.h"
#include "gateway/metrics/metrics.h"
#include "gateway/store/store.h"

namespace reach::http {

// What the API needs from the rest of the gateway, as plain hooks (wired in gateway.cc).
struct ApiHooks {
  struct TemplateInfo {
    std::string version;
    std::string category;  // the template's default category
  };
  // Checks that `name` exists, has a variant for every channel, and that `vars` satisfy it.
  // Errors carry the field path (template, channels[i], vars.x).
  std::function<Status(const std::string& name, const std::vector<std::string>& channels,
                       const boost::json::object& vars, TemplateInfo* info)>
      check_template;
  // True when a provider is configured for the channel.
  std::function<bool(const std::string& channel)> channel_configured;
  // GET /v1/templates (name empty) and /v1/templates/{name}.
  std::function<Result<boost::json::value>(const std::string& name)> describe_templates;
  // POST /v1/admin/reload: reloads templates (and what else can change at run time).
  std::function<Status()> reload;
  // Called after a commit that stored new messages due now (not for scheduled ones).
  std::function<void()> on_enqueued;
  // Extra readiness conditions besides the store (config loaded, templates loaded).
  std::function<bool()> ready;
};

class Api {
 public:
  Api(store::Store& store, const config::Config& config, ApiHooks hooks, const Clock& clock,
      metrics::Registry& metrics);

  void Handle(Request&& req, Responder respond);

  // Validates one message (already merged with batch defaults) into `out`.
  // `prefix` is prepended to error field paths (e.g. "messages[3]."). `semantic` is set when
  // the request is well-formed but cannot be accepted (unknown template, missing variable,
  // channel not configured): HTTP 422 rather than 400.
  Status BuildMessage(const boost::json::object& item, const std::string& prefix,
                      store::NewMessage* out, bool* semantic = nullptr) const;

 private:
  void SendOne(Request&& req, Responder respond);
  void SendBatch(Request&& req, Responder respond);
  void GetMessage(const Request& req, const std::string& id, Responder respond);
  void CancelMessage(const Request& req, const std::string& id, Responder respond);

  store::Store& store_;
  config::Config config_;
  ApiHooks hooks_;
  const Clock& clock_;
  metrics::Registry& metrics_;
  metrics::Counter& accepted_;
  metrics::Counter& duplicates_;
  metrics::Counter& rejected_;
  metrics::Counter& batches_rejected_;
};

// Parses RFC 3339 ("2026-11-24T09:00:00+08:00", fractional seconds allowed) to ms since epoch.
std::optional<int64_t> ParseRfc3339(std::string_view s);
bool IsE164(std::string_view phone);
bool IsEmailAddress(std::string_view email);

}  // namespace reach::http
