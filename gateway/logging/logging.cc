#include "gateway/logging/logging.h"

#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>

#include "common/mask.h"

namespace reach::logging {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsLocalPartChar(char c) {
  return IsAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}
bool IsDomainChar(char c) { return IsAlnum(c) || c == '.' || c == '-'; }
// A character that may sit right before a phone number: not part of a word or an id.
bool IsWordChar(char c) { return IsAlnum(c) || c == '_' || c == '-' || c == '/' || c == '.'; }

// A bare national number worth masking: a Chinese mobile number, with or without 86.
bool LooksLikeBareMobile(std::string_view digits) {
  if (digits.size() == 11) return digits[0] == '1' && digits[1] >= '3' && digits[1] <= '9';
  if (digits.size() == 13) {
    return digits.substr(0, 3) == "861" && digits[3] >= '3' && digits[3] <= '9';
  }
  return false;
}

std::string_view Payload(const spdlog::details::log_msg& msg) {
  return std::string_view(msg.payload.data(), msg.payload.size());
}

// "message msg_42 sent ..." -> "msg_42"; empty when the line is not about one message.
std::string_view MessageIdOf(std::string_view line) {
  constexpr std::string_view kPrefix = "message msg_";
  if (line.substr(0, kPrefix.size()) != kPrefix) return {};
  size_t end = kPrefix.size();
  while (end < line.size() && IsDigit(line[end])) ++end;
  if (end == kPrefix.size()) return {};
  return line.substr(8, end - 8);
}

// One JSON object per line: {"ts_ms":..., "level":..., "message_id":..., "msg":...}.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    using namespace std::chrono;
    auto ms = duration_cast<milliseconds>(msg.time.time_since_epoch()).count();
    auto level = spdlog::level::to_string_view(msg.level);
    std::string text = RedactPersonalData(Payload(msg));
    std::string line = "{\"ts_ms\":" + std::to_string(ms) + ",\"level\":\"" +
                       std::string(level.data(), level.size()) + "\"";
    if (std::string_view id = MessageIdOf(text); !id.empty()) {
      line += ",\"message_id\":\"" + std::string(id) + "\"";
    }
    line += ",\"msg\":\"" + JsonEscape(text) + "\"}\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

// The text pattern, applied to the scrubbed message.
class TextFormatter final : public spdlog::formatter {
 public:
  TextFormatter()
      : pattern_(std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%e%z %l %v")) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string text = RedactPersonalData(Payload(msg));
    spdlog::details::log_msg scrubbed = msg;
    scrubbed.payload = spdlog::string_view_t(text.data(), text.size());
    pattern_->format(scrubbed, dest);
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<TextFormatter>();
  }

 private:
  std::unique_ptr<spdlog::formatter> pattern_;
};

}  // namespace

void Setup(const config::LogConfig& cfg) {
  auto logger = spdlog::default_logger();
  if (!logger || logger->name() != "reachd") {
    logger = spdlog::stderr_logger_mt("reachd");
    spdlog::set_default_logger(logger);
  }
  if (cfg.format == "json") {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger->set_formatter(std::make_unique<TextFormatter>());
  }
  logger->set_level(spdlog::level::from_str(cfg.level));
  logger->flush_on(spdlog::level::warn);
}

std::string RedactPersonalData(std::string_view in) {
  // Fast path: most lines hold neither an '@' nor a long digit run.
  bool maybe = false;
  int run = 0;
  for (char c : in) {
    if (c == '@') {
      maybe = true;
      break;
    }
    run = IsDigit(c) ? run + 1 : 0;
    if (run >= 8) {
      maybe = true;
      break;
    }
  }
  if (!maybe) return std::string(in);

  std::string out;
  out.reserve(in.size());
  size_t copied = 0;  // in[0, copied) is in `out`
  size_t i = 0;
  while (i < in.size()) {
    char c = in[i];
    if (c == '@') {
      // Local part: back over what is still unwritten only (never into a masked part).
      size_t start = i;
      while (start > copied && IsLocalPartChar(in[start - 1])) --start;
      size_t end = i + 1;
      while (end < in.size() && IsDomainChar(in[end])) ++end;
      while (end > i + 1 && (in[end - 1] == '.' || in[end - 1] == '-')) --end;  // "a@b.cn."
      std::string_view domain = in.substr(i + 1, end - i - 1);
      if (start < i && domain.find('.') != std::string_view::npos && domain.front() != '.') {
        out.append(in.substr(copied, start - copied));
        out += MaskEmail(in.substr(start, end - start));
        copied = end;
        i = end;
        continue;
      }
      ++i;
      continue;
    }
    bool plus = c == '+' && i + 1 < in.size() && IsDigit(in[i + 1]);
    if ((plus || IsDigit(c)) && (i == 0 || !IsWordChar(in[i - 1]))) {
      size_t digits_start = plus ? i + 1 : i;
      size_t end = digits_start;
      while (end < in.size() && IsDigit(in[end])) ++end;
      // A number followed by '@' is an e-mail local part: masked as such below.
      bool bounded = end == in.size() || !(IsAlnum(in[end]) || in[end] == '_' || in[end] == '@');
      std::string_view digits = in.substr(digits_start, end - digits_start);
      bool phone = bounded &&
                   (plus ? digits.size() >= 8 && digits.size() <= 15 : LooksLikeBareMobile(digits));
      if (phone) {
        out.append(in.substr(copied, i - copied));
        out += MaskPhone(in.substr(i, end - i));
        copied = end;
      }
      i = end;
      continue;
    }
    ++i;
  }
  out.append(in.substr(copied));
  return out;
}

std::string JsonEscape(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

}  // namespace reach::logging
