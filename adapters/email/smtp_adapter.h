// The `email` channel over SMTP with libcurl: smtp:// (optionally STARTTLS), smtps://, AUTH,
// one recipient per transaction, connections reused across messages through one libcurl multi
// handle on the adapter's own thread (CurlLoop).
//
// Content read from SendRequest::content: {"subject": str, "text": str?, "html": str?}.
// provider_message_id is the Message-ID the adapter generated ("<msg_N.hex@domain>").
// The List-Unsubscribe token is the message id (msg_N); the unsubscribe endpoint that resolves it
// arrives with the opt-out work (not built yet).
//
// Outcome by the server's last reply code (ClassifySmtpReply, one table, see smtp_adapter.cc):
// 2xx sent; 421, 452 and 4.7.x rate answers throttled; other 4xx retry; 530/534/535/538 and TLS
// failures config; 550/551/553, 521/556 and 5.1.x recipient_invalid; other 5xx permanent;
// connection failures and timeouts retry.
//
// Thread-safety: Send() from any thread; `done` runs on the adapter's CurlLoop thread.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>
#include <string_view>

#include "adapters/adapter.h"
#include "common/clock.h"
#include "common/status.h"
#include "config/config.h"

namespace reach::adapters {

// `reply_code`: CURLINFO_RESPONSE_CODE (last SMTP reply; 0 = none). `last_reply`: the server's
// last reply line ("550 5.1.1 No such user"), used for the enhanced status code.
SendResult ClassifySmtpReply(CURLcode result, long reply_code, std::string_view last_reply);

// The message as it goes on the wire (MIME, CRLF line ends, not yet dot-stuffed) and the
// Message-ID generated for it; or why it cannot be sent at all (no recipient, a header that would
// inject another). Shared by both engines.
struct PreparedMail {
  std::string message;
  std::string message_id;  // without the angle brackets
};
Result<PreparedMail> PrepareMail(const config::SmtpConfig& config, const Clock& clock,
                                 const SendRequest& request);
// The permanent outcome of a message PrepareMail refused (code "invalid_message").
SendResult InvalidMessage(const Status& why);

// The engine `config.engine` names: "curl" (this file's) or "pipelining" (smtp_pipelining.h).
std::unique_ptr<Adapter> MakeSmtpAdapter(const config::SmtpConfig& config, const Clock& clock);

}  // namespace reach::adapters
