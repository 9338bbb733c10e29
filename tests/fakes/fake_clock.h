// A Clock whose time only moves when the test says so.
// Thread-safety: safe from any thread (atomics).
#pragma once

#include <atomic>
#include <cstdint>

#include "common/clock.h"

namespace reach {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t now_ms = 1'700'000'000'000) : now_ms_(now_ms), mono_ms_(0) {}
  int64_t NowMs() const override { return now_ms_.load(); }
  int64_t MonotonicMs() const override { return mono_ms_.load(); }
  void Set(int64_t now_ms) { now_ms_.store(now_ms); }
  void Advance(int64_t ms) {
    now_ms_.fetch_add(ms);
    mono_ms_.fetch_add(ms);
  }

 private:
  std::atomic<int64_t> now_ms_;
  std::atomic<int64_t> mono_ms_;
};

}  // namespace reach
