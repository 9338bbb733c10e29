// reach-load: the HTTP load generator behind `make bench` (scripts/bench.py). libcurl multi,
// one thread per multi handle (default one), keep-alive connections; no thread per request.
//
//   reach-load batch   --url http://H:P/v1/messages/batch --messages M --batch N --connections C
//                      --head '{"template":"welcome","channels":["webhook"],...}'
//                      --item '{"to":{"user_id":"u-{n}"}}'
//       POSTs batches of N items (the head's fields plus "messages":[items]) until M messages
//       were sent; counts the items committed (202, minus per-item errors).
//   reach-load single  --url http://H:P/v1/messages --connections 64 --duration-s D
//                      [--warmup-s W] --body '{...}'
//       POSTs one message per request for D seconds after W seconds of warm-up; req/s and
//       latency percentiles over the measured window.
//   reach-load webhook --url http://H:P/webhook/bench --messages M --connections C
//                      [--secret whsec_...]
//       The dispatch ceiling: the webhook POSTs reachd's dispatcher makes (Standard Webhooks
//       signature computed per message), with nothing else around them.
//
// In every body "{n}" is replaced by a running number. Prints one JSON object on stdout:
// {"mode","requests","ok","messages","errors","seconds","req_per_s","msg_per_s","p50_ms",
//  "p99_ms","p999_ms","max_ms","statuses":{"202":n,...},"last_error"}. Exit 0 if every request
// succeeded, 1 if some failed, 2 on bad arguments.
#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <cxxopts.hpp>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "adapters/webhook/signer.h"
#include "bench/load_driver.h"

namespace reach::bench {
namespace {

// A body template split at "{n}", so filling it is a few appends.
class BodyTemplate {
 public:
  explicit BodyTemplate(const std::string& text) {
    size_t start = 0;
    for (;;) {
      size_t at = text.find("{n}", start);
      if (at == std::string::npos) {
        parts_.push_back(text.substr(start));
        return;
      }
      parts_.push_back(text.substr(start, at - start));
      start = at + 3;
    }
  }
  void AppendTo(std::string& out, int64_t n) const {
    const std::string num = std::to_string(n);
    for (size_t i = 0; i < parts_.size(); ++i) {
      if (i > 0) out += num;
      out += parts_[i];
    }
  }

 private:
  std::vector<std::string> parts_;
};

size_t CountOf(const std::string& haystack, std::string_view needle) {
  size_t count = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++count;
  }
  return count;
}

// State shared by the sources of every thread.
struct Shared {
  std::atomic<int64_t> next{0};
  int64_t total = 0;
  int64_t start_us = 0;
  int64_t measure_from_us = 0;  // single mode: end of warm-up
  int64_t deadline_us = 0;      // single mode
};

// Per-thread tallies.
struct Tally {
  int64_t ok_requests = 0;
  int64_t messages = 0;  // committed (batch), accepted (single), answered 2xx (webhook)
  int64_t failed = 0;
  std::vector<uint32_t> latencies_us;
  int64_t last_done_us = 0;
  std::string last_failure;

  // One request that carried one message (single and webhook modes): a 2xx counts it.
  void RecordOne(int64_t now_us, const LoadResult& result) {
    last_done_us = now_us;
    latencies_us.push_back(static_cast<uint32_t>(result.latency_us));
    if (result.status >= 200 && result.status < 300) {
      ++ok_requests;
      ++messages;
    } else {
      ++failed;
      last_failure = result.status == 0 ? result.error : result.body->substr(0, 300);
    }
  }
};

class BatchSource final : public RequestSource {
 public:
  BatchSource(Shared& shared, std::string url, const std::string& head, const std::string& item,
              int64_t batch)
      : shared_(shared), url_(std::move(url)), item_(item), batch_(batch) {
    // The head is a JSON object; the items go in as its "messages" member.
    head_ = head.substr(0, head.rfind('}'));
    if (head_.find(':') != std::string::npos) head_ += ',';
    head_ += "\"messages\":[";
  }
  bool Next(LoadRequest& out) override {
    const int64_t first = shared_.next.fetch_add(batch_);
    if (first >= shared_.total) return false;
    const int64_t count = std::min(batch_, shared_.total - first);
    out.url = url_;
    out.items = count;
    out.body = head_;
    for (int64_t i = 0; i < count; ++i) {
      if (i > 0) out.body += ',';
      item_.AppendTo(out.body, first + i);
    }
    out.body += "]}";
    return true;
  }
  void Done(const LoadRequest& request, const LoadResult& result) override {
    tally.last_done_us = NowUs();
    tally.latencies_us.push_back(static_cast<uint32_t>(result.latency_us));
    if (result.status == 202) {
      ++tally.ok_requests;
      const int64_t errors = static_cast<int64_t>(CountOf(*result.body, "\"error\""));
      tally.messages += request.items - errors;
      tally.failed += errors;
      if (errors > 0) tally.last_failure = result.body->substr(0, 300);
    } else {
      tally.failed += request.items;
      tally.last_failure = result.status == 0 ? result.error : result.body->substr(0, 300);
    }
  }
  Tally tally;

