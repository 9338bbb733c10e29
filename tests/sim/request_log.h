// What the simulator's HTTP endpoints received: the last N requests per endpoint plus exact
// counters that never roll over with the records.
//
// Thread-safety: every method may be called from any thread. Each endpoint has its own mutex, held
// only to push one record or bump counters, so recording stays cheap on the hot path.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace reach::sim {

struct RecordedRequest {
  uint64_t seq = 0;  // 1-based, per endpoint, counts every request ever received (not reset)
  std::string method;
  std::string target;  // path and query as sent
  // "name: value\n" per header, names lowercased: one allocation per request on the hot path.
  std::string headers;
  std::string body;
  std::optional<bool> verified;  // nullopt: the endpoint does not check signatures
  int64_t received_at_ms = 0;    // wall clock
  unsigned status = 0;           // the status answered; 0 when the connection was dropped
  bool dropped = false;
  int delay_ms = 0;       // injected delay before the answer
  uint64_t fault_id = 0;  // id of the injected fault that shaped the answer; 0 if none
};

struct EndpointCounters {
  uint64_t received = 0;
  uint64_t dropped = 0;
  uint64_t verified = 0;    // signature checked and valid
  uint64_t unverified = 0;  // signature missing or invalid (or not checked: no secret)
  uint64_t faulted = 0;     // answers shaped by an injected fault
  std::map<unsigned, uint64_t> answered;  // status -> count
};

class RequestLog final {
 public:
  // keep_last: how many requests to keep per endpoint (older ones are forgotten; counters stay).
  explicit RequestLog(size_t keep_last);
  RequestLog(const RequestLog&) = delete;
  RequestLog& operator=(const RequestLog&) = delete;

  // Creates the endpoint so that it shows up in stats with zero counts. Idempotent.
  void AddEndpoint(const std::string& endpoint);
  // Records one request. Moves from `r`; assigns r.seq.
  void Record(const std::string& endpoint, RecordedRequest r);

  // The most recent `limit` records of `endpoint` (all kept ones when limit is 0), oldest first.
  // When path_prefix is not empty only requests whose target starts with it are returned.
  std::vector<RecordedRequest> Recent(const std::string& endpoint, size_t limit,
                                      const std::string& path_prefix = {}) const;
  std::map<std::string, EndpointCounters> Counters() const;
  bool HasEndpoint(const std::string& endpoint) const;
  void Clear();  // Forgets records and zeroes counters; endpoints stay.

  static boost::json::value ToJson(const RecordedRequest& r);
  static boost::json::value ToJson(const EndpointCounters& c);

 private:
  struct Channel {
    mutable std::mutex mu;
    std::vector<RecordedRequest> ring;  // GUARDED_BY(mu); capacity keep_last_
    size_t head = 0;                    // GUARDED_BY(mu); next slot to overwrite when full
    EndpointCounters counters;          // GUARDED_BY(mu)
    uint64_t seq = 0;                   // GUARDED_BY(mu)
  };
  Channel* Find(const std::string& endpoint) const;

  const size_t keep_last_;
  mutable std::mutex map_mu_;
  // Channels are never removed, so a Channel* stays valid for the log's life.
  std::map<std::string, std::unique_ptr<Channel>, std::less<>> channels_;  // GUARDED_BY(map_mu_)
};

}  // namespace reach::sim
