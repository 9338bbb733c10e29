#include "tests/sim/message_log.h"

#include <algorithm>
#include <boost/json.hpp>

namespace reach::sim {

void MessageLog::Record(SmtpMessage m) {
  std::lock_guard lock(mu_);
  ++counters_.messages;
  if (m.accepted) {
    ++counters_.accepted;
  } else {
    ++counters_.rejected;
  }
  m.seq = ++seq_;
  if (keep_last_ == 0) return;
  if (ring_.size() < keep_last_) {
    ring_.push_back(std::move(m));
  } else {
    ring_[head_] = std::move(m);
    head_ = (head_ + 1) % keep_last_;
  }
}

std::vector<SmtpMessage> MessageLog::Recent(size_t limit) const {
  std::lock_guard lock(mu_);
  const size_t n = ring_.size();
  const size_t take = (limit == 0 || limit > n) ? n : limit;
  std::vector<SmtpMessage> out;
  out.reserve(take);
  for (size_t k = take; k > 0; --k) out.push_back(ring_[(head_ + n - k) % n]);
  return out;
}

SmtpCounters MessageLog::Counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

void MessageLog::Clear() {
  std::lock_guard lock(mu_);
  ring_.clear();
  head_ = 0;
  counters_ = {};
}

boost::json::value MessageLog::ToJson(const SmtpMessage& m) {
  boost::json::object o;
  o["seq"] = m.seq;
  o["queue_id"] = m.queue_id;
  o["helo"] = m.helo;
  o["auth_user"] = m.auth_user;
  o["mail_from"] = m.mail_from;
  o["mail_params"] = m.mail_params;
  boost::json::array rcpts;
  for (const auto& r : m.rcpt_to) rcpts.emplace_back(r);
  o["rcpt_to"] = std::move(rcpts);
  o["data"] = m.data;
  o["size"] = m.data.size();
  o["crlf_ok"] = m.crlf_ok;
  o["accepted"] = m.accepted;
  o["reply"] = m.reply;
  o["received_at"] = m.received_at_ms;
  return o;
}

boost::json::value MessageLog::ToJson(const SmtpCounters& c) {
  boost::json::object replies;
  for (const auto& [code, n] : c.replies) replies[std::to_string(code)] = n;
  boost::json::object o;
  o["connections"] = c.connections;
  o["received"] = c.messages;
  o["accepted"] = c.accepted;
  o["rejected"] = c.rejected;
  o["recipients_accepted"] = c.recipients_accepted;
  o["recipients_rejected"] = c.recipients_rejected;
  o["auth_ok"] = c.auth_ok;
  o["auth_failed"] = c.auth_failed;
  o["faulted"] = c.faulted;
  o["pipelined"] = c.pipelined;
  o["replies"] = std::move(replies);
  return o;
}

}  // namespace reach::sim
