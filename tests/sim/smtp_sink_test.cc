// The SMTP sink, driven by a raw socket client, by libcurl and by postfix's smtp-source.
#include "tests/sim/smtp_sink.h"

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include "common/crypto.h"
#include "tests/sim/simulator.h"
#include "tests/sim/test_client.h"

namespace reach::sim {
namespace {

using testing::Http;
using testing::SmtpClient;

class SmtpSinkTest : public ::testing::Test {
 protected:
  void SetUp() override { StartSim("", ""); }

  void StartSim(std::string user, std::string password,
                std::chrono::seconds idle_timeout = std::chrono::seconds(300)) {
    if (sim_) sim_->Stop();
    SimOptions o;
    o.smtp.user = std::move(user);
    o.smtp.password = std::move(password);
    o.smtp.idle_timeout = idle_timeout;
    o.smtp.max_message_size = 64 * 1024;
    auto sim = Simulator::Create(o, clock_);
    ASSERT_TRUE(sim.ok()) << sim.status().ToString();
    sim_ = std::move(*sim);
    ASSERT_TRUE(sim_->Start().ok());
    port_ = sim_->smtp_port();
  }

  boost::json::array Messages() {
    return Http(sim_->http_port(), "GET", "/_sim/smtp/messages").Json().as_array();
  }
  boost::json::value Stats() { return Http(sim_->http_port(), "GET", "/_sim/stats").Json(); }
  void AddFault(const std::string& json) {
    auto r = Http(sim_->http_port(), "POST", "/_sim/faults", json);
    ASSERT_EQ(r.status, 200) << r.body;
  }

  testing::ManualClock clock_{1'700'000'000'000};
  std::unique_ptr<Simulator> sim_;
  uint16_t port_ = 0;
};

TEST_F(SmtpSinkTest, FullDialogueWithDotStuffingAndTwoMessagesPerConnection) {
  SmtpClient c(port_);
  EXPECT_EQ(c.ReadReply(), "220 reach-sim ESMTP");
  std::string ehlo = c.Command("EHLO gw.example.test");
  EXPECT_EQ(ehlo,
            "250-reach-sim\n250-PIPELINING\n250-SIZE 65536\n250-8BITMIME\n"
            "250 ENHANCEDSTATUSCODES");
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(c.Command("MAIL FROM:<bounces+t1@bounce.example> SIZE=100 BODY=8BITMIME"),
              "250 2.1.0 Ok");
    EXPECT_EQ(c.Command("RCPT TO:<a@dest.example>"), "250 2.1.5 Ok");
    EXPECT_EQ(c.Command("RCPT TO:<b@dest.example>"), "250 2.1.5 Ok");
    EXPECT_EQ(c.Command("DATA"), "354 End data with <CR><LF>.<CR><LF>");
    std::string end =
        c.Command("Subject: hi\r\n\r\n..leading dot\r\nline " + std::to_string(i) + "\r\n.");
    EXPECT_EQ(end.substr(0, 26), "250 2.0.0 Ok: queued as 00");
  }
  EXPECT_EQ(c.Command("NOOP"), "250 2.0.0 Ok");
  EXPECT_EQ(c.Command("RSET"), "250 2.0.0 Ok");
  EXPECT_EQ(c.Command("QUIT"), "221 2.0.0 Bye");
  EXPECT_TRUE(c.Closed());

