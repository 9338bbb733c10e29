#include "templates/sms_segments.h"

#include "templates/text_template.h"

namespace reach::templates {

int Gsm7Septets(char32_t cp) {
  if (cp < 0x80) {
    switch (cp) {
      case '^':
      case '{':
      case '}':
      case '\\':
      case '[':
      case ']':
      case '~':
      case '|':
      case '\f':
        return 2;
      case '`':
        return 0;
      default:
        return (cp >= 0x20 || cp == '\n' || cp == '\r') ? 1 : 0;
    }
  }
  switch (cp) {
    case 0x20AC:  // €
      return 2;
    case 0xA3:
    case 0xA5:
    case 0xE8:
    case 0xE9:
    case 0xF9:
    case 0xEC:
    case 0xF2:
    case 0xC7:
    case 0xD8:
    case 0xF8:
    case 0xC5:
    case 0xE5:
    case 0x394:
    case 0x3A6:
    case 0x393:
    case 0x39B:
    case 0x3A9:
    case 0x3A0:
    case 0x3A8:
    case 0x3A3:
    case 0x398:
    case 0x39E:
    case 0xC6:
    case 0xE6:
    case 0xDF:
    case 0xC9:
    case 0xA4:
    case 0xA1:
    case 0xC4:
    case 0xD6:
    case 0xD1:
    case 0xDC:
    case 0xA7:
    case 0xBF:
    case 0xE4:
    case 0xF6:
    case 0xF1:
    case 0xFC:
    case 0xE0:
      return 1;
    default:
      return 0;
  }
}

size_t SmsSegments(SmsEncoding encoding, size_t units) {
  if (units == 0) return 0;
  size_t single = encoding == SmsEncoding::kGsm7 ? 160 : 70;
  size_t multi = encoding == SmsEncoding::kGsm7 ? 153 : 67;
  return units <= single ? 1 : (units + multi - 1) / multi;
}

SmsCount CountSms(std::string_view utf8) {
  SmsCount c;
  size_t septets = 0;
  size_t utf16 = 0;
  bool gsm = true;
  for (size_t i = 0; i < utf8.size();) {
    uint32_t cp = NextCodePoint(utf8, &i);
    ++c.chars;
    utf16 += cp >= 0x10000 ? 2 : 1;
    if (gsm) {
      int s = Gsm7Septets(cp);
      if (s == 0) gsm = false;
      septets += s;
    }
  }
  c.encoding = gsm ? SmsEncoding::kGsm7 : SmsEncoding::kUcs2;
  c.units = gsm ? septets : utf16;
  c.segments = SmsSegments(c.encoding, c.units);
  return c;
}

const char* SmsEncodingName(SmsEncoding e) { return e == SmsEncoding::kGsm7 ? "GSM-7" : "UCS-2"; }

}  // namespace reach::templates
