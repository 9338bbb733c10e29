#include "common/clock.h"

#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>

namespace reach {

int64_t SystemClock::NowMs() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int64_t SystemClock::MonotonicMs() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

std::string FormatRfc3339(int64_t ms) {
  // gmtime_r and strftime were ~4 % of the dispatcher's thread (one timestamp per webhook):
  // each thread formats the seconds once per second and appends the milliseconds.
  thread_local int64_t cached_secs = INT64_MIN;
  thread_local char cached[40];
  int64_t secs = ms / 1000;
  if (secs != cached_secs) {
    std::time_t t = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
    cached_secs = secs;
  }
  char out[48];
  std::snprintf(out, sizeof(out), "%s.%03dZ", cached, static_cast<int>(ms % 1000));
  return out;
}

}  // namespace reach
