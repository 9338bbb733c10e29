#include "tests/sim/smtp_sink.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <memory>
#include <optional>

#include "common/crypto.h"

namespace reach::sim {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr size_t kCommandLineLimit = 512;  // octets incl. CRLF (RFC 5321 4.5.3.1.4)
constexpr size_t kTextLineLimit = 1000;    // octets incl. CRLF (RFC 5321 4.5.3.1.6)
constexpr size_t kAuthLineLimit = 12288;   // RFC 4954 section 4
constexpr std::string_view kUsernamePrompt = "334 VXNlcm5hbWU6";  // base64("Username:")
constexpr std::string_view kPasswordPrompt = "334 UGFzc3dvcmQ6";  // base64("Password:")

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) ==
                  std::toupper(static_cast<unsigned char>(y));
         });
}

bool IStartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && IEquals(s.substr(0, prefix.size()), prefix);
}

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

std::string_view Trim(std::string_view s) {
  s = TrimLeft(s);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Parses "FROM:<addr> params" / "TO:<addr> params" after `keyword`. Returns false on bad syntax.
bool ParsePath(std::string_view arg, std::string_view keyword, std::string& addr,
               std::string& params) {
  if (!IStartsWith(arg, keyword)) return false;
  std::string_view rest = TrimLeft(arg.substr(keyword.size()));
  if (rest.empty() || rest.front() != '<') return false;
  size_t close = rest.find('>');
  if (close == std::string_view::npos) return false;
  addr = std::string(rest.substr(1, close - 1));
  if (addr.find_first_of(" \t<") != std::string::npos) return false;
  params = std::string(Trim(rest.substr(close + 1)));
  return true;
}

std::optional<uint64_t> SizeParam(std::string_view params) {
  while (!params.empty()) {
    size_t sp = params.find(' ');
    std::string_view p = params.substr(0, sp);
    params = sp == std::string_view::npos ? std::string_view() : TrimLeft(params.substr(sp));
    if (IStartsWith(p, "SIZE=")) {
      uint64_t n = 0;
      auto v = p.substr(5);
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec == std::errc() && end == v.data() + v.size()) return n;
    }
  }
  return std::nullopt;
}

std::optional<std::string> DecodeSasl(std::string_view text) {
  if (text == "=") return std::string();  // RFC 4954: "=" is an empty initial response
  return crypto::Base64Decode(text);
}

unsigned ReplyCode(std::string_view reply) {
  unsigned code = 0;
  std::from_chars(reply.data(), reply.data() + std::min<size_t>(3, reply.size()), code);
  return code;
}

bool Positive(std::string_view reply) {
  return !reply.empty() && (reply[0] == '2' || reply[0] == '3');
}

// One SMTP connection. Owned by the shared_ptrs in its pending handlers; runs on one thread.
class SmtpSession final : public std::enable_shared_from_this<SmtpSession> {
 public:
  SmtpSession(tcp::socket socket, SmtpSink::Shared& shared)
      : socket_(std::move(socket)),
        delay_timer_(socket_.get_executor()),
        idle_timer_(socket_.get_executor()),
        shared_(shared),
        opt_(shared.options),
        auth_enabled_(!opt_.user.empty() && !opt_.password.empty()) {}

  void Start() {
    shared_.log.Count([](SmtpCounters& c) { ++c.connections; });
    last_activity_ = std::chrono::steady_clock::now();
    ArmIdleTimer();
    Step greeting =
        ApplyFault("CONNECT", {},
                   Step{opt_.hostname.empty() ? "220 ESMTP" : "220 " + opt_.hostname + " ESMTP"});
    if (greeting.reply[0] != '2') no_service_ = true;
    if (greeting.delay_ms > 0) return Delay(std::move(greeting));
    Append(greeting);
    Flush();
  }

 private:
  enum class State { kFresh, kReady, kMail, kRcpt, kData };
  enum class AuthStep { kNone, kPlain, kLoginUser, kLoginPass };

