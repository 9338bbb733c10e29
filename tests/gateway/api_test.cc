// API validation and behaviour over real HTTP against a real SQLite store (hooks faked).
#include "gateway/http/api.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <future>
#include <sstream>
#include <vector>

#include "gateway/logging/logging.h"
#include "gateway/store/sqlite_store.h"
#include "tests/fakes/fake_clock.h"

namespace reach::http {
namespace {

namespace json = boost::json;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct Reply {
  int status = 0;
  json::value body;
  std::string raw;
};

// A request that must be refused as invalid_argument with `status`, naming `field`.
struct BadCase {
  const char* name;
  std::string body;
  int status;
  const char* field;
};

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("reach_api_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    clock_.Set(1'700'000'000'000);
    store::SqliteStoreOptions o;
    o.path = (dir_ / "reach.db").string();
    store_ = std::move(store::SqliteStore::Open(o, clock_).value());

    config_.server.listen = "127.0.0.1:0";
    config_.server.body_limit_bytes = 4 * 1024 * 1024;
    ApiHooks hooks;
    hooks.channel_configured = [](const std::string& c) { return c == "email" || c == "webhook"; };
    hooks.check_template = [](const std::string& name, const std::vector<std::string>& channels,
                              const json::object& vars, ApiHooks::TemplateInfo* info) -> Status {
      if (name != "welcome") return Status::InvalidArgument("unknown template", "template");
      (void)channels;
      if (!vars.contains("name")) return Status::InvalidArgument("missing", "vars.name");
      info->version = "v1";
      info->category = "transactional";
      return Status::Ok();
    };
    hooks.on_enqueued = [this] { enqueued_++; };
    api_ = std::make_unique<Api>(*store_, config_, hooks, clock_, metrics_);
    server_ = std::make_unique<Server>(
        config_.server, [this](Request&& r, Responder resp) { api_->Handle(std::move(r), resp); },
        metrics_);
    auto addr = server_->Start();
    ASSERT_TRUE(addr.ok());
    port_ = static_cast<unsigned short>(std::stoi(addr->substr(addr->rfind(':') + 1)));
  }
  void TearDown() override {
    server_->Stop();
    store_->Close();
    std::filesystem::remove_all(dir_);
  }

