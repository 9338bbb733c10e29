// Standard Webhooks (Svix) symmetric signatures: sign and verify.
//
// Signed content is "<webhook-id>.<webhook-timestamp>.<raw body>"; the signature is
// base64(HMAC-SHA256(key, content)) where key = base64-decode(secret without "whsec_").
// The webhook-signature header is a space-separated list of "v1,<base64>"; any match is accepted
// (key rotation), compared in constant time. Timestamps more than `tolerance_s` away from now, in
// either direction, are rejected. See shared/reference/providers-push-email.md section 7.2.
//
// Thread-safety: immutable after construction; Verify() may be called from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"

namespace reach::sim {

class WebhookVerifier final {
 public:
  static constexpr int64_t kDefaultToleranceS = 300;

  // `secret` is "whsec_<base64>" (the prefix is optional). Fails when the key does not decode.
  // `clock` must outlive the verifier.
  static Result<WebhookVerifier> Create(std::string_view secret, const Clock& clock,
                                        int64_t tolerance_s = kDefaultToleranceS);

  // Ok when `signature_header` holds a v1 signature of id.timestamp.body made with the key and
  // the timestamp is within tolerance. Otherwise kInvalidArgument with the reason; never throws.
  Status Verify(std::string_view id, std::string_view timestamp, std::string_view signature_header,
                std::string_view body) const;

  // "v1,<base64>" for id.timestamp.body with this verifier's key.
  std::string Sign(std::string_view id, std::string_view timestamp, std::string_view body) const;

 private:
  WebhookVerifier(std::string key, const Clock& clock, int64_t tolerance_s)
      : key_(std::move(key)), clock_(&clock), tolerance_s_(tolerance_s) {}

  std::string key_;  // raw HMAC key bytes
  const Clock* clock_;
  int64_t tolerance_s_;
};

}  // namespace reach::sim
