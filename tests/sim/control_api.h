// The simulator's control API, served on the HTTP port under /_sim/ (never recorded or faulted).
//
//   GET    /_sim/health                          {"ok":true}
//   GET    /_sim/requests?endpoint=E&limit=N&path=P
//          -> [{"endpoint","seq","method","path","headers":{lowercased name: value},"body",
//               "verified":true|false|null,"received_at":ms,"status","dropped","delay_ms",
//               "fault":id|null}, ...] oldest first; the last N (all kept when limit is absent
//               or 0); endpoint absent = every endpoint; path = target prefix filter.
//   GET    /_sim/smtp/messages?limit=N
//          -> [{"seq","queue_id","helo","auth_user","mail_from","mail_params","rcpt_to":[..],
//               "data","size","crlf_ok","accepted","reply","received_at"}, ...] oldest first
//   GET    /_sim/stats
//          -> {"webhook":{"received","answered":{"200":n,...},"dropped","verified","unverified",
//               "faulted"}, ..., "smtp":{"connections","received","accepted","rejected",
//               "recipients_accepted","recipients_rejected","auth_ok","auth_failed","faulted",
//               "replies":{"250":n,...}}}
//   GET    /_sim/faults                          -> [fault, ...] (see FaultTable::ToJson)
//   POST   /_sim/faults  body: a fault object or an array of them (FaultTable::Parse)
//          -> {"ok":true,"ids":[id,...]}; 400 {"ok":false,"error":{...}} on any invalid field
//   DELETE /_sim/faults?endpoint=E (all when absent) -> {"ok":true,"removed":n}
//   POST   /_sim/reset   clears records, counters and faults -> {"ok":true}
//
// Thread-safety: Handle() may run on any thread; the logs and the fault table lock themselves.
#pragma once

#include "tests/sim/fault_table.h"
#include "tests/sim/http_endpoint.h"
#include "tests/sim/message_log.h"
#include "tests/sim/request_log.h"
#include "tests/sim/router.h"

namespace reach::sim {

class ControlApi final : public HttpEndpoint {
 public:
  // All references must outlive the ControlApi.
  ControlApi(const Router& router, RequestLog& requests, MessageLog& messages, FaultTable& faults)
      : router_(router), requests_(requests), messages_(messages), faults_(faults) {}

  std::string_view Name() const override { return "_sim"; }
  HttpReply Handle(const HttpRequest& req) override;

 private:
  HttpReply Requests(const HttpRequest& req);
  HttpReply AddFaults(const HttpRequest& req);

  const Router& router_;
  RequestLog& requests_;
  MessageLog& messages_;
  FaultTable& faults_;
};

}  // namespace reach::sim
