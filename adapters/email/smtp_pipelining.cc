#include "adapters/email/smtp_pipelining.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <chrono>
#include <functional>
#include <future>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "adapters/email/smtp_adapter.h"
#include "adapters/transport/tls_client.h"
#include "common/crypto.h"

namespace reach::adapters {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using ErrorCode = boost::system::error_code;
using Steady = std::chrono::steady_clock;

// A connection unused this long is closed rather than reused (libcurl's CURLOPT_MAXAGE_CONN, as
// the curl engine sets it): servers drop idle sessions, typically after a few minutes.
constexpr auto kMaxIdle = std::chrono::seconds(60);

struct Reply {
  int code = 0;
  std::string line;                // the last line, CRLF removed ("250 2.0.0 Ok")
  std::vector<std::string> lines;  // every line's text after the code (EHLO's extensions)
};

struct Job {
  std::string rcpt;
  std::string data;  // dot-stuffed, ending "\r\n.\r\n"
  std::string message_id;
  SendCallback done;
  bool resent = false;  // already sent once more after a kept-alive connection dropped it
};

SendResult ShutdownResult() {
  SendResult r;
  r.provider = "smtp";
  r.outcome = Outcome::kRetry;
  r.code = "shutdown";
  r.detail = "shutdown";
  return r;
}

SendResult ConnectionFailed(CURLcode why) { return ClassifySmtpReply(why, 0, ""); }

// A TLS failure: classified as libcurl's `why` would be (a configuration error, code "tls"), with
// what went wrong added to the detail.
SendResult TlsFailed(CURLcode why, const std::string& what) {
  SendResult r = ClassifySmtpReply(why, 0, "");
  r.detail += ": " + what;
  return r;
}

// Where the sessions go, and how (the adapter's; read-only once the loops run).
struct Peer {
  std::string host, port;
  bool ip_literal = false;
  // For tls: starttls or implicit. Mutable: each session's SSL object is made from it (SSL_new,
  // safe from the loops' threads at once), which Asio's stream takes as non-const.
  mutable std::optional<net::ssl::context> tls;
  std::string tls_error;  // why the CA bundle could not be read
};

// Whether the reply to envelope command `step` (0 MAIL, 1 RCPT, 2 DATA) lets the message go on.
bool Accepted(size_t step, const Reply& r) { return step == 2 ? r.code == 354 : r.code / 100 == 2; }

class Loop;

// One SMTP session. Everything runs on its loop's thread.
class Conn : public std::enable_shared_from_this<Conn> {
 public:
  Conn(Loop& loop, net::io_context& io) : loop_(loop), socket_(io), timer_(io), resolver_(io) {}

  void Start();
  void Run(std::unique_ptr<Job> job);
  void Close();
  bool ready() const { return ready_ && !busy_ && !closed_; }  // set up, idle
  bool opening() const { return !ready_ && !closed_; }         // being set up
  // An idle session with nothing unread: a server closing an idle session may say so first
  // ("421 4.4.2 Timeout"), and that line must not be read as the next MAIL's reply. Over TLS
  // an unread line is still in the socket as a record (or already in `in_`).
  bool Quiet() {
    ErrorCode ec;
    return in_.size() == 0 && socket_.available(ec) == 0 && !ec;
  }
  Steady::time_point last_used() const { return last_used_; }
  bool reused() const { return reused_; }  // it has carried a transaction
  // The job in flight, taken out (shutdown).
  std::unique_ptr<Job> TakeJob() { return std::move(job_); }

 private:
  using ReplyHandler = std::function<void(Reply)>;

