// The whole provider simulator, wired explicitly: an HTTP server with a router (webhook receiver
// and the /_sim/ control API), an SMTP sink, the request/message logs and the fault table.
// main() builds one from the command line; tests build one on 127.0.0.1 port 0.
//
// New provider endpoints (Aliyun SMS, Tencent SMS, WeChat, ...) get their own file pair
// implementing HttpEndpoint and one AddEndpoint() line in Simulator::Create.
//
// Thread-safety: Create/Start/Stop from one thread; the components run on the IoPool threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "tests/sim/control_api.h"
#include "tests/sim/fault_table.h"
#include "tests/sim/http_server.h"
#include "tests/sim/io_pool.h"
#include "tests/sim/message_log.h"
#include "tests/sim/request_log.h"
#include "tests/sim/router.h"
#include "tests/sim/smtp_sink.h"
#include "tests/sim/webhook_endpoint.h"

namespace reach::sim {

struct SimOptions {
  HttpServerOptions http;       // default 127.0.0.1:0
  SmtpOptions smtp;             // default 127.0.0.1:0; user/password empty = no AUTH
  std::string webhook_secret;   // "whsec_..."; empty: accept unsigned webhooks
  size_t record_limit = 10000;  // requests kept per endpoint (and SMTP messages kept)
  int threads = 1;              // io_context threads (one thread per context)
  uint64_t seed = 1;            // for probabilistic faults
  // JSON faults (an object or an array of them, as for POST /_sim/faults) applied at start.
  std::vector<std::string> faults;
};

class Simulator final {
 public:
  // `clock` must outlive the simulator. Fails on a bad secret or bad --fault.
  static Result<std::unique_ptr<Simulator>> Create(SimOptions options, const Clock& clock);
  ~Simulator();

  // Binds both listeners and starts the threads. http_port()/smtp_port() are valid afterwards.
  Status Start();
  // Stops accepting, stops the threads and waits for them. Idempotent.
  void Stop();

  uint16_t http_port() const { return http_->port(); }
  uint16_t smtp_port() const { return smtp_->port(); }
  IoPool& pool() { return *pool_; }
  RequestLog& requests() { return *requests_; }
  MessageLog& messages() { return *messages_; }
  FaultTable& faults() { return *faults_; }

 private:
  explicit Simulator(SimOptions options, const Clock& clock);

  const SimOptions options_;
  const Clock& clock_;
  // Declaration order is destruction order in reverse: the pool (and its threads) goes last.
  std::unique_ptr<IoPool> pool_;
  std::unique_ptr<RequestLog> requests_;
  std::unique_ptr<MessageLog> messages_;
  std::unique_ptr<FaultTable> faults_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<WebhookEndpoint> webhook_;
  std::unique_ptr<ControlApi> control_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<SmtpSink> smtp_;
  bool started_ = false;
};

}  // namespace reach::sim
