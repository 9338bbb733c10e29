// TokenBucket: a rate limit of `rate_per_s` with bursts up to `burst`. Time comes from the caller
// (monotonic milliseconds), so tests drive it with a fake clock. The per-provider pacing of later
// issues builds on it behind its own interface.
//
// Thread-safety: not thread-safe; one owner (e.g. the dispatcher thread).
#pragma once

#include <cstdint>

namespace reach::throttling {

class TokenBucket final {
 public:
  // REQUIRES: rate_per_s > 0, burst >= 1.
  TokenBucket(double rate_per_s, double burst, int64_t now_ms);

  // Takes `n` tokens if available now.
  bool TryTake(int64_t now_ms, double n = 1.0);
  // Milliseconds until `n` tokens will be available (0 if now).
  int64_t WaitMs(int64_t now_ms, double n = 1.0);
  // Changes the rate (e.g. slowing down after a provider throttles), keeping the tokens held.
  void SetRate(double rate_per_s, int64_t now_ms);

  double rate_per_s() const { return rate_; }
  double tokens(int64_t now_ms);

 private:
  void Refill(int64_t now_ms);

  double rate_;
  double burst_;
  double tokens_;
  int64_t last_ms_;
};

}  // namespace reach::throttling