  Reply Call(boost::beast::http::verb verb, const std::string& target, const std::string& body,
             std::vector<std::pair<std::string, std::string>> headers = {}) {
    net::io_context io;
    boost::beast::tcp_stream stream(io);
    stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_));
    boost::beast::http::request<boost::beast::http::string_body> req{verb, target, 11};
    req.set(boost::beast::http::field::host, "127.0.0.1");
    req.set(boost::beast::http::field::content_type, "application/json");
    for (auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    boost::beast::error_code wec;
    // The server may answer (413) before the whole body is written: keep going to the read.
    boost::beast::http::write(stream, req, wec);
    boost::beast::flat_buffer buf;
    boost::beast::http::response_parser<boost::beast::http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    boost::beast::error_code ec;
    boost::beast::http::read(stream, buf, parser, ec);
    Reply r;
    if (ec) return r;
    r.status = parser.get().result_int();
    r.raw = parser.get().body();
    boost::system::error_code jec;
    r.body = json::parse(r.raw, jec);
    return r;
  }
  Reply Post(const std::string& target, const std::string& body,
             std::vector<std::pair<std::string, std::string>> headers = {}) {
    return Call(boost::beast::http::verb::post, target, body, std::move(headers));
  }
  std::string ErrorField(const Reply& r) {
    if (!r.body.is_object() || !r.body.as_object().contains("error")) return "<no error>";
    const auto& e = r.body.at("error").as_object();
    return e.contains("field") ? std::string(e.at("field").as_string()) : "";
  }
  int64_t Stored() { return store_->Stats()->total; }
  // Each case is refused with its status and the error shape of API.md naming its field.
  void ExpectRejected(const std::string& target, const std::vector<BadCase>& cases) {
    for (const auto& c : cases) {
      Reply r = Post(target, c.body);
      EXPECT_EQ(r.status, c.status) << c.name << ": " << r.raw;
      ASSERT_TRUE(r.body.is_object() && r.body.as_object().contains("error")) << c.name << r.raw;
      const json::object& e = r.body.at("error").as_object();
      EXPECT_EQ(e.at("code").as_string(), "invalid_argument") << c.name;
      EXPECT_FALSE(e.at("message").as_string().empty()) << c.name;
      EXPECT_EQ(ErrorField(r), c.field) << c.name << ": " << r.raw;
    }
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  config::Config config_;
  metrics::Registry metrics_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<Server> server_;
  unsigned short port_ = 0;
  std::atomic<int> enqueued_{0};
};

const char* kGood =
    R"({"template":"welcome","channels":["email"],"to":{"email":"li.lei@example.com"},"vars":{"name":"李雷"}})";

TEST_F(ApiTest, AcceptedMessageIsStoredAndReadable) {
  Reply r = Post("/v1/messages", kGood);
  ASSERT_EQ(r.status, 202) << r.raw;
  std::string id(r.body.at("id").as_string());
  EXPECT_EQ(r.body.at("status").as_string(), "queued");
  EXPECT_EQ(enqueued_.load(), 1);
  Reply g = Call(boost::beast::http::verb::get, "/v1/messages/" + id, "");
  ASSERT_EQ(g.status, 200) << g.raw;
  EXPECT_EQ(g.body.at("status").as_string(), "queued");
  EXPECT_EQ(g.body.at("template_version").as_string(), "v1");
  EXPECT_TRUE(g.body.at("attempts").as_array().empty());
}

TEST_F(ApiTest, BadInputIsRejectedNamingTheFieldAndStoresNothing) {
  std::vector<BadCase> cases = {
      {"malformed json", R"({"template": "welcome",)", 400, "body"},
      {"not an object", R"([1,2])", 400, "body"},
      {"missing template", R"({"channels":["email"],"to":{"email":"a@b.cn"}})", 400, "template"},
      {"template wrong type", R"({"template":5,"channels":["email"],"to":{"email":"a@b.cn"}})", 400,
       "template"},
      {"channels wrong type",
       R"({"template":"welcome","channels":"email","to":{"email":"a@b.cn"}})", 400, "channels"},
      {"unknown channel", R"({"template":"welcome","channels":["pigeon"],"to":{"email":"a@b.cn"}})",
       400, "channels[0]"},
      {"channel not configured",
       R"({"template":"welcome","channels":["sms"],"to":{"phone":"+8613800138000"},"vars":{"name":"x"}})",
       422, "channels[0]"},
      {"missing to.email for email",
       R"({"template":"welcome","channels":["email"],"to":{"phone":"+8613800138000"},"vars":{"name":"x"}})",
       400, "to.email"},
      {"bad email", R"({"template":"welcome","channels":["email"],"to":{"email":"nope"}})", 400,
       "to.email"},
      {"bad phone",
       R"({"template":"welcome","channels":["email"],"to":{"email":"a@b.cn","phone":"12345"}})",
       400, "to.phone"},
      {"unknown template",
       R"({"template":"nope","channels":["email"],"to":{"email":"a@b.cn"},"vars":{"name":"x"}})",
       422, "template"},
      {"missing variable", R"({"template":"welcome","channels":["email"],"to":{"email":"a@b.cn"}})",
       422, "vars.name"},
      {"priority out of range",
       R"({"template":"welcome","channels":["email"],"to":{"email":"a@b.cn"},"vars":{"name":"x"},"priority":12})",
       400, "priority"},
      {"bad send_at",
       R"({"template":"welcome","channels":["email"],"to":{"email":"a@b.cn"},"vars":{"name":"x"},"send_at":"tomorrow"})",
       400, "send_at"},
      {"bad category",
       R"({"template":"welcome","channels":["email"],"to":{"email":"a@b.cn"},"vars":{"name":"x"},"category":"spam"})",
       400, "category"},
      {"unknown field",
       R"({"template":"welcome","chanels":["email"],"to":{"email":"a@b.cn"},"vars":{"name":"x"}})",
       400, "chanels"},
  };
  ExpectRejected("/v1/messages", cases);
  EXPECT_EQ(Stored(), 0);
  EXPECT_EQ(enqueued_.load(), 0);
}

// Each channel needs its address kind in `to` (API.md); a missing one is a 400 naming it, even
// when the channel is not configured here (malformed beats not-acceptable).
TEST_F(ApiTest, EveryChannelNeedsItsAddressKind) {
  struct Case {
    const char* channels;
    const char* field;
  };
  std::vector<Case> cases = {
      {R"(["sms"])", "to.phone"},
      {R"(["rcs"])", "to.phone"},
      {R"(["email"])", "to.email"},
      {R"(["wechat_template"])", "to.wechat_openid"},
      {R"(["wechat_subscribe"])", "to.miniprogram_openid"},
      {R"(["wecom"])", "to.wecom_userid"},
      {R"(["push"])", "to"},
      {R"(["webhook","sms"])", "to.phone"},  // a fallback channel needs its address too
  };
  for (const auto& c : cases) {
    std::string body = std::string(R"({"template":"welcome","channels":)") + c.channels +
                       R"(,"to":{"user_id":"u-1"},"vars":{"name":"x"}})";
    Reply r = Post("/v1/messages", body);
    EXPECT_EQ(r.status, 400) << c.channels << ": " << r.raw;
    EXPECT_EQ(ErrorField(r), c.field) << c.channels << ": " << r.raw;
  }
  // With the address present, an unconfigured channel is a 422 naming the channel.
  std::vector<std::pair<std::string, std::string>> ok_address = {
      {"sms", R"({"phone":"+8613800138000"})"},
      {"rcs", R"({"phone":"+8613800138000"})"},
      {"wechat_template", R"({"wechat_openid":"oABC"})"},
      {"wechat_subscribe", R"({"miniprogram_openid":"oXYZ"})"},
      {"wecom", R"({"wecom_userid":"lilei"})"},
      {"wecom_robot", R"({})"},
      {"push", R"({"apns_token":"a1b2"})"},
      {"push", R"({"fcm_token":"dXN"})"},
      {"push", R"({"jpush_registration_id":"1a00"})"},
  };
  for (const auto& [channel, to] : ok_address) {
    std::string body = R"({"template":"welcome","channels":[")" + channel + R"("],"to":)" + to +
                       R"(,"vars":{"name":"x"}})";
    Reply r = Post("/v1/messages", body);
    EXPECT_EQ(r.status, 422) << channel << ": " << r.raw;
    EXPECT_EQ(ErrorField(r), "channels[0]") << channel << ": " << r.raw;
  }
  // Configured channels that need no address kind (webhook) or have theirs are accepted.
  EXPECT_EQ(Post("/v1/messages",
                 R"({"template":"welcome","channels":["webhook"],"to":{},"vars":{"name":"x"}})")
                .status,
            202);
  EXPECT_EQ(Stored(), 1);
}

// Wrong types and bad values in every field: a 400 with the complete error shape, naming the
// field (with the batch prefix where there is one), and nothing stored.
TEST_F(ApiTest, WrongTypesAndValuesNameTheirField) {
  const std::string head = R"({"template":"welcome","channels":["email"],)";
  const std::string to = R"("to":{"email":"a@b.cn"})";
  const std::string vars = R"("vars":{"name":"x"})";
  auto with = [&](const std::string& extra) { return head + to + "," + vars + "," + extra + "}"; };
  std::vector<BadCase> cases = {
      {"channels empty", head.substr(0, head.find("\"channels\"")) + R"("channels":[],)" + to + "}",
       400, "channels"},
      {"channel not a string", R"({"template":"welcome","channels":[7],)" + to + "}", 400,
       "channels[0]"},
      {"channel twice", R"({"template":"welcome","channels":["email","email"],)" + to + "}", 400,
       "channels[1]"},
      {"to missing", R"({"template":"welcome","channels":["email"],"vars":{"name":"x"}})", 400,
       "to"},
      {"to not an object", head + R"("to":"a@b.cn"})", 400, "to"},
      {"to.email not a string", head + R"("to":{"email":42}})", 400, "to.email"},
      {"to unknown kind", head + R"("to":{"email":"a@b.cn","fax":"123"}})", 400, "to.fax"},
      {"to.webhook_url not http", head + R"("to":{"email":"a@b.cn","webhook_url":"ftp://x"}})", 400,
       "to.webhook_url"},
      {"vars not an object", head + to + R"(,"vars":["x"]})", 400, "vars"},
      {"locale not a string", with(R"("locale":5)"), 400, "locale"},
      {"category not a string", with(R"("category":1)"), 400, "category"},
      {"priority not an integer", with(R"("priority":"high")"), 400, "priority"},
      {"priority fractional", with(R"("priority":4.5)"), 400, "priority"},
      {"priority negative", with(R"("priority":-1)"), 400, "priority"},
      {"send_at not a string", with(R"("send_at":1700000000)"), 400, "send_at"},
      {"send_at no zone", with(R"("send_at":"2026-11-24T09:00:00")"), 400, "send_at"},
      {"ttl_s not an integer", with(R"("ttl_s":"1d")"), 400, "ttl_s"},
      {"ttl_s zero", with(R"("ttl_s":0)"), 400, "ttl_s"},
      {"ttl_s over 30 days", with(R"("ttl_s":2592001)"), 400, "ttl_s"},
      {"idempotency_key empty", with(R"("idempotency_key":"")"), 400, "idempotency_key"},
      {"idempotency_key too long", with(R"("idempotency_key":")" + std::string(256, 'k') + "\""),
       400, "idempotency_key"},
      {"callback_url not http", with(R"("callback_url":"mailto:x@y.cn")"), 400, "callback_url"},
      {"metadata not an object", with(R"("metadata":"c1")"), 400, "metadata"},
      {"metadata value not a string", with(R"("metadata":{"campaign":42})"), 400,
       "metadata.campaign"},
      // A malformed request is a 400 even when its template is unknown too (422 comes last).
      {"bad priority and unknown template",
       R"({"template":"nope","channels":["email"],)" + to + R"(,"priority":99})", 400, "priority"},
  };
  ExpectRejected("/v1/messages", cases);
  EXPECT_EQ(Stored(), 0);
  EXPECT_EQ(enqueued_.load(), 0);
  Reply m = Call(boost::beast::http::verb::get, "/metrics", "");
  EXPECT_NE(m.raw.find("reach_api_messages_accepted_total 0"), std::string::npos) << m.raw;
  EXPECT_NE(m.raw.find("reach_api_messages_rejected_total " + std::to_string(cases.size())),
            std::string::npos)
      << m.raw;
}