  auto msgs = Messages();
  ASSERT_EQ(msgs.size(), 2u);
  const auto& m = msgs[0].as_object();
  EXPECT_EQ(m.at("mail_from").as_string(), "bounces+t1@bounce.example");
  EXPECT_EQ(m.at("mail_params").as_string(), "SIZE=100 BODY=8BITMIME");
  ASSERT_EQ(m.at("rcpt_to").as_array().size(), 2u);
  EXPECT_EQ(m.at("rcpt_to").as_array()[1].as_string(), "b@dest.example");
  EXPECT_EQ(m.at("data").as_string(), "Subject: hi\r\n\r\n.leading dot\r\nline 0\r\n");
  EXPECT_TRUE(m.at("crlf_ok").as_bool());
  EXPECT_TRUE(m.at("accepted").as_bool());
  EXPECT_EQ(m.at("helo").as_string(), "gw.example.test");
  EXPECT_NE(msgs[0].at("queue_id"), msgs[1].at("queue_id"));
  auto s = Stats().at("smtp");
  EXPECT_EQ(s.at("connections").as_int64(), 1);
  EXPECT_EQ(s.at("accepted").as_int64(), 2);
  EXPECT_EQ(s.at("replies").at("221").as_int64(), 1);
}

TEST_F(SmtpSinkTest, BadSequenceGets503AndUnknownCommand500) {
  SmtpClient c(port_);
  c.ReadReply();
  EXPECT_EQ(c.Command("MAIL FROM:<a@b>"), "503 5.5.1 Error: send HELO/EHLO first");
  EXPECT_EQ(c.Command("HELO client"), "250 reach-sim");
  EXPECT_EQ(c.Command("RCPT TO:<a@b>"), "503 5.5.1 Error: need MAIL command");
  EXPECT_EQ(c.Command("DATA"), "503 5.5.1 Error: need RCPT command");
  EXPECT_EQ(c.Command("MAIL FROM:<a@b>"), "250 2.1.0 Ok");
  EXPECT_EQ(c.Command("MAIL FROM:<a@b>"), "503 5.5.1 Error: nested MAIL command");
  EXPECT_EQ(c.Command("DATA"), "503 5.5.1 Error: need RCPT command");
  EXPECT_EQ(c.Command("XYZZY"), "500 5.5.2 Error: command not recognized");
  EXPECT_EQ(c.Command("STARTTLS"), "500 5.5.2 Error: command not recognized");
  EXPECT_EQ(c.Command("RCPT TO:a@b"), "501 5.5.4 Syntax: RCPT TO:<address>");
  EXPECT_EQ(c.Command("EHLO"), "501 5.5.4 Syntax: EHLO hostname");
  EXPECT_EQ(c.Command("AUTH PLAIN AGFAYg=="), "503 5.5.1 Error: authentication not enabled");
}

TEST_F(SmtpSinkTest, NullSenderIsAccepted) {
  SmtpClient c(port_);
  c.ReadReply();
  c.Command("EHLO x");
  EXPECT_EQ(c.Command("MAIL FROM:<>"), "250 2.1.0 Ok");
}

TEST_F(SmtpSinkTest, LineLengthLimits) {
  SmtpClient c(port_);
  c.ReadReply();
  EXPECT_EQ(c.Command("NOOP " + std::string(600, 'x')), "500 5.5.2 Error: line too long");
  EXPECT_EQ(c.Command("EHLO x").substr(0, 3), "250");  // the session goes on
  c.Command("MAIL FROM:<a@b>");
  c.Command("RCPT TO:<c@d>");
  c.Command("DATA");
  EXPECT_EQ(c.Command(std::string(1200, 'y') + "\r\n."),
            "554 5.6.0 Error: message line longer than 998 octets");
  auto msgs = Messages();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_FALSE(msgs[0].at("accepted").as_bool());
}

TEST_F(SmtpSinkTest, SizeLimit) {
  SmtpClient c(port_);
  c.ReadReply();
  c.Command("EHLO x");
  EXPECT_EQ(c.Command("MAIL FROM:<a@b> SIZE=999999"),
            "552 5.3.4 Error: message size exceeds fixed limit");
  c.Command("MAIL FROM:<a@b>");
  c.Command("RCPT TO:<c@d>");
  c.Command("DATA");
  std::string big;
  for (int i = 0; i < 1000; ++i) big += std::string(99, 'z') + "\r\n";
  EXPECT_EQ(c.Command(big + "."), "552 5.3.4 Error: message file too big");
}

TEST_F(SmtpSinkTest, BareLineFeedsAreRecorded) {
  SmtpClient c(port_);
  c.ReadReply();
  c.Command("EHLO x");
  c.Command("MAIL FROM:<a@b>");
  c.Command("RCPT TO:<c@d>");
  c.Command("DATA");
  EXPECT_EQ(c.Command("Subject: lf\n\nbody\r\n.").substr(0, 3), "250");
  auto msgs = Messages();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_FALSE(msgs[0].at("crlf_ok").as_bool());
  EXPECT_EQ(msgs[0].at("data").as_string(), "Subject: lf\n\nbody\r\n");
}

TEST_F(SmtpSinkTest, PipelinedCommandsGetRepliesInOrder) {
  SmtpClient c(port_);
  c.ReadReply();
  c.SendRaw("EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nDATA\r\n");
  EXPECT_EQ(c.ReadReply().substr(0, 4), "250-");
  EXPECT_EQ(c.ReadReply(), "250 2.1.0 Ok");
  EXPECT_EQ(c.ReadReply(), "250 2.1.5 Ok");
  EXPECT_EQ(c.ReadReply(), "250 2.1.5 Ok");
  EXPECT_EQ(c.ReadReply().substr(0, 3), "354");
  c.SendRaw("hello\r\n.\r\nQUIT\r\n");
  EXPECT_EQ(c.ReadReply().substr(0, 3), "250");
  EXPECT_EQ(c.ReadReply(), "221 2.0.0 Bye");
}

TEST_F(SmtpSinkTest, AuthIsAdvertisedRequiredAndChecked) {
  StartSim("user", "secret");
  SmtpClient c(port_);
  c.ReadReply();
  std::string ehlo = c.Command("EHLO x");
  EXPECT_NE(ehlo.find("250 AUTH PLAIN LOGIN"), std::string::npos) << ehlo;
  EXPECT_EQ(c.Command("MAIL FROM:<a@b>"), "530 5.7.0 Authentication required");
  // PLAIN with initial response, wrong password.
  std::string bad = crypto::Base64Encode(std::string("\0user\0wrong", 11));
  EXPECT_EQ(c.Command("AUTH PLAIN " + bad), "535 5.7.8 Error: authentication failed");
  // PLAIN without initial response.
  EXPECT_EQ(c.Command("AUTH PLAIN"), "334 ");
  std::string good = crypto::Base64Encode(std::string("\0user\0secret", 12));
  EXPECT_EQ(c.Command(good), "235 2.7.0 Authentication successful");
  EXPECT_EQ(c.Command("AUTH PLAIN " + good), "503 5.5.1 Error: already authenticated");
  EXPECT_EQ(c.Command("MAIL FROM:<a@b>"), "250 2.1.0 Ok");

  SmtpClient l(port_);
  l.ReadReply();
  l.Command("EHLO y");
  EXPECT_EQ(l.Command("AUTH LOGIN"), "334 VXNlcm5hbWU6");
  EXPECT_EQ(l.Command(crypto::Base64Encode("user")), "334 UGFzc3dvcmQ6");
  EXPECT_EQ(l.Command(crypto::Base64Encode("secret")), "235 2.7.0 Authentication successful");

  SmtpClient a(port_);
  a.ReadReply();
  a.Command("EHLO z");
  EXPECT_EQ(a.Command("AUTH LOGIN"), "334 VXNlcm5hbWU6");
  EXPECT_EQ(a.Command("*"), "501 5.7.0 Error: authentication aborted");
  EXPECT_EQ(a.Command("AUTH CRAM-MD5"), "504 5.5.4 Error: unsupported authentication mechanism");

  auto s = Stats().at("smtp");
  EXPECT_EQ(s.at("auth_ok").as_int64(), 2);
  EXPECT_EQ(s.at("auth_failed").as_int64(), 1);
}

TEST_F(SmtpSinkTest, RcptFaultOnlyForMatchingRecipients) {
  AddFault(R"({"endpoint":"smtp","command":"RCPT","reply":"550 5.1.1 User unknown",
               "match":"bounce@"})");
  SmtpClient c(port_);
  c.ReadReply();
  c.Command("EHLO x");
  c.Command("MAIL FROM:<a@b>");
  EXPECT_EQ(c.Command("RCPT TO:<ok@dest>"), "250 2.1.5 Ok");
  EXPECT_EQ(c.Command("RCPT TO:<bounce@dest>"), "550 5.1.1 User unknown");
  c.Command("DATA");
  EXPECT_EQ(c.Command("x\r\n.").substr(0, 3), "250");
  auto msgs = Messages();
  ASSERT_EQ(msgs.size(), 1u);
  ASSERT_EQ(msgs[0].at("rcpt_to").as_array().size(), 1u);
  auto s = Stats().at("smtp");
  EXPECT_EQ(s.at("recipients_rejected").as_int64(), 1);
  EXPECT_EQ(s.at("faulted").as_int64(), 1);
}

