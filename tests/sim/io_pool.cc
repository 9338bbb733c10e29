#include "tests/sim/io_pool.h"

namespace reach::sim {

IoPool::IoPool(int threads) {
  if (threads < 1) threads = 1;
  for (int i = 0; i < threads; ++i) {
    // Concurrency hint 1: each context is run by a single thread, so Asio may skip some locking.
    contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
    guards_.emplace_back(contexts_.back()->get_executor());
  }
}

IoPool::~IoPool() {
  Stop();
  Join();
}

boost::asio::io_context& IoPool::Next() {
  size_t i = next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size();
  return *contexts_[i];
}

void IoPool::Start() {
  for (auto& ctx : contexts_) {
    threads_.emplace_back([c = ctx.get()] { c->run(); });
  }
}

void IoPool::Stop() {
  guards_.clear();
  for (auto& ctx : contexts_) ctx->stop();
}

void IoPool::Join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace reach::sim
