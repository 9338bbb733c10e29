// A transport::HttpClient for unit tests: records every request and answers from a script on its
// own thread (like the real client, never inside Send()).
// Thread-safety: every method may be called from any thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "adapters/transport/http_client.h"

namespace reach {

class FakeHttpClient final : public transport::HttpClient {
 public:
  FakeHttpClient() : thread_([this] { Run(); }) {}
  ~FakeHttpClient() override { Shutdown(); }

  // Answers handed out in order; when none is scripted, 200 with an empty body.
  void Script(transport::HttpResponse r) {
    std::lock_guard<std::mutex> l(mu_);
    script_.push_back(std::move(r));
  }
  std::vector<transport::HttpRequest> requests() {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }

  void Send(transport::HttpRequest request, transport::HttpCallback done) override {
    std::lock_guard<std::mutex> l(mu_);
    transport::HttpResponse r;
    r.status = 200;
    if (!script_.empty()) {
      r = std::move(script_.front());
      script_.pop_front();
    }
    if (stop_) {
      r = transport::HttpResponse{};
      r.error = transport::TransportError::kAborted;
    }
    requests_.push_back(std::move(request));
    queue_.push_back([done = std::move(done), r = std::move(r)] { done(r); });
    cv_.notify_all();
  }
  void Post(std::function<void()> fn) override {
    std::lock_guard<std::mutex> l(mu_);
    queue_.push_back(std::move(fn));
    cv_.notify_all();
  }
  void Shutdown() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      cv_.wait(l, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty() && stop_) return;
      auto fn = std::move(queue_.front());
      queue_.pop_front();
      l.unlock();
      fn();
      l.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<transport::HttpResponse> script_;
  std::deque<std::function<void()>> queue_;
  std::vector<transport::HttpRequest> requests_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace reach
