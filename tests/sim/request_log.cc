#include "tests/sim/request_log.h"

#include <algorithm>
#include <boost/json.hpp>

namespace reach::sim {

RequestLog::RequestLog(size_t keep_last) : keep_last_(keep_last) {}

void RequestLog::AddEndpoint(const std::string& endpoint) {
  std::lock_guard lock(map_mu_);
  auto& slot = channels_[endpoint];
  if (!slot) slot = std::make_unique<Channel>();
}

RequestLog::Channel* RequestLog::Find(const std::string& endpoint) const {
  std::lock_guard lock(map_mu_);
  auto it = channels_.find(endpoint);
  return it == channels_.end() ? nullptr : it->second.get();
}

bool RequestLog::HasEndpoint(const std::string& endpoint) const {
  return Find(endpoint) != nullptr;
}

void RequestLog::Record(const std::string& endpoint, RecordedRequest r) {
  Channel* ch = Find(endpoint);
  if (ch == nullptr) {
    AddEndpoint(endpoint);
    ch = Find(endpoint);
  }
  std::lock_guard lock(ch->mu);
  EndpointCounters& c = ch->counters;
  ++c.received;
  if (r.dropped) {
    ++c.dropped;
  } else {
    ++c.answered[r.status];
  }
  if (r.verified.value_or(false)) {
    ++c.verified;
  } else {
    ++c.unverified;
  }
  if (r.fault_id != 0) ++c.faulted;
  r.seq = ++ch->seq;
  if (keep_last_ == 0) return;
  if (ch->ring.size() < keep_last_) {
    ch->ring.push_back(std::move(r));
  } else {
    // Overwriting in place reuses the slot's string capacity: no allocation in the steady state
    // for bodies and headers of similar size.
    ch->ring[ch->head] = std::move(r);
    ch->head = (ch->head + 1) % keep_last_;
  }
}

std::vector<RecordedRequest> RequestLog::Recent(const std::string& endpoint, size_t limit,
                                                const std::string& path_prefix) const {
  std::vector<RecordedRequest> out;
  Channel* ch = Find(endpoint);
  if (ch == nullptr) return out;
  std::lock_guard lock(ch->mu);
  const size_t n = ch->ring.size();
  // Walk newest to oldest, then reverse, so `limit` keeps the most recent matches.
  for (size_t k = 0; k < n; ++k) {
    size_t idx = (ch->head + n - 1 - k) % n;
    const RecordedRequest& r = ch->ring[idx];
    if (!path_prefix.empty() && r.target.compare(0, path_prefix.size(), path_prefix) != 0) {
      continue;
    }
    out.push_back(r);
    if (limit != 0 && out.size() >= limit) break;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::map<std::string, EndpointCounters> RequestLog::Counters() const {
  std::map<std::string, EndpointCounters> out;
  std::lock_guard lock(map_mu_);
  for (const auto& [name, ch] : channels_) {
    std::lock_guard ch_lock(ch->mu);
    out[name] = ch->counters;
  }
  return out;
}

void RequestLog::Clear() {
  std::lock_guard lock(map_mu_);
  for (auto& [name, ch] : channels_) {
    std::lock_guard ch_lock(ch->mu);
    ch->ring.clear();
    ch->head = 0;
    ch->counters = {};
  }
}

boost::json::value RequestLog::ToJson(const RecordedRequest& r) {
  boost::json::object headers;
  std::string_view rest = r.headers;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    size_t colon = line.find(": ");
    if (colon == std::string_view::npos) continue;
    std::string_view k = line.substr(0, colon);
    std::string_view v = line.substr(colon + 2);
    auto it = headers.find(k);
    if (it == headers.end()) {
      headers.emplace(k, v);
    } else {
      // Repeated header: join the values the way HTTP allows for list-valued fields.
      std::string joined(it->value().as_string());
      joined += ", ";
      joined += v;
      it->value() = joined;
    }
  }
  boost::json::object o;
  o["seq"] = r.seq;
  o["method"] = r.method;
  o["path"] = r.target;
  o["headers"] = std::move(headers);
  o["body"] = r.body;
  if (r.verified.has_value()) {
    o["verified"] = *r.verified;
  } else {
    o["verified"] = nullptr;
  }
  o["received_at"] = r.received_at_ms;
  o["status"] = r.status;
  o["dropped"] = r.dropped;
  o["delay_ms"] = r.delay_ms;
  if (r.fault_id == 0) {
    o["fault"] = nullptr;
  } else {
    o["fault"] = r.fault_id;
  }
  return o;
}

boost::json::value RequestLog::ToJson(const EndpointCounters& c) {
  boost::json::object answered;
  for (const auto& [status, n] : c.answered) answered[std::to_string(status)] = n;
  boost::json::object o;
  o["received"] = c.received;
  o["answered"] = std::move(answered);
  o["dropped"] = c.dropped;
  o["verified"] = c.verified;
  o["unverified"] = c.unverified;
  o["faulted"] = c.faulted;
  return o;
}

}  // namespace reach::sim