// A rejected request that carried an idempotency key left nothing behind: the same key with a
// good request afterwards creates a new message, not a duplicate.
TEST_F(ApiTest, RejectedRequestDoesNotConsumeItsIdempotencyKey) {
  Reply bad =
      Post("/v1/messages", R"({"template":"welcome","channels":["email"],"to":{"email":"a@b.cn"}})",
           {{"Idempotency-Key", "k-rej"}});
  ASSERT_EQ(bad.status, 422) << bad.raw;  // vars.name missing
  Reply good = Post("/v1/messages", kGood, {{"Idempotency-Key", "k-rej"}});
  ASSERT_EQ(good.status, 202) << good.raw;
  EXPECT_FALSE(good.body.as_object().contains("duplicate")) << good.raw;
  EXPECT_EQ(Stored(), 1);
}

TEST_F(ApiTest, IdempotencyConflictNamesTheKey) {
  ASSERT_EQ(Post("/v1/messages", kGood, {{"Idempotency-Key", "k-c"}}).status, 202);
  std::string other =
      R"({"template":"welcome","channels":["email"],"to":{"email":"b@b.cn"},"vars":{"name":"x"},"idempotency_key":"k-c"})";
  Reply c = Post("/v1/messages", other);
  EXPECT_EQ(c.status, 409) << c.raw;
  EXPECT_EQ(c.body.at("error").at("code").as_string(), "conflict");
  EXPECT_EQ(ErrorField(c), "idempotency_key");
  EXPECT_FALSE(c.body.at("error").at("message").as_string().empty());
  // In a batch, the conflicting item says which one it is; the others are committed.
  Reply b = Post("/v1/messages/batch",
                 R"({"template":"welcome","channels":["email"],"vars":{"name":"x"},"messages":[
                   {"to":{"email":"c@b.cn"}},
                   {"to":{"email":"b@b.cn"},"idempotency_key":"k-c"}]})");
  ASSERT_EQ(b.status, 202) << b.raw;
  const auto& results = b.body.at("results").as_array();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].as_object().contains("id")) << b.raw;
  EXPECT_EQ(results[1].at("error").at("code").as_string(), "conflict") << b.raw;
  EXPECT_EQ(results[1].at("error").at("field").as_string(), "messages[1].idempotency_key");
  EXPECT_EQ(Stored(), 2);
}