  struct Step {
    std::string reply;  // without the final CRLF; may hold "250-...\r\n250 ..." lines
    int delay_ms = 0;
    bool close = false;
    bool silent = false;  // a DATA line: no reply
  };

  struct Line {
    std::string_view text;  // without the line ending
    bool crlf = false;      // ended with CRLF (else bare LF)
    bool overlong = false;
  };

  // ---- I/O ----

  void Read() {
    if (pos_ > 0) {
      in_.erase(0, pos_);
      pos_ = 0;
    }
    socket_.async_read_some(asio::buffer(rbuf_),
                            [self = shared_from_this()](error_code ec, size_t n) {
                              if (ec) return self->Close();
                              self->in_.append(self->rbuf_.data(), n);
                              self->last_activity_ = std::chrono::steady_clock::now();
                              self->Pump();
                            });
  }

  // Handles every complete line in the buffer, then writes the replies and reads more.
  void Pump() {
    uint64_t answered = 0;  // commands handled from this read, their replies not yet sent
    while (!closing_) {
      std::optional<Line> line = NextLine();
      if (!line) break;
      Step s = HandleLine(*line);
      if (s.silent) continue;
      if (answered++ > 0) shared_.log.Count([](SmtpCounters& c) { ++c.pipelined; });
      if (s.delay_ms > 0) return Delay(std::move(s));
      Append(s);
    }
    Flush();
  }

  void Flush() {
    if (out_.empty()) {
      if (closing_) return Close();
      return Read();
    }
    wbuf_.swap(out_);
    out_.clear();
    asio::async_write(socket_, asio::buffer(wbuf_),
                      [self = shared_from_this()](error_code ec, size_t) {
                        if (ec) return self->Close();
                        self->wbuf_.clear();
                        self->Flush();
                      });
  }

  // Sends the replies already due, then holds `s` back for s.delay_ms on a timer.
  void Delay(Step s) {
    delayed_ = std::move(s);
    if (out_.empty()) return StartDelayTimer();
    wbuf_.swap(out_);
    out_.clear();
    asio::async_write(socket_, asio::buffer(wbuf_),
                      [self = shared_from_this()](error_code ec, size_t) {
                        if (ec) return self->Close();
                        self->wbuf_.clear();
                        self->StartDelayTimer();
                      });
  }

