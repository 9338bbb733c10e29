#include "common/clock.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace reach {
namespace {

// Each thread formats the seconds once per second: the milliseconds, a new second, a step back
// in time and another thread must all still come out right.
TEST(FormatRfc3339Test, MillisecondsSecondsAndThreads) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(1445412480123), "2015-10-21T07:28:00.123Z");
  EXPECT_EQ(FormatRfc3339(1445412480999), "2015-10-21T07:28:00.999Z");  // same second
  EXPECT_EQ(FormatRfc3339(1445412481000), "2015-10-21T07:28:01.000Z");  // the next one
  EXPECT_EQ(FormatRfc3339(1445412480007), "2015-10-21T07:28:00.007Z");  // back again
  EXPECT_EQ(FormatRfc3339(1798761599999), "2026-12-31T23:59:59.999Z");
  std::string other;
  std::thread t([&] { other = FormatRfc3339(1798761600000); });
  t.join();
  EXPECT_EQ(other, "2027-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(1798761599999), "2026-12-31T23:59:59.999Z");
}

}  // namespace
}  // namespace reach
