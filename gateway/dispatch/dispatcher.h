// The dispatcher: leases due messages from the store, renders them, hands them to the channel's
// adapter, and records each attempt and the message's next state (sent, retry later, next
// channel, failed).
//
// Thread-safety: one thread (started by Start()) owns every member below; adapters and the store
// answer on their own threads and the dispatcher posts their results back to its io_context.
// Wake() and Stop() may be called from any thread.
#pragma once

#include <atomic>
#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "adapters/adapter.h"
#include "common/clock.h"
#include "config/config.h"
#include "gateway/metrics/metrics.h"
#include "gateway/store/store.h"
#include "throttling/retry_policy.h"

namespace reach::dispatch {

// Produces the rendered content of a stored message for one channel. Called on the dispatcher
// thread only.
class Renderer {
 public:
  virtual ~Renderer() = default;
  virtual Result<boost::json::object> Render(const store::StoredMessage& message,
                                             const std::string& channel, const std::string& locale,
                                             const boost::json::object& vars) = 0;
};

struct ChannelRoute {
  adapters::Adapter* adapter = nullptr;  // not owned
  throttling::RetryPolicy retry;
};

class Dispatcher {
 public:
  // `routes` maps a channel name ("email") to its adapter and retry policy. Everything passed by
  // reference must outlive the dispatcher.
  Dispatcher(store::Store& store, std::map<std::string, ChannelRoute> routes, Renderer& renderer,
             const config::DispatchConfig& config, const Clock& clock, metrics::Registry& metrics,
             uint64_t seed = std::random_device{}());
  ~Dispatcher();

  void Start();
  // New messages were committed: look for due work now rather than at the next poll.
  void Wake();
  // Stops claiming and waits up to `drain_ms` for sends in flight to finish and their outcomes
  // to be committed. Returns the number of sends still in flight at the end (their messages stay
  // leased and become due again after a restart).
  int Stop(int64_t drain_ms);

  int in_flight() const { return in_flight_count_.load(std::memory_order_relaxed); }

 private:
  struct Job;
  // Claims as many messages as there are free slots. Results free slots one at a time; while
  // fewer than min(claim_batch, max_in_flight / 8) are free, they are claimed together up to
  // kTopUpMs later
  // (`now` skips that wait): one store turn per claim, not per send, and the store's completion
  // linger is not cut short by a claim for every outcome.
  void MaybeClaim(bool now = false);
  static constexpr int kTopUpMs = 5;
  void OnClaimed(Result<std::vector<store::StoredMessage>> result, int asked);
  void StartSend(store::StoredMessage message);
  void OnResult(std::shared_ptr<Job> job, adapters::SendResult result);
  // Decides the next state after a failed attempt on the current channel.
  void FinishFailure(Job& job, const adapters::SendResult& result, bool channel_exhausted,
                     store::Completion& c);
  void Record(store::Completion c);
  void FlushCompletions();
  void ArmPollTimer();

  store::Store& store_;
  std::map<std::string, ChannelRoute> routes_;
  Renderer& renderer_;
  config::DispatchConfig config_;
  const Clock& clock_;
  metrics::Registry& metrics_;

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::steady_timer poll_timer_;
  boost::asio::steady_timer top_up_timer_;
  bool top_up_armed_ = false;
  std::thread thread_;
  std::mt19937_64 rng_;

  bool claiming_ = false;
  bool stopping_ = false;
  bool flush_scheduled_ = false;
  int in_flight_ = 0;
  int flushes_in_flight_ = 0;
  std::atomic<int> in_flight_count_{0};
  std::atomic<bool> wake_posted_{false};  // a Wake() is queued on io_ and not yet run
  std::vector<store::Completion> pending_;

  metrics::Counter& claimed_;
  metrics::Counter& claim_errors_;
  metrics::Gauge& in_flight_gauge_;
  // Counters looked up once per label set (the registry's lookup renders the labels and takes
  // its lock: a few hundred nanoseconds per send otherwise). Dispatcher thread only.
  metrics::Counter& AttemptCounter(const std::string& channel, const std::string& provider,
                                   std::string_view outcome);
  metrics::Counter& FinalCounter(store::MessageStatus status);
  std::unordered_map<std::string, metrics::Counter*> attempt_counters_;
  std::unordered_map<int, metrics::Counter*> final_counters_;
};

}  // namespace reach::dispatch