// Errors of the batch as a whole: 400 (or 413 for size) naming the field; nothing stored.
TEST_F(ApiTest, BadBatchIsRejectedWholeNamingTheField) {
  std::vector<BadCase> cases = {
      {"malformed json", R"({"messages":[)", 400, "body"},
      {"not an object", R"([{"to":{}}])", 400, "body"},
      {"messages missing", R"({"template":"welcome","channels":["email"]})", 400, "messages"},
      {"messages not an array", R"({"template":"welcome","messages":{"to":{}}})", 400, "messages"},
      {"messages empty", R"({"template":"welcome","messages":[]})", 400, "messages"},
      {"unknown batch field", R"({"templat":"welcome","messages":[{"to":{}}]})", 400, "templat"},
      {"batch vars not an object",
       R"({"template":"welcome","channels":["email"],"vars":7,"messages":[{"to":{"email":"a@b.cn"}}]})",
       400, "vars"},
  };
  ExpectRejected("/v1/messages/batch", cases);
  EXPECT_EQ(Stored(), 0);
  Reply m = Call(boost::beast::http::verb::get, "/metrics", "");
  EXPECT_NE(m.raw.find("reach_api_batches_rejected_total " + std::to_string(cases.size())),
            std::string::npos)
      << m.raw;
}

