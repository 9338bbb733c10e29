#include "throttling/token_bucket.h"

#include <algorithm>
#include <cmath>

namespace reach::throttling {

TokenBucket::TokenBucket(double rate_per_s, double burst, int64_t now_ms)
    : rate_(rate_per_s), burst_(burst), tokens_(burst), last_ms_(now_ms) {}

void TokenBucket::Refill(int64_t now_ms) {
  if (now_ms <= last_ms_) return;  // time never runs backwards for the bucket
  tokens_ = std::min(burst_, tokens_ + rate_ * static_cast<double>(now_ms - last_ms_) / 1000.0);
  last_ms_ = now_ms;
}

bool TokenBucket::TryTake(int64_t now_ms, double n) {
  Refill(now_ms);
  if (tokens_ + 1e-9 < n) return false;
  tokens_ -= n;
  return true;
}

int64_t TokenBucket::WaitMs(int64_t now_ms, double n) {
  Refill(now_ms);
  if (tokens_ + 1e-9 >= n) return 0;
  return static_cast<int64_t>(std::ceil((n - tokens_) * 1000.0 / rate_));
}

void TokenBucket::SetRate(double rate_per_s, int64_t now_ms) {
  Refill(now_ms);
  rate_ = rate_per_s;
}

double TokenBucket::tokens(int64_t now_ms) {
  Refill(now_ms);
  return tokens_;
}

}  // namespace reach::throttling
