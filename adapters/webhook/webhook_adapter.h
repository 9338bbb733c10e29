// The `webhook` channel: a signed JSON POST to the receiver's URL (Standard Webhooks).
//
// Request: POST <to.webhook_url, else config.url>, headers content-type: application/json,
// webhook-id (the message id, "msg_N": constant across retries, so the receiver can dedupe),
// webhook-timestamp (Unix seconds of this attempt), webhook-signature ("v1,<base64>"), and this
// body (stable, documented in the README):
//   {"type": "message", "id": "msg_N", "timestamp": "<RFC 3339, this attempt>",
//    "data": {"channel": "webhook", "category": ..., "locale": ..., "attempt": N,
//             "to": {"user_id": ...}, "body": <the template's rendered body>,
//             "metadata": {<the request's metadata>}}}
//
// Outcome by answer (ClassifyWebhookAnswer, one table): 2xx sent; 410 recipient_invalid (the
// endpoint is gone); 429, 502, 504 throttled (Retry-After honoured); 408, 500, 503 and other 5xx
// retry; 401, 403 config (the receiver rejects our signature or secret); 3xx and other 4xx
// permanent (redirects are not followed); connection/timeout errors retry; TLS errors config.
//
// Thread-safety: Send() from any thread. The HttpClient is shared and outlives the adapter.
#pragma once

#include <memory>

#include "adapters/adapter.h"
#include "adapters/transport/http_client.h"
#include "common/clock.h"
#include "common/status.h"
#include "config/config.h"

namespace reach::adapters {

// Maps one HTTP answer (or transport failure) to a SendResult. `now_ms` for Retry-After dates.
SendResult ClassifyWebhookAnswer(const transport::HttpResponse& response, int64_t now_ms);

// kInvalidArgument (field "secret") when config.secret is not a valid Standard Webhooks secret.
Result<std::unique_ptr<Adapter>> MakeWebhookAdapter(const config::WebhookConfig& config,
                                                    const Clock& clock,
                                                    transport::HttpClient& http);

}  // namespace reach::adapters