TEST_F(ApiTest, OversizeBodyIs413) {
  std::string big = R"({"template":"welcome","pad":")" + std::string(5 * 1024 * 1024, 'x') + "\"}";
  Reply r = Post("/v1/messages", big);
  EXPECT_EQ(r.status, 413) << r.raw.substr(0, 200);
  EXPECT_EQ(r.body.at("error").at("code").as_string(), "payload_too_large");
  EXPECT_EQ(Stored(), 0);
}

TEST_F(ApiTest, BatchOf10001IsRejectedWhole) {
  std::string body =
      R"({"template":"welcome","channels":["email"],"vars":{"name":"x"},"messages":[)";
  for (int i = 0; i < 10001; ++i) {
    if (i) body += ',';
    body += R"({"to":{"email":"a@b.cn"}})";
  }
  body += "]}";
  Reply r = Post("/v1/messages/batch", body);
  EXPECT_EQ(r.status, 413) << r.raw.substr(0, 300);
  EXPECT_EQ(ErrorField(r), "messages");
  EXPECT_EQ(Stored(), 0);
}

TEST_F(ApiTest, BatchGivesPerItemResultsAndCommitsValidItems) {
  std::string body = R"({"template":"welcome","channels":["email"],"vars":{"name":"x"},"messages":[
    {"to":{"email":"a@b.cn"}},
    {"to":{"phone":"+8613800138000"}},
    {"to":{"email":"c@d.cn"},"vars":{"name":"y"},"idempotency_key":"b:1"},
    7
  ]})";
  Reply r = Post("/v1/messages/batch", body);
  ASSERT_EQ(r.status, 202) << r.raw;
  const auto& results = r.body.at("results").as_array();
  ASSERT_EQ(results.size(), 4u);
  EXPECT_TRUE(results[0].as_object().contains("id"));
  EXPECT_EQ(results[1].at("error").at("field").as_string(), "messages[1].to.email");
  EXPECT_TRUE(results[2].as_object().contains("id"));
  EXPECT_EQ(results[3].at("error").at("field").as_string(), "messages[3]");
  EXPECT_EQ(Stored(), 2);
}

