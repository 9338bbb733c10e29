// Standard Webhooks signatures (the scheme Svix defined; spec: standard-webhooks.md).
//   signed content = "<webhook-id>.<webhook-timestamp>.<raw body>"
//   signature      = "v1," + base64(HMAC-SHA256(key, signed content))
//   key            = base64-decode(secret without its "whsec_" prefix)
//
// Thread-safety: immutable after Create(); safe to share.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace reach::adapters {

class WebhookSigner final {
 public:
  // `secret` is "whsec_<base64>" or the bare base64 key (the Standard Webhooks libraries accept
  // both). kInvalidArgument when it does not decode or the key is shorter than 16 bytes.
  static Result<WebhookSigner> Create(std::string_view secret);

  // "v1,<base64>" for this id, timestamp (Unix seconds) and exact body bytes.
  std::string Sign(std::string_view id, int64_t timestamp_s, std::string_view body) const;

  // Checks a `webhook-signature` header (space-separated "v1,<sig>" entries; any may match) and
  // the timestamp's distance from `now_s` (at most `tolerance_s` either way).
  // kFailedPrecondition naming what failed.
  Status Verify(std::string_view id, std::string_view timestamp, std::string_view body,
                std::string_view signature_header, int64_t now_s, int64_t tolerance_s = 300) const;

 private:
  explicit WebhookSigner(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

}  // namespace reach::adapters
