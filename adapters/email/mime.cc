#include "adapters/email/mime.h"

#include <ctime>

#include "common/crypto.h"

namespace reach::adapters::mime {
namespace {

bool IsAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

bool HasControl(std::string_view s) {
  for (unsigned char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return true;
  }
  return false;
}

// A plain addr-spec: local@domain, printable ASCII, none of the characters that would let it
// escape the header or the angle brackets.
bool IsAddrSpec(std::string_view a) {
  if (a.empty() || a.size() > 254) return false;
  size_t at = a.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == a.size()) return false;
  for (unsigned char c : a) {
    if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == ',' || c == '"' || c == '\\' ||
        c == '(' || c == ')' || c == ';' || c == ':') {
      return false;
    }
  }
  return true;
}

// Length of the UTF-8 sequence starting with `lead` (1 for stray continuation bytes).
size_t Utf8Len(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xe) return 3;
  if ((lead >> 3) == 0x1e) return 4;
  return 1;
}

std::string DisplayName(std::string_view name) {
  if (!IsAscii(name)) return EncodeWords(name, 6);  // "From: "
  bool special = false;
  for (char c : name) {
    if (std::string_view("()<>[]:;@\\,.\"").find(c) != std::string_view::npos) special = true;
  }
  if (!special) return std::string(name);
  std::string q = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}

void Part(std::string& out, std::string_view type, std::string_view body) {
  out += "Content-Type: ";
  out += type;
  out += "; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
  out += QuotedPrintable(body);
  out += "\r\n";
}

}  // namespace

std::string EncodeWords(std::string_view text, size_t first_line_used) {
  // "=?UTF-8?B?" + base64 + "?=": the first word shares its line with "Name: ", the others follow
  // a folding space; every line stays within 76 characters and every word within 75. The UTF-8
  // bytes per word are a multiple of 3 (no padding inside a word) and never split a character.
  auto max_bytes = [](size_t room) {
    size_t b64 = room > 12 ? room - 12 : 4;
    return std::max<size_t>(3, b64 / 4 * 3);
  };
  size_t limit = max_bytes(std::min<size_t>(75, 76 - std::min<size_t>(first_line_used, 60)));
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t end = i;
    while (end < text.size()) {
      size_t n = Utf8Len(static_cast<unsigned char>(text[end]));
      if (end + n - i > limit) break;
      end += n;
    }
    if (end == i) end = std::min(text.size(), i + Utf8Len(static_cast<unsigned char>(text[i])));
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?";
    out += crypto::Base64Encode(text.substr(i, end - i));
    out += "?=";
    i = end;
    limit = max_bytes(75);
  }
  return out;
}

std::string QuotedPrintable(std::string_view body) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(body.size() * 3 / 2 + 16);
  size_t line_len = 0;
  auto emit = [&](std::string_view piece) {
    if (line_len + piece.size() > 75) {  // leave room for the soft break's '='
      out += "=\r\n";
      line_len = 0;
    }
    out += piece;
    line_len += piece.size();
  };
  for (size_t i = 0; i < body.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(body[i]);
    if (c == '\r' && i + 1 < body.size() && body[i + 1] == '\n') continue;  // CRLF = LF
    if (c == '\n') {
      out += "\r\n";
      line_len = 0;
      continue;
    }
    bool at_line_end = i + 1 == body.size() || body[i + 1] == '\n' ||
                       (body[i + 1] == '\r' && i + 2 < body.size() && body[i + 2] == '\n');
    bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_line_end);
    // A '.' opening a line is legal (libcurl dot-stuffs it), but encoding it keeps the body
    // byte-identical through relays that mangle dots.
    if (c == '.' && line_len == 0) literal = false;
    if (literal) {
      char ch = static_cast<char>(c);
      emit(std::string_view(&ch, 1));
    } else {
      char enc[3] = {'=', kHex[c >> 4], kHex[c & 0xf]};
      emit(std::string_view(enc, 3));
    }
  }
  return out;
}