TEST_F(ApiTest, IdempotencyKeyDeduplicatesAndConflicts) {
  Reply a = Post("/v1/messages", kGood, {{"Idempotency-Key", "k-1"}});
  Reply b = Post("/v1/messages", kGood, {{"Idempotency-Key", "k-1"}});
  ASSERT_EQ(a.status, 202);
  ASSERT_EQ(b.status, 202);
  EXPECT_EQ(a.body.at("id"), b.body.at("id"));
  EXPECT_TRUE(b.body.at("duplicate").as_bool());
  std::string other =
      R"({"template":"welcome","channels":["email"],"to":{"email":"x@example.com"},"vars":{"name":"x"}})";
  Reply c = Post("/v1/messages", other, {{"Idempotency-Key", "k-1"}});
  EXPECT_EQ(c.status, 409) << c.raw;
  EXPECT_EQ(c.body.at("error").at("code").as_string(), "conflict");
  EXPECT_EQ(Stored(), 1);
}

TEST_F(ApiTest, CancelBeforeSendingOnly) {
  Reply a = Post("/v1/messages", kGood);
  std::string id(a.body.at("id").as_string());
  Reply d = Call(boost::beast::http::verb::delete_, "/v1/messages/" + id, "");
  EXPECT_EQ(d.status, 200) << d.raw;
  Reply again = Call(boost::beast::http::verb::delete_, "/v1/messages/" + id, "");
  EXPECT_EQ(again.status, 409) << again.raw;
  EXPECT_EQ(Call(boost::beast::http::verb::get, "/v1/messages/msg_999", "").status, 404);
  EXPECT_EQ(Call(boost::beast::http::verb::get, "/v1/messages/garbage", "").status, 404);
}

TEST_F(ApiTest, OperationsEndpoints) {
  EXPECT_EQ(Call(boost::beast::http::verb::get, "/healthz", "").status, 200);
  EXPECT_EQ(Call(boost::beast::http::verb::get, "/readyz", "").status, 200);
  Post("/v1/messages", kGood);
  Reply m = Call(boost::beast::http::verb::get, "/metrics", "");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.raw.find("reach_api_messages_accepted_total 1"), std::string::npos) << m.raw;
  Reply o = Call(boost::beast::http::verb::get, "/v1/openapi.yaml", "");
  EXPECT_EQ(o.status, 200);
  EXPECT_NE(o.raw.find("openapi: 3"), std::string::npos);
  EXPECT_EQ(Call(boost::beast::http::verb::get, "/nope", "").status, 404);
  EXPECT_EQ(Call(boost::beast::http::verb::put, "/v1/messages", "").status, 405);
}

// The log scrubber (gateway/logging). Kept here because tests/gateway builds one binary for
// the gateway core; it moves to tests/gateway/logging_test.cc when that file is added.
TEST(RedactPersonalDataTest, MasksAddressesAndPhones) {
  using logging::RedactPersonalData;
  EXPECT_EQ(RedactPersonalData("550 5.1.1 <li.lei@example.com>: rejected"),
            "550 5.1.1 <l***@example.com>: rejected");
  EXPECT_EQ(RedactPersonalData("to=+8613800138000 code=400"), "to=+86138****8000 code=400");
  EXPECT_EQ(RedactPersonalData("call 13800138000, or 8613912345678."),
            "call 138****8000, or 86139****5678.");
  EXPECT_EQ(RedactPersonalData("a@b.cn and c.d+e@f.example.org"),
            "a***@b.cn and c***@f.example.org");
  EXPECT_EQ(RedactPersonalData("13800138000@qq.com"), "1***@qq.com");
  EXPECT_EQ(RedactPersonalData("{\"phone\":\"+8613800138000\"}"), "{\"phone\":\"+86138****8000\"}");
}

TEST(RedactPersonalDataTest, LeavesIdsNumbersAndMaskedTextAlone) {
  using logging::RedactPersonalData;
  for (const char* s :
       {"message msg_13800138000 sent channel=email to=l***@example.com provider_id=",
        "message msg_42 retry channel=webhook attempt=2 in=1000ms code=503", "to=+86138****8000",
        "ts 1700000000000 count 12345678901234567", "user@localhost", "@everyone",
        "id=ab13800138000", "path /u/13800138000", "+86 138", "李雷 <a@b>", "no personal data here",
        ""}) {
    EXPECT_EQ(RedactPersonalData(s), s) << s;
  }
}

