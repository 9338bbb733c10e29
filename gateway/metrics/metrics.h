// Prometheus counters, gauges and histograms. Registration takes a lock; the returned handles are
// lock-free (relaxed atomics) and stay valid for the registry's lifetime. Thread-safety: all
// methods are safe from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace reach::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Inc(int64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

class Gauge {
 public:
  void Set(int64_t v) { v_.store(v, std::memory_order_relaxed); }
  void Add(int64_t n) { v_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

// Fixed buckets (upper bounds in seconds, ascending); observations in microseconds. Observe is
// two relaxed atomic adds and a short scan of the bounds.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds_s);
  void ObserveMicros(int64_t us);
  const std::vector<double>& bounds() const { return bounds_s_; }
  // Per-bucket counts (not cumulative), the last one above every bound.
  std::vector<int64_t> counts() const;
  int64_t sum_micros() const { return sum_us_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_s_;
  std::vector<int64_t> bounds_us_;
  std::unique_ptr<std::atomic<int64_t>[]> counts_;  // bounds + 1
  std::atomic<int64_t> sum_us_{0};
};

class Registry {
 public:
  // Same name+labels -> same handle. `help` is taken from the first registration of a name.
  Counter& GetCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& GetGauge(const std::string& name, const std::string& help, const Labels& labels = {});
  // Same name -> same histogram (the bounds of the first registration).
  Histogram& GetHistogram(const std::string& name, const std::string& help,
                          std::vector<double> bounds_s);
  // A gauge computed at scrape time (queue depth from the store, for example).
  void AddCallbackGauge(const std::string& name, const std::string& help,
                        std::function<int64_t()> fn);
  // Prometheus text exposition format 0.0.4.
  std::string Render() const;

 private:
  struct Family {
    std::string help;
    std::string type;
    std::map<std::string, std::unique_ptr<Counter>> counters;  // key: rendered labels
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::unique_ptr<Histogram> histogram;
    std::function<int64_t()> callback;
  };
  static std::string RenderLabels(const Labels& labels);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;  // GUARDED_BY(mu_)
};

}  // namespace reach::metrics
