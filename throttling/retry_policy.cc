#include "throttling/retry_policy.h"

#include <algorithm>
#include <cmath>

namespace reach::throttling {

namespace {
constexpr int64_t kMaxProviderDelayMs = 24LL * 3600 * 1000;
}

RetryPolicy::RetryPolicy(const config::RetryConfig& config) : config_(config) {}

std::optional<int64_t> RetryPolicy::NextDelayMs(int attempts_made,
                                                std::optional<int64_t> retry_after_ms,
                                                double random01) const {
  if (attempts_made >= config_.max_attempts) return std::nullopt;
  int exponent = std::max(0, attempts_made - 1);
  double base = static_cast<double>(config_.base_delay_ms) *
                std::pow(std::max(1.0, config_.multiplier), std::min(exponent, 62));
  double capped = std::min(base, static_cast<double>(config_.max_delay_ms));
  double jitter = std::clamp(config_.jitter, 0.0, 1.0);
  double r = std::clamp(random01, 0.0, 1.0);
  double delay = capped * (1.0 - jitter + 2.0 * jitter * r);
  int64_t ms = static_cast<int64_t>(std::llround(std::max(0.0, delay)));
  if (retry_after_ms && *retry_after_ms > ms) ms = std::min(*retry_after_ms, kMaxProviderDelayMs);
  return ms;
}

}  // namespace reach::throttling
