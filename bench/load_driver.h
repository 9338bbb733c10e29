// LoadDriver: keeps `connections` HTTP/1.1 keep-alive requests in flight on one libcurl multi
// handle, driven by a curl_multi_perform/curl_multi_poll loop on the calling thread. Each slot
// owns one easy handle for the whole run, so each slot keeps its own connection.
//
// The caller supplies a RequestSource that fills a slot's next request (or says there is none
// left) and is told each result. Latencies are kept in full (microseconds), so percentiles are
// exact.
//
// Thread-safety: a LoadDriver is used by one thread. Several drivers may run on several threads
// if their RequestSources are thread-safe (reach_load.cc shares atomic counters between them).
#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace reach::bench {

// Microseconds on the steady clock: the time base of every latency and deadline here.
int64_t NowUs();

// One request to send. The source fills it; the driver owns the buffers until it completes.
struct LoadRequest {
  std::string url;
  std::string body;
  std::vector<std::string> headers;  // "Name: value"
  int64_t items = 1;                 // messages carried (batch requests carry many)
};

struct LoadResult {
  long status = 0;          // HTTP status; 0 when the transfer failed
  std::string error;        // libcurl's message when status == 0
  const std::string* body;  // the response body (valid during the callback only)
  int64_t latency_us = 0;
};

class RequestSource {
 public:
  virtual ~RequestSource() = default;
  // Fills `out` with the next request; false when the run is over for this slot.
  virtual bool Next(LoadRequest& out) = 0;
  // Called once per completed request, on the driver's thread.
  virtual void Done(const LoadRequest& request, const LoadResult& result) = 0;
};

struct DriverStats {
  int64_t requests = 0;
  int64_t transport_errors = 0;
  std::map<long, int64_t> statuses;
  std::vector<uint32_t> latencies_us;  // one per completed request
  std::string last_error;
};

class LoadDriver final {
 public:
  // REQUIRES: curl_global_init was called; connections >= 1.
  LoadDriver(int connections, int64_t timeout_ms);
  ~LoadDriver();
  LoadDriver(const LoadDriver&) = delete;
  LoadDriver& operator=(const LoadDriver&) = delete;

  // Runs until every slot's source is exhausted and nothing is in flight.
  void Run(RequestSource& source);
  DriverStats& stats() { return stats_; }

 private:
  struct Slot;
  bool Start(Slot& slot, RequestSource& source);
  static size_t OnWrite(char* data, size_t size, size_t n, void* user);

  CURLM* multi_;
  int64_t timeout_ms_;
  std::vector<std::unique_ptr<Slot>> slots_;
  DriverStats stats_;
};

// Percentile (0..100) of sorted values; 0 when empty.
double Percentile(const std::vector<uint32_t>& sorted, double p);

}  // namespace reach::bench
