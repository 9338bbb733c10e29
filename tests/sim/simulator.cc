#include "tests/sim/simulator.h"

#include <boost/json/parse.hpp>

namespace reach::sim {

Simulator::Simulator(SimOptions options, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

Result<std::unique_ptr<Simulator>> Simulator::Create(SimOptions options, const Clock& clock) {
  std::unique_ptr<Simulator> sim(new Simulator(std::move(options), clock));
  const SimOptions& o = sim->options_;

  std::optional<WebhookVerifier> verifier;
  if (!o.webhook_secret.empty()) {
    auto v = WebhookVerifier::Create(o.webhook_secret, clock);
    if (!v.ok()) return v.status();
    verifier = std::move(*v);
  }

  sim->pool_ = std::make_unique<IoPool>(o.threads);
  sim->requests_ = std::make_unique<RequestLog>(o.record_limit);
  sim->messages_ = std::make_unique<MessageLog>(o.record_limit);
  sim->faults_ = std::make_unique<FaultTable>(o.seed);
  sim->router_ = std::make_unique<Router>(*sim->requests_, *sim->faults_, clock);

  // Provider endpoints, one line each.
  sim->webhook_ = std::make_unique<WebhookEndpoint>(std::move(verifier));
  sim->router_->AddEndpoint("/webhook/", sim->webhook_.get());

  sim->control_ =
      std::make_unique<ControlApi>(*sim->router_, *sim->requests_, *sim->messages_, *sim->faults_);
  sim->router_->AddControl("/_sim/", sim->control_.get());

  for (const auto& text : o.faults) {
    boost::system::error_code ec;
    auto v = boost::json::parse(text, ec);
    if (ec) return Status::InvalidArgument("not JSON: " + text, "fault");
    std::vector<boost::json::value> items;
    if (v.is_array()) {
      items.assign(v.get_array().begin(), v.get_array().end());
    } else {
      items.push_back(std::move(v));
    }
    for (const auto& item : items) {
      auto f = FaultTable::Parse(item);
      if (!f.ok()) return f.status();
      if (auto* h = std::get_if<HttpFault>(&*f); h && !sim->router_->HasEndpoint(h->endpoint)) {
        return Status::InvalidArgument("no endpoint named " + h->endpoint, "fault.endpoint");
      }
      (void)sim->faults_->Add(std::move(*f));
    }
  }

  sim->http_ = std::make_unique<HttpServer>(*sim->pool_, *sim->router_, o.http);
  sim->smtp_ =
      std::make_unique<SmtpSink>(*sim->pool_, *sim->messages_, *sim->faults_, clock, o.smtp);
  return sim;
}

Simulator::~Simulator() { Stop(); }

Status Simulator::Start() {
  if (Status st = http_->Listen(); !st.ok()) return st;
  if (Status st = smtp_->Listen(); !st.ok()) return st;
  http_->Start();
  smtp_->Start();
  pool_->Start();
  started_ = true;
  return Status::Ok();
}

void Simulator::Stop() {
  if (!pool_) return;
  pool_->Stop();
  pool_->Join();
  // The threads are gone: closing the acceptors from here is safe.
  if (http_) http_->Stop();
  if (smtp_) smtp_->Stop();
  started_ = false;
}

}  // namespace reach::sim
