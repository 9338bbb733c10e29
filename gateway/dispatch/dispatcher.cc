#include "gateway/dispatch/dispatcher.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <future>

#include "common/mask.h"

namespace reach::dispatch {
namespace {

namespace json = boost::json;

std::string GetString(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().get_string());
}

adapters::Recipient ParseRecipient(const json::object& to) {
  adapters::Recipient r;
  r.user_id = GetString(to, "user_id");
  r.phone = GetString(to, "phone");
  r.email = GetString(to, "email");
  r.wechat_openid = GetString(to, "wechat_openid");
  r.miniprogram_openid = GetString(to, "miniprogram_openid");
  r.wecom_userid = GetString(to, "wecom_userid");
  r.apns_token = GetString(to, "apns_token");
  r.fcm_token = GetString(to, "fcm_token");
  r.jpush_registration_id = GetString(to, "jpush_registration_id");
  r.webhook_url = GetString(to, "webhook_url");
  return r;
}

std::string AddressFor(const std::string& channel, const adapters::Recipient& r) {
  if (channel == "email") return MaskEmail(r.email);
  if (channel == "sms" || channel == "rcs") return MaskPhone(r.phone);
  if (channel == "webhook") return r.webhook_url.empty() ? "-" : "url";
  return r.user_id.empty() ? "-" : MaskAddress(r.user_id);
}

}  // namespace

// A send in flight: what its outcome is recorded and logged with. (The request itself is moved
// into the adapter: copying it, content and metadata included, cost ~5 % of this thread.)
struct Dispatcher::Job {
  store::StoredMessage message;
  std::string external_id;
  std::string channel;
  adapters::Recipient to;
  std::string provider;
};

Dispatcher::Dispatcher(store::Store& store, std::map<std::string, ChannelRoute> routes,
                       Renderer& renderer, const config::DispatchConfig& config, const Clock& clock,
                       metrics::Registry& metrics, uint64_t seed)
    : store_(store),
      routes_(std::move(routes)),
      renderer_(renderer),
      config_(config),
      clock_(clock),
      metrics_(metrics),
      work_(io_.get_executor()),
      poll_timer_(io_),
      top_up_timer_(io_),
      rng_(seed),
      claimed_(metrics.GetCounter("reach_dispatch_claimed_total", "Messages leased for sending")),
      claim_errors_(metrics.GetCounter("reach_dispatch_claim_errors_total",
                                       "Failed attempts to lease messages from the store")),
      in_flight_gauge_(metrics.GetGauge("reach_dispatch_in_flight", "Sends in flight")) {}

Dispatcher::~Dispatcher() {
  if (thread_.joinable()) Stop(0);
}

void Dispatcher::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "reach-dispatch");
    boost::asio::post(io_, [this] { MaybeClaim(); });
    io_.run();
  });
}

void Dispatcher::Wake() {
  // Many enqueues in a row need one look for due work, not one each.
  if (wake_posted_.exchange(true, std::memory_order_acq_rel)) return;
  boost::asio::post(io_, [this] {
    wake_posted_.store(false, std::memory_order_release);
    poll_timer_.cancel();
    MaybeClaim();
  });
}

int Dispatcher::Stop(int64_t drain_ms) {
  if (!thread_.joinable()) return 0;
  std::promise<void> stopped;
  boost::asio::post(io_, [this] {
    stopping_ = true;
    poll_timer_.cancel();
    top_up_timer_.cancel();
  });
  // A real-time bound (not the injected clock): this waits for real I/O to finish.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(drain_ms);
  // Wait for sends in flight and the commits of their outcomes.
  for (;;) {
    std::promise<bool> idle;
    auto fut = idle.get_future();
    boost::asio::post(io_, [this, &idle] {
      FlushCompletions();
      idle.set_value(in_flight_ == 0 && flushes_in_flight_ == 0 && !claiming_ && pending_.empty());
    });
    if (fut.get() || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  int left = in_flight_count_.load();
  work_.reset();
  io_.stop();
  thread_.join();
  return left;
}

void Dispatcher::ArmPollTimer() {
  if (stopping_) return;
  poll_timer_.expires_after(std::chrono::milliseconds(config_.poll_interval_ms));
  poll_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) MaybeClaim();
  });
}

void Dispatcher::MaybeClaim(bool now) {
  if (claiming_ || stopping_) return;
  int room = config_.max_in_flight - in_flight_;
  if (room <= 0) return;  // a completion will call us again
  if (!now && room < std::min(config_.claim_batch, std::max(1, config_.max_in_flight / 8))) {
    if (!top_up_armed_) {
      top_up_armed_ = true;
      top_up_timer_.expires_after(std::chrono::milliseconds(kTopUpMs));
      top_up_timer_.async_wait([this](const boost::system::error_code& ec) {
        top_up_armed_ = false;
        if (!ec) MaybeClaim(true);
      });
    }
    return;
  }
  int asked = std::min(room, config_.claim_batch);
  claiming_ = true;
  store_.Claim(clock_.NowMs(), asked, [this, asked](auto result) {
    boost::asio::post(
        io_, [this, asked, r = std::move(result)]() mutable { OnClaimed(std::move(r), asked); });
  });
}

