#include "throttling/token_bucket.h"

#include <gtest/gtest.h>

namespace reach::throttling {
namespace {

TEST(TokenBucketTest, StartsFullAndRefillsAtRate) {
  TokenBucket b(10.0, 5.0, 0);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(b.TryTake(0)) << i;
  EXPECT_FALSE(b.TryTake(0));
  EXPECT_EQ(b.WaitMs(0), 100);
  EXPECT_FALSE(b.TryTake(99));
  EXPECT_TRUE(b.TryTake(100));
  EXPECT_FALSE(b.TryTake(100));
}

TEST(TokenBucketTest, NeverExceedsBurst) {
  TokenBucket b(100.0, 3.0, 0);
  EXPECT_DOUBLE_EQ(b.tokens(1000000), 3.0);
  EXPECT_TRUE(b.TryTake(1000000, 3.0));
  EXPECT_FALSE(b.TryTake(1000000));
}

TEST(TokenBucketTest, SetRateKeepsTokensAndChangesRefill) {
  TokenBucket b(10.0, 1.0, 0);
  EXPECT_TRUE(b.TryTake(0));
  b.SetRate(1.0, 50);  // half a token accrued at the old rate
  EXPECT_EQ(b.WaitMs(50), 500);
  EXPECT_TRUE(b.TryTake(550));
}

TEST(TokenBucketTest, IgnoresTimeGoingBackwards) {
  TokenBucket b(1.0, 1.0, 1000);
  EXPECT_TRUE(b.TryTake(1000));
  EXPECT_FALSE(b.TryTake(500));
  EXPECT_TRUE(b.TryTake(2000));
}

}  // namespace
}  // namespace reach::throttling
