#include "tests/sim/fault_table.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace reach::sim {
namespace {

Result<Fault> Parse(std::string_view json) { return FaultTable::Parse(boost::json::parse(json)); }

TEST(FaultTableTest, ParsesHttpFault) {
  auto f = Parse(R"({"endpoint":"webhook","status":503,"retry_after_s":2,"delay_ms":10,
                     "drop":false,"count":3,"probability":1.0,"body":"busy"})");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const auto& h = std::get<HttpFault>(*f);
  EXPECT_EQ(h.endpoint, "webhook");
  EXPECT_EQ(h.status, 503u);
  EXPECT_EQ(h.retry_after_s, 2);
  EXPECT_EQ(h.delay_ms, 10);
  EXPECT_EQ(h.remaining, 3);
  EXPECT_EQ(h.body, "busy");
}

TEST(FaultTableTest, RetryAfterAloneImplies429) {
  auto f = Parse(R"({"endpoint":"webhook","retry_after_s":5})");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(std::get<HttpFault>(*f).status, 429u);
}

TEST(FaultTableTest, ParsesSmtpFaultAnd421Closes) {
  auto f = Parse(R"({"endpoint":"smtp","command":"mail","reply":"421 4.7.0 Try later"})");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const auto& s = std::get<SmtpFault>(*f);
  EXPECT_EQ(s.command, "MAIL");
  EXPECT_TRUE(s.close);
}

TEST(FaultTableTest, RejectsInvalidFaultsNamingTheField) {
  EXPECT_EQ(Parse(R"({"status":503})").status().field(), "endpoint");
  EXPECT_EQ(Parse(R"({"endpoint":"webhook","status":99})").status().field(), "status");
  EXPECT_EQ(Parse(R"({"endpoint":"webhook","status":503,"colour":1})").status().field(), "colour");
  EXPECT_EQ(Parse(R"({"endpoint":"webhook","status":503,"count":0})").status().field(), "count");
  EXPECT_EQ(Parse(R"({"endpoint":"webhook","status":503,"probability":2})").status().field(),
            "probability");
  EXPECT_EQ(Parse(R"({"endpoint":"webhook"})").status().field(), "status");
  EXPECT_EQ(Parse(R"({"endpoint":"smtp","command":"XYZZY","reply":"550 no"})").status().field(),
            "command");
  EXPECT_EQ(Parse(R"({"endpoint":"smtp","command":"RCPT","reply":"hello"})").status().field(),
            "reply");
  EXPECT_FALSE(Parse("[1]").ok());
}

TEST(FaultTableTest, CountIsConsumedThenTheRuleIsGone) {
  FaultTable t(1);
  (void)t.Add(std::get<HttpFault>(*Parse(R"({"endpoint":"webhook","status":503,"count":2})")));
  EXPECT_TRUE(t.TakeHttp("webhook").has_value());
  EXPECT_FALSE(t.TakeHttp("other").has_value());
  EXPECT_TRUE(t.TakeHttp("webhook").has_value());
  EXPECT_FALSE(t.TakeHttp("webhook").has_value());
  EXPECT_EQ(t.ToJson().as_array().size(), 0u);
}

TEST(FaultTableTest, RulesApplyInOrder) {
  FaultTable t(1);
  (void)t.Add(*Parse(R"({"endpoint":"webhook","status":500,"count":1})"));
  (void)t.Add(*Parse(R"({"endpoint":"webhook","status":429,"count":1})"));
  EXPECT_EQ(t.TakeHttp("webhook")->status, 500u);
  EXPECT_EQ(t.TakeHttp("webhook")->status, 429u);
  EXPECT_FALSE(t.TakeHttp("webhook").has_value());
}

TEST(FaultTableTest, ProbabilityZeroNeverAndOneAlways) {
  FaultTable t(7);
  (void)t.Add(*Parse(R"({"endpoint":"a","status":500,"probability":0})"));
  (void)t.Add(*Parse(R"({"endpoint":"b","status":500,"probability":1})"));
  for (int i = 0; i < 100; ++i) {
    EXPECT_FALSE(t.TakeHttp("a").has_value());
    EXPECT_TRUE(t.TakeHttp("b").has_value());
  }
}

TEST(FaultTableTest, ProbabilityHalfAppliesToAboutHalf) {
  FaultTable t(42);
  (void)t.Add(*Parse(R"({"endpoint":"a","status":500,"probability":0.5})"));
  int hits = 0;
  for (int i = 0; i < 2000; ++i) hits += t.TakeHttp("a").has_value() ? 1 : 0;
  EXPECT_GT(hits, 800);
  EXPECT_LT(hits, 1200);
}

TEST(FaultTableTest, SmtpMatchIsASubstringOfAnySubject) {
  FaultTable t(1);
  (void)t.Add(*Parse(
      R"({"endpoint":"smtp","command":"RCPT","reply":"550 5.1.1 User unknown","match":"bounce@"})"));
  EXPECT_FALSE(t.TakeSmtp("RCPT", {"ok@example.com"}).has_value());
  EXPECT_FALSE(t.TakeSmtp("MAIL", {"bounce@example.com"}).has_value());
  auto f = t.TakeSmtp("RCPT", {"x@y", "bounce@example.com"});
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->reply, "550 5.1.1 User unknown");
}

TEST(FaultTableTest, ClearByEndpoint) {
  FaultTable t(1);
  (void)t.Add(*Parse(R"({"endpoint":"a","status":500})"));
  (void)t.Add(*Parse(R"({"endpoint":"b","status":500})"));
  (void)t.Add(*Parse(R"({"endpoint":"smtp","command":"DATA","reply":"554 5.7.1 no"})"));
  EXPECT_EQ(t.Clear("a"), 1u);
  EXPECT_FALSE(t.TakeHttp("a").has_value());
  EXPECT_TRUE(t.TakeHttp("b").has_value());
  EXPECT_EQ(t.Clear(), 2u);
}

}  // namespace
}  // namespace reach::sim
