// Fake SMTP relay (submission server) that accepts and records mail.
//
// Speaks RFC 5321 with ESMTP: greeting "220 reach-sim ESMTP"; EHLO advertises PIPELINING, SIZE,
// 8BITMIME, ENHANCEDSTATUSCODES and, when a user and password are configured, AUTH PLAIN LOGIN
// (then required before MAIL, 530 5.7.0 otherwise); HELO, AUTH (PLAIN with or without an initial
// response, LOGIN), MAIL, RCPT, DATA (354, then up to CRLF.CRLF, un-dot-stuffed), RSET, NOOP,
// QUIT. Replies carry enhanced status codes. Bad sequence: 503 5.5.1; unknown command:
// 500 5.5.2; command lines over 512 octets: 500 5.5.2; message lines over 1000 octets (with CRLF):
// 554 5.6.0 at end of data; messages over the SIZE limit: 552 5.3.4.
// STARTTLS is not offered (and answered as an unknown command): tests run on loopback and the
// gateway's TLS handling is tested against real peers, not this sink.
//
// Faults come from the FaultTable (endpoint "smtp"): a chosen reply (and optional close) for a
// chosen command, optionally only when the recipient/sender contains a substring, and delays.
//
// Thread-safety: Listen/Start/Stop from the owning thread. The acceptor runs on pool.Main();
// each connection is pinned to one context of the pool.
#pragma once

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "tests/sim/fault_table.h"
#include "tests/sim/io_pool.h"
#include "tests/sim/message_log.h"

namespace reach::sim {

struct SmtpOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;  // 0: pick a free port
  std::string hostname = "reach-sim";
  // Both set: AUTH PLAIN LOGIN is advertised and required before MAIL.
  std::string user;
  std::string password;
  uint64_t max_message_size = 10 * 1024 * 1024;  // bytes; advertised as SIZE
  size_t max_recipients = 1000;                  // per transaction; then 452 4.5.3
  std::chrono::seconds idle_timeout{300};        // RFC 5321 suggests 5 minutes; then 421 and close
  bool pipelining = true;                        // advertise PIPELINING (RFC 2920)
};

class SmtpSink final {
 public:
  // All references must outlive the sink.
  SmtpSink(IoPool& pool, MessageLog& log, FaultTable& faults, const Clock& clock,
           SmtpOptions options);
  ~SmtpSink();

  Status Listen();  // Binds and listens; port() is valid afterwards.
  void Start();     // Starts accepting on pool.Main().
  void Stop();      // Closes the acceptor.
  uint16_t port() const { return port_; }

  // Shared by the sessions. Thread-safe.
  struct Shared {
    MessageLog& log;
    FaultTable& faults;
    const Clock& clock;
    const SmtpOptions options;
    std::atomic<uint64_t> next_queue_id{1};
  };

 private:
  void Accept();

  IoPool& pool_;
  Shared shared_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;  // backs off after accept errors (e.g. EMFILE)
  uint16_t port_ = 0;
};

}  // namespace reach::sim
