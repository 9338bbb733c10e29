#include "tests/sim/fault_table.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>

namespace reach::sim {
namespace json = boost::json;
namespace {

constexpr int kMaxDelayMs = 10 * 60 * 1000;

std::optional<int64_t> AsInt(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return static_cast<int64_t>(v.get_uint64());
  }
  if (v.is_double()) {
    double d = v.get_double();
    if (d == static_cast<double>(static_cast<int64_t>(d))) return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

std::optional<double> AsDouble(const json::value& v) {
  if (v.is_double()) return v.get_double();
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return std::nullopt;
}

// Reads the fields every rule has. Returns a non-ok status naming the field on error.
Status ReadCommon(const json::object& o, int& delay_ms, int64_t& remaining, double& probability) {
  if (auto it = o.find("delay_ms"); it != o.end()) {
    auto n = AsInt(it->value());
    if (!n || *n < 0 || *n > kMaxDelayMs) {
      return Status::InvalidArgument("must be an integer 0..600000", "delay_ms");
    }
    delay_ms = static_cast<int>(*n);
  }
  if (auto it = o.find("count"); it != o.end()) {
    auto n = AsInt(it->value());
    if (!n || *n < 1) return Status::InvalidArgument("must be an integer >= 1", "count");
    remaining = *n;
  }
  if (auto it = o.find("probability"); it != o.end()) {
    auto p = AsDouble(it->value());
    if (!p || *p < 0.0 || *p > 1.0) {
      return Status::InvalidArgument("must be a number 0..1", "probability");
    }
    probability = *p;
  }
  return Status::Ok();
}

Status CheckKeys(const json::object& o, std::initializer_list<std::string_view> allowed) {
  for (const auto& kv : o) {
    if (std::find(allowed.begin(), allowed.end(), kv.key()) == allowed.end()) {
      return Status::InvalidArgument("unknown key", std::string(kv.key()));
    }
  }
  return Status::Ok();
}

Result<std::string> GetString(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end()) return std::string();
  if (!it->value().is_string())
    return Status::InvalidArgument("must be a string", std::string(key));
  return std::string(it->value().get_string());
}

bool IsReplyLine(std::string_view s) {
  if (s.size() < 3) return false;
  if (s[0] < '2' || s[0] > '5') return false;
  if (!std::isdigit(static_cast<unsigned char>(s[1])) ||
      !std::isdigit(static_cast<unsigned char>(s[2]))) {
    return false;
  }
  if (s.size() > 3 && s[3] != ' ') return false;
  return s.find_first_of("\r\n") == std::string_view::npos && s.size() <= 510;
}

Result<Fault> ParseSmtp(const json::object& o) {
  if (Status st = CheckKeys(o, {"endpoint", "command", "reply", "match", "delay_ms", "close",
                                "count", "probability"});
      !st.ok()) {
    return st;
  }
  SmtpFault f;
  auto command = GetString(o, "command");
  if (!command.ok()) return command.status();
  f.command = *command;
  std::transform(f.command.begin(), f.command.end(), f.command.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  static constexpr std::string_view kCommands[] = {
      "CONNECT", "EHLO", "HELO", "AUTH", "MAIL", "RCPT", "DATA", ".", "RSET", "NOOP", "QUIT"};
  if (std::find(std::begin(kCommands), std::end(kCommands), f.command) == std::end(kCommands)) {
    return Status::InvalidArgument(
        "must be one of CONNECT, EHLO, HELO, AUTH, MAIL, RCPT, DATA, ., RSET, NOOP, QUIT",
        "command");
  }
  auto reply = GetString(o, "reply");
  if (!reply.ok()) return reply.status();
  f.reply = *reply;
  if (!f.reply.empty() && !IsReplyLine(f.reply)) {
    return Status::InvalidArgument("must be a reply line such as \"550 5.1.1 User unknown\"",
                                   "reply");
  }
  auto match = GetString(o, "match");
  if (!match.ok()) return match.status();
  f.match = *match;
  if (auto it = o.find("close"); it != o.end()) {
    if (!it->value().is_bool()) return Status::InvalidArgument("must be a boolean", "close");
    f.close = it->value().get_bool();
  }
  if (f.reply.compare(0, 3, "421") == 0) f.close = true;
  if (Status st = ReadCommon(o, f.delay_ms, f.remaining, f.probability); !st.ok()) return st;
  if (f.reply.empty() && f.delay_ms == 0 && !f.close) {
    return Status::InvalidArgument("an smtp fault needs reply, delay_ms or close", "reply");
  }
  return Fault(std::move(f));
}

Result<Fault> ParseHttp(const json::object& o, std::string endpoint) {
  if (Status st = CheckKeys(o, {"endpoint", "status", "body", "content_type", "retry_after_s",
                                "delay_ms", "drop", "count", "probability"});
      !st.ok()) {
    return st;
  }
  HttpFault f;
  f.endpoint = std::move(endpoint);
  if (auto it = o.find("status"); it != o.end()) {
    auto n = AsInt(it->value());
    if (!n || *n < 100 || *n > 599) {
      return Status::InvalidArgument("must be an integer 100..599", "status");
    }
    f.status = static_cast<unsigned>(*n);
  }
  auto body = GetString(o, "body");
  if (!body.ok()) return body.status();
  f.body = *body;
  if (auto it = o.find("content_type"); it != o.end()) {
    auto ct = GetString(o, "content_type");
    if (!ct.ok()) return ct.status();
    f.content_type = *ct;
    if (f.content_type.empty() || f.content_type.find_first_of("\r\n") != std::string::npos) {
      return Status::InvalidArgument("must be a non-empty header value", "content_type");
    }
  }
  if (auto it = o.find("retry_after_s"); it != o.end()) {
    auto n = AsInt(it->value());
    if (!n || *n < 0 || *n > 86400 * 365) {
      return Status::InvalidArgument("must be an integer >= 0", "retry_after_s");
    }
    f.retry_after_s = static_cast<int>(*n);
    if (f.status == 0) f.status = 429;
  }
  if (auto it = o.find("drop"); it != o.end()) {
    if (!it->value().is_bool()) return Status::InvalidArgument("must be a boolean", "drop");
    f.drop = it->value().get_bool();
  }
  if (Status st = ReadCommon(o, f.delay_ms, f.remaining, f.probability); !st.ok()) return st;
  if (f.status == 0 && !f.drop && f.delay_ms == 0) {
    return Status::InvalidArgument("a fault needs status, retry_after_s, delay_ms or drop",
                                   "status");
  }
  return Fault(std::move(f));
}

bool Matches(const std::string& match, const std::vector<std::string_view>& subjects) {
  if (match.empty()) return true;
  return std::any_of(subjects.begin(), subjects.end(),
                     [&](std::string_view s) { return s.find(match) != std::string_view::npos; });
}

}  // namespace

FaultTable::FaultTable(uint64_t seed) : rng_(seed) {}

Result<Fault> FaultTable::Parse(const json::value& v) {
  if (!v.is_object()) return Status::InvalidArgument("a fault must be a JSON object");
  const json::object& o = v.get_object();
  auto endpoint = GetString(o, "endpoint");
  if (!endpoint.ok()) return endpoint.status();
  if (endpoint->empty()) return Status::InvalidArgument("missing", "endpoint");
  if (*endpoint == "smtp") return ParseSmtp(o);
  return ParseHttp(o, std::move(*endpoint));
}

uint64_t FaultTable::Add(Fault f) {
  std::lock_guard lock(mu_);
  uint64_t id = next_id_++;
  if (auto* h = std::get_if<HttpFault>(&f)) {
    h->id = id;
    http_.push_back(std::move(*h));
    http_count_.store(http_.size(), std::memory_order_release);
  } else {
    auto& s = std::get<SmtpFault>(f);
    s.id = id;
    smtp_.push_back(std::move(s));
    smtp_count_.store(smtp_.size(), std::memory_order_release);
  }
  return id;
}

bool FaultTable::Draw(double probability) {
  if (probability >= 1.0) return true;
  if (probability <= 0.0) return false;
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < probability;
}

std::optional<HttpFault> FaultTable::TakeHttp(std::string_view endpoint) {
  if (http_count_.load(std::memory_order_acquire) == 0) return std::nullopt;
  std::lock_guard lock(mu_);
  for (auto it = http_.begin(); it != http_.end(); ++it) {
    if (it->endpoint != endpoint || !Draw(it->probability)) continue;
    HttpFault out = *it;
    if (it->remaining > 0 && --it->remaining == 0) {
      http_.erase(it);
      http_count_.store(http_.size(), std::memory_order_release);
    }
    return out;
  }
  return std::nullopt;
}

std::optional<SmtpFault> FaultTable::TakeSmtp(std::string_view command,
                                              const std::vector<std::string_view>& subjects) {
  if (smtp_count_.load(std::memory_order_acquire) == 0) return std::nullopt;
  std::lock_guard lock(mu_);
  for (auto it = smtp_.begin(); it != smtp_.end(); ++it) {
    if (it->command != command || !Matches(it->match, subjects) || !Draw(it->probability)) {
      continue;
    }
    SmtpFault out = *it;
    if (it->remaining > 0 && --it->remaining == 0) {
      smtp_.erase(it);
      smtp_count_.store(smtp_.size(), std::memory_order_release);
    }
    return out;
  }
  return std::nullopt;
}

size_t FaultTable::Clear(std::string_view endpoint) {
  std::lock_guard lock(mu_);
  size_t removed = 0;
  if (endpoint.empty() || endpoint == "smtp") {
    removed += smtp_.size();
    smtp_.clear();
  }
  if (endpoint.empty()) {
    removed += http_.size();
    http_.clear();
  } else {
    removed += std::erase_if(http_, [&](const HttpFault& f) { return f.endpoint == endpoint; });
  }
  http_count_.store(http_.size(), std::memory_order_release);
  smtp_count_.store(smtp_.size(), std::memory_order_release);
  return removed;
}

json::value FaultTable::ToJson(const Fault& f) {
  json::object o;
  auto count = [](int64_t remaining) -> json::value {
    if (remaining < 0) return nullptr;
    return remaining;
  };
  if (const auto* h = std::get_if<HttpFault>(&f)) {
    o["id"] = h->id;
    o["endpoint"] = h->endpoint;
    o["status"] = h->status;
    o["body"] = h->body;
    o["content_type"] = h->content_type;
    if (h->retry_after_s >= 0) {
      o["retry_after_s"] = h->retry_after_s;
    } else {
      o["retry_after_s"] = nullptr;
    }
    o["delay_ms"] = h->delay_ms;
    o["drop"] = h->drop;
    o["count"] = count(h->remaining);
    o["probability"] = h->probability;
  } else {
    const auto& s = std::get<SmtpFault>(f);
    o["id"] = s.id;
    o["endpoint"] = "smtp";
    o["command"] = s.command;
    o["reply"] = s.reply;
    o["match"] = s.match;
    o["delay_ms"] = s.delay_ms;
    o["close"] = s.close;
    o["count"] = count(s.remaining);
    o["probability"] = s.probability;
  }
  return o;
}

json::value FaultTable::ToJson() const {
  std::lock_guard lock(mu_);
  json::array a;
  for (const auto& f : http_) a.push_back(ToJson(Fault(f)));
  for (const auto& f : smtp_) a.push_back(ToJson(Fault(f)));
  return a;
}

}  // namespace reach::sim