 private:
  Shared& shared_;
  std::string url_;
  std::string head_;
  BodyTemplate item_;
  int64_t batch_;
};

class SingleSource final : public RequestSource {
 public:
  SingleSource(Shared& shared, std::string url, const std::string& body)
      : shared_(shared), url_(std::move(url)), body_(body) {}
  bool Next(LoadRequest& out) override {
    if (NowUs() >= shared_.deadline_us) return false;
    out.url = url_;
    out.body.clear();
    body_.AppendTo(out.body, shared_.next.fetch_add(1));
    return true;
  }
  void Done(const LoadRequest&, const LoadResult& result) override {
    const int64_t now = NowUs();
    // Requests that started before the end of warm-up are not measured.
    if (now - result.latency_us < shared_.measure_from_us) return;
    tally.RecordOne(now, result);
  }
  Tally tally;

 private:
  Shared& shared_;
  std::string url_;
  BodyTemplate body_;
};

// The POSTs reachd's webhook adapter makes: a JSON body signed the Standard Webhooks way.
class WebhookSource final : public RequestSource {
 public:
  // `signer`: nullopt sends unsigned requests.
  WebhookSource(Shared& shared, std::string url, std::optional<adapters::WebhookSigner> signer)
      : shared_(shared), url_(std::move(url)), signer_(std::move(signer)) {}
  bool Next(LoadRequest& out) override {
    const int64_t n = shared_.next.fetch_add(1);
    if (n >= shared_.total) return false;
    const std::string id = "msg_" + std::to_string(n + 1);
    const int64_t now_s = static_cast<int64_t>(std::time(nullptr));
    const std::string ts = std::to_string(now_s);
    out.url = url_;
    out.body = "{\"type\":\"message\",\"id\":\"" + id +
               "\",\"template\":\"welcome\",\"channel\":\"webhook\",\"category\":\"marketing\","
               "\"data\":{\"event\":\"user.welcome\",\"name\":\"李雷\",\"text\":\"欢迎, 李雷!\"},"
               "\"to\":{\"user_id\":\"u-" +
               std::to_string(n) + "\"},\"metadata\":{}}";
    out.headers.push_back("webhook-id: " + id);
    out.headers.push_back("webhook-timestamp: " + ts);
    if (signer_) out.headers.push_back("webhook-signature: " + signer_->Sign(id, now_s, out.body));
    return true;
  }
  void Done(const LoadRequest&, const LoadResult& result) override {
    tally.RecordOne(NowUs(), result);
  }
  Tally tally;