TEST_F(SmtpSinkTest, Reply421ClosesTheConnection) {
  AddFault(R"({"endpoint":"smtp","command":"MAIL","reply":"421 4.7.0 Try later","count":1})");
  SmtpClient c(port_);
  c.ReadReply();
  c.Command("EHLO x");
  EXPECT_EQ(c.Command("MAIL FROM:<a@b>"), "421 4.7.0 Try later");
  EXPECT_TRUE(c.Closed());
  SmtpClient d(port_);  // count 1: the next session is fine
  d.ReadReply();
  d.Command("EHLO x");
  EXPECT_EQ(d.Command("MAIL FROM:<a@b>"), "250 2.1.0 Ok");
}

TEST_F(SmtpSinkTest, EndOfDataFaultRejectsTheMessage) {
  AddFault(R"({"endpoint":"smtp","command":".","reply":"451 4.7.1 Greylisted","count":1})");
  SmtpClient c(port_);
  c.ReadReply();
  c.Command("EHLO x");
  c.Command("MAIL FROM:<a@b>");
  c.Command("RCPT TO:<c@d>");
  c.Command("DATA");
  EXPECT_EQ(c.Command("x\r\n."), "451 4.7.1 Greylisted");
  auto msgs = Messages();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_FALSE(msgs[0].at("accepted").as_bool());
  EXPECT_EQ(msgs[0].at("reply").as_string(), "451 4.7.1 Greylisted");
  // The transaction is over; a new one works.
  EXPECT_EQ(c.Command("MAIL FROM:<a@b>"), "250 2.1.0 Ok");
}

