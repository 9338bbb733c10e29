#include "adapters/adapter.h"

namespace reach::adapters {

std::string_view OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kSent:
      return "sent";
    case Outcome::kRetry:
      return "retry";
    case Outcome::kThrottled:
      return "throttled";
    case Outcome::kRecipientInvalid:
      return "recipient_invalid";
    case Outcome::kPermanent:
      return "permanent";
    case Outcome::kConfig:
      return "config";
  }
  return "unknown";
}

}  // namespace reach::adapters
