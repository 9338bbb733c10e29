#include "adapters/email/smtp_adapter.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <vector>

#include "adapters/email/mime.h"
#include "adapters/email/smtp_pipelining.h"
#include "adapters/transport/curl_loop.h"
#include "common/crypto.h"

namespace reach::adapters {

namespace json = boost::json;

namespace {

// "5.1.1" from "550 5.1.1 User unknown" (or "550-5.1.1 ..."); empty when absent.
std::string EnhancedCode(std::string_view reply) {
  if (reply.size() < 5) return {};
  std::string_view rest = reply.substr(4);
  size_t end = rest.find(' ');
  std::string_view token = rest.substr(0, end);
  if (token.size() < 5 || (token[0] != '2' && token[0] != '4' && token[0] != '5') ||
      token[1] != '.') {
    return {};
  }
  for (char c : token) {
    if (!(c == '.' || (c >= '0' && c <= '9'))) return {};
  }
  return std::string(token);
}

}  // namespace

SendResult ClassifySmtpReply(CURLcode result, long reply_code, std::string_view last_reply) {
  SendResult out;
  out.provider = "smtp";
  std::string enhanced = EnhancedCode(last_reply);
  out.detail = std::string(last_reply.substr(0, 300));
  if (result == CURLE_ABORTED_BY_CALLBACK) {
    out.outcome = Outcome::kRetry;
    out.code = "shutdown";
    out.detail = "shutdown";
    return out;
  }
  switch (result) {
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      out.outcome = Outcome::kConfig;
      out.code = "tls";
      out.detail = curl_easy_strerror(result);
      return out;
    case CURLE_LOGIN_DENIED:
      out.outcome = Outcome::kConfig;
      out.code = reply_code ? std::to_string(reply_code) : "auth";
      if (!enhanced.empty()) out.code += " " + enhanced;
      if (out.detail.empty()) out.detail = "authentication failed";
      return out;
    default:
      break;
  }
  if (reply_code == 0 || (result != CURLE_OK && reply_code < 400)) {
    // No SMTP answer to classify: connect/resolve/timeout/dropped connection.
    out.outcome = Outcome::kRetry;
    out.code = "connection";
    out.detail = curl_easy_strerror(result);
    return out;
  }
  out.code = std::to_string(reply_code);
  if (!enhanced.empty()) out.code += " " + enhanced;
  const long c = reply_code;
  if (result == CURLE_OK && c >= 200 && c < 300) {
    out.outcome = Outcome::kSent;
    return out;
  }
  if (c >= 400 && c < 500) {
    bool rate = c == 421 || c == 452 || enhanced.rfind("4.7.", 0) == 0;
    out.outcome = rate ? Outcome::kThrottled : Outcome::kRetry;
    return out;
  }
  if (c == 530 || c == 534 || c == 535 || c == 538) {
    out.outcome = Outcome::kConfig;
    return out;
  }
  if (enhanced.rfind("5.1.", 0) == 0 || c == 551 || c == 553 || c == 521 || c == 556 ||
      (c == 550 && enhanced.rfind("5.7.", 0) != 0)) {
    out.outcome = Outcome::kRecipientInvalid;
    return out;
  }
  if (enhanced == "5.2.2") {  // mailbox full: a soft bounce
    out.outcome = Outcome::kRetry;
    return out;
  }
  out.outcome = Outcome::kPermanent;  // 500-504, 552, 554, 555, 5.7.x policy, ...
  return out;
}

namespace {

std::string Str(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace

Result<PreparedMail> PrepareMail(const config::SmtpConfig& config, const Clock& clock,
                                 const SendRequest& request) {
  if (request.to.email.empty()) return Status::InvalidArgument("missing recipient", "to.email");
  PreparedMail out;
  out.message_id = request.external_id + "." + crypto::HexEncode(crypto::RandomBytes(6)) + "@" +
                   config.message_id_domain;
  mime::Email e;
  e.from_address = config.from_address;
  e.from_name = config.from_name;
  e.to_address = request.to.email;
  e.subject = Str(request.content, "subject");
  e.text = Str(request.content, "text");
  e.html = Str(request.content, "html");
  e.message_id = out.message_id;
  e.date_s = clock.NowMs() / 1000;
  if (!config.list_unsubscribe_url.empty()) {
    e.list_unsubscribe_url = config.list_unsubscribe_url + request.external_id;
  }
  if (!config.list_unsubscribe_mailto.empty()) {
    e.list_unsubscribe_mailto = config.list_unsubscribe_mailto + "?subject=" + request.external_id;
  }
  e.extra_headers.emplace_back("X-Reach-Message-Id", request.external_id);
  Result<std::string> built = mime::Build(e);
  if (!built.ok()) return built.status();
  out.message = std::move(built.value());
  return out;
}

SendResult InvalidMessage(const Status& why) {
  SendResult r;
  r.provider = "smtp";
  r.outcome = Outcome::kPermanent;
  r.code = "invalid_message";
  r.detail = why.message() + " (" + why.field() + ")";
  return r;
}

namespace {

struct Transfer {
  std::string message;
  size_t offset = 0;
  std::string message_id;
  std::vector<std::string> replies;  // the server's last reply lines (bounded)
  curl_slist* rcpt = nullptr;
  SendCallback done;
  std::string external_id;
  int priority = 0;
  size_t loop = 0;  // the CurlLoop it runs on
  ~Transfer() { curl_slist_free_all(rcpt); }
};

size_t ReadMessage(char* buffer, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = std::min(size * n, t->message.size() - t->offset);
  memcpy(buffer, t->message.data() + t->offset, len);
  t->offset += len;
  return len;
}

int Debug(CURL*, curl_infotype type, char* data, size_t size, void* user) {
  if (type != CURLINFO_HEADER_IN) return 0;
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (t->replies.size() >= 16) t->replies.erase(t->replies.begin());
  t->replies.emplace_back(line.substr(0, 512));
  return 0;
}

class SmtpAdapter final : public Adapter {
 public:
  SmtpAdapter(const config::SmtpConfig& config, const Clock& clock)
      : config_(config), clock_(clock) {
    // The connections are split across `threads` loops; messages go round-robin.
    int loops = std::clamp(config.threads, 1, std::max(1, config.max_connections));
    per_loop_connections_ = (config.max_connections + loops - 1) / loops;
    for (int i = 0; i < loops; ++i) {
      loops_.push_back(std::make_unique<transport::CurlLoop>(
          transport::CurlLoopOptions{.name = "reach-smtp" + std::to_string(i),
                                     .max_total_connections = per_loop_connections_,
                                     .max_host_connections = per_loop_connections_,
                                     .max_concurrent_streams = 1,
                                     .max_connects_cache = per_loop_connections_}));
    }
    std::string url = config_.url;
    while (!url.empty() && url.back() == '/') url.pop_back();
    // tls: implicit means TLS from the first byte, whatever the scheme says: libcurl only does
    // that for smtps://, and would otherwise talk (and AUTH) in plain text.
    if (config_.tls == "implicit" && url.rfind("smtp://", 0) == 0) url.replace(0, 7, "smtps://");
    url_ = url + "/" + config_.ehlo_domain;  // the URL path is the EHLO argument
  }
  ~SmtpAdapter() override { Shutdown(); }

  std::string_view channel() const override { return "email"; }
  std::string_view provider() const override { return "smtp"; }

  void Send(SendRequest request, SendCallback done) override {
    auto t = std::make_unique<Transfer>();
    t->done = std::move(done);
    t->external_id = request.external_id;
    Result<PreparedMail> built = PrepareMail(config_, clock_, request);
    if (!built.ok()) {
      SendResult r = InvalidMessage(built.status());
      auto* raw = t.release();
      loops_[0]->Post([raw, r] {
        std::unique_ptr<Transfer> owned(raw);
        owned->done(r);
      });
      return;
    }
    t->message_id = std::move(built->message_id);
    t->message = std::move(built->message);
    t->rcpt = curl_slist_append(nullptr, ("<" + request.to.email + ">").c_str());
    t->priority = request.priority;
    t->loop = next_loop_.fetch_add(1) % loops_.size();
    Submit(t.release(), false);
  }

  void Shutdown() override {
    for (auto& l : loops_) l->Shutdown();
  }

 private:
  // Hands `raw` to its loop as a new libcurl transfer (on a new connection when `fresh`).
  void Submit(Transfer* raw, bool fresh) {
    CURL* easy = curl_easy_init();
    curl_easy_setopt(easy, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_MAIL_FROM, ("<" + config_.from_address + ">").c_str());
    curl_easy_setopt(easy, CURLOPT_MAIL_RCPT, raw->rcpt);
    curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(easy, CURLOPT_READFUNCTION, ReadMessage);
    curl_easy_setopt(easy, CURLOPT_READDATA, raw);
    curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(raw->message.size()));
    curl_easy_setopt(easy, CURLOPT_DEBUGFUNCTION, Debug);
    curl_easy_setopt(easy, CURLOPT_DEBUGDATA, raw);
    curl_easy_setopt(easy, CURLOPT_VERBOSE, 1L);  // feeds Debug(); nothing is printed
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.timeout_ms));
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min(config_.timeout_ms, 10000)));
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    // Idle connections are dropped after a minute and none is kept over 10 minutes.
    curl_easy_setopt(easy, CURLOPT_MAXAGE_CONN, 60L);
    curl_easy_setopt(easy, CURLOPT_MAXLIFETIME_CONN, 600L);
    if (config_.tls == "starttls") curl_easy_setopt(easy, CURLOPT_USE_SSL, CURLUSESSL_ALL);
    if (!config_.username.empty()) {
      curl_easy_setopt(easy, CURLOPT_USERNAME, config_.username.c_str());
      curl_easy_setopt(easy, CURLOPT_PASSWORD, config_.password.c_str());
    }
    if (!config_.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, config_.ca_file.c_str());
    if (!config_.verify_peer) {
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (fresh) curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
    // At most one transfer per SMTP session in libcurl at once; the rest wait in the loop's
    // queue, by priority.
    loops_[raw->loop]->Add(
        easy,
        [this, raw](CURL* e, CURLcode rc) {
          std::unique_ptr<Transfer> owned(raw);
          long code = 0, connects = 0;
          curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
          curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
          curl_easy_cleanup(e);
          // A kept-alive session the server had closed while idle, saying so first (postfix:
          // "421 4.4.2 ... Error: timeout exceeded"; RFC 3463 4.4.x: a connection problem):
          // libcurl's liveness check passes a session with unread input, so that line came back
          // as the reply to MAIL FROM. Nothing was taken: the message goes once more, on a new
          // connection (once: that one is new, connects is 1). A 421 for anything else (4.7.0
          // "try again later") is the answer.
          if (rc != CURLE_OK && code == 421 && connects == 0 && !owned->replies.empty() &&
              owned->replies.front().rfind("421", 0) == 0 &&
              EnhancedCode(owned->replies.front()).rfind("4.4.", 0) == 0) {
            owned->offset = 0;
            owned->replies.clear();
            return Submit(owned.release(), true);
          }
          // The reply that carries `code` (after a failure curl also logs its QUIT's "221 Bye").
          std::string prefix = std::to_string(code);
          std::string reply;
          for (auto it = owned->replies.rbegin(); it != owned->replies.rend(); ++it) {
            if (code != 0 && it->rfind(prefix, 0) == 0) {
              reply = *it;
              break;
            }
          }
          SendResult r = ClassifySmtpReply(rc, code, reply);
          if (r.outcome == Outcome::kSent) r.provider_message_id = "<" + owned->message_id + ">";
          owned->done(std::move(r));
        },
        "smtp", per_loop_connections_, raw->priority);
  }

  config::SmtpConfig config_;
  const Clock& clock_;
  std::string url_;
  int per_loop_connections_ = 1;
  std::vector<std::unique_ptr<transport::CurlLoop>> loops_;
  std::atomic<size_t> next_loop_{0};
};

}  // namespace

std::unique_ptr<Adapter> MakeSmtpAdapter(const config::SmtpConfig& config, const Clock& clock) {
  if (config.engine == "pipelining") return MakePipeliningSmtpAdapter(config, clock);
  return std::make_unique<SmtpAdapter>(config, clock);
}

}  // namespace reach::adapters
