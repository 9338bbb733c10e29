#include "common/status.h"

namespace reach {

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string out;
  switch (code_) {
    case StatusCode::kOk:
      out = "ok";
      break;
    case StatusCode::kInvalidArgument:
      out = "invalid_argument";
      break;
    case StatusCode::kNotFound:
      out = "not_found";
      break;
    case StatusCode::kConflict:
      out = "conflict";
      break;
    case StatusCode::kPayloadTooLarge:
      out = "payload_too_large";
      break;
    case StatusCode::kUnavailable:
      out = "unavailable";
      break;
    case StatusCode::kFailedPrecondition:
      out = "failed_precondition";
      break;
    case StatusCode::kInternal:
      out = "internal";
      break;
    case StatusCode::kConfig:
      out = "config";
      break;
  }
  out += ": ";
  if (!field_.empty()) out += field_ + ": ";
  out += message_;
  return out;
}

}  // namespace reach