// The stored payload is what the dispatcher renders from, and what an idempotency key's hash
// covers: exactly the JSON object {to, vars, locale, callback_url, metadata} of the request's
// values, in that order, the members the request leaves out left out.
TEST_F(ApiTest, StoredPayloadIsTheRequestsValuesAsOneObject) {
  const std::string full =
      R"({"template":"welcome","channels":["email"],"locale":"zh-CN",)"
      R"("to":{"email":"li.lei@example.com","user_id":"u \"1\""},)"
      R"("vars":{"name":"李雷","n":3,"list":[1,{"a":null}]},)"
      R"("callback_url":"https://cb.example/x?y=1","metadata":{"campaign":"c/1"}})";
  Reply r = Post("/v1/messages", full);
  ASSERT_EQ(r.status, 202) << r.raw;
  auto id = store::ParseExternalId(std::string(r.body.at("id").as_string()));
  ASSERT_TRUE(id.has_value());
  json::object req = json::parse(full).as_object();
  json::object want;
  want["to"] = req["to"];
  want["vars"] = req["vars"];
  want["locale"] = req["locale"];
  want["callback_url"] = req["callback_url"];
  want["metadata"] = req["metadata"];
  EXPECT_EQ(store_->Get(*id)->message.payload, json::serialize(want));

  // Only to and vars.
  r = Post("/v1/messages", kGood);
  ASSERT_EQ(r.status, 202) << r.raw;
  id = store::ParseExternalId(std::string(r.body.at("id").as_string()));
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(store_->Get(*id)->message.payload,
            R"({"to":{"email":"li.lei@example.com"},"vars":{"name":"李雷"}})");
}

TEST(Rfc3339Test, Parses) {
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z").value_or(-1), 0);
  EXPECT_EQ(ParseRfc3339("2026-11-24T09:00:00+08:00").value_or(-1), 1795482000000);
  EXPECT_EQ(ParseRfc3339("2026-11-24T01:00:00.250Z").value_or(-1), 1795482000250);
  EXPECT_FALSE(ParseRfc3339("2026-11-24 09:00").has_value());
  EXPECT_FALSE(ParseRfc3339("2026-13-24T09:00:00Z").has_value());
  EXPECT_FALSE(ParseRfc3339("2026-11-24T09:00:00").has_value());
  // Leap days and the days a month does not have.
  EXPECT_EQ(ParseRfc3339("2028-02-29T00:00:00Z").value_or(-1), 1835395200000);
  EXPECT_FALSE(ParseRfc3339("2026-02-29T00:00:00Z").has_value());
  EXPECT_FALSE(ParseRfc3339("2026-04-31T00:00:00Z").has_value());
  // A leap second is taken as the next second's start, as before; offsets west of UTC.
  EXPECT_EQ(ParseRfc3339("2026-12-31T23:59:60Z").value_or(-1), 1798761600000);
  EXPECT_EQ(ParseRfc3339("1969-12-31T19:00:00-05:00").value_or(-1), 0);
}

// The server writes each response's head itself: it must be byte for byte what Beast's
// serializer writes (status line, every field as set, in order; the body after it).
TEST(SerializeHeadTest, IsWhatBeastWrites) {
  std::vector<Response> responses;
  responses.push_back(JsonResponse(11, true, 202, R"({"id":"msg_1","status":"queued"})"));
  responses.push_back(JsonResponse(11, false, 404, R"({"error":{}})"));
  responses.push_back(JsonResponse(10, true, 200, "{}"));
  responses.push_back(ErrorResponse(11, true, 422, "invalid_argument", "bad \"to\"", "to.phone"));
  Response custom{bhttp::status::too_many_requests, 11};
  custom.reason("Slow Down");
  custom.set(bhttp::field::retry_after, "3");
  custom.insert("X-Extra", "a");
  custom.insert("X-Extra", "b");
  custom.body() = "wait";
  custom.prepare_payload();
  responses.push_back(std::move(custom));
  Response empty{bhttp::status::no_content, 11};
  responses.push_back(std::move(empty));
  for (const Response& res : responses) {
    std::ostringstream beast_wrote;
    beast_wrote << res;
    std::string head;
    SerializeHead(res, head);
    EXPECT_EQ(head + res.body(), beast_wrote.str());
  }
}

}  // namespace
}  // namespace reach::http
