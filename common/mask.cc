#include "common/mask.h"

namespace reach {

std::string MaskPhone(std::string_view phone) {
  if (phone.size() <= 4) return std::string(phone.size(), '*');
  if (phone.size() < 9) {
    return std::string(phone.size() - 2, '*') + std::string(phone.substr(phone.size() - 2));
  }
  // Keep the first size-8 characters and the last 4; mask the 4 in between.
  size_t keep_head = phone.size() - 8;
  return std::string(phone.substr(0, keep_head)) + "****" +
         std::string(phone.substr(phone.size() - 4));
}

std::string MaskEmail(std::string_view email) {
  size_t at = email.rfind('@');
  if (at == std::string_view::npos || at == 0) return "***";
  return std::string(1, email[0]) + "***" + std::string(email.substr(at));
}

std::string MaskAddress(std::string_view address) {
  if (address.find('@') != std::string_view::npos) return MaskEmail(address);
  if (address.size() > 12 && address[0] != '+') {
    // Opaque tokens (push tokens, open ids): keep a short prefix only.
    return std::string(address.substr(0, 6)) + "…";
  }
  return MaskPhone(address);
}

}  // namespace reach