TEST_F(SmtpSinkTest, GreetingFaultAndDelay) {
  AddFault(R"({"endpoint":"smtp","command":"CONNECT","reply":"554 5.3.2 No service","count":1})");
  AddFault(R"({"endpoint":"smtp","command":"RCPT","delay_ms":250,"count":1})");
  {
    SmtpClient c(port_);
    EXPECT_EQ(c.ReadReply(), "554 5.3.2 No service");
    EXPECT_EQ(c.Command("EHLO x"), "503 5.5.1 Error: no SMTP service here");
    EXPECT_EQ(c.Command("QUIT"), "221 2.0.0 Bye");
  }
  SmtpClient c(port_);
  c.ReadReply();
  c.Command("EHLO x");
  c.Command("MAIL FROM:<a@b>");
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(c.Command("RCPT TO:<c@d>"), "250 2.1.5 Ok");
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(240));
}

// ---- libcurl, the gateway's real SMTP client ----

struct CurlResult {
  CURLcode code = CURLE_OK;
  long response = 0;
};

size_t ReadFromString(char* buf, size_t size, size_t n, void* user) {
  auto* src = static_cast<std::pair<std::string, size_t>*>(user);
  size_t len = std::min(size * n, src->first.size() - src->second);
  std::memcpy(buf, src->first.data() + src->second, len);
  src->second += len;
  return len;
}

CurlResult CurlSend(CURL* h, uint16_t port, const std::string& from,
                    const std::vector<std::string>& rcpts, const std::string& message) {
  std::string url = "smtp://127.0.0.1:" + std::to_string(port) + "/gw.example.test";
  curl_slist* list = nullptr;
  for (const auto& r : rcpts) list = curl_slist_append(list, r.c_str());
  std::pair<std::string, size_t> src{message, 0};
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, list);
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h, CURLOPT_READFUNCTION, ReadFromString);
  curl_easy_setopt(h, CURLOPT_READDATA, &src);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
  CurlResult r;
  r.code = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.response);
  curl_slist_free_all(list);
  return r;
}

const std::string kMessage =
    "From: <noreply@example.com>\r\nTo: <a@dest.example>\r\nSubject: test\r\n"
    "Message-ID: <1@example.com>\r\n\r\nHello\r\n.dot line\r\nBye\r\n";

