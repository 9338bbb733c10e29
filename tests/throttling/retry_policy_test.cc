#include "throttling/retry_policy.h"

#include <gtest/gtest.h>

namespace reach::throttling {
namespace {

config::RetryConfig Cfg(int max_attempts, int64_t base, int64_t max, double mult, double jitter) {
  config::RetryConfig c;
  c.max_attempts = max_attempts;
  c.base_delay_ms = base;
  c.max_delay_ms = max;
  c.multiplier = mult;
  c.jitter = jitter;
  return c;
}

TEST(RetryPolicyTest, GrowsExponentiallyWithoutJitter) {
  RetryPolicy p(Cfg(6, 1000, 600000, 2.0, 0.0));
  EXPECT_EQ(p.NextDelayMs(1, std::nullopt, 0.5), 1000);
  EXPECT_EQ(p.NextDelayMs(2, std::nullopt, 0.5), 2000);
  EXPECT_EQ(p.NextDelayMs(3, std::nullopt, 0.5), 4000);
  EXPECT_EQ(p.NextDelayMs(5, std::nullopt, 0.5), 16000);
}

TEST(RetryPolicyTest, StopsAtMaxAttempts) {
  RetryPolicy p(Cfg(3, 1000, 600000, 2.0, 0.0));
  EXPECT_TRUE(p.NextDelayMs(2, std::nullopt, 0.5).has_value());
  EXPECT_FALSE(p.NextDelayMs(3, std::nullopt, 0.5).has_value());
  EXPECT_FALSE(p.NextDelayMs(4, std::nullopt, 0.5).has_value());
  RetryPolicy once(Cfg(1, 1000, 600000, 2.0, 0.0));
  EXPECT_FALSE(once.NextDelayMs(1, std::nullopt, 0.5).has_value());
}

TEST(RetryPolicyTest, CapsAtMaxDelay) {
  RetryPolicy p(Cfg(100, 1000, 30000, 2.0, 0.0));
  EXPECT_EQ(p.NextDelayMs(6, std::nullopt, 0.5), 30000);
  EXPECT_EQ(p.NextDelayMs(90, std::nullopt, 0.5), 30000);
}

TEST(RetryPolicyTest, JitterSpreadsWithinBounds) {
  RetryPolicy p(Cfg(10, 10000, 600000, 2.0, 0.2));
  EXPECT_EQ(p.NextDelayMs(1, std::nullopt, 0.0), 8000);
  EXPECT_EQ(p.NextDelayMs(1, std::nullopt, 0.5), 10000);
  EXPECT_EQ(p.NextDelayMs(1, std::nullopt, 0.75), 11000);
  EXPECT_LT(*p.NextDelayMs(1, std::nullopt, 0.9999), 12001);
  // Jitter applies after the cap.
  RetryPolicy capped(Cfg(10, 10000, 20000, 2.0, 0.5));
  EXPECT_EQ(capped.NextDelayMs(5, std::nullopt, 0.0), 10000);
}

TEST(RetryPolicyTest, HonoursProviderRetryAfterAboveBackoff) {
  RetryPolicy p(Cfg(5, 1000, 5000, 2.0, 0.0));
  EXPECT_EQ(p.NextDelayMs(1, 30000, 0.5), 30000);  // above max_delay_ms: the provider asked
  EXPECT_EQ(p.NextDelayMs(3, 100, 0.5), 4000);     // a shorter Retry-After keeps the backoff
  EXPECT_EQ(p.NextDelayMs(1, int64_t{365} * 86400 * 1000, 0.5), int64_t{86400} * 1000);
  EXPECT_FALSE(p.NextDelayMs(5, 100, 0.5).has_value());  // still bounded by attempts
}

}  // namespace
}  // namespace reach::throttling
