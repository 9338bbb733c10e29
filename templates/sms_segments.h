// SMS length and segment counting (3GPP TS 23.038 GSM 7-bit default alphabet vs UCS-2).
//
// GSM-7: 160 septets in one segment, 153 per segment when split; the extension characters
// ^ { } \ [ ] ~ | € and form feed take 2 septets. Any other character switches the whole
// message to UCS-2: 70 UTF-16 units in one segment, 67 per segment when split; characters
// outside the BMP (emoji) take 2 units. Mainland providers count 【signature】 + body and bill
// the same 70/67 rule (reference/providers-china.md section 7).
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string_view>

namespace reach::templates {

enum class SmsEncoding { kGsm7, kUcs2 };

struct SmsCount {
  SmsEncoding encoding = SmsEncoding::kGsm7;
  size_t chars = 0;     // code points
  size_t units = 0;     // GSM-7 septets or UTF-16 units
  size_t segments = 0;  // 0 for the empty text
};

SmsCount CountSms(std::string_view utf8);
// Segments for `units` in `encoding`.
size_t SmsSegments(SmsEncoding encoding, size_t units);
// GSM-7 septets for one code point: 1 (basic), 2 (extension) or 0 (not in GSM-7).
int Gsm7Septets(char32_t cp);
const char* SmsEncodingName(SmsEncoding e);  // "GSM-7" | "UCS-2"

}  // namespace reach::templates
