#include "gateway/gateway.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <future>
#include <map>

#include "adapters/email/smtp_adapter.h"
#include "adapters/transport/http_client.h"
#include "adapters/webhook/webhook_adapter.h"
#include "gateway/store/sqlite_store.h"

namespace reach {

namespace json = boost::json;

// Renders a stored message with the exact template version it was accepted with: the current
// catalog when its version matches, else the source kept in the store at that version.
// Thread-safety: used by the dispatcher thread only.
class TemplateRenderer final : public dispatch::Renderer {
 public:
  TemplateRenderer(templates::CatalogHolder& catalog, store::Store& store,
                   const config::TemplatesConfig& config)
      : catalog_(catalog), store_(store), config_(config) {}

  Result<json::object> Render(const store::StoredMessage& m, const std::string& channel,
                              const std::string& locale, const json::object& vars) override {
    std::shared_ptr<const templates::Template> t = Resolve(m.template_name, m.template_version);
    if (!t) {
      return Status::NotFound("template " + m.template_name + " version " + m.template_version +
                              " is not available");
    }
    return t->Render(channel, locale, vars);
  }

 private:
  std::shared_ptr<const templates::Template> Resolve(const std::string& name,
                                                     const std::string& version) {
    auto catalog = catalog_.Get();
    if (catalog) {
      auto t = catalog->FindShared(name);
      if (t && t->version() == version) return t;
    }
    std::string key = name + '\n' + version;
    if (auto it = old_.find(key); it != old_.end()) return it->second;
    auto source = store_.LoadTemplateSource(name, version);
    if (!source) return nullptr;
    auto parsed = templates::ParseTemplateSource(*source, config_);
    if (!parsed.ok()) {
      spdlog::error("template {} version {}: stored source does not parse: {}", name, version,
                    parsed.status().ToString());
      return nullptr;
    }
    if (old_.size() > 1024) old_.clear();
    old_[key] = parsed.value();
    return parsed.value();
  }

