// RetryPolicy: exponential backoff with jitter for one channel, bounded by an attempt limit.
// A pure policy object: the caller passes the attempt number and a random draw, so tests are exact.
//
// Thread-safety: immutable after construction; safe to share.
#pragma once

#include <cstdint>
#include <optional>

#include "config/config.h"

namespace reach::throttling {

class RetryPolicy final {
 public:
  RetryPolicy() = default;  // the RetryConfig defaults
  explicit RetryPolicy(const config::RetryConfig& config);

  // Delay before the next attempt after `attempts_made` failed attempts on this channel (1 after
  // the first failure), or nullopt when the channel's attempts are used up (attempts_made >=
  // max_attempts). `retry_after_ms` is the provider's own request (Retry-After); the delay is at
  // least that, even above max_delay_ms (capped at one day). `random01` is a uniform draw in
  // [0, 1) that spreads the delay by +-jitter.
  std::optional<int64_t> NextDelayMs(int attempts_made, std::optional<int64_t> retry_after_ms,
                                     double random01) const;

  const config::RetryConfig& config() const { return config_; }

 private:
  config::RetryConfig config_;
};

}  // namespace reach::throttling
