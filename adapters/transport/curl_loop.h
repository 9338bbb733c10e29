// CurlLoop: one libcurl multi handle driven by its own thread. Every libcurl-based adapter (HTTP
// and SMTP) hands its transfers to a CurlLoop, so a few threads keep thousands of transfers open,
// with connections (keep-alive, HTTP/2 multiplexing, SMTP sessions) reused across messages.
//
// Thread-safety: Add(), Post() and Shutdown() may be called from any thread. Every callback runs
// on the loop thread; callbacks must not block. The loop thread owns the multi handle and every
// easy handle between Add() and its completion callback.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

namespace reach::transport {

struct CurlLoopOptions {
  std::string name = "curl";             // thread name (shown in top/gdb)
  long max_total_connections = 0;        // 0 = unlimited; transfers above it wait in libcurl
  long max_host_connections = 0;         // per host:port; 0 = unlimited
  long max_concurrent_streams = 100;     // HTTP/2 streams per connection
  long max_connects_cache = 0;           // idle connections kept; 0 = libcurl default
};

class CurlLoop final {
 public:
  // Called on the loop thread when the transfer ends. `result` is CURLE_OK or libcurl's error
  // (CURLE_ABORTED_BY_CALLBACK when the loop shut down before it finished). The callee owns
  // `easy` again and must curl_easy_cleanup() it (or reuse it).
  using Done = std::function<void(CURL* easy, CURLcode result)>;

  explicit CurlLoop(CurlLoopOptions options);
  ~CurlLoop();  // Shutdown()
  CurlLoop(const CurlLoop&) = delete;
  CurlLoop& operator=(const CurlLoop&) = delete;

  // Starts the transfer `easy`, fully configured by the caller (its CURLOPT_PRIVATE is used by
  // the loop and must not be set). After Shutdown, `done` is called at once (on the calling
  // thread) with CURLE_ABORTED_BY_CALLBACK.
  void Add(CURL* easy, Done done);
  // Runs `fn` on the loop thread; after Shutdown, at once on the calling thread.
  void Post(std::function<void()> fn);
  // Stops the loop: transfers in flight are aborted and their callbacks run with
  // CURLE_ABORTED_BY_CALLBACK before Shutdown returns. Idempotent.
  void Shutdown();

  int in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  bool on_loop_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  void Run();
  void DrainQueue();
  void ReapDone();

  CURLM* multi_ = nullptr;
  std::thread thread_;
  std::mutex mu_;
  std::deque<std::pair<CURL*, Done>> adds_;       // GUARDED_BY(mu_)
  std::deque<std::function<void()>> posts_;       // GUARDED_BY(mu_)
  bool stopping_ = false;                         // GUARDED_BY(mu_)
  std::unordered_map<CURL*, Done> active_;        // loop thread only
  std::atomic<int> in_flight_{0};
};

}  // namespace reach::transport
