// CurlLoop: one libcurl multi handle driven by its own thread. Every libcurl-based adapter (HTTP
// and SMTP) hands its transfers to a CurlLoop, so a few threads keep thousands of transfers open,
// with connections (keep-alive, HTTP/2 multiplexing, SMTP sessions) reused across messages.
//
// The loop uses libcurl's event API (curl_multi_socket_action) on epoll: each wake-up costs in
// proportion to the sockets that are ready, not to the transfers in flight. (curl_multi_perform
// walks every transfer on every wake-up, which with thousands in flight cost more CPU than the
// HTTP work itself.)
//
// Thread-safety: Add(), Post() and Shutdown() may be called from any thread. Every callback runs
// on the loop thread; callbacks must not block. The loop thread owns the multi handle and every
// easy handle between Add() and its completion callback.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace reach::transport {

struct CurlLoopOptions {
  std::string name = "curl";          // thread name (shown in top/gdb)
  long max_total_connections = 0;     // 0 = unlimited; transfers above it wait in libcurl
  long max_host_connections = 0;      // per host:port; 0 = unlimited
  long max_concurrent_streams = 100;  // HTTP/2 streams per connection
  long max_connects_cache = 0;        // idle connections kept; 0 = libcurl default
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
  //
  // Admission: transfers that share a non-empty `key` (a peer, "https://host:port") run at most
  // `max_active` at a time (0 = no limit); the rest wait in the loop's own queue until one
  // finishes, highest `priority` (0..9, clamped) first and first in first out within a priority,
  // so an OTP does not wait behind a campaign's backlog. libcurl would queue them too
  // (CURLMOPT_MAX_HOST_CONNECTIONS), but its pending list is unordered and scanned on every
  // completion, which costs O(waiting) per transfer.
  void Add(CURL* easy, Done done, const std::string& key = {}, int max_active = 0,
           int priority = 0);

  static constexpr int kPriorities = 10;
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
  void Wake();  // REQUIRES: mu_ held
  static int OnSocket(CURL* easy, curl_socket_t s, int what, void* self, void* socketp);
  static int OnTimer(CURLM* multi, long timeout_ms, void* self);
  static curl_socket_t OnOpenSocket(void* self, curlsocktype purpose, curl_sockaddr* address);
  static int OnCloseSocket(void* self, curl_socket_t s);
  // An event on a socket libcurl no longer watches: an idle kept-alive connection was closed by
  // the peer (or sent something unasked). Take it out of the epoll set; libcurl finds it dead
  // when it next tries to reuse it.
  void Unwatched(int fd);

  // The epoll registration of the connection sockets this loop opened itself (through
  // CURLOPT_OPENSOCKETFUNCTION, closed through CURLOPT_CLOSESOCKETFUNCTION, so their lifetime is
  // known exactly). libcurl stops watching a kept-alive connection after every transfer and
  // starts again on the next one on it, usually with the same events; deregistering and
  // registering again each time cost ~1.7 epoll_ctl calls per request. For these sockets the
  // registration is kept while libcurl does not watch, and changed only when the events differ.
  // Sockets libcurl opened otherwise (the resolver's) are registered and removed as it asks.
  struct SocketState {
    bool ours = false;     // opened by OnOpenSocket and not yet closed
    bool watched = false;  // libcurl wants events for it now
    uint32_t events = 0;   // what it is registered for in the epoll set (0: not in the set)
  };
  SocketState* Own(curl_socket_t s) {  // nullptr for sockets this loop did not open
    return s >= 0 && static_cast<size_t>(s) < sockets_.size() && sockets_[s].ours ? &sockets_[s]
                                                                                  : nullptr;
  }
  std::vector<SocketState> sockets_;  // by fd; loop thread only (and the destructor)

  CURLM* multi_ = nullptr;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;             // eventfd: Add()/Post()/Shutdown() wake the loop
  bool wake_signalled_ = false;  // GUARDED_BY(mu_)
  long timer_ms_ = -1;           // loop thread only: libcurl's next timeout
  std::chrono::steady_clock::time_point timer_at_;  // loop thread only
  std::thread thread_;
  std::mutex mu_;
  struct Pending {
    CURL* easy;
    Done done;
    std::string key;
    int max_active;
    int priority;  // 0..kPriorities-1
  };
  struct Admission {  // one per key; loop thread only
    int active = 0;
    std::deque<Pending> waiting[kPriorities];  // [priority], FIFO within each
    size_t waiting_count = 0;
    std::deque<Pending>* NextQueue() {  // the highest-priority non-empty queue, or nullptr
      for (int p = kPriorities - 1; p >= 0; --p) {
        if (!waiting[p].empty()) return &waiting[p];
      }
      return nullptr;
    }
  };
  void Start(Pending p);  // hands `p` to libcurl now (loop thread)

  std::deque<Pending> adds_;                              // GUARDED_BY(mu_)
  std::unordered_map<std::string, Admission> admission_;  // loop thread only
  std::deque<std::function<void()>> posts_;               // GUARDED_BY(mu_)
  bool stopping_ = false;                                 // GUARDED_BY(mu_)
  struct Active {
    Done done;
    Admission* admission;  // nullptr when the transfer had no key
  };
  std::unordered_map<CURL*, Active> active_;  // loop thread only
  std::atomic<int> in_flight_{0};
};

}  // namespace reach::transport
