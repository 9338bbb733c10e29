#include "gateway/metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace reach::metrics {

Histogram::Histogram(std::vector<double> bounds_s)
    : bounds_s_(std::move(bounds_s)),
      counts_(std::make_unique<std::atomic<int64_t>[]>(bounds_s_.size() + 1)) {
  std::sort(bounds_s_.begin(), bounds_s_.end());
  for (double b : bounds_s_) bounds_us_.push_back(static_cast<int64_t>(std::llround(b * 1e6)));
}

void Histogram::ObserveMicros(int64_t us) {
  size_t i = std::lower_bound(bounds_us_.begin(), bounds_us_.end(), us) - bounds_us_.begin();
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(us, std::memory_order_relaxed);
}

std::vector<int64_t> Histogram::counts() const {
  std::vector<int64_t> out(bounds_s_.size() + 1);
  for (size_t i = 0; i < out.size(); ++i) out[i] = counts_[i].load(std::memory_order_relaxed);
  return out;
}

std::string Registry::RenderLabels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    for (char c : v) {
      if (c == '\\' || c == '"') {
        out += '\\';
        out += c;
      } else if (c == '\n') {
        out += "\\n";
      } else {
        out += c;
      }
    }
    out += '"';
  }
  out += '}';
  return out;
}

Counter& Registry::GetCounter(const std::string& name, const std::string& help,
                              const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = families_[name];
  if (f.type.empty()) {
    f.type = "counter";
    f.help = help;
  }
  auto& slot = f.counters[RenderLabels(labels)];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Registry::GetGauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = families_[name];
  if (f.type.empty()) {
    f.type = "gauge";
    f.help = help;
  }
  auto& slot = f.gauges[RenderLabels(labels)];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& Registry::GetHistogram(const std::string& name, const std::string& help,
                                  std::vector<double> bounds_s) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = families_[name];
  if (f.type.empty()) {
    f.type = "histogram";
    f.help = help;
  }
  if (!f.histogram) f.histogram = std::make_unique<Histogram>(std::move(bounds_s));
  return *f.histogram;
}

void Registry::AddCallbackGauge(const std::string& name, const std::string& help,
                                std::function<int64_t()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = families_[name];
  f.type = "gauge";
  f.help = help;
  f.callback = std::move(fn);
}

std::string Registry::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  out.reserve(4096);
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + " " + f.help + "\n";
    out += "# TYPE " + name + " " + f.type + "\n";
    for (const auto& [labels, c] : f.counters) {
      out += name + labels + " " + std::to_string(c->value()) + "\n";
    }
    for (const auto& [labels, g] : f.gauges) {
      out += name + labels + " " + std::to_string(g->value()) + "\n";
    }
    if (f.callback) out += name + " " + std::to_string(f.callback()) + "\n";
    if (f.histogram) {
      // Cumulative buckets, as the exposition format has them; the bounds print as %g.
      std::vector<int64_t> counts = f.histogram->counts();
      int64_t total = 0;
      char le[32];
      for (size_t i = 0; i < counts.size(); ++i) {
        total += counts[i];
        if (i < f.histogram->bounds().size()) {
          std::snprintf(le, sizeof le, "%g", f.histogram->bounds()[i]);
        } else {
          std::snprintf(le, sizeof le, "+Inf");
        }
        out += name + "_bucket{le=\"" + le + "\"} " + std::to_string(total) + "\n";
      }
      std::snprintf(le, sizeof le, "%.6f", static_cast<double>(f.histogram->sum_micros()) / 1e6);
      out += name + "_sum " + le + "\n";
      out += name + "_count " + std::to_string(total) + "\n";
    }
  }
  return out;
}

}  // namespace reach::metrics