  void StartDelayTimer() {
    delay_timer_.expires_after(std::chrono::milliseconds(delayed_->delay_ms));
    delay_timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (ec) return self->Close();
      Step s = std::move(*self->delayed_);
      self->delayed_.reset();
      self->Append(s);
      self->last_activity_ = std::chrono::steady_clock::now();
      self->Pump();
    });
  }

  void Append(const Step& s) {
    out_ += s.reply;
    out_ += "\r\n";
    if (s.close) closing_ = true;
    unsigned code = ReplyCode(s.reply);
    shared_.log.Count([code](SmtpCounters& c) { ++c.replies[code]; });
  }

  void ArmIdleTimer() {
    auto check =
        std::min<std::chrono::steady_clock::duration>(opt_.idle_timeout, std::chrono::seconds(30));
    idle_timer_.expires_after(check);
    idle_timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (ec) return;
      if (std::chrono::steady_clock::now() - self->last_activity_ >= self->opt_.idle_timeout &&
          !self->delayed_) {
        return self->TimedOut();
      }
      self->ArmIdleTimer();
    });
  }

  // As postfix's smtpd does when a client sits idle past its timeout: says so, then closes (the
  // session's own write path: Flush closes once the line is out). A write still pending means
  // the client stopped reading too: it is closed without a word.
  void TimedOut() {
    if (closed_) return;
    if (!wbuf_.empty()) return Close();
    Append(Step{"421 4.4.2 " + opt_.hostname + " Error: timeout exceeded", 0, true});
    Flush();
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    error_code ignored;
    delay_timer_.cancel();
    idle_timer_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  size_t LineLimit() const {
    if (state_ == State::kData) return kTextLineLimit;
    if (auth_step_ != AuthStep::kNone || IStartsWith(std::string_view(in_).substr(pos_), "AUTH")) {
      return kAuthLineLimit;
    }
    return kCommandLineLimit;
  }

  std::optional<Line> NextLine() {
    const size_t limit = LineLimit();
    size_t nl = in_.find('\n', pos_);
    if (nl == std::string::npos) {
      if (in_.size() - pos_ > limit) {
        // Too long already: forget it and answer once its end arrives.
        overlong_ = true;
        pos_ = in_.size();
      }
      return std::nullopt;
    }
    Line line;
    line.text = std::string_view(in_).substr(pos_, nl - pos_);
    line.overlong = overlong_ || (nl - pos_ + 1 > limit);
    overlong_ = false;
    if (!line.text.empty() && line.text.back() == '\r') {
      line.crlf = true;
      line.text.remove_suffix(1);
    }
    pos_ = nl + 1;
    return line;
  }

  // ---- protocol ----

  static Step Reply(std::string text) { return Step{std::move(text)}; }

  // Applies the first matching injected fault for `command` to the reply that would be sent.
  Step ApplyFault(std::string_view command, const std::vector<std::string_view>& subjects, Step s) {
    auto f = shared_.faults.TakeSmtp(command, subjects);
    if (!f) return s;
    shared_.log.Count([](SmtpCounters& c) { ++c.faulted; });
    if (!f->reply.empty()) s.reply = f->reply;
    s.delay_ms = f->delay_ms;
    s.close = s.close || f->close;
    return s;
  }

  std::vector<std::string_view> RcptSubjects() const {
    return std::vector<std::string_view>(rcpts_.begin(), rcpts_.end());
  }

  void ResetTransaction() {
    if (state_ != State::kFresh) state_ = State::kReady;
    mail_from_.clear();
    mail_params_.clear();
    rcpts_.clear();
    data_.clear();
  }

  Step HandleLine(const Line& line) {
    if (state_ == State::kData) return DataLine(line);
    if (line.overlong) return Reply("500 5.5.2 Error: line too long");
    if (auth_step_ != AuthStep::kNone) return AuthResponse(line.text);

    std::string_view text = line.text;
    size_t sp = text.find(' ');
    std::string_view verb = text.substr(0, sp);
    std::string_view arg =
        sp == std::string_view::npos ? std::string_view() : Trim(text.substr(sp));

    if (IEquals(verb, "QUIT")) {
      Step s = ApplyFault("QUIT", {arg}, Reply("221 2.0.0 Bye"));
      s.close = true;
      return s;
    }
    if (no_service_) return Reply("503 5.5.1 Error: no SMTP service here");
    if (IEquals(verb, "EHLO")) return Ehlo(arg, /*extended=*/true);
    if (IEquals(verb, "HELO")) return Ehlo(arg, /*extended=*/false);
    if (IEquals(verb, "AUTH")) return Auth(arg);
    if (IEquals(verb, "MAIL")) return Mail(arg);
    if (IEquals(verb, "RCPT")) return Rcpt(arg);
    if (IEquals(verb, "DATA")) return Data(arg);
    if (IEquals(verb, "RSET")) {
      Step s = ApplyFault("RSET", {arg}, Reply("250 2.0.0 Ok"));
      if (Positive(s.reply)) ResetTransaction();
      return s;
    }
    if (IEquals(verb, "NOOP")) return ApplyFault("NOOP", {arg}, Reply("250 2.0.0 Ok"));
    return Reply("500 5.5.2 Error: command not recognized");
  }

  Step Ehlo(std::string_view arg, bool extended) {
    if (arg.empty()) {
      return Reply(extended ? "501 5.5.4 Syntax: EHLO hostname"
                            : "501 5.5.4 Syntax: HELO hostname");
    }
    std::string reply;
    if (extended) {
      std::vector<std::string> lines = {opt_.hostname,
                                        "SIZE " + std::to_string(opt_.max_message_size), "8BITMIME",
                                        "ENHANCEDSTATUSCODES"};
      if (opt_.pipelining) lines.insert(lines.begin() + 1, "PIPELINING");
      if (auth_enabled_) lines.emplace_back("AUTH PLAIN LOGIN");
      for (size_t i = 0; i < lines.size(); ++i) {
        if (i > 0) reply += "\r\n";
        reply += i + 1 < lines.size() ? "250-" : "250 ";
        reply += lines[i];
      }
    } else {
      reply = "250 " + opt_.hostname;
    }
    Step s = ApplyFault(extended ? "EHLO" : "HELO", {arg}, Reply(std::move(reply)));
    if (Positive(s.reply)) {
      ResetTransaction();
      state_ = State::kReady;
      helo_ = std::string(arg);
      esmtp_ = extended;
    }
    return s;
  }

  Step Auth(std::string_view arg) {
    if (!auth_enabled_) return Reply("503 5.5.1 Error: authentication not enabled");
    if (!esmtp_) return Reply("503 5.5.1 Error: send EHLO first");
    if (authenticated_) return Reply("503 5.5.1 Error: already authenticated");
    if (state_ == State::kMail || state_ == State::kRcpt) {
      return Reply("503 5.5.1 Error: MAIL transaction in progress");
    }
    size_t sp = arg.find(' ');
    std::string_view mech = arg.substr(0, sp);
    std::string_view initial =
        sp == std::string_view::npos ? std::string_view() : Trim(arg.substr(sp));
    if (!IEquals(mech, "PLAIN") && !IEquals(mech, "LOGIN")) {
      return Reply("504 5.5.4 Error: unsupported authentication mechanism");
    }
    Step fault = ApplyFault("AUTH", {arg}, Reply(""));
    if (!fault.reply.empty()) return fault;  // an injected reply replaces the exchange
    Step s;
    if (IEquals(mech, "PLAIN")) {
      if (initial.empty()) {
        auth_step_ = AuthStep::kPlain;
        s = Reply("334 ");
      } else {
        s = CheckPlain(initial);
      }
    } else if (initial.empty()) {
      auth_step_ = AuthStep::kLoginUser;
      s = Reply(std::string(kUsernamePrompt));
    } else {
      auto user = DecodeSasl(initial);
      if (!user) return Reply("501 5.5.2 Error: cannot decode response");
      login_user_ = *user;
      auth_step_ = AuthStep::kLoginPass;
      s = Reply(std::string(kPasswordPrompt));
    }
    s.delay_ms = fault.delay_ms;
    s.close = fault.close;
    return s;
  }

  Step AuthResponse(std::string_view text) {
    AuthStep step = auth_step_;
    auth_step_ = AuthStep::kNone;
    if (text == "*") return Reply("501 5.7.0 Error: authentication aborted");
    if (step == AuthStep::kPlain) return CheckPlain(text);
    auto decoded = DecodeSasl(text);
    if (!decoded) return Reply("501 5.5.2 Error: cannot decode response");
    if (step == AuthStep::kLoginUser) {
      login_user_ = *decoded;
      auth_step_ = AuthStep::kLoginPass;
      return Reply(std::string(kPasswordPrompt));
    }
    return CheckCredentials(login_user_, *decoded);
  }

  Step CheckPlain(std::string_view b64) {
    auto decoded = DecodeSasl(b64);
    if (!decoded) return Reply("501 5.5.2 Error: cannot decode response");
    // authzid NUL authcid NUL passwd
    std::string_view s = *decoded;
    size_t a = s.find('\0');
    size_t b = a == std::string_view::npos ? a : s.find('\0', a + 1);
    if (b == std::string_view::npos) return Reply("501 5.5.2 Error: malformed PLAIN response");
    return CheckCredentials(s.substr(a + 1, b - a - 1), s.substr(b + 1));
  }

  Step CheckCredentials(std::string_view user, std::string_view password) {
    bool user_ok = crypto::ConstantTimeEquals(user, opt_.user);
    bool pass_ok = crypto::ConstantTimeEquals(password, opt_.password);
    if (user_ok && pass_ok) {
      authenticated_ = true;
      auth_user_ = std::string(user);
      shared_.log.Count([](SmtpCounters& c) { ++c.auth_ok; });
      return Reply("235 2.7.0 Authentication successful");
    }
    shared_.log.Count([](SmtpCounters& c) { ++c.auth_failed; });
    return Reply("535 5.7.8 Error: authentication failed");
  }

  Step Mail(std::string_view arg) {
    if (state_ == State::kFresh) return Reply("503 5.5.1 Error: send HELO/EHLO first");
    if (state_ != State::kReady) return Reply("503 5.5.1 Error: nested MAIL command");
    if (auth_enabled_ && !authenticated_) return Reply("530 5.7.0 Authentication required");
    std::string from;
    std::string params;
    if (!ParsePath(arg, "FROM:", from, params)) {
      return Reply("501 5.5.4 Syntax: MAIL FROM:<address>");
    }
    if (auto size = SizeParam(params); size && *size > opt_.max_message_size) {
      return Reply("552 5.3.4 Error: message size exceeds fixed limit");
    }
    Step s = ApplyFault("MAIL", {from}, Reply("250 2.1.0 Ok"));
    if (Positive(s.reply)) {
      state_ = State::kMail;
      mail_from_ = std::move(from);
      mail_params_ = std::move(params);
    }
    return s;
  }

  Step Rcpt(std::string_view arg) {
    if (state_ != State::kMail && state_ != State::kRcpt) {
      return Reply("503 5.5.1 Error: need MAIL command");
    }
    std::string to;
    std::string params;
    if (!ParsePath(arg, "TO:", to, params)) return Reply("501 5.5.4 Syntax: RCPT TO:<address>");
    if (to.empty()) return Reply("501 5.1.3 Error: bad recipient address syntax");
    if (rcpts_.size() >= opt_.max_recipients) return Reply("452 4.5.3 Error: too many recipients");
    Step s = ApplyFault("RCPT", {to}, Reply("250 2.1.5 Ok"));
    if (Positive(s.reply)) {
      state_ = State::kRcpt;
      rcpts_.push_back(std::move(to));
      shared_.log.Count([](SmtpCounters& c) { ++c.recipients_accepted; });
    } else {
      shared_.log.Count([](SmtpCounters& c) { ++c.recipients_rejected; });
    }
    return s;
  }

  Step Data(std::string_view arg) {
    if (!arg.empty()) return Reply("501 5.5.4 Syntax: DATA");
    if (state_ != State::kRcpt) return Reply("503 5.5.1 Error: need RCPT command");
    Step s = ApplyFault("DATA", RcptSubjects(), Reply("354 End data with <CR><LF>.<CR><LF>"));
    if (s.reply.compare(0, 3, "354") == 0) {
      state_ = State::kData;
      data_.clear();
      crlf_ok_ = true;
      too_big_ = false;
      long_line_ = false;
    }
    return s;
  }

  Step DataLine(const Line& line) {
    std::string_view text = line.text;
    if (!line.overlong && text == ".") return EndOfData(line.crlf);
    Step silent;
    silent.silent = true;
    if (line.overlong) {
      long_line_ = true;
      return silent;
    }
    if (!text.empty() && text.front() == '.') text.remove_prefix(1);  // un-dot-stuff
    if (!line.crlf || text.find('\r') != std::string_view::npos) crlf_ok_ = false;
    const size_t add = text.size() + (line.crlf ? 2 : 1);
    if (too_big_ || data_.size() + add > opt_.max_message_size) {
      too_big_ = true;
      return silent;
    }
    data_.append(text);
    data_.append(line.crlf ? "\r\n" : "\n");
    return silent;
  }

  Step EndOfData(bool crlf) {
    if (!crlf) crlf_ok_ = false;
    char id[24];
    std::snprintf(id, sizeof(id), "%010llX",
                  static_cast<unsigned long long>(shared_.next_queue_id.fetch_add(1)));
    Step s;
    if (too_big_) {
      s = Reply("552 5.3.4 Error: message file too big");
    } else if (long_line_) {
      s = Reply("554 5.6.0 Error: message line longer than 998 octets");
    } else {
      s = ApplyFault(".", RcptSubjects(), Reply(std::string("250 2.0.0 Ok: queued as ") + id));
    }
    SmtpMessage m;
    m.queue_id = id;
    m.helo = helo_;
    m.auth_user = auth_user_;
    m.mail_from = mail_from_;
    m.mail_params = mail_params_;
    m.rcpt_to = rcpts_;
    m.data = std::move(data_);
    m.crlf_ok = crlf_ok_;
    m.accepted = s.reply[0] == '2';
    m.reply = s.reply;
    m.received_at_ms = shared_.clock.NowMs();
    shared_.log.Record(std::move(m));
    state_ = State::kRcpt;  // so that ResetTransaction lands in kReady
    ResetTransaction();
    return s;
  }

  tcp::socket socket_;
  asio::steady_timer delay_timer_;
  asio::steady_timer idle_timer_;
  SmtpSink::Shared& shared_;
  const SmtpOptions& opt_;
  const bool auth_enabled_;

  std::array<char, 16 * 1024> rbuf_{};
  std::string in_;  // received, not yet handled from pos_
  size_t pos_ = 0;
  std::string out_;   // replies not yet written
  std::string wbuf_;  // replies being written
  std::optional<Step> delayed_;
  bool overlong_ = false;
  bool closing_ = false;
  bool closed_ = false;
  std::chrono::steady_clock::time_point last_activity_;

  State state_ = State::kFresh;
  AuthStep auth_step_ = AuthStep::kNone;
  bool esmtp_ = false;
  bool no_service_ = false;
  bool authenticated_ = false;
  std::string helo_;
  std::string auth_user_;
  std::string login_user_;
  std::string mail_from_;
  std::string mail_params_;
  std::vector<std::string> rcpts_;
  std::string data_;
  bool crlf_ok_ = true;
  bool too_big_ = false;
  bool long_line_ = false;
};

}  // namespace

