// Time source, injected everywhere time matters (tests use tests/fakes/fake_clock.h).
// Thread-safety: implementations must be safe to call from any thread.
#pragma once

#include <cstdint>
#include <string>

namespace reach {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, milliseconds since the Unix epoch.
  virtual int64_t NowMs() const = 0;
  // Monotonic time in milliseconds, for durations and timeouts only.
  virtual int64_t MonotonicMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override;
  int64_t MonotonicMs() const override;
};

// Formats ms-since-epoch as RFC 3339 UTC with milliseconds: 2026-11-24T09:00:00.000Z.
std::string FormatRfc3339(int64_t ms);

}  // namespace reach
