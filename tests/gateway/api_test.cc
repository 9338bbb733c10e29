// API validation and behaviour over real HTTP against a real SQLite store (hooks faked).
#include "gateway/http/api.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <future>

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

struct BadCase {
  const char* name;
  std::string body;
  int status;
  const char* field;
};

TEST_F(ApiTest, BadInputIsRejectedNamingTheFieldAndStoresNothing) {
  std::vector<BadCase> cases = {
      {"malformed json", R"({"template": "welcome",)", 400, "body"},
      {"not an object", R"([1,2])", 400, "body"},
      {"missing template", R"({"channels":["email"],"to":{"email":"a@b.cn"}})", 400, "template"},
      {"template wrong type", R"({"template":5,"channels":["email"],"to":{"email":"a@b.cn"}})",
       400, "template"},
      {"channels wrong type",
       R"({"template":"welcome","channels":"email","to":{"email":"a@b.cn"}})", 400, "channels"},
      {"unknown channel",
       R"({"template":"welcome","channels":["pigeon"],"to":{"email":"a@b.cn"}})", 400,
       "channels[0]"},
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
  for (const auto& c : cases) {
    Reply r = Post("/v1/messages", c.body);
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.raw;
    EXPECT_EQ(ErrorField(r), c.field) << c.name << ": " << r.raw;
    ASSERT_TRUE(r.body.is_object()) << c.name;
    EXPECT_EQ(r.body.at("error").at("code").as_string(), "invalid_argument") << c.name;
  }
  EXPECT_EQ(Stored(), 0);
  EXPECT_EQ(enqueued_.load(), 0);
}

TEST_F(ApiTest, OversizeBodyIs413) {
  std::string big = R"({"template":"welcome","pad":")" + std::string(5 * 1024 * 1024, 'x') + "\"}";
  Reply r = Post("/v1/messages", big);
  EXPECT_EQ(r.status, 413) << r.raw.substr(0, 200);
  EXPECT_EQ(r.body.at("error").at("code").as_string(), "payload_too_large");
  EXPECT_EQ(Stored(), 0);
}

TEST_F(ApiTest, BatchOf10001IsRejectedWhole) {
  std::string body = R"({"template":"welcome","channels":["email"],"vars":{"name":"x"},"messages":[)";
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

TEST(Rfc3339Test, Parses) {
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z").value_or(-1), 0);
  EXPECT_EQ(ParseRfc3339("2026-11-24T09:00:00+08:00").value_or(-1), 1795482000000);
  EXPECT_EQ(ParseRfc3339("2026-11-24T01:00:00.250Z").value_or(-1), 1795482000250);
  EXPECT_FALSE(ParseRfc3339("2026-11-24 09:00").has_value());
  EXPECT_FALSE(ParseRfc3339("2026-13-24T09:00:00Z").has_value());
  EXPECT_FALSE(ParseRfc3339("2026-11-24T09:00:00").has_value());
}

}  // namespace
}  // namespace reach::http