void Dispatcher::OnClaimed(Result<std::vector<store::StoredMessage>> result, int asked) {
  claiming_ = false;
  if (!result.ok()) {
    claim_errors_.Inc();
    spdlog::error("dispatch: claim failed: {}", result.status().ToString());
    ArmPollTimer();
    return;
  }
  auto& messages = result.value();
  claimed_.Inc(static_cast<int64_t>(messages.size()));
  for (auto& m : messages) StartSend(std::move(m));
  if (static_cast<int>(messages.size()) >= asked) {
    MaybeClaim();  // more may be due right now
  } else {
    ArmPollTimer();
  }
}

void Dispatcher::StartSend(store::StoredMessage message) {
  auto job = std::make_shared<Job>();
  job->message = std::move(message);
  store::StoredMessage& m = job->message;
  adapters::SendRequest req;
  req.message_id = m.id;
  req.external_id = store::ExternalId(m.id);
  req.category = m.category;
  req.priority = m.priority;
  req.attempt = m.attempt_count + 1;

  if (m.channel_index < 0 || m.channel_index >= static_cast<int>(m.channels.size())) {
    store::Completion c;
    c.id = m.id;
    c.status = store::MessageStatus::kFailed;
    c.reason = "no channel left";
    Record(std::move(c));
    return;
  }
  req.channel = m.channels[m.channel_index];
  job->external_id = req.external_id;
  job->channel = req.channel;

  json::object payload;
  json::object vars;
  {
    boost::system::error_code ec;
    json::value v = json::parse(m.payload, ec);
    if (!ec && v.is_object()) payload = std::move(v.as_object());
  }
  if (auto it = payload.find("to"); it != payload.end() && it->value().is_object()) {
    req.to = ParseRecipient(it->value().as_object());
    job->to = req.to;
  }
  if (auto it = payload.find("vars"); it != payload.end() && it->value().is_object()) {
    vars = std::move(it->value().as_object());
  }
  if (auto it = payload.find("metadata"); it != payload.end() && it->value().is_object()) {
    req.metadata = std::move(it->value().as_object());
  }
  req.locale = GetString(payload, "locale");

  adapters::SendResult failure;
  auto route = routes_.find(req.channel);
  if (route == routes_.end()) {
    failure.outcome = adapters::Outcome::kPermanent;
    failure.provider = "-";
    failure.code = "channel_not_configured";
    failure.detail = "no provider is configured for channel " + req.channel;
  } else {
    auto rendered = renderer_.Render(m, req.channel, req.locale, vars);
    if (rendered.ok()) {
      req.content = std::move(rendered.value());
      job->provider = std::string(route->second.adapter->provider());
      ++in_flight_;
      in_flight_count_.store(in_flight_, std::memory_order_relaxed);
      in_flight_gauge_.Set(in_flight_);
      route->second.adapter->Send(std::move(req), [this, job](adapters::SendResult r) {
        boost::asio::post(io_, [this, job, r = std::move(r)]() mutable {
          --in_flight_;
          in_flight_count_.store(in_flight_, std::memory_order_relaxed);
          in_flight_gauge_.Set(in_flight_);
          OnResult(job, std::move(r));
          MaybeClaim();
        });
      });
      return;
    }
    failure.outcome = adapters::Outcome::kPermanent;
    failure.provider = std::string(route->second.adapter->provider());
    failure.code = "render_failed";
    failure.detail = rendered.status().message();
  }
  OnResult(job, std::move(failure));
}

