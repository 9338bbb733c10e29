// The Gateway: builds and owns every component of reachd from a Config, in dependency order,
// and tears them down in reverse (explicit wiring; no singletons).
//
// Thread-safety: Start/Stop/Reload are called from main's thread only.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "adapters/adapter.h"
#include "common/clock.h"
#include "config/config.h"
#include "gateway/dispatch/dispatcher.h"
#include "gateway/http/api.h"
#include "gateway/http/server.h"
#include "gateway/metrics/metrics.h"
#include "gateway/store/store.h"
#include "templates/catalog.h"

namespace reach::transport {
class CurlLoop;
class HttpClient;
}  // namespace reach::transport

namespace reach {

class TemplateRenderer;

class Gateway {
 public:
  Gateway(config::Config config, const Clock& clock);
  ~Gateway();

  // Opens the store, loads templates, starts adapters, dispatcher and the HTTP server.
  // Returns the bound HTTP address.
  Result<std::string> Start();
  // Reloads the template catalog from disk; an invalid catalog is refused and the old one kept.
  Status ReloadTemplates();
  // Graceful stop: no new requests, sends in flight finish (up to drain_ms), outcomes committed.
  void Stop(int64_t drain_ms);

  metrics::Registry& metrics() { return metrics_; }

 private:
  Status LoadCatalog(bool initial);

  config::Config config_;
  const Clock& clock_;
  metrics::Registry metrics_;
  std::unique_ptr<store::Store> store_;
  templates::CatalogHolder catalog_;
  std::mutex reload_mu_;
  std::unique_ptr<templates::CatalogWatcher> watcher_;
  std::unique_ptr<transport::HttpClient> http_client_;
  std::map<std::string, std::unique_ptr<adapters::Adapter>> adapters_;
  std::unique_ptr<TemplateRenderer> renderer_;
  std::unique_ptr<dispatch::Dispatcher> dispatcher_;
  std::unique_ptr<http::Api> api_;
  std::unique_ptr<http::Server> server_;
  bool stopped_ = false;
};

}  // namespace reach
