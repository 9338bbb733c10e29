// The channel adapter interface that every provider implements.
//
// Contract:
//  - Send() never blocks: it starts the request and returns. `done` is called exactly once, on the
//    adapter's own I/O thread (never inside Send()), with the outcome. The caller must not assume
//    anything about which thread; it posts the result back to its own owner.
//  - Send() may be called from any thread, concurrently.
//  - The adapter owns its connections, access-token caches and HTTP/2 sessions; they outlive single
//    messages and are reused across them.
//  - Shutdown() stops taking new sends, and completes every send still in flight with kRetry
//    (detail "shutdown") or with its real outcome, before returning. After Shutdown() returns, no
//    `done` is called any more.
//  - Errors are values: a provider's error code maps to an Outcome in one table per provider.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace reach::adapters {

// What happens next after an attempt. Decided by the adapter from the provider's answer.
enum class Outcome {
  kSent,              // the provider accepted the message
  kRetry,             // transient: try the same channel again later (backoff)
  kThrottled,         // provider rate limit: retry later, slow down (honour retry_after_ms)
  kRecipientInvalid,  // permanent for this recipient (dead token, unknown mailbox): next channel
  kPermanent,         // permanent for this message (request rejected as is): next channel
  kConfig,            // credentials/config wrong: alert the operator; message retried later
};

std::string_view OutcomeName(Outcome o);

// The addresses a message may carry (API `to` object). Empty string = absent.
struct Recipient {
  std::string user_id;
  std::string phone;
  std::string email;
  std::string wechat_openid;
  std::string miniprogram_openid;
  std::string wecom_userid;
  std::string apns_token;
  std::string fcm_token;
  std::string jpush_registration_id;
  std::string webhook_url;
};

struct SendRequest {
  int64_t message_id = 0;   // store's id
  std::string external_id;  // the API id ("msg_...")
  std::string channel;      // "email", "webhook", ...
  int attempt = 1;          // 1-based attempt number on this channel
  std::string category;     // otp | transactional | marketing
  int priority = 5;         // 0..9, higher first: order among sends waiting for a connection
  std::string locale;
  Recipient to;
  // The rendered content for this channel, as produced by the template engine:
  //   email:   {"subject": str, "text": str, "html": str}
  //   webhook: {"body": <any JSON value>}
  //   other channels: see templates/ (each adapter documents the keys it reads).
  boost::json::object content;
  boost::json::object metadata;  // the request's metadata, passed through
};

// Per-recipient outcome for providers that take several recipients in one call.
struct RecipientResult {
  std::string address;
  Outcome outcome = Outcome::kSent;
  std::string provider_message_id;
  std::string code;
  std::string detail;
};

struct SendResult {
  Outcome outcome = Outcome::kRetry;
  std::string provider;             // e.g. "smtp", "webhook", "aliyun"
  std::string provider_message_id;  // e.g. SMTP Message-ID, provider's BizId
  std::string code;                 // provider's code, e.g. "550", "5.1.1", "isv.BUSINESS_LIMIT"
  std::string detail;               // provider's message text (never secrets)
  std::optional<int64_t> retry_after_ms;    // provider asked us to wait (Retry-After)
  std::vector<RecipientResult> recipients;  // only for multi-recipient sends
};

using SendCallback = std::function<void(SendResult)>;

class Adapter {
 public:
  virtual ~Adapter() = default;
  virtual std::string_view channel() const = 0;   // "email"
  virtual std::string_view provider() const = 0;  // "smtp"
  virtual void Send(SendRequest request, SendCallback done) = 0;
  virtual void Shutdown() = 0;
};

}  // namespace reach::adapters
