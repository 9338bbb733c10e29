// Misbehaviour to inject, per endpoint: set over the control API (POST /_sim/faults) or --fault.
//
// Rules are kept in the order they were added. For each request (or SMTP command) the first rule
// of that endpoint that matches and wins its probability draw is applied; a rule with a count is
// removed once it has been applied `count` times.
//
// Thread-safety: every method may be called from any thread (one mutex; an atomic rule count
// keeps the no-fault hot path lock-free).
#pragma once

#include <atomic>
#include <boost/json/value.hpp>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"

namespace reach::sim {

struct HttpFault {
  uint64_t id = 0;
  std::string endpoint;  // "webhook", ... (an HTTP endpoint name)
  unsigned status = 0;   // 0: answer as the endpoint would (useful with delay_ms)
  std::string body;      // empty: a JSON error body naming the status
  std::string content_type = "application/json";
  int retry_after_s = -1;  // >= 0: send Retry-After (implies status 429 when status is 0)
  int delay_ms = 0;        // wait this long (on a timer) before answering or dropping
  bool drop = false;       // close the connection without answering
  int64_t remaining = -1;  // applications left; -1: unlimited
  double probability = 1.0;
};

struct SmtpFault {
  uint64_t id = 0;
  // CONNECT (greeting), EHLO, HELO, AUTH, MAIL, RCPT, DATA, "." (end of data), RSET, NOOP, QUIT.
  std::string command;
  std::string reply;   // full reply line without CRLF, e.g. "550 5.1.1 User unknown"; empty: normal
  std::string match;   // applies only when the subject contains this (RCPT: the recipient;
                       // MAIL: the sender; DATA and ".": any recipient; others: the argument)
  int delay_ms = 0;    // wait before replying
  bool close = false;  // close after the reply (always true for 421)
  int64_t remaining = -1;
  double probability = 1.0;
};

using Fault = std::variant<HttpFault, SmtpFault>;

class FaultTable final {
 public:
  explicit FaultTable(uint64_t seed);
  FaultTable(const FaultTable&) = delete;
  FaultTable& operator=(const FaultTable&) = delete;

  // Parses {"endpoint":"webhook","status":503,"retry_after_s":2,"delay_ms":0,"drop":false,
  // "count":3,"probability":1.0,"body":"...","content_type":"..."} or
  // {"endpoint":"smtp","command":"RCPT","reply":"550 5.1.1 User unknown","match":"bounce@",
  //  "delay_ms":0,"close":false,"count":1,"probability":1.0}. Unknown keys are errors.
  static Result<Fault> Parse(const boost::json::value& v);

  // Stores the rule and returns its id (> 0).
  uint64_t Add(Fault f);

  // The rule to apply to the next request of `endpoint`, if any (consumes one count).
  std::optional<HttpFault> TakeHttp(std::string_view endpoint);
  // The rule to apply to `command`, if any; `subjects` are the strings `match` is checked against.
  std::optional<SmtpFault> TakeSmtp(std::string_view command,
                                    const std::vector<std::string_view>& subjects);

  // Removes every rule of `endpoint` (all rules when empty); returns how many were removed.
  size_t Clear(std::string_view endpoint = {});
  boost::json::value ToJson() const;

  static boost::json::value ToJson(const Fault& f);

 private:
  bool Draw(double probability);  // REQUIRES: mu_ held

  mutable std::mutex mu_;
  std::vector<HttpFault> http_;  // GUARDED_BY(mu_)
  std::vector<SmtpFault> smtp_;  // GUARDED_BY(mu_)
  std::mt19937_64 rng_;          // GUARDED_BY(mu_)
  uint64_t next_id_ = 1;         // GUARDED_BY(mu_)
  std::atomic<size_t> http_count_{0};
  std::atomic<size_t> smtp_count_{0};
};

}  // namespace reach::sim
