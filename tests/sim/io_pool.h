// A fixed set of io_contexts, each run by exactly one thread.
//
// On these 2-core machines one thread per io_context beats several threads sharing one
// (shared/reference/machine-ceilings.md), so connections are spread round-robin over the contexts
// and each connection then lives on one thread for its whole life (an implicit strand).
//
// Thread-safety: Next() may be called from any thread; Start/Stop/Join from the owning thread.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <thread>
#include <vector>

namespace reach::sim {

class IoPool final {
 public:
  // REQUIRES: threads >= 1.
  explicit IoPool(int threads);
  ~IoPool();  // Stops and joins.
  IoPool(const IoPool&) = delete;
  IoPool& operator=(const IoPool&) = delete;

  // The first context: listeners, signals and timers that are not per connection run here.
  boost::asio::io_context& Main() { return *contexts_.front(); }
  // The context for the next accepted connection (round-robin).
  boost::asio::io_context& Next();
  int size() const { return static_cast<int>(contexts_.size()); }

  void Start();  // Starts one thread per context.
  void Stop();   // Makes every run() return; pending handlers are dropped at destruction.
  void Join();

 private:
  using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<WorkGuard> guards_;
  std::vector<std::thread> threads_;
  std::atomic<size_t> next_{0};
};

}  // namespace reach::sim
