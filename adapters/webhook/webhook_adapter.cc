#include "adapters/webhook/webhook_adapter.h"

#include <boost/json.hpp>
#include <condition_variable>
#include <mutex>

#include "adapters/webhook/signer.h"

namespace reach::adapters {

namespace json = boost::json;

SendResult ClassifyWebhookAnswer(const transport::HttpResponse& r, int64_t now_ms) {
  SendResult out;
  out.provider = "webhook";
  if (r.error != transport::TransportError::kNone) {
    out.code = std::string(transport::TransportErrorName(r.error));
    out.detail = r.error_detail;
    switch (r.error) {
      case transport::TransportError::kTls:
        out.outcome = Outcome::kConfig;
        break;
      case transport::TransportError::kAborted:
        out.outcome = Outcome::kRetry;
        out.detail = "shutdown";
        break;
      default:
        out.outcome = Outcome::kRetry;
    }
    return out;
  }
  out.code = std::to_string(r.status);
  out.detail = r.body.substr(0, 200);
  if (auto ra = r.Header("retry-after"))
    out.retry_after_ms = transport::ParseRetryAfterMs(*ra, now_ms);
  const int s = r.status;
  if (s >= 200 && s < 300) {
    out.outcome = Outcome::kSent;
    out.detail.clear();
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (!ec && v.is_object()) {
      if (auto* id = v.as_object().if_contains("id"); id && id->is_string()) {
        out.provider_message_id = std::string(id->get_string());
      }
    }
  } else if (s == 410) {
    out.outcome = Outcome::kRecipientInvalid;
  } else if (s == 429 || s == 502 || s == 504) {
    out.outcome = Outcome::kThrottled;
  } else if (s == 408 || s >= 500) {
    out.outcome = Outcome::kRetry;
  } else if (s == 401 || s == 403) {
    out.outcome = Outcome::kConfig;
  } else {
    out.outcome = Outcome::kPermanent;  // 1xx oddities, 3xx, other 4xx
  }
  return out;
}

namespace {

class WebhookAdapter final : public Adapter {
 public:
  WebhookAdapter(const config::WebhookConfig& config, const Clock& clock,
                 transport::HttpClient& http, WebhookSigner signer)
      : config_(config), clock_(clock), http_(http), signer_(std::move(signer)) {}
  ~WebhookAdapter() override { Shutdown(); }

  std::string_view channel() const override { return "webhook"; }
  std::string_view provider() const override { return "webhook"; }

  void Send(SendRequest request, SendCallback done) override {
    const std::string url = request.to.webhook_url.empty() ? config_.url : request.to.webhook_url;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stopping_ || url.empty()) {
        SendResult r;
        r.provider = "webhook";
        r.outcome = stopping_ ? Outcome::kRetry : Outcome::kConfig;
        r.code = stopping_ ? "shutdown" : "no_url";
        r.detail =
            stopping_ ? "shutdown" : "no webhook URL: set channels.webhook.url or to.webhook_url";
        // The answer still comes from the client's thread, never from inside Send().
        http_.Post([r = std::move(r), done = std::move(done)] { done(r); });
        return;
      }
      ++in_flight_;
    }
    int64_t now = clock_.NowMs();
    int64_t ts = now / 1000;
    json::object data(8);  // room for its fields: no rehash while they go in
    data["channel"] = "webhook";
    data["category"] = request.category;
    data["locale"] = request.locale;
    data["attempt"] = request.attempt;
    json::object to;
    if (!request.to.user_id.empty()) to["user_id"] = request.to.user_id;
    data["to"] = std::move(to);
    if (auto it = request.content.find("body"); it != request.content.end()) {
      data["body"] = std::move(it->value());  // the request is ours
    } else {
      data["body"] = nullptr;
    }
    data["metadata"] = std::move(request.metadata);
    json::object envelope(4);
    envelope["type"] = "message";
    envelope["id"] = request.external_id;
    envelope["timestamp"] = FormatRfc3339(now);
    envelope["data"] = std::move(data);

    transport::HttpRequest req;
    req.method = "POST";
    req.url = url;
    req.timeout_ms = config_.timeout_ms;
    req.priority = request.priority;
    req.body = json::serialize(envelope);
    // Emplaced, not an initializer list (whose elements can only be copied).
    req.headers.reserve(4);
    req.headers.emplace_back("content-type", "application/json");
    req.headers.emplace_back("webhook-id", request.external_id);
    req.headers.emplace_back("webhook-timestamp", std::to_string(ts));
    req.headers.emplace_back("webhook-signature", signer_.Sign(request.external_id, ts, req.body));
    http_.Send(std::move(req), [this, done = std::move(done)](transport::HttpResponse resp) {
      done(ClassifyWebhookAnswer(resp, clock_.NowMs()));
      Finished();
    });
  }

  // Stops taking sends and waits for those in flight (the shared HttpClient completes them).
  void Shutdown() override {
    std::unique_lock<std::mutex> l(mu_);
    stopping_ = true;
    idle_.wait(l, [this] { return in_flight_ == 0; });
  }

 private:
  void Finished() {
    std::lock_guard<std::mutex> l(mu_);
    if (--in_flight_ == 0) idle_.notify_all();
  }

  config::WebhookConfig config_;
  const Clock& clock_;
  transport::HttpClient& http_;
  WebhookSigner signer_;
  std::mutex mu_;
  std::condition_variable idle_;
  int in_flight_ = 0;      // GUARDED_BY(mu_)
  bool stopping_ = false;  // GUARDED_BY(mu_)
};

}  // namespace

Result<std::unique_ptr<Adapter>> MakeWebhookAdapter(const config::WebhookConfig& config,
                                                    const Clock& clock,
                                                    transport::HttpClient& http) {
  auto signer = WebhookSigner::Create(config.secret);
  if (!signer.ok()) return signer.status();
  return std::unique_ptr<Adapter>(
      std::make_unique<WebhookAdapter>(config, clock, http, std::move(signer.value())));
}

}  // namespace reach::adapters