  templates::CatalogHolder& catalog_;
  store::Store& store_;
  config::TemplatesConfig config_;
  std::map<std::string, std::shared_ptr<const templates::Template>> old_;
};

Gateway::Gateway(config::Config config, const Clock& clock)
    : config_(std::move(config)), clock_(clock) {}

Gateway::~Gateway() { Stop(0); }

Status Gateway::LoadCatalog(bool initial) {
  std::lock_guard<std::mutex> lock(reload_mu_);
  std::vector<std::string> errors;
  auto loaded = templates::Catalog::LoadDir(config_.templates.dir, config_.templates, &errors);
  if (!loaded.ok() || !errors.empty()) {
    std::string all;
    for (const auto& e : errors) all += (all.empty() ? "" : "; ") + e;
    if (all.empty()) all = loaded.status().ToString();
    metrics_
        .GetCounter("reach_templates_reloads_total", "Template catalog loads",
                    {{"result", "refused"}})
        .Inc();
    return Status::InvalidArgument("template catalog refused: " + all, "templates");
  }
  std::shared_ptr<const templates::Catalog> catalog = loaded.value();
  // Keep every template version a message may be accepted with, before it can be used.
  auto pending = std::make_shared<std::atomic<int>>(0);
  std::promise<Status> saved;
  auto fut = saved.get_future();
  std::vector<std::shared_ptr<const templates::Template>> all = catalog->All();
  if (all.empty()) {
    saved.set_value(Status::Ok());
  } else {
    pending->store(static_cast<int>(all.size()));
    auto first_error = std::make_shared<Status>();
    auto mu = std::make_shared<std::mutex>();
    auto done = std::make_shared<std::promise<Status>>(std::move(saved));
    for (const auto& t : all) {
      store_->SaveTemplateVersion(t->name(), t->version(), t->source(),
                                  [pending, first_error, mu, done](Status st) {
                                    {
                                      std::lock_guard<std::mutex> l(*mu);
                                      if (!st.ok() && first_error->ok()) *first_error = st;
                                    }
                                    if (pending->fetch_sub(1) == 1) done->set_value(*first_error);
                                  });
    }
  }
  Status st = fut.get();
  if (!st.ok()) return st;
  catalog_.Swap(catalog);
  metrics_.GetCounter("reach_templates_reloads_total", "Template catalog loads", {{"result", "ok"}})
      .Inc();
  spdlog::info("templates: {} catalog version {} ({} templates)", initial ? "loaded" : "reloaded",
               catalog->version(), all.size());
  return Status::Ok();
}

Status Gateway::ReloadTemplates() {
  Status st = LoadCatalog(false);
  if (!st.ok()) spdlog::error("templates: {}", st.message());
  return st;
}

Result<std::string> Gateway::Start() {
  store::SqliteStoreOptions so;
  so.path = (std::filesystem::path(config_.store.data_dir) / "reach.db").string();
  so.sync_full = config_.store.synchronous == "full";
  so.lease_ms = config_.store.lease_ms;
  so.group_commit_max_items = config_.store.group_commit_max_items;
  metrics::Histogram& commits = metrics_.GetHistogram(
      "reach_store_commit_seconds",
      "Time each sync of the WAL took (it makes every commit before it durable; every waiting "
      "enqueue waits on one)",
      {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5});
  so.on_commit = [&commits](int64_t us) { commits.ObserveMicros(us); };
  auto opened = store::SqliteStore::Open(so, clock_);
  if (!opened.ok()) return opened.status();
  store_ = std::move(opened.value());
  metrics_.AddCallbackGauge("reach_queue_depth", "Messages queued or sending", [this] {
    auto s = store_->Stats();
    return s.ok() ? s->queued + s->sending : -1;
  });

  if (Status st = LoadCatalog(true); !st.ok()) return st;
  if (config_.templates.watch) {
    watcher_ = std::make_unique<templates::CatalogWatcher>(config_.templates.dir,
                                                           [this] { (void)ReloadTemplates(); });
    if (Status st = watcher_->Start(); !st.ok()) {
      spdlog::warn("templates: file watch unavailable: {}", st.message());
    }
  }

  // Adapters. One HTTP client (one Beast I/O thread for HTTP/1.1, one libcurl multi loop for
  // HTTP/2) serves every HTTP-based adapter.
  transport::HttpClientOptions http_options;
  http_options.engine = config_.http_client.engine;
  http_options.idle_timeout_ms = config_.http_client.idle_timeout_ms;
  http_options.max_host_connections = config_.channels.webhook.max_connections;
  http_client_ = transport::MakeHttpClient(http_options);
  std::map<std::string, dispatch::ChannelRoute> routes;
  if (config_.channels.email.enabled) {
    auto a = adapters::MakeSmtpAdapter(config_.channels.email, clock_);
    routes["email"] = {a.get(), throttling::RetryPolicy(config_.channels.email.retry)};
    adapters_["email"] = std::move(a);
  }
  if (config_.channels.webhook.enabled) {
    auto a = adapters::MakeWebhookAdapter(config_.channels.webhook, clock_, *http_client_);
    if (!a.ok()) return a.status();
    routes["webhook"] = {a->get(), throttling::RetryPolicy(config_.channels.webhook.retry)};
    adapters_["webhook"] = std::move(a.value());
  }

  renderer_ = std::make_unique<TemplateRenderer>(catalog_, *store_, config_.templates);
  dispatcher_ = std::make_unique<dispatch::Dispatcher>(*store_, std::move(routes), *renderer_,
                                                       config_.dispatch, clock_, metrics_);

  http::ApiHooks hooks;
  hooks.channel_configured = [this](const std::string& c) { return adapters_.count(c) > 0; };
  hooks.check_template = [this](const std::string& name, const std::vector<std::string>& channels,
                                const json::object& vars,
                                http::ApiHooks::TemplateInfo* info) -> Status {
    auto catalog = catalog_.Get();
    if (!catalog) return Status::Unavailable("templates are not loaded");
    auto t = catalog->FindShared(name);
    if (!t) return Status::InvalidArgument("unknown template '" + name + "'", "template");
    for (size_t i = 0; i < channels.size(); ++i) {
      if (!t->HasChannel(channels[i])) {
        return Status::InvalidArgument(
            "template '" + name + "' has no variant for channel " + channels[i],
            "channels[" + std::to_string(i) + "]");
      }
    }
    if (Status st = t->ValidateVars(vars); !st.ok()) return st;
    info->version = t->version();
    info->category = t->category();
    return Status::Ok();
  };
  hooks.describe_templates = [this](const std::string& name) -> Result<json::value> {
    auto catalog = catalog_.Get();
    if (!catalog) return Status::Unavailable("templates are not loaded");
    if (name.empty()) {
      return json::value(json::object{{"version", catalog->version()},
                                      {"templates", templates::DescribeCatalog(*catalog)}});
    }
    auto t = catalog->FindShared(name);
    if (!t) return Status::NotFound("no template " + name);
    return json::value(templates::DescribeTemplate(*t));
  };
  hooks.reload = [this] { return ReloadTemplates(); };
  hooks.on_enqueued = [this] { dispatcher_->Wake(); };
  hooks.ready = [this] { return catalog_.Get() != nullptr; };
  api_ = std::make_unique<http::Api>(*store_, config_, std::move(hooks), clock_, metrics_);
  server_ = std::make_unique<http::Server>(
      config_.server,
      [this](http::Request&& req, http::Responder respond) {
        api_->Handle(std::move(req), std::move(respond));
      },
      metrics_);

  dispatcher_->Start();
  return server_->Start();
}

void Gateway::Stop(int64_t drain_ms) {
  if (stopped_) return;
  stopped_ = true;
  if (server_) server_->StopAccepting();
  if (watcher_) watcher_->Stop();
  int left = dispatcher_ ? dispatcher_->Stop(drain_ms) : 0;
  if (left > 0)
    spdlog::warn("stop: {} sends still in flight; they are retried after restart", left);
  for (auto& [name, a] : adapters_) a->Shutdown();
  if (http_client_) http_client_->Shutdown();
  if (server_) server_->Stop();
  if (store_) store_->Close();
}

}  // namespace reach
