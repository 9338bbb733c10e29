// The `email` channel's second engine (`channels.email.engine: pipelining`): an SMTP client of our
// own on Boost.Asio that uses the server's PIPELINING extension (RFC 2920). MAIL FROM, RCPT TO and
// DATA go out in one write and the message with its final dot in a second, so a message costs two
// sends instead of libcurl's five (one round trip per command). A server that does not offer
// PIPELINING gets the commands one at a time.
//
// Scope: every `tls` mode (none; starttls, required as libcurl's CURLUSESSL_ALL; implicit, TLS
// from the first byte), certificates checked against the trust store and the URL's host unless
// `verify_peer` is false, AUTH PLAIN or LOGIN when `username` is set (after TLS), one recipient
// per transaction, connections kept and reused
// (one dropped by the server while idle is replaced, and the message sent once more on a new
// connection if no reply to it had arrived), the whole transaction under `timeout_ms`.
// Replies are classified by ClassifySmtpReply, the same table as the libcurl engine's.
//
// Thread-safety: Send() from any thread; `done` runs on one of the engine's io threads
// (`threads` of them, each owning its share of `max_connections`).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "adapters/adapter.h"
#include "common/clock.h"
#include "config/config.h"

namespace reach::adapters {

// RFC 5321 4.5.2: a line of `message` that starts with '.' gets one more, and the data ends
// with CRLF "." CRLF (a CRLF is added first if the message does not end with one).
std::string DotStuff(std::string_view message);

std::unique_ptr<Adapter> MakePipeliningSmtpAdapter(const config::SmtpConfig& config,
                                                   const Clock& clock);

}  // namespace reach::adapters