std::string FormatDate(int64_t unix_s) {
  time_t t = static_cast<time_t>(unix_s);
  struct tm tm;
  gmtime_r(&t, &tm);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday], tm.tm_mday,
           kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

Result<std::string> Build(const Email& e) {
  if (!IsAddrSpec(e.from_address)) {
    return Status::InvalidArgument("not a plain e-mail address", "from_address");
  }
  if (!IsAddrSpec(e.to_address)) return Status::InvalidArgument("not a plain e-mail address", "to");
  if (HasControl(e.from_name)) return Status::InvalidArgument("control character", "from_name");
  if (HasControl(e.subject)) return Status::InvalidArgument("control character", "subject");
  if (e.message_id.empty() || HasControl(e.message_id) || !IsAscii(e.message_id) ||
      e.message_id.find_first_of("<> ") != std::string::npos) {
    return Status::InvalidArgument("invalid Message-ID", "message_id");
  }
  if (HasControl(e.list_unsubscribe_url) || HasControl(e.list_unsubscribe_mailto) ||
      !IsAscii(e.list_unsubscribe_url) || !IsAscii(e.list_unsubscribe_mailto)) {
    return Status::InvalidArgument("control or non-ASCII character", "list_unsubscribe");
  }
  for (const auto& [k, v] : e.extra_headers) {
    if (HasControl(k) || HasControl(v) || !IsAscii(k) || !IsAscii(v) ||
        k.find(':') != std::string::npos) {
      return Status::InvalidArgument("invalid header " + k, "headers");
    }
  }
  if (e.text.empty() && e.html.empty()) {
    return Status::InvalidArgument("an e-mail needs a text or an html body", "text");
  }

  std::string out;
  out.reserve(e.text.size() + e.html.size() * 11 / 10 + 1024);
  out += "Date: " + FormatDate(e.date_s) + "\r\n";
  out += "From: ";
  if (!e.from_name.empty()) out += DisplayName(e.from_name) + " ";
  out += "<" + e.from_address + ">\r\n";
  out += "To: <" + e.to_address + ">\r\n";
  out += "Subject: ";
  out += IsAscii(e.subject) && e.subject.size() <= 900 ? e.subject : EncodeWords(e.subject, 9);
  out += "\r\n";
  out += "Message-ID: <" + e.message_id + ">\r\n";
  out += "MIME-Version: 1.0\r\n";
  bool https = e.list_unsubscribe_url.rfind("https://", 0) == 0;
  if (!e.list_unsubscribe_url.empty() || !e.list_unsubscribe_mailto.empty()) {
    out += "List-Unsubscribe: ";
    if (!e.list_unsubscribe_url.empty()) out += "<" + e.list_unsubscribe_url + ">";
    if (!e.list_unsubscribe_mailto.empty()) {
      if (!e.list_unsubscribe_url.empty()) out += ",\r\n ";
      out += "<mailto:" + e.list_unsubscribe_mailto + ">";
    }
    out += "\r\n";
    // RFC 8058 one-click needs an https URI.
    if (https) out += "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n";
  }
  for (const auto& [k, v] : e.extra_headers) out += k + ": " + v + "\r\n";

  if (e.text.empty() || e.html.empty()) {
    Part(out, e.text.empty() ? "text/html" : "text/plain", e.text.empty() ? e.html : e.text);
    return out;
  }
  // "=_" never appears in quoted-printable output ('=' is always followed by hex or CRLF), so
  // this boundary cannot occur inside a part.
  std::string boundary =
      e.boundary.empty() ? "=_reach_" + crypto::HexEncode(crypto::RandomBytes(12)) : e.boundary;
  out += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n";
  out += "--" + boundary + "\r\n";
  Part(out, "text/plain", e.text);
  out += "--" + boundary + "\r\n";
  Part(out, "text/html", e.html);
  out += "--" + boundary + "--\r\n";
  return out;
}

}  // namespace reach::adapters::mime