SmtpSink::SmtpSink(IoPool& pool, MessageLog& log, FaultTable& faults, const Clock& clock,
                   SmtpOptions options)
    : pool_(pool),
      shared_{log, faults, clock, std::move(options)},
      acceptor_(pool.Main()),
      retry_timer_(pool.Main()) {}

SmtpSink::~SmtpSink() { Stop(); }

Status SmtpSink::Listen() {
  error_code ec;
  const auto& o = shared_.options;
  auto address = asio::ip::make_address(o.address, ec);
  if (ec) return Status(StatusCode::kConfig, "bad address " + o.address, "smtp");
  tcp::endpoint ep(address, o.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("smtp listen on " + o.address + ":" + std::to_string(o.port) + ": " +
                               ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  return Status::Ok();
}

void SmtpSink::Start() {
  asio::dispatch(acceptor_.get_executor(), [this] { Accept(); });
}

void SmtpSink::Stop() {
  error_code ignored;
  acceptor_.close(ignored);
  retry_timer_.cancel();
}

void SmtpSink::Accept() {
  acceptor_.async_accept(pool_.Next(), [this](error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto executor = socket.get_executor();
      auto session = std::make_shared<SmtpSession>(std::move(socket), shared_);
      asio::dispatch(executor, [session] { session->Start(); });
    } else {
      // Out of descriptors or similar: retry shortly instead of spinning.
      spdlog::warn("smtp accept: {}", ec.message());
      retry_timer_.expires_after(std::chrono::milliseconds(50));
      retry_timer_.async_wait([this](const boost::system::error_code& wait_ec) {
        if (!wait_ec && acceptor_.is_open()) Accept();
      });
      return;
    }
    Accept();
  });
}

}  // namespace reach::sim