  void Arm(std::chrono::milliseconds after);
  void Write(std::string text, std::function<void()> next);
  void ReadReply(ReplyHandler next);
  void ReadLine(std::shared_ptr<Reply> partial, ReplyHandler next);
  template <typename F>
  void WithStream(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(socket_);
    }
  }
  void Fail(CURLcode why);  // the connection is lost or timed out
  void SetupFailed(const Reply& reply, CURLcode why);
  void SetupFailed(SendResult result);
  void Handshake(std::function<void()> next);
  void Greeted(const Reply& reply);
  void Hello();
  void StartTls();
  void Authenticate();
  void Ready();
  void Envelope(size_t step);
  void OnEnvelopeReply(size_t step, Reply reply);
  void Decide(size_t last);
  void Done(SendResult result);
  void Reset();

  Loop& loop_;
  tcp::socket socket_;
  std::optional<net::ssl::stream<tcp::socket&>> tls_;  // once TLS is on (implicit or STARTTLS)
  net::steady_timer timer_;
  tcp::resolver resolver_;
  net::streambuf in_{64 * 1024};  // a longer line than this fails the session
  std::string out_;
  std::unique_ptr<Job> job_;
  Reply replies_[3];  // MAIL, RCPT, DATA
  bool pipelining_ = false;
  bool starttls_ = false;  // the server offers STARTTLS
  bool ready_ = false;
  bool closed_ = false;
  bool timed_out_ = false;
  bool busy_ = false;              // from Run until the session is ready again (after RSET, say)
  bool reused_ = false;            // the session carried a transaction before this one
  bool got_reply_ = false;         // the transaction in flight had a reply
  uint64_t generation_ = 0;        // bumped by each Arm, so a stale timer does nothing
  std::vector<std::string> auth_;  // mechanisms the server offers
  Steady::time_point last_used_ = Steady::now();
};

class Loop {
 public:
  // `config` and `peer` must outlive the loop (the adapter's).
  Loop(const config::SmtpConfig& config, const Peer& peer, int max_connections,
       const std::string& name)
      : config_(config),
        peer_(peer),
        max_connections_(max_connections),
        work_(net::make_work_guard(io_)) {
    thread_ = std::thread([this, name] {
      pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
      io_.run();
    });
  }
  ~Loop() { Shutdown(); }

  void Add(std::unique_ptr<Job> job, int priority) {
    net::post(io_, [this, job = std::move(job), priority]() mutable {
      if (stopping_) {
        job->done(ShutdownResult());
        return;
      }
      waiting_.emplace(std::make_pair(-priority, seq_++), std::move(job));
      Pump();
    });
  }

  // Answers `done` later on this loop's thread (never inside the caller).
  void Post(std::function<void()> fn) { net::post(io_, std::move(fn)); }