TEST_F(SmtpSinkTest, LibcurlSendsWithAuthPlainAndReusesTheConnection) {
  StartSim("user", "secret");
  for (long sasl_ir : {0L, 1L}) {
    CURL* h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_USERNAME, "user");
    curl_easy_setopt(h, CURLOPT_PASSWORD, "secret");
    curl_easy_setopt(h, CURLOPT_LOGIN_OPTIONS, "AUTH=PLAIN");
    curl_easy_setopt(h, CURLOPT_SASL_IR, sasl_ir);
    for (int i = 0; i < 2; ++i) {
      auto r = CurlSend(h, port_, "<bounces@example.com>", {"<a@dest.example>"}, kMessage);
      EXPECT_EQ(r.code, CURLE_OK) << curl_easy_strerror(r.code);
      EXPECT_EQ(r.response, 250);
    }
    curl_easy_cleanup(h);
  }
  auto msgs = Messages();
  ASSERT_EQ(msgs.size(), 4u);
  EXPECT_EQ(msgs[0].at("data").as_string(), kMessage);  // curl stuffed, the sink un-stuffed
  EXPECT_TRUE(msgs[0].at("crlf_ok").as_bool());
  EXPECT_EQ(msgs[0].at("auth_user").as_string(), "user");
  EXPECT_EQ(msgs[0].at("mail_from").as_string(), "bounces@example.com");
  auto s = Stats().at("smtp");
  EXPECT_EQ(s.at("connections").as_int64(), 2);  // one per handle: reused across messages
  EXPECT_EQ(s.at("auth_ok").as_int64(), 2);
}

TEST_F(SmtpSinkTest, AnIdleSessionGetsA421ThenIsClosed) {
  StartSim("", "", std::chrono::seconds(1));
  SmtpClient c(port_);
  c.ReadReply();
  EXPECT_EQ(c.Command("EHLO gw.example.test").substr(0, 14), "250-reach-sim\n");
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(c.ReadReply(), "421 4.4.2 reach-sim Error: timeout exceeded");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(900));
  EXPECT_TRUE(c.Closed());
  EXPECT_EQ(Stats().at("smtp").at("replies").at("421").as_int64(), 1);
}

TEST_F(SmtpSinkTest, LibcurlAuthLoginAndBadPassword) {
  StartSim("user", "secret");
  CURL* h = curl_easy_init();
  curl_easy_setopt(h, CURLOPT_USERNAME, "user");
  curl_easy_setopt(h, CURLOPT_PASSWORD, "secret");
  curl_easy_setopt(h, CURLOPT_LOGIN_OPTIONS, "AUTH=LOGIN");
  EXPECT_EQ(CurlSend(h, port_, "<a@b>", {"<c@d>"}, kMessage).code, CURLE_OK);
  curl_easy_cleanup(h);

  h = curl_easy_init();
  curl_easy_setopt(h, CURLOPT_USERNAME, "user");
  curl_easy_setopt(h, CURLOPT_PASSWORD, "wrong");
  auto r = CurlSend(h, port_, "<a@b>", {"<c@d>"}, kMessage);
  EXPECT_EQ(r.code, CURLE_LOGIN_DENIED);
  EXPECT_EQ(r.response, 535);
  curl_easy_cleanup(h);
}

TEST_F(SmtpSinkTest, LibcurlSeesInjectedRcptRejection) {
  AddFault(R"({"endpoint":"smtp","command":"RCPT","reply":"550 5.1.1 User unknown",
               "match":"bounce@","count":1})");
  CURL* h = curl_easy_init();
  auto bad = CurlSend(h, port_, "<a@b>", {"<bounce@dest.example>"}, kMessage);
  EXPECT_EQ(bad.code, CURLE_SEND_ERROR);
  EXPECT_EQ(bad.response, 550);
  auto good = CurlSend(h, port_, "<a@b>", {"<bounce@dest.example>"}, kMessage);
  EXPECT_EQ(good.code, CURLE_OK);
  curl_easy_cleanup(h);
}

TEST_F(SmtpSinkTest, ManyConcurrentSessionsWithSmtpSource) {
  const char* tool = "/usr/sbin/smtp-source";
  if (access(tool, X_OK) != 0) GTEST_SKIP() << "postfix smtp-source not installed";
  // 20 parallel sessions, 500 messages of 2 recipients each, connections reused (-d).
  std::string cmd = std::string(tool) +
                    " -s 20 -m 500 -r 2 -d -f from@example.com -t to@example.com 127.0.0.1:" +
                    std::to_string(port_) + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto s = Stats().at("smtp");
  EXPECT_EQ(s.at("accepted").as_int64(), 500);
  EXPECT_EQ(s.at("rejected").as_int64(), 0);
  EXPECT_EQ(s.at("recipients_accepted").as_int64(), 1000);
  EXPECT_LE(s.at("connections").as_int64(), 20);
}

}  // namespace
}  // namespace reach::sim
