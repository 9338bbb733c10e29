#include "adapters/webhook/signer.h"

#include <charconv>
#include <cstdlib>

#include "common/crypto.h"

namespace reach::adapters {

Result<WebhookSigner> WebhookSigner::Create(std::string_view secret) {
  constexpr std::string_view kPrefix = "whsec_";
  if (secret.substr(0, kPrefix.size()) == kPrefix) secret.remove_prefix(kPrefix.size());
  if (secret.empty()) return Status::InvalidArgument("webhook secret is empty", "secret");
  auto key = crypto::Base64Decode(secret);
  if (!key) return Status::InvalidArgument("webhook secret is not base64 after whsec_", "secret");
  if (key->size() < 16) {
    return Status::InvalidArgument("webhook secret is shorter than 16 bytes", "secret");
  }
  return WebhookSigner(std::move(*key));
}

std::string WebhookSigner::Sign(std::string_view id, int64_t timestamp_s,
                                std::string_view body) const {
  std::string content;
  content.reserve(id.size() + body.size() + 24);
  content.append(id).append(".").append(std::to_string(timestamp_s)).append(".").append(body);
  return "v1," + crypto::Base64Encode(crypto::HmacSha256(key_, content));
}

Status WebhookSigner::Verify(std::string_view id, std::string_view timestamp, std::string_view body,
                             std::string_view signature_header, int64_t now_s,
                             int64_t tolerance_s) const {
  int64_t ts = 0;
  auto [p, ec] = std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), ts);
  if (ec != std::errc() || p != timestamp.data() + timestamp.size()) {
    return Status::FailedPrecondition("webhook-timestamp is not a number");
  }
  if (std::llabs(now_s - ts) > tolerance_s) {
    return Status::FailedPrecondition("webhook-timestamp is outside the tolerance");
  }
  std::string expected = Sign(id, ts, body);
  std::string_view rest = signature_header;
  while (!rest.empty()) {
    size_t sp = rest.find(' ');
    std::string_view one = rest.substr(0, sp);
    if (one.substr(0, 3) == "v1," && crypto::ConstantTimeEquals(one, expected)) return Status::Ok();
    if (sp == std::string_view::npos) break;
    rest.remove_prefix(sp + 1);
  }
  return Status::FailedPrecondition("no webhook-signature matches");
}

}  // namespace reach::adapters
