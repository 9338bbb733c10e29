// Builds the RFC 5322 / MIME text of one notification e-mail: CRLF line endings, no line over
// 998 octets, UTF-8 header text as RFC 2047 encoded-words (never splitting a character),
// quoted-printable bodies, multipart/alternative with text/plain first and text/html last, and the
// RFC 2369 / RFC 8058 List-Unsubscribe headers. Dot-stuffing is left to the SMTP client (libcurl
// stuffs lines that start with '.' and sends the final CRLF.CRLF).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace reach::adapters::mime {

struct Email {
  std::string from_address;  // addr-spec only
  std::string from_name;     // display name, UTF-8; may be empty
  std::string to_address;
  std::string subject;                  // UTF-8
  std::string text;                     // text/plain body (UTF-8); may be empty if html is set
  std::string html;                     // text/html body (UTF-8); may be empty if text is set
  std::string message_id;               // without angle brackets: "local@domain"
  int64_t date_s = 0;                   // Unix seconds, written as UTC
  std::string list_unsubscribe_url;     // full https URL (with its token); empty = none
  std::string list_unsubscribe_mailto;  // "unsub@example.com?subject=TOKEN"; empty = none
  std::vector<std::pair<std::string, std::string>> extra_headers;  // ASCII values
  std::string boundary;                                            // empty = a random one
};

// The complete message. kInvalidArgument (naming the field) for CR/LF or NUL in header fields,
// addresses that are not a plain addr-spec, or an e-mail with neither text nor html.
Result<std::string> Build(const Email& email);

// Header-value helpers, exposed for tests.
std::string EncodeWords(std::string_view text, size_t first_line_used);  // RFC 2047 B, folded
std::string QuotedPrintable(std::string_view body);  // CRLF line breaks, soft breaks at 76
std::string FormatDate(int64_t unix_s);              // "Tue, 24 Nov 2026 09:00:00 +0000"

}  // namespace reach::adapters::mime