 private:
  Shared& shared_;
  std::string url_;
  std::optional<adapters::WebhookSigner> signer_;
};

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

int Main(int argc, char** argv) {
  cxxopts::Options cli("reach-load", "HTTP load generator for the Reach end-to-end benchmark");
  // clang-format off
  cli.add_options()
    ("mode", "batch | single | webhook", cxxopts::value<std::string>())
    ("url", "target URL", cxxopts::value<std::string>())
    ("connections", "keep-alive connections", cxxopts::value<int>()->default_value("64"))
    ("threads", "threads, one libcurl multi each; connections are split between them",
     cxxopts::value<int>()->default_value("1"))
    ("messages", "batch, webhook: messages to send", cxxopts::value<int64_t>()->default_value("100000"))
    ("batch", "batch: items per request", cxxopts::value<int64_t>()->default_value("1000"))
    ("head", "batch: the request's batch-level fields (a JSON object)",
     cxxopts::value<std::string>()->default_value(R"({"template":"welcome","channels":["webhook"]})"))
    ("item", "batch: one item; {n} is replaced by its number",
     cxxopts::value<std::string>()->default_value(R"({"to":{"user_id":"u-{n}"},"vars":{"name":"n{n}"}})"))
    ("body", "single: the request body; {n} is replaced by a running number",
     cxxopts::value<std::string>()->default_value(
         R"({"template":"welcome","channels":["webhook"],"to":{"user_id":"u-{n}"},"vars":{"name":"n{n}"}})"))
    ("duration-s", "single: seconds measured", cxxopts::value<double>()->default_value("30"))
    ("warmup-s", "single: seconds of load before measuring", cxxopts::value<double>()->default_value("1"))
    ("secret", "webhook: whsec_... signing secret (empty: unsigned)",
     cxxopts::value<std::string>()->default_value(""))
    ("timeout-ms", "per-request timeout", cxxopts::value<int64_t>()->default_value("60000"))
    ("h,help", "print this help");
  // clang-format on
  cli.parse_positional({"mode"});
  cxxopts::ParseResult args;
  try {
    args = cli.parse(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "reach-load: " << e.what() << "\n";
    return 2;
  }
  if (args.count("help") != 0 || args.count("mode") == 0 || args.count("url") == 0) {
    std::cerr << cli.help() << "\n";
    return args.count("help") != 0 ? 0 : 2;
  }
  const std::string mode = args["mode"].as<std::string>();
  const std::string url = args["url"].as<std::string>();
  const int connections = args["connections"].as<int>();
  const int threads = std::clamp(args["threads"].as<int>(), 1, std::max(1, connections));
  if (mode != "batch" && mode != "single" && mode != "webhook") {
    std::cerr << "reach-load: mode must be batch, single or webhook\n";
    return 2;
  }
  std::optional<adapters::WebhookSigner> signer;
  if (mode == "webhook" && !args["secret"].as<std::string>().empty()) {
    auto created = adapters::WebhookSigner::Create(args["secret"].as<std::string>());
    if (!created.ok()) {
      std::cerr << "reach-load: --secret: " << created.status().ToString() << "\n";
      return 2;
    }
    signer = std::move(created.value());
  }

  curl_global_init(CURL_GLOBAL_DEFAULT);
  Shared shared;
  shared.total = args["messages"].as<int64_t>();
  shared.start_us = NowUs();
  shared.measure_from_us =
      shared.start_us + static_cast<int64_t>(args["warmup-s"].as<double>() * 1e6);
  shared.deadline_us =
      shared.measure_from_us + static_cast<int64_t>(args["duration-s"].as<double>() * 1e6);
  if (mode != "single") shared.measure_from_us = shared.start_us;

  std::vector<std::unique_ptr<RequestSource>> sources;
  std::vector<Tally*> tallies;
  for (int t = 0; t < threads; ++t) {
    if (mode == "batch") {
      auto s = std::make_unique<BatchSource>(shared, url, args["head"].as<std::string>(),
                                             args["item"].as<std::string>(),
                                             std::max<int64_t>(1, args["batch"].as<int64_t>()));
      tallies.push_back(&s->tally);
      sources.push_back(std::move(s));
    } else if (mode == "single") {
      auto s = std::make_unique<SingleSource>(shared, url, args["body"].as<std::string>());
      tallies.push_back(&s->tally);
      sources.push_back(std::move(s));
    } else {
      auto s = std::make_unique<WebhookSource>(shared, url, signer);
      tallies.push_back(&s->tally);
      sources.push_back(std::move(s));
    }
  }
  std::vector<std::unique_ptr<LoadDriver>> drivers;
  std::map<long, int64_t> statuses;
  int64_t requests = 0;
  std::string last_error;
  {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      const int share = connections / threads + (t < connections % threads ? 1 : 0);
      drivers.push_back(std::make_unique<LoadDriver>(share, args["timeout-ms"].as<int64_t>()));
    }
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] { drivers[t]->Run(*sources[t]); });
    }
    for (auto& th : pool) th.join();
  }
  for (auto& d : drivers) {
    for (auto [status, n] : d->stats().statuses) statuses[status] += n;
    requests += d->stats().requests;
    if (!d->stats().last_error.empty()) last_error = d->stats().last_error;
  }
  Tally total;
  for (Tally* t : tallies) {
    total.ok_requests += t->ok_requests;
    total.messages += t->messages;
    total.failed += t->failed;
    total.last_done_us = std::max(total.last_done_us, t->last_done_us);
    total.latencies_us.insert(total.latencies_us.end(), t->latencies_us.begin(),
                              t->latencies_us.end());
    if (!t->last_failure.empty()) total.last_failure = t->last_failure;
  }
  if (last_error.empty()) last_error = total.last_failure;
  std::sort(total.latencies_us.begin(), total.latencies_us.end());
  const int64_t end_us = total.last_done_us > 0 ? total.last_done_us : NowUs();
  const double seconds = std::max(1e-6, static_cast<double>(end_us - shared.measure_from_us) / 1e6);
  const auto ms = [&](double p) { return Percentile(total.latencies_us, p) / 1000.0; };

  std::ostringstream out;
  out.precision(6);
  out << "{\"mode\":\"" << mode << "\",\"requests\":" << requests << ",\"ok\":" << total.ok_requests
      << ",\"messages\":" << total.messages << ",\"errors\":" << total.failed
      << ",\"seconds\":" << seconds
      << ",\"req_per_s\":" << static_cast<double>(total.ok_requests) / seconds
      << ",\"msg_per_s\":" << static_cast<double>(total.messages) / seconds
      << ",\"p50_ms\":" << ms(50) << ",\"p99_ms\":" << ms(99) << ",\"p999_ms\":" << ms(99.9)
      << ",\"max_ms\":" << ms(100) << ",\"statuses\":{";
  bool first = true;
  for (auto [status, n] : statuses) {
    out << (first ? "" : ",") << "\"" << status << "\":" << n;
    first = false;
  }
  out << "},\"last_error\":\"" << JsonEscape(last_error) << "\"}";
  std::cout << out.str() << std::endl;
  curl_global_cleanup();
  return total.failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace reach::bench

int main(int argc, char** argv) { return reach::bench::Main(argc, argv); }
