// Masking of personal data for logs: phone numbers and e-mail addresses never appear in full.
#pragma once

#include <string>
#include <string_view>

namespace reach {

// "+8613800138000" -> "+86138****8000"; short numbers keep only the last two digits.
std::string MaskPhone(std::string_view phone);
// "li.lei@example.com" -> "l***@example.com".
std::string MaskEmail(std::string_view email);
// Masks whichever kind `address` looks like (contains '@' -> e-mail, else phone/opaque token).
std::string MaskAddress(std::string_view address);

}  // namespace reach
