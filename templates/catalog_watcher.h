// Watches the template folder with Linux inotify and calls back after changes settle.
//
// Contract: Start() opens the watch and starts the watcher's own thread; `on_change` runs on that
// thread, once per burst of changes, `debounce` after the last event of the burst (editors write
// a file in several steps). Stop() (also run by the destructor) wakes the thread and joins it;
// after Stop() returns, `on_change` is not called any more. Only files directly in the folder
// are watched. Start/Stop are called from one owner thread.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "common/status.h"

namespace reach::templates {

class CatalogWatcher final {
 public:
  CatalogWatcher(std::string dir, std::function<void()> on_change,
                 std::chrono::milliseconds debounce = std::chrono::milliseconds(200));
  ~CatalogWatcher();
  CatalogWatcher(const CatalogWatcher&) = delete;
  CatalogWatcher& operator=(const CatalogWatcher&) = delete;

  // Unavailable when inotify cannot watch the folder (the caller logs it and goes on).
  Status Start();
  void Stop();

 private:
  void Run();

  std::string dir_;
  std::function<void()> on_change_;
  std::chrono::milliseconds debounce_;
  int inotify_fd_ = -1;
  int wake_fd_ = -1;  // eventfd written by Stop()
  std::thread thread_;
};

}  // namespace reach::templates