void Dispatcher::OnResult(std::shared_ptr<Job> job, adapters::SendResult result) {
  store::StoredMessage& m = job->message;
  const std::string& channel = job->channel;
  if (result.provider.empty()) result.provider = job->provider;
  int64_t now = clock_.NowMs();

  AttemptCounter(channel, result.provider, adapters::OutcomeName(result.outcome)).Inc();

  store::Completion c;
  c.id = m.id;
  c.channel_index = m.channel_index;
  c.attempt_count = m.attempt_count + 1;
  store::AttemptRecord a;
  a.message_id = m.id;
  a.at_ms = now;
  a.channel = channel;
  a.provider = result.provider;
  a.outcome = std::string(adapters::OutcomeName(result.outcome));
  a.provider_message_id = result.provider_message_id;
  a.code = result.code;
  a.detail = result.detail.substr(0, 512);
  c.attempt = std::move(a);

  switch (result.outcome) {
    case adapters::Outcome::kSent:
      c.status = store::MessageStatus::kSent;
      c.final_channel = channel;
      c.due_at_ms = now;
      if (spdlog::should_log(spdlog::level::info)) {  // spares masking the address per send
        spdlog::info("message {} sent channel={} provider={} to={} provider_id={}",
                     job->external_id, channel, result.provider, AddressFor(channel, job->to),
                     result.provider_message_id);
      }
      break;
    case adapters::Outcome::kRetry:
    case adapters::Outcome::kThrottled:
    case adapters::Outcome::kConfig: {
      if (result.outcome == adapters::Outcome::kConfig) {
        spdlog::error("message {} channel={} provider={}: configuration error {} {}",
                      job->external_id, channel, result.provider, result.code, result.detail);
      }
      auto route = routes_.find(channel);
      std::optional<int64_t> delay;
      if (route != routes_.end()) {
        double r01 = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
        delay = route->second.retry.NextDelayMs(c.attempt_count, result.retry_after_ms, r01);
      }
      if (delay) {
        c.status = store::MessageStatus::kQueued;
        c.due_at_ms = now + *delay;
        c.final_channel = channel;
        spdlog::info("message {} retry channel={} provider={} to={} attempt={} in={}ms code={}",
                     job->external_id, channel, result.provider, AddressFor(channel, job->to),
                     c.attempt_count, *delay, result.code);
      } else {
        FinishFailure(*job, result, true, c);
      }
      break;
    }
    case adapters::Outcome::kRecipientInvalid:
    case adapters::Outcome::kPermanent:
      FinishFailure(*job, result, false, c);
      break;
  }
  Record(std::move(c));
}

void Dispatcher::FinishFailure(Job& job, const adapters::SendResult& result, bool channel_exhausted,
                               store::Completion& c) {
  store::StoredMessage& m = job.message;
  const std::string& channel = job.channel;
  int64_t now = clock_.NowMs();
  std::string why = channel_exhausted ? "retries exhausted" : "permanent failure";
  if (m.channel_index + 1 < static_cast<int>(m.channels.size())) {
    c.status = store::MessageStatus::kQueued;
    c.channel_index = m.channel_index + 1;
    c.attempt_count = 0;
    c.due_at_ms = now;
    c.final_channel = channel;
    metrics_
        .GetCounter("reach_dispatch_fallbacks_total", "Moves to the next channel",
                    {{"from", channel}, {"to", m.channels[m.channel_index + 1]}})
        .Inc();
    spdlog::info("message {} fallback from={} to={} ({}: {} {})", job.external_id, channel,
                 m.channels[m.channel_index + 1], why, result.code, result.detail);
  } else {
    c.status = store::MessageStatus::kFailed;
    c.final_channel = channel;
    c.due_at_ms = now;
    c.reason = why + " on " + channel + ": " + result.code;
    spdlog::warn("message {} failed channel={} provider={} to={} ({}: {} {})", job.external_id,
                 channel, result.provider, AddressFor(channel, job.to), why, result.code,
                 result.detail);
  }
}

void Dispatcher::Record(store::Completion c) {
  if (store::IsFinal(c.status)) FinalCounter(c.status).Inc();
  pending_.push_back(std::move(c));
  if (!flush_scheduled_) {
    flush_scheduled_ = true;
    // Outcomes that arrive in the same turn of the loop share one store operation.
    boost::asio::post(io_, [this] { FlushCompletions(); });
  }
}

metrics::Counter& Dispatcher::AttemptCounter(const std::string& channel,
                                             const std::string& provider,
                                             std::string_view outcome) {
  std::string key;
  key.reserve(channel.size() + provider.size() + outcome.size() + 2);
  key.append(channel).append(1, '\0').append(provider).append(1, '\0').append(outcome);
  auto it = attempt_counters_.find(key);
  if (it != attempt_counters_.end()) return *it->second;
  metrics::Counter& c = metrics_.GetCounter(
      "reach_dispatch_attempts_total", "Send attempts by channel, provider, outcome",
      {{"channel", channel}, {"provider", provider}, {"outcome", std::string(outcome)}});
  attempt_counters_.emplace(std::move(key), &c);
  return c;
}

metrics::Counter& Dispatcher::FinalCounter(store::MessageStatus status) {
  auto it = final_counters_.find(static_cast<int>(status));
  if (it != final_counters_.end()) return *it->second;
  metrics::Counter& c =
      metrics_.GetCounter("reach_messages_final_total", "Messages that reached a final state",
                          {{"status", store::StatusName(status)}});
  final_counters_.emplace(static_cast<int>(status), &c);
  return c;
}

void Dispatcher::FlushCompletions() {
  flush_scheduled_ = false;
  if (pending_.empty()) return;
  ++flushes_in_flight_;
  store_.Complete(std::move(pending_), [this](Status st) {
    if (!st.ok()) spdlog::error("dispatch: recording outcomes failed: {}", st.ToString());
    boost::asio::post(io_, [this] {
      --flushes_in_flight_;
      MaybeClaim();  // a fallback or a short retry may be due already
    });
  });
  pending_.clear();
}

}  // namespace reach::dispatch
