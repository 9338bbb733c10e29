#include "adapters/email/smtp_adapter.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "adapters/email/smtp_pipelining.h"
#include "tests/sim/simulator.h"

namespace reach::adapters {
namespace {

namespace json = boost::json;

TEST(SmtpClassifyTest, EveryRow) {
  struct Row {
    CURLcode rc;
    long code;
    const char* reply;
    Outcome want;
  };
  const Row rows[] = {
      {CURLE_OK, 250, "250 2.0.0 Ok: queued as X", Outcome::kSent},
      {CURLE_SEND_ERROR, 421, "421 4.7.0 Too many connections", Outcome::kThrottled},
      {CURLE_SEND_ERROR, 450, "450 4.2.0 Mailbox busy", Outcome::kRetry},
      {CURLE_SEND_ERROR, 451, "451 4.3.0 Local error", Outcome::kRetry},
      {CURLE_SEND_ERROR, 451, "451 4.7.1 Greylisted, try later", Outcome::kThrottled},
      {CURLE_SEND_ERROR, 452, "452 4.5.3 Too many recipients", Outcome::kThrottled},
      {CURLE_SEND_ERROR, 454, "454 4.7.0 TLS not available", Outcome::kThrottled},
      {CURLE_SEND_ERROR, 500, "500 5.5.2 Syntax error", Outcome::kPermanent},
      {CURLE_SEND_ERROR, 501, "501 5.5.4 Bad parameters", Outcome::kPermanent},
      {CURLE_SEND_ERROR, 530, "530 5.7.0 Authentication required", Outcome::kConfig},
      {CURLE_LOGIN_DENIED, 535, "535 5.7.8 Bad credentials", Outcome::kConfig},
      {CURLE_SEND_ERROR, 538, "538 5.7.11 Encryption required", Outcome::kConfig},
      {CURLE_SEND_ERROR, 550, "550 5.1.1 No such user", Outcome::kRecipientInvalid},
      {CURLE_SEND_ERROR, 550, "550 Mailbox unavailable", Outcome::kRecipientInvalid},
      {CURLE_SEND_ERROR, 550, "550 5.7.26 Unauthenticated sender", Outcome::kPermanent},
      {CURLE_SEND_ERROR, 551, "551 User not local", Outcome::kRecipientInvalid},
      {CURLE_WEIRD_SERVER_REPLY, 552, "552 5.3.4 Message too big", Outcome::kPermanent},
      {CURLE_WEIRD_SERVER_REPLY, 552, "552 5.2.2 Mailbox full", Outcome::kRetry},
      {CURLE_SEND_ERROR, 553, "553 5.1.3 Bad address syntax", Outcome::kRecipientInvalid},
      {CURLE_WEIRD_SERVER_REPLY, 554, "554 5.6.0 Content rejected", Outcome::kPermanent},
      {CURLE_SEND_ERROR, 555, "555 5.5.4 Unsupported parameter", Outcome::kPermanent},
      {CURLE_SEND_ERROR, 556, "556 5.1.10 Domain does not accept mail", Outcome::kRecipientInvalid},
      {CURLE_COULDNT_CONNECT, 0, "", Outcome::kRetry},
      {CURLE_OPERATION_TIMEDOUT, 0, "", Outcome::kRetry},
      {CURLE_RECV_ERROR, 0, "", Outcome::kRetry},
      {CURLE_USE_SSL_FAILED, 0, "", Outcome::kConfig},
      {CURLE_PEER_FAILED_VERIFICATION, 0, "", Outcome::kConfig},
      {CURLE_ABORTED_BY_CALLBACK, 0, "", Outcome::kRetry},
  };
  for (const auto& row : rows) {
    SendResult r = ClassifySmtpReply(row.rc, row.code, row.reply);
    EXPECT_EQ(r.outcome, row.want) << row.code << " " << row.reply;
    EXPECT_EQ(r.provider, "smtp");
  }
  SendResult r = ClassifySmtpReply(CURLE_SEND_ERROR, 550, "550 5.1.1 No such user");
  EXPECT_EQ(r.code, "550 5.1.1");
  EXPECT_EQ(r.detail, "550 5.1.1 No such user");
}

SendRequest Mail(std::string to, std::string id = "msg_7") {
  SendRequest req;
  req.external_id = std::move(id);
  req.channel = "email";
  req.to.email = std::move(to);
  req.content["subject"] = "欢迎, 李雷!";
  req.content["text"] = "您好";
  req.content["html"] = "<p>您好</p>";
  return req;
}

// Every SMTP test runs on both engines: libcurl and the pipelining client.
class SmtpSimTest : public ::testing::TestWithParam<std::string> {
 protected:
  void Start(std::string user = "", std::string password = "", bool pipelining = true,
             std::chrono::seconds idle_timeout = std::chrono::seconds(300)) {
    sim::SimOptions o;
    o.smtp.user = std::move(user);
    o.smtp.password = std::move(password);
    o.smtp.pipelining = pipelining;
    o.smtp.idle_timeout = idle_timeout;
    auto s = sim::Simulator::Create(o, clock_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    sim_ = std::move(s.value());
    ASSERT_TRUE(sim_->Start().ok());
    cfg_.enabled = true;
    cfg_.url = "smtp://127.0.0.1:" + std::to_string(sim_->smtp_port());
    cfg_.from_address = "noreply@reach.example";
    cfg_.from_name = "Reach";
    cfg_.message_id_domain = "reach.example";
    cfg_.ehlo_domain = "gw.reach.example";
    cfg_.max_connections = 4;
    cfg_.timeout_ms = 5000;
    cfg_.engine = GetParam();
  }
  void TearDown() override {
    adapter_.reset();
    if (sim_) sim_->Stop();
  }
  Adapter& adapter() {
    if (!adapter_) adapter_ = MakeSmtpAdapter(cfg_, clock_);
    return *adapter_;
  }
  SendResult SendAndWait(SendRequest req) {
    std::promise<SendResult> p;
    adapter().Send(std::move(req), [&](SendResult r) { p.set_value(std::move(r)); });
    auto f = p.get_future();
    EXPECT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    return f.get();
  }
  void Fault(const std::string& spec) {
    auto f = sim::FaultTable::Parse(json::parse(spec));
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    sim_->faults().Add(std::move(f.value()));
  }

  SystemClock clock_;
  std::unique_ptr<sim::Simulator> sim_;
  config::SmtpConfig cfg_;
  std::unique_ptr<Adapter> adapter_;
};

TEST_P(SmtpSimTest, SendsOneRecipientPerTransaction) {
  Start();
  SendResult r = SendAndWait(Mail("li.lei@example.com"));
  ASSERT_EQ(r.outcome, Outcome::kSent) << r.code << " " << r.detail;
  EXPECT_EQ(r.code.substr(0, 3), "250");
  auto msgs = sim_->messages().Recent(10);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].helo, "gw.reach.example");
  EXPECT_EQ(msgs[0].mail_from, "noreply@reach.example");
  EXPECT_EQ(msgs[0].rcpt_to, std::vector<std::string>{"li.lei@example.com"});
  EXPECT_TRUE(msgs[0].crlf_ok);
  EXPECT_NE(msgs[0].data.find("Message-ID: " + r.provider_message_id), std::string::npos);
  EXPECT_NE(msgs[0].data.find("X-Reach-Message-Id: msg_7"), std::string::npos);
}

TEST_P(SmtpSimTest, ReusesConnectionsAcrossMessages) {
  Start();
  constexpr int kN = 200;
  std::atomic<int> sent{0};
  std::atomic<int> done{0};
  std::promise<void> all;
  for (int i = 0; i < kN; ++i) {
    adapter().Send(Mail("u" + std::to_string(i) + "@example.com", "msg_" + std::to_string(i)),
                   [&](SendResult r) {
                     if (r.outcome == Outcome::kSent) sent++;
                     if (++done == kN) all.set_value();
                   });
  }
  ASSERT_EQ(all.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
  EXPECT_EQ(sent.load(), kN);
  auto c = sim_->messages().Counters();
  EXPECT_EQ(c.accepted, static_cast<uint64_t>(kN));
  EXPECT_LE(c.connections, 4u) << "max_connections is 4; connections must be reused";
}

TEST_P(SmtpSimTest, RepliesMapToOutcomes) {
  Start();
  Fault(R"({"endpoint":"smtp","command":"RCPT","reply":"550 5.1.1 No such user","match":"gone@"})");
  Fault(R"({"endpoint":"smtp","command":"RCPT","reply":"451 4.3.0 Try later","match":"busy@"})");
  Fault(
      R"({"endpoint":"smtp","command":".","reply":"554 5.6.0 Content rejected","match":"spam@"})");
  Fault(R"({"endpoint":"smtp","command":"MAIL","reply":"421 4.7.0 Slow down","count":1})");
  SendResult r = SendAndWait(Mail("x@example.com"));
  EXPECT_EQ(r.outcome, Outcome::kThrottled);
  EXPECT_EQ(r.code, "421 4.7.0");
  r = SendAndWait(Mail("gone@example.com"));
  EXPECT_EQ(r.outcome, Outcome::kRecipientInvalid);
  EXPECT_EQ(r.code, "550 5.1.1");
  EXPECT_EQ(r.detail, "550 5.1.1 No such user");
  EXPECT_EQ(SendAndWait(Mail("busy@example.com")).outcome, Outcome::kRetry);
  EXPECT_EQ(SendAndWait(Mail("spam@example.com")).outcome, Outcome::kPermanent);
  EXPECT_EQ(SendAndWait(Mail("fine@example.com")).outcome, Outcome::kSent);
}

TEST_P(SmtpSimTest, AuthenticatesAndReportsBadCredentialsAsConfig) {
  Start("reach", "s3cret");
  cfg_.username = "reach";
  cfg_.password = "wrong";
  SendResult r = SendAndWait(Mail("a@example.com"));
  EXPECT_EQ(r.outcome, Outcome::kConfig) << r.code << " " << r.detail;
  adapter_.reset();
  cfg_.password = "s3cret";
  r = SendAndWait(Mail("a@example.com"));
  EXPECT_EQ(r.outcome, Outcome::kSent) << r.code << " " << r.detail;
  EXPECT_EQ(sim_->messages().Recent(1).at(0).auth_user, "reach");
}

TEST_P(SmtpSimTest, BadMessagesAndDeadServers) {
  Start();
  SendRequest no_to = Mail("");
  EXPECT_EQ(SendAndWait(no_to).outcome, Outcome::kPermanent);
  SendRequest injected = Mail("a@example.com");
  injected.content["subject"] = "x\r\nBcc: v@example.com";
  SendResult r = SendAndWait(injected);
  EXPECT_EQ(r.outcome, Outcome::kPermanent);
  EXPECT_EQ(r.code, "invalid_message");
  EXPECT_EQ(sim_->messages().Counters().messages, 0u);
  uint16_t port = sim_->smtp_port();
  sim_->Stop();
  adapter_.reset();
  cfg_.url = "smtp://127.0.0.1:" + std::to_string(port);
  r = SendAndWait(Mail("a@example.com"));
  EXPECT_EQ(r.outcome, Outcome::kRetry);
  EXPECT_EQ(r.code, "connection");
}

TEST_P(SmtpSimTest, ShutdownCompletesInFlightSends) {
  Start();
  Fault(R"({"endpoint":"smtp","command":"DATA","delay_ms":20000})");
  std::promise<SendResult> p;
  adapter().Send(Mail("slow@example.com"), [&](SendResult r) { p.set_value(std::move(r)); });
  auto f = p.get_future();
  // Wait until the session is open, so the send is in flight when Shutdown comes.
  for (int i = 0; i < 2000 && sim_->messages().Counters().connections == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  adapter().Shutdown();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  SendResult r = f.get();
  EXPECT_EQ(r.outcome, Outcome::kRetry);
  EXPECT_EQ(r.detail, "shutdown");
}

TEST_P(SmtpSimTest, PipelinesTheEnvelopeOnlyWhenTheServerOffersIt) {
  Start();
  for (int i = 0; i < 3; ++i) {
    SendResult r = SendAndWait(Mail("p" + std::to_string(i) + "@example.com"));
    ASSERT_EQ(r.outcome, Outcome::kSent) << r.code << " " << r.detail;
  }
  // MAIL, RCPT and DATA in one write: RCPT and DATA arrive behind an unanswered command.
  // libcurl sends one command at a time.
  EXPECT_EQ(sim_->messages().Counters().pipelined, GetParam() == "pipelining" ? 6u : 0u);
  adapter_.reset();
  sim_->Stop();
  Start("", "", /*pipelining=*/false);
  SendResult r = SendAndWait(Mail("seq@example.com"));
  ASSERT_EQ(r.outcome, Outcome::kSent) << r.code << " " << r.detail;
  r = SendAndWait(Mail("seq2@example.com"));
  EXPECT_EQ(r.outcome, Outcome::kSent);
  EXPECT_EQ(sim_->messages().Counters().pipelined, 0u) << "the server did not offer PIPELINING";
  EXPECT_EQ(sim_->messages().Counters().accepted, 2u);
}

TEST_P(SmtpSimTest, AMessageRejectedMidSessionLeavesTheSessionUsable) {
  Start();
  Fault(R"({"endpoint":"smtp","command":"RCPT","reply":"550 5.1.1 No such user","match":"gone@"})");
  cfg_.max_connections = 1;
  EXPECT_EQ(SendAndWait(Mail("gone@example.com")).outcome, Outcome::kRecipientInvalid);
  SendResult first = SendAndWait(Mail("fine@example.com"));
  EXPECT_EQ(first.outcome, Outcome::kSent) << first.code << " " << first.detail;
  EXPECT_EQ(SendAndWait(Mail("gone@example.com")).outcome, Outcome::kRecipientInvalid);
  SendResult r = SendAndWait(Mail("fine2@example.com"));
  EXPECT_EQ(r.outcome, Outcome::kSent) << r.code << " " << r.detail;
  auto c = sim_->messages().Counters();
  EXPECT_EQ(c.accepted, 2u);
  // The pipelining engine resets the session (RSET) and keeps it; libcurl opens a new one.
  if (GetParam() == "pipelining") {
    EXPECT_EQ(c.connections, 1u);
  }
}

TEST_P(SmtpSimTest, A421ThatClosesTheSessionIsTheAnswerAndTheNextMessageGetsANewSession) {
  Start();
  cfg_.max_connections = 1;
  ASSERT_EQ(SendAndWait(Mail("a@example.com")).outcome, Outcome::kSent);
  // The sink's next reply on this session is 421 (too busy) and it closes the session.
  Fault(R"({"endpoint":"smtp","command":"MAIL","reply":"421 4.7.0 Try again later","count":1})");
  SendResult r = SendAndWait(Mail("b@example.com"));
  EXPECT_EQ(r.outcome, Outcome::kThrottled) << r.code << " " << r.detail;
  // The next message goes out on a new session, its replies read in step.
  SendResult next = SendAndWait(Mail("c@example.com"));
  EXPECT_EQ(next.outcome, Outcome::kSent) << next.code << " " << next.detail;
  EXPECT_EQ(sim_->messages().Counters().accepted, 2u);
}

TEST_P(SmtpSimTest, ASessionTheServerTimedOutWhileIdleIsNotReused) {
  // The sink, like postfix, says "421 4.4.2 ... timeout exceeded" and closes a session idle
  // past its timeout (1 s here). That line must not be taken as the next MAIL's reply.
  Start("", "", true, std::chrono::seconds(1));
  cfg_.max_connections = 1;
  ASSERT_EQ(SendAndWait(Mail("a@example.com")).outcome, Outcome::kSent);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  ASSERT_EQ(sim_->messages().Counters().replies[421], 1u);
  SendResult r = SendAndWait(Mail("b@example.com"));
  EXPECT_EQ(r.outcome, Outcome::kSent) << r.code << " " << r.detail;
  EXPECT_EQ(sim_->messages().Counters().accepted, 2u);
  EXPECT_EQ(sim_->messages().Counters().connections, 2u);
}

TEST(SmtpDotStuffTest, DoublesLeadingDotsAndEndsTheData) {
  EXPECT_EQ(DotStuff("a\r\n.b\r\n..c\r\nd.\r\n"), "a\r\n..b\r\n...c\r\nd.\r\n.\r\n");
  EXPECT_EQ(DotStuff(".x"), "..x\r\n.\r\n");
  EXPECT_EQ(DotStuff(""), "\r\n.\r\n");
  EXPECT_EQ(DotStuff("x\r\n"), "x\r\n.\r\n");
}

INSTANTIATE_TEST_SUITE_P(Engines, SmtpSimTest, ::testing::Values("curl", "pipelining"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace reach::adapters
