#include "tests/sim/webhook_signature.h"

#include <charconv>

#include "common/crypto.h"

namespace reach::sim {
namespace {

constexpr std::string_view kSecretPrefix = "whsec_";

std::string SignedContent(std::string_view id, std::string_view timestamp, std::string_view body) {
  std::string content;
  content.reserve(id.size() + timestamp.size() + body.size() + 2);
  content.append(id).append(".").append(timestamp).append(".").append(body);
  return content;
}

}  // namespace

Result<WebhookVerifier> WebhookVerifier::Create(std::string_view secret, const Clock& clock,
                                                int64_t tolerance_s) {
  if (secret.substr(0, kSecretPrefix.size()) == kSecretPrefix) {
    secret.remove_prefix(kSecretPrefix.size());
  }
  if (secret.empty())
    return Status(StatusCode::kConfig, "webhook secret is empty", "webhook-secret");
  auto key = crypto::Base64Decode(secret);
  if (!key || key->empty()) {
    return Status(StatusCode::kConfig, "webhook secret is not whsec_<base64>", "webhook-secret");
  }
  return WebhookVerifier(std::move(*key), clock, tolerance_s);
}

std::string WebhookVerifier::Sign(std::string_view id, std::string_view timestamp,
                                  std::string_view body) const {
  return "v1," + crypto::Base64Encode(crypto::HmacSha256(key_, SignedContent(id, timestamp, body)));
}

Status WebhookVerifier::Verify(std::string_view id, std::string_view timestamp,
                               std::string_view signature_header, std::string_view body) const {
  if (id.empty()) return Status::InvalidArgument("missing webhook-id header", "webhook-id");
  if (timestamp.empty()) {
    return Status::InvalidArgument("missing webhook-timestamp header", "webhook-timestamp");
  }
  if (signature_header.empty()) {
    return Status::InvalidArgument("missing webhook-signature header", "webhook-signature");
  }
  int64_t ts = 0;
  auto [end, ec] = std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), ts);
  if (ec != std::errc() || end != timestamp.data() + timestamp.size()) {
    return Status::InvalidArgument("webhook-timestamp is not an integer", "webhook-timestamp");
  }
  const int64_t now_s = clock_->NowMs() / 1000;
  if (ts < now_s - tolerance_s_) {
    return Status::InvalidArgument("webhook-timestamp is too old", "webhook-timestamp");
  }
  if (ts > now_s + tolerance_s_) {
    return Status::InvalidArgument("webhook-timestamp is too new", "webhook-timestamp");
  }
  const std::string expected =
      crypto::Base64Encode(crypto::HmacSha256(key_, SignedContent(id, timestamp, body)));
  bool matched = false;
  size_t pos = 0;
  while (pos < signature_header.size()) {
    size_t sp = signature_header.find(' ', pos);
    if (sp == std::string_view::npos) sp = signature_header.size();
    std::string_view entry = signature_header.substr(pos, sp - pos);
    pos = sp + 1;
    size_t comma = entry.find(',');
    if (comma == std::string_view::npos || entry.substr(0, comma) != "v1") continue;
    // Check every entry (no early exit) so timing does not reveal which one matched.
    if (crypto::ConstantTimeEquals(entry.substr(comma + 1), expected)) matched = true;
  }
  if (!matched) {
    return Status::InvalidArgument("no matching v1 signature", "webhook-signature");
  }
  return Status::Ok();
}

}  // namespace reach::sim