  void Shutdown() {
    if (!thread_.joinable()) return;
    std::promise<void> drained;
    net::post(io_, [this, &drained] {
      stopping_ = true;
      for (auto& c : conns_) {
        if (auto job = c->TakeJob()) job->done(ShutdownResult());
        c->Close();
      }
      conns_.clear();
      for (auto& [key, job] : waiting_) job->done(ShutdownResult());
      waiting_.clear();
      drained.set_value();
    });
    drained.get_future().wait();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  const config::SmtpConfig& config() const { return config_; }
  const Peer& peer() const { return peer_; }

  // Conn callbacks (loop thread).
  void Idle() { Pump(); }
  // The session is gone with `job` in flight (or none): the job is answered with `result`, or
  // sent again first thing on another session when `resend`.
  void Lost(Conn* c, std::unique_ptr<Job> job, SendResult result, bool resend) {
    Forget(c);
    if (job && resend && !stopping_) {
      job->resent = true;
      waiting_.emplace(std::make_pair(std::numeric_limits<int>::min(), seq_++), std::move(job));
    } else if (job) {
      job->done(std::move(result));
    }
    Pump();
  }
  // A session could not be set up (refused, timed out, greeting or AUTH rejected): the message
  // waiting longest fails with why, as its libcurl transfer would; the next one tries anew.
  void SetupFailed(Conn* c, SendResult result) {
    Forget(c);
    if (!waiting_.empty() && !stopping_) {
      auto first = waiting_.begin();
      std::unique_ptr<Job> failed = std::move(first->second);
      waiting_.erase(first);
      failed->done(std::move(result));
    }
    Pump();
  }
  // The session was closed with nothing in flight (an RSET refused).
  void Dropped(Conn* c) {
    Forget(c);
    Pump();
  }

 private:
  void Forget(Conn* c) {
    for (auto it = conns_.begin(); it != conns_.end(); ++it) {
      if (it->get() == c) {
        conns_.erase(it);
        return;
      }
    }
  }

  void Pump() {
    if (stopping_) return;
    auto now = Steady::now();
    for (size_t i = 0; i < conns_.size() && !waiting_.empty();) {
      auto& c = conns_[i];
      if (!c->ready()) {
        ++i;
        continue;
      }
      // Unread input is looked for only on a session that has carried a transaction: a new one
      // has just been read to the end of its last setup reply, and closing it for a stray byte
      // would open the next, and so on.
      if (now - c->last_used() > kMaxIdle || (c->reused() && !c->Quiet())) {
        c->Close();
        conns_.erase(conns_.begin() + static_cast<long>(i));
        continue;
      }
      auto first = waiting_.begin();
      std::unique_ptr<Job> job = std::move(first->second);
      waiting_.erase(first);
      c->Run(std::move(job));
      ++i;
    }
    // Sessions being set up take the next waiting messages when they are ready.
    size_t opening = 0;
    for (auto& c : conns_) {
      if (c->opening()) ++opening;
    }
    while (waiting_.size() > opening && static_cast<int>(conns_.size()) < max_connections_) {
      auto c = std::make_shared<Conn>(*this, io_);
      conns_.push_back(c);
      ++opening;
      c->Start();
    }
  }

  const config::SmtpConfig& config_;
  const Peer& peer_;
  int max_connections_;
  net::io_context io_{1};
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::thread thread_;
  // Loop-thread state.
  std::multimap<std::pair<int, uint64_t>, std::unique_ptr<Job>> waiting_;  // priority, then age
  std::vector<std::shared_ptr<Conn>> conns_;
  uint64_t seq_ = 0;
  bool stopping_ = false;
};

void Conn::Arm(std::chrono::milliseconds after) {
  uint64_t gen = ++generation_;
  timer_.expires_after(after);
  timer_.async_wait([self = shared_from_this(), gen](ErrorCode ec) {
    if (ec || gen != self->generation_ || self->closed_) return;
    self->timed_out_ = true;
    ErrorCode ignored;
    self->socket_.close(ignored);  // the pending read or write fails; Fail() reports the timeout
  });
}

void Conn::Close() {
  if (closed_) return;
  closed_ = true;
  ++generation_;
  timer_.cancel();
  ErrorCode ignored;
  socket_.close(ignored);
  resolver_.cancel();
}

void Conn::Write(std::string text, std::function<void()> next) {
  out_ = std::move(text);
  WithStream([&](auto& stream) {
    net::async_write(stream, net::buffer(out_),
                     [self = shared_from_this(), next = std::move(next)](ErrorCode ec, size_t) {
                       if (self->closed_) return;
                       if (ec) return self->Fail(CURLE_SEND_ERROR);
                       next();
                     });
  });
}

void Conn::ReadReply(ReplyHandler next) { ReadLine(std::make_shared<Reply>(), std::move(next)); }

void Conn::ReadLine(std::shared_ptr<Reply> partial, ReplyHandler next) {
  auto on_line = [self = shared_from_this(), partial, next = std::move(next)](ErrorCode ec,
                                                                              size_t n) mutable {
    if (self->closed_) return;
    if (ec) return self->Fail(CURLE_RECV_ERROR);
    std::string line(static_cast<const char*>(self->in_.data().data()), n - 2);
    self->in_.consume(n);
    int code = 0;
    if (line.size() < 3 || !std::isdigit(static_cast<unsigned char>(line[0])) ||
        !std::isdigit(static_cast<unsigned char>(line[1])) ||
        !std::isdigit(static_cast<unsigned char>(line[2])) ||
        (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
      return self->Fail(CURLE_WEIRD_SERVER_REPLY);
    }
    code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (partial->code != 0 && partial->code != code) {
      return self->Fail(CURLE_WEIRD_SERVER_REPLY);
    }
    partial->code = code;
    partial->lines.push_back(line.size() > 4 ? line.substr(4) : std::string());
    bool more = line.size() > 3 && line[3] == '-';
    partial->line = std::move(line);
    if (partial->lines.size() > 256) return self->Fail(CURLE_WEIRD_SERVER_REPLY);
    if (more) return self->ReadLine(partial, std::move(next));
    next(std::move(*partial));
  };
  WithStream([&](auto& stream) { net::async_read_until(stream, in_, "\r\n", std::move(on_line)); });
}

void Conn::Fail(CURLcode why) {
  if (closed_) return;
  const CURLcode reason = timed_out_ ? CURLE_OPERATION_TIMEDOUT : why;
  if (job_) {
    // A pipelined command was refused and the server then closed (421 does): the refusal is
    // the answer, not the closed connection.
    for (size_t step = 0; step < 3; ++step) {
      const Reply& r = replies_[step];
      if (r.code != 0 && !Accepted(step, r)) {
        SendResult refused = ClassifySmtpReply(CURLE_SEND_ERROR, r.code, r.line);
        Close();
        return loop_.Lost(this, std::move(job_), std::move(refused), false);
      }
    }
  }
  // A kept-alive session the server had dropped before answering anything of this transaction:
  // the message is sent once more on a new session (libcurl does the same).
  const bool resend = job_ && reused_ && !got_reply_ && !timed_out_ && !job_->resent;
  const bool setting_up = !ready_;
  Close();
  if (setting_up) return loop_.SetupFailed(this, ConnectionFailed(reason));
  loop_.Lost(this, std::move(job_), ConnectionFailed(reason), resend);
}

void Conn::SetupFailed(const Reply& reply, CURLcode why) {
  SetupFailed(ClassifySmtpReply(why, reply.code, reply.line));
}

void Conn::SetupFailed(SendResult result) {
  if (closed_) return;
  Close();
  loop_.SetupFailed(this, std::move(result));
}

// TLS over the connected socket, then `next`. The certificate is checked against the trust store
// and the URL's host (verify_peer), as libcurl does.
void Conn::Handshake(std::function<void()> next) {
  const Peer& peer = loop_.peer();
  tls_.emplace(socket_, *peer.tls);
  transport::SetUpTlsClientConnection(tls_->native_handle(), peer.host, peer.ip_literal,
                                      loop_.config().verify_peer);
  tls_->async_handshake(net::ssl::stream_base::client, [self = shared_from_this(),
                                                        next = std::move(next)](ErrorCode ec) {
    if (self->closed_) return;
    if (!ec) return next();
    if (self->timed_out_) return self->Fail(CURLE_OPERATION_TIMEDOUT);
    const bool unverified = SSL_get_verify_result(self->tls_->native_handle()) != X509_V_OK;
    self->SetupFailed(
        TlsFailed(unverified ? CURLE_PEER_FAILED_VERIFICATION : CURLE_SSL_CONNECT_ERROR,
                  "TLS handshake: " + ec.message()));
  });
}

void Conn::Start() {
  const Peer& peer = loop_.peer();
  if (peer.tls && !peer.tls_error.empty()) {
    // Answered from the loop, not inside Pump (which would start the next session at once).
    net::post(socket_.get_executor(), [self = shared_from_this()] {
      self->SetupFailed(TlsFailed(CURLE_SSL_CACERT_BADFILE, self->loop_.peer().tls_error));
    });
    return;
  }
  Arm(std::chrono::milliseconds(std::min(loop_.config().timeout_ms, 10000)));
  resolver_.async_resolve(
      peer.host, peer.port,
      [self = shared_from_this()](ErrorCode ec, tcp::resolver::results_type results) {
        if (self->closed_) return;
        if (ec) return self->Fail(CURLE_COULDNT_RESOLVE_HOST);
        net::async_connect(self->socket_, results, [self](ErrorCode ec, const tcp::endpoint&) {
          if (self->closed_) return;
          if (ec) return self->Fail(CURLE_COULDNT_CONNECT);
          ErrorCode ignored;
          self->socket_.set_option(tcp::no_delay(true), ignored);
          self->Arm(std::chrono::milliseconds(self->loop_.config().timeout_ms));
          auto greeting = [self] {
            self->ReadReply([self](Reply greeting) { self->Greeted(greeting); });
          };
          if (self->loop_.config().tls == "implicit") return self->Handshake(greeting);
          greeting();
        });
      });
}

void Conn::Greeted(const Reply& greeting) {
  if (greeting.code != 220) return SetupFailed(greeting, CURLE_WEIRD_SERVER_REPLY);
  Hello();
}

// EHLO, and what the server offers; after STARTTLS it is asked again (RFC 3207 4.2: what it
// said in plaintext no longer counts).
void Conn::Hello() {
  pipelining_ = starttls_ = false;
  auth_.clear();
  Write("EHLO " + loop_.config().ehlo_domain + "\r\n", [self = shared_from_this()] {
    self->ReadReply([self](Reply ehlo) {
      if (ehlo.code != 250) return self->SetupFailed(ehlo, CURLE_WEIRD_SERVER_REPLY);
      for (size_t i = 1; i < ehlo.lines.size(); ++i) {  // the first line is the greeting name
        std::string ext = ehlo.lines[i];
        for (char& ch : ext) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        if (ext == "PIPELINING") self->pipelining_ = true;
        if (ext == "STARTTLS") self->starttls_ = true;
        if (ext.rfind("AUTH ", 0) == 0 || ext.rfind("AUTH=", 0) == 0) {
          size_t pos = 5;
          while (pos < ext.size()) {
            size_t end = ext.find(' ', pos);
            if (end == std::string::npos) end = ext.size();
            if (end > pos) self->auth_.push_back(ext.substr(pos, end - pos));
            pos = end + 1;
          }
        }
      }
      if (self->loop_.config().tls == "starttls" && !self->tls_) return self->StartTls();
      self->Authenticate();
    });
  });
}

// tls: starttls requires it (libcurl's CURLUSESSL_ALL): a server that does not offer it, or
// refuses it, gets no mail and no credentials.
void Conn::StartTls() {
  if (!starttls_) {
    return SetupFailed(TlsFailed(CURLE_USE_SSL_FAILED, "the server does not offer STARTTLS"));
  }
  Write("STARTTLS\r\n", [self = shared_from_this()] {
    self->ReadReply([self](Reply r) {
      if (r.code != 220) {
        return self->SetupFailed(TlsFailed(CURLE_USE_SSL_FAILED, "STARTTLS refused: " + r.line));
      }
      // Anything after the 220 came in plaintext, where a man in the middle could have put it,
      // and must not be read as a reply from inside TLS (RFC 3207 section 4.2's concern).
      if (self->in_.size() != 0) {
        return self->SetupFailed(
            TlsFailed(CURLE_SSL_CONNECT_ERROR, "the server sent more after its STARTTLS reply"));
      }
      self->Handshake([self] { self->Hello(); });
    });
  });
}

void Conn::Authenticate() {
  const config::SmtpConfig& c = loop_.config();
  if (c.username.empty()) return Ready();
  auto offers = [&](std::string_view m) {
    return std::find(auth_.begin(), auth_.end(), m) != auth_.end();
  };
  auto self = shared_from_this();
  auto accepted = [self](Reply r) {
    if (r.code != 235) return self->SetupFailed(r, CURLE_LOGIN_DENIED);
    self->Ready();
  };
  if (offers("PLAIN")) {
    std::string token =
        crypto::Base64Encode(std::string(1, '\0') + c.username + std::string(1, '\0') + c.password);
    Write("AUTH PLAIN " + token + "\r\n", [self, accepted] { self->ReadReply(accepted); });
  } else if (offers("LOGIN")) {
    Write("AUTH LOGIN\r\n", [self, accepted] {
      self->ReadReply([self, accepted](Reply r) {
        if (r.code != 334) return self->SetupFailed(r, CURLE_LOGIN_DENIED);
        const config::SmtpConfig& c = self->loop_.config();
        self->Write(crypto::Base64Encode(c.username) + "\r\n", [self, accepted] {
          self->ReadReply([self, accepted](Reply r) {
            if (r.code != 334) return self->SetupFailed(r, CURLE_LOGIN_DENIED);
            const config::SmtpConfig& c = self->loop_.config();
            self->Write(crypto::Base64Encode(c.password) + "\r\n",
                        [self, accepted] { self->ReadReply(accepted); });
          });
        });
      });
    });
  } else {
    Reply none;
    none.line = "the server offers neither AUTH PLAIN nor AUTH LOGIN";
    SetupFailed(none, CURLE_LOGIN_DENIED);
  }
}

void Conn::Ready() {
  ++generation_;  // no deadline while idle
  timer_.cancel();
  ready_ = true;
  busy_ = false;
  last_used_ = Steady::now();
  loop_.Idle();
}

void Conn::Run(std::unique_ptr<Job> job) {
  busy_ = true;
  job_ = std::move(job);
  got_reply_ = false;
  for (Reply& r : replies_) r = Reply{};
  Arm(std::chrono::milliseconds(loop_.config().timeout_ms));
  Envelope(0);
}

// MAIL, RCPT and DATA: in one write when the server pipelines, else one at a time.
void Conn::Envelope(size_t step) {
  const config::SmtpConfig& c = loop_.config();
  std::string commands[3] = {"MAIL FROM:<" + c.from_address + ">\r\n",
                             "RCPT TO:<" + job_->rcpt + ">\r\n", "DATA\r\n"};
  auto self = shared_from_this();
  if (pipelining_) {
    Write(commands[0] + commands[1] + commands[2],
          [self] { self->ReadReply([self](Reply r) { self->OnEnvelopeReply(0, std::move(r)); }); });
    return;
  }
  Write(std::move(commands[step]), [self, step] {
    self->ReadReply([self, step](Reply r) { self->OnEnvelopeReply(step, std::move(r)); });
  });
}

void Conn::OnEnvelopeReply(size_t step, Reply reply) {
  got_reply_ = true;
  const bool ok = Accepted(step, reply);
  replies_[step] = std::move(reply);
  auto self = shared_from_this();
  if (step < 2 && pipelining_) {  // every pipelined command has its reply to read
    ReadReply([self, step](Reply r) { self->OnEnvelopeReply(step + 1, std::move(r)); });
    return;
  }
  if (step < 2 && ok) return Envelope(step + 1);
  Decide(step);
}

void Conn::Decide(size_t last) {
  const Reply* failed = nullptr;
  for (size_t i = 0; i <= last && !failed; ++i) {
    if (!Accepted(i, replies_[i])) failed = &replies_[i];
  }
  auto self = shared_from_this();
  if (!failed) {
    Write(std::move(job_->data), [self] {
      self->ReadReply([self](Reply r) {
        CURLcode rc = r.code / 100 == 2 ? CURLE_OK : CURLE_SEND_ERROR;
        self->Done(ClassifySmtpReply(rc, r.code, r.line));
        self->Ready();
      });
    });
    return;
  }
  Done(ClassifySmtpReply(CURLE_SEND_ERROR, failed->code, failed->line));
  if (last == 2 && replies_[2].code == 354) {
    // DATA accepted although MAIL or RCPT failed (RFC 2920 wants 554): end an empty message.
    Write(".\r\n", [self] { self->ReadReply([self](Reply) { self->Reset(); }); });
    return;
  }
  Reset();
}

void Conn::Reset() {
  auto self = shared_from_this();
  Write("RSET\r\n", [self] {
    self->ReadReply([self](Reply r) {
      if (r.code != 250) {
        self->Close();
        self->loop_.Dropped(self.get());
        return;
      }
      self->Ready();
    });
  });
}

void Conn::Done(SendResult result) {
  reused_ = true;
  std::unique_ptr<Job> job = std::move(job_);
  if (!job) return;
  if (result.outcome == Outcome::kSent) result.provider_message_id = "<" + job->message_id + ">";
  job->done(std::move(result));
}

class PipeliningSmtpAdapter final : public Adapter {
 public:
  PipeliningSmtpAdapter(const config::SmtpConfig& config, const Clock& clock)
      : config_(config), clock_(clock) {
    // smtp:// or smtps://host[:port][/...], the port 465 by default with implicit TLS, else 25
    // (libcurl's defaults); an unparsable URL leaves the host empty, and every session then
    // fails to resolve (the loader has checked the scheme).
    peer_.port = config.tls == "implicit" ? "465" : "25";
    if (auto u = boost::urls::parse_uri(config.url)) {
      peer_.host = u->host_address();  // an IPv6 literal without its brackets
      peer_.ip_literal = u->host_type() == boost::urls::host_type::ipv4 ||
                         u->host_type() == boost::urls::host_type::ipv6;
      if (u->has_port()) peer_.port = u->port();
    }
    if (config.tls != "none") {
      peer_.tls.emplace(net::ssl::context::tls_client);
      peer_.tls_error =
          transport::SetUpTlsClientContext(*peer_.tls, config.verify_peer, config.ca_file);
    }
    int loops = std::clamp(config.threads, 1, std::max(1, config.max_connections));
    int per_loop = (config.max_connections + loops - 1) / loops;
    for (int i = 0; i < loops; ++i) {
      loops_.push_back(
          std::make_unique<Loop>(config_, peer_, per_loop, "reach-smtp" + std::to_string(i)));
    }
  }
  ~PipeliningSmtpAdapter() override { Shutdown(); }

  std::string_view channel() const override { return "email"; }
  std::string_view provider() const override { return "smtp"; }

  void Send(SendRequest request, SendCallback done) override {
    Loop& loop = *loops_[next_.fetch_add(1) % loops_.size()];
    Result<PreparedMail> built = PrepareMail(config_, clock_, request);
    if (!built.ok()) {
      loop.Post([done = std::move(done), r = InvalidMessage(built.status())] { done(r); });
      return;
    }
    auto job = std::make_unique<Job>();
    job->rcpt = request.to.email;
    job->data = DotStuff(built->message);
    job->message_id = std::move(built->message_id);
    job->done = std::move(done);
    loop.Add(std::move(job), request.priority);
  }

  void Shutdown() override {
    for (auto& l : loops_) l->Shutdown();
  }

 private:
  config::SmtpConfig config_;
  Peer peer_;
  const Clock& clock_;
  std::vector<std::unique_ptr<Loop>> loops_;
  std::atomic<size_t> next_{0};
};

}  // namespace

std::string DotStuff(std::string_view message) {
  std::string out;
  out.reserve(message.size() + 16);
  bool line_start = true;
  for (char ch : message) {
    if (line_start && ch == '.') out.push_back('.');
    out.push_back(ch);
    line_start = ch == '\n';
  }
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out.append("\r\n");
  out.append(".\r\n");
  return out;
}

std::unique_ptr<Adapter> MakePipeliningSmtpAdapter(const config::SmtpConfig& config,
                                                   const Clock& clock) {
  return std::make_unique<PipeliningSmtpAdapter>(config, clock);
}

}  // namespace reach::adapters
