#include "gateway/metrics/metrics.h"

#include <gtest/gtest.h>

namespace reach::metrics {
namespace {

TEST(HistogramTest, RendersCumulativeBucketsSumAndCount) {
  Registry r;
  Histogram& h = r.GetHistogram("reach_test_seconds", "Test durations", {0.01, 0.001, 0.1});
  h.ObserveMicros(500);     // <= 0.001
  h.ObserveMicros(1000);    // exactly on the bound: counts in le="0.001"
  h.ObserveMicros(20000);   // <= 0.1
  h.ObserveMicros(300000);  // above every bound
  // The same name gives the same histogram, whatever bounds the second caller names.
  EXPECT_EQ(&h, &r.GetHistogram("reach_test_seconds", "other help", {5}));
  std::string text = r.Render();
  EXPECT_NE(text.find("# HELP reach_test_seconds Test durations\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE reach_test_seconds histogram\n"), std::string::npos) << text;
  EXPECT_NE(text.find("reach_test_seconds_bucket{le=\"0.001\"} 2\n"
                      "reach_test_seconds_bucket{le=\"0.01\"} 2\n"
                      "reach_test_seconds_bucket{le=\"0.1\"} 3\n"
                      "reach_test_seconds_bucket{le=\"+Inf\"} 4\n"
                      "reach_test_seconds_sum 0.321500\n"
                      "reach_test_seconds_count 4\n"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace reach::metrics
