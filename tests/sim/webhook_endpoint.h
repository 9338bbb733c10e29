// Fake receiver of our outbound status webhooks: POST /webhook/<name> (any name).
//
// Checks what a Standard Webhooks receiver checks: with a secret, the webhook-id,
// webhook-timestamp and webhook-signature headers must be present and valid (else 401 with a JSON
// error); the body must be JSON (else 400). A valid request gets 200 {"ok":true}. Without a
// secret, unsigned requests are accepted and recorded with verified=false. Non-POST gets 405.
//
// Thread-safety: stateless after construction; Handle() may run on any thread.
#pragma once

#include <optional>

#include "tests/sim/http_endpoint.h"
#include "tests/sim/webhook_signature.h"

namespace reach::sim {

class WebhookEndpoint final : public HttpEndpoint {
 public:
  // nullopt: no secret configured, signatures are not required.
  explicit WebhookEndpoint(std::optional<WebhookVerifier> verifier)
      : verifier_(std::move(verifier)) {}

  std::string_view Name() const override { return "webhook"; }
  HttpReply Handle(const HttpRequest& req) override;

 private:
  const std::optional<WebhookVerifier> verifier_;
};

}  // namespace reach::sim
