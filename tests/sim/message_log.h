// What the SMTP sink received: the last N messages plus exact counters.
//
// Thread-safety: every method may be called from any thread (one mutex, held briefly).
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace reach::sim {

struct SmtpMessage {
  uint64_t seq = 0;         // 1-based, assigned by the log
  std::string queue_id;     // the id in "250 2.0.0 Ok: queued as <id>"
  std::string helo;         // the EHLO/HELO argument
  std::string auth_user;    // empty when the session did not authenticate
  std::string mail_from;    // the reverse-path without <>, empty for the null sender
  std::string mail_params;  // parameters after the reverse-path, e.g. "SIZE=244 BODY=8BITMIME"
  std::vector<std::string> rcpt_to;  // accepted recipients, without <>
  std::string data;                  // the message after un-dot-stuffing, line endings as received
  bool crlf_ok = true;               // every line ended with CRLF and no bare CR/LF occurred
  bool accepted = false;             // the end-of-data reply was 250
  std::string reply;                 // the end-of-data reply line sent
  int64_t received_at_ms = 0;
};

struct SmtpCounters {
  uint64_t connections = 0;
  uint64_t messages = 0;  // DATA transactions completed (accepted or not)
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  uint64_t recipients_accepted = 0;
  uint64_t recipients_rejected = 0;
  uint64_t auth_ok = 0;
  uint64_t auth_failed = 0;
  uint64_t faulted = 0;                  // replies shaped by an injected fault
  uint64_t pipelined = 0;                // commands that arrived behind another unanswered one
  std::map<unsigned, uint64_t> replies;  // reply code -> count, over every reply sent
};

class MessageLog final {
 public:
  explicit MessageLog(size_t keep_last) : keep_last_(keep_last) {}
  MessageLog(const MessageLog&) = delete;
  MessageLog& operator=(const MessageLog&) = delete;

  void Record(SmtpMessage m);  // Moves from m; also counts messages/accepted/rejected.
  // Bumps one counter under the lock. REQUIRES: `f` only touches the counters.
  template <typename F>
  void Count(F&& f) {
    std::lock_guard lock(mu_);
    f(counters_);
  }
  // The most recent `limit` messages (all kept ones when 0), oldest first.
  std::vector<SmtpMessage> Recent(size_t limit) const;
  SmtpCounters Counters() const;
  void Clear();

  static boost::json::value ToJson(const SmtpMessage& m);
  static boost::json::value ToJson(const SmtpCounters& c);

 private:
  const size_t keep_last_;
  mutable std::mutex mu_;
  std::vector<SmtpMessage> ring_;  // GUARDED_BY(mu_)
  size_t head_ = 0;                // GUARDED_BY(mu_)
  uint64_t seq_ = 0;               // GUARDED_BY(mu_)
  SmtpCounters counters_;          // GUARDED_BY(mu_)
};

}  // namespace reach::sim
