#include "adapters/transport/curl_loop.h"

#include <pthread.h>

#include <utility>
#include <vector>

namespace reach::transport {

namespace {
struct GlobalInit {
  GlobalInit() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};
}  // namespace

CurlLoop::CurlLoop(CurlLoopOptions options) {
  static GlobalInit init;  // curl_global_init is not thread-safe on older libcurl; once, first.
  multi_ = curl_multi_init();
  curl_multi_setopt(multi_, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  if (options.max_total_connections > 0) {
    curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, options.max_total_connections);
  }
  if (options.max_host_connections > 0) {
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, options.max_host_connections);
  }
  if (options.max_connects_cache > 0) {
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, options.max_connects_cache);
  }
  curl_multi_setopt(multi_, CURLMOPT_MAX_CONCURRENT_STREAMS, options.max_concurrent_streams);
  thread_ = std::thread([this, name = options.name] {
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    Run();
  });
}

CurlLoop::~CurlLoop() {
  Shutdown();
  curl_multi_cleanup(multi_);
}

void CurlLoop::Add(CURL* easy, Done done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      adds_.emplace_back(easy, std::move(done));
      in_flight_.fetch_add(1, std::memory_order_relaxed);
      curl_multi_wakeup(multi_);
      return;
    }
  }
  done(easy, CURLE_ABORTED_BY_CALLBACK);
}

void CurlLoop::Post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      posts_.push_back(std::move(fn));
      curl_multi_wakeup(multi_);
      return;
    }
  }
  fn();
}

void CurlLoop::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    curl_multi_wakeup(multi_);
  }
  if (thread_.joinable()) thread_.join();
}

void CurlLoop::DrainQueue() {
  std::deque<std::pair<CURL*, Done>> adds;
  std::deque<std::function<void()>> posts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    adds.swap(adds_);
    posts.swap(posts_);
  }
  for (auto& [easy, done] : adds) {
    CURLMcode rc = curl_multi_add_handle(multi_, easy);
    if (rc != CURLM_OK) {
      in_flight_.fetch_sub(1, std::memory_order_relaxed);
      done(easy, CURLE_FAILED_INIT);
      continue;
    }
    active_.emplace(easy, std::move(done));
  }
  for (auto& fn : posts) fn();
}

void CurlLoop::ReapDone() {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* easy = msg->easy_handle;
    CURLcode result = msg->data.result;
    curl_multi_remove_handle(multi_, easy);
    auto it = active_.find(easy);
    if (it == active_.end()) continue;
    Done done = std::move(it->second);
    active_.erase(it);
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    done(easy, result);
  }
}

void CurlLoop::Run() {
  for (;;) {
    DrainQueue();
    int running = 0;
    curl_multi_perform(multi_, &running);
    ReapDone();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;
      if (!adds_.empty() || !posts_.empty()) continue;
    }
    int numfds = 0;
    curl_multi_poll(multi_, nullptr, 0, 1000, &numfds);
  }
  // Abort what is still in flight, then anything added meanwhile.
  std::vector<std::pair<CURL*, Done>> aborted;
  for (auto& [easy, done] : active_) {
    curl_multi_remove_handle(multi_, easy);
    aborted.emplace_back(easy, std::move(done));
  }
  active_.clear();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& a : adds_) aborted.push_back(std::move(a));
    adds_.clear();
  }
  std::deque<std::function<void()>> posts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    posts.swap(posts_);
  }
  for (auto& fn : posts) fn();
  for (auto& [easy, done] : aborted) {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    done(easy, CURLE_ABORTED_BY_CALLBACK);
  }
}

}  // namespace reach::transport
