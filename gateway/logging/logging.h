// Logging setup (spdlog). Text or JSON lines on stderr. Delivery events are logged by their
// callers with the message id and a masked address; secrets are never passed to the logger.
//
// As a safety net, every line is scrubbed before it is written: whatever still looks like an
// e-mail address or a phone number (for example inside a provider's error reply, "550 <a@b.cn>:
// no such user") is masked the same way (common/mask.h). JSON lines carry "message_id" when the
// line is about one message ("message msg_42 sent ...").
//
// Thread-safety: Setup() from the main thread (at start and on reload); the logger itself is
// spdlog's thread-safe (_mt) logger. RedactPersonalData() and JsonEscape() are pure.
#pragma once

#include <string>
#include <string_view>

#include "config/config.h"

namespace reach::logging {

// Configures the default spdlog logger (stderr). Safe to call again on reload.
void Setup(const config::LogConfig& cfg);

// Masks e-mail addresses ("li.lei@example.com" -> "l***@example.com") and phone numbers
// ("+8613800138000" -> "+86138****8000", "13800138000" -> "138****8000") in free text.
// Already-masked text and message ids ("msg_13800138000") are left alone.
std::string RedactPersonalData(std::string_view text);

// Escapes a string for inclusion in a JSON log line.
std::string JsonEscape(const std::string& s);

}  // namespace reach::logging
