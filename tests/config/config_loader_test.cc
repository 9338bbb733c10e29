#include "config/config_loader.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace reach::config {
namespace {

bool HasError(const LoadResult& r, const std::string& needle) {
  for (const auto& e : r.errors) {
    if (e.find(needle) != std::string::npos) return true;
  }
  return false;
}

std::string Dir() {
  auto d = std::filesystem::temp_directory_path() / ("reach_cfg_" + std::to_string(getpid()));
  std::filesystem::create_directories(d / "templates");
  return d.string();
}

TEST(ConfigLoaderTest, ShippedConfigIsValid) {
  auto r = LoadConfigFile(std::string(REACH_SOURCE_DIR) + "/config/reachd.yaml");
  for (const auto& e : r.errors) ADD_FAILURE() << e;
  EXPECT_TRUE(r.config.channels.email.enabled);
  EXPECT_TRUE(r.config.channels.webhook.enabled);
  EXPECT_EQ(r.config.channels.email.url, "smtp://127.0.0.1:2525");
}

TEST(ConfigLoaderTest, UnknownKeysAreErrorsWithTheirPath) {
  auto r = LoadConfigText("server:\n  listen: 127.0.0.1:1\n  lisen: x\nbogus: 1\n", Dir());
  EXPECT_TRUE(HasError(r, "server.lisen: unknown key"));
  EXPECT_TRUE(HasError(r, "bogus: unknown key"));
}

TEST(ConfigLoaderTest, EveryErrorIsReported) {
  auto r = LoadConfigText(R"(
server:
  listen: nonsense
  threads: 0
store:
  synchronous: sometimes
channels:
  email:
    url: http://x
    from_address: nobody
    threads: 17
    retry:
      jitter: 2
  webhook:
    url: ftp://x
    secret: plain
http_client:
  engine: netty
  idle_timeout_ms: 5
)",
                          Dir());
  EXPECT_TRUE(HasError(r, "server.listen: must be HOST:PORT"));
  EXPECT_TRUE(HasError(r, "server.threads: must be between"));
  EXPECT_TRUE(HasError(r, "store.synchronous: must be one of"));
  EXPECT_TRUE(HasError(r, "channels.email.url: must start with smtp://"));
  EXPECT_TRUE(HasError(r, "channels.email.from_address"));
  EXPECT_TRUE(HasError(r, "channels.email.threads: must be between"));
  EXPECT_TRUE(HasError(r, "channels.email.retry.jitter"));
  EXPECT_TRUE(HasError(r, "channels.webhook.url"));
  EXPECT_TRUE(HasError(r, "channels.webhook.secret"));
  EXPECT_TRUE(HasError(r, "http_client.engine: must be one of"));
  EXPECT_TRUE(HasError(r, "http_client.idle_timeout_ms: must be between"));
  EXPECT_GE(r.errors.size(), 10u);
}

TEST(ConfigLoaderTest, TheSmtpEngineIsCurlOrPipeliningWithEveryTlsMode) {
  const char* base = R"(
channels:
  email:
    url: %s
    from_address: noreply@reach.example
    engine: %s
)";
  auto load = [&](const char* url, const char* engine) {
    char text[512];
    std::snprintf(text, sizeof text, base, url, engine);
    return LoadConfigText(text, Dir());
  };
  auto ok = load("smtp://127.0.0.1:25", "pipelining");
  EXPECT_TRUE(ok.errors.empty());
  EXPECT_EQ(ok.config.channels.email.engine, "pipelining");
  EXPECT_EQ(load("smtp://127.0.0.1:25", "curl").config.channels.email.engine, "curl");
  auto tls = load("smtps://127.0.0.1:465", "pipelining");
  EXPECT_TRUE(tls.errors.empty());
  EXPECT_EQ(tls.config.channels.email.engine, "pipelining");
  EXPECT_EQ(tls.config.channels.email.tls, "implicit");
  EXPECT_TRUE(
      HasError(load("smtp://127.0.0.1:25", "fast"), "channels.email.engine: must be one of"));
}

TEST(ConfigLoaderTest, AnUnreadableSmtpCaFileNamesTheKey) {
  const char* text = R"(
channels:
  email:
    url: smtps://127.0.0.1:465
    from_address: noreply@reach.example
    ca_file: no-such-ca.pem
)";
  auto r = LoadConfigText(text, Dir());
  EXPECT_TRUE(HasError(r, "channels.email.ca_file: cannot read " + Dir() + "/no-such-ca.pem"));
}

TEST(ConfigLoaderTest, WrongTypeNamesTheKey) {
  auto r = LoadConfigText("server:\n  threads: many\n", Dir());
  EXPECT_TRUE(HasError(r, "server.threads: wrong type (expected integer)"));
}

TEST(ConfigLoaderTest, SecretsComeFromFiles) {
  std::string dir = Dir();
  {
    std::ofstream(dir + "/pw") << "s3cret\n";
    std::ofstream(dir + "/wh") << "whsec_AAAA\n";
  }
  auto r = LoadConfigText(R"(
channels:
  email:
    url: smtp://127.0.0.1:25
    from_address: a@b.cn
    password_file: pw
  webhook:
    url: http://127.0.0.1:1/x
    secret_file: wh
)",
                          dir);
  for (const auto& e : r.errors) ADD_FAILURE() << e;
  EXPECT_EQ(r.config.channels.email.password, "s3cret");
  EXPECT_EQ(r.config.channels.webhook.secret, "whsec_AAAA");

  auto missing = LoadConfigText(
      "channels:\n  email:\n    url: smtp://h:25\n    from_address: a@b.cn\n    password_file: "
      "nope\n",
      dir);
  EXPECT_TRUE(HasError(missing, "channels.email.password_file: cannot read"));
}

TEST(ConfigLoaderTest, UnknownKeysAtEveryLevelAreAllReported) {
  auto r = LoadConfigText(R"(
colour: blue
server: {listen: "127.0.0.1:0", max_conections: 5}
channels:
  pigeon: {url: http://x}
  email:
    url: smtp://127.0.0.1:25
    from_address: a@b.cn
    pasword: x
    retry: {max_attempts: 3, backof: 2}
  webhook:
    url: http://127.0.0.1:1/x
    secret: whsec_AAAA
    secrett: whsec_BBBB
log: {level: info, formt: json}
)",
                          Dir());
  for (const char* want :
       {"colour: unknown key", "server.max_conections: unknown key", "channels.pigeon: unknown key",
        "channels.email.pasword: unknown key", "channels.email.retry.backof: unknown key",
        "channels.webhook.secrett: unknown key", "log.formt: unknown key"}) {
    EXPECT_TRUE(HasError(r, want)) << want;
  }
  EXPECT_EQ(r.errors.size(), 7u);
  for (const auto& e : r.errors) EXPECT_NE(e.find("unknown key"), std::string::npos) << e;
}

TEST(ConfigLoaderTest, ServerLimitsAreConfigurableAndChecked) {
  auto r = LoadConfigText(R"(
server:
  body_limit_bytes: 2048
  max_connections: 3
  read_timeout_ms: 250
  idle_timeout_ms: 400
  max_batch_items: 5
)",
                          Dir());
  for (const auto& e : r.errors) ADD_FAILURE() << e;
  EXPECT_EQ(r.config.server.body_limit_bytes, 2048);
  EXPECT_EQ(r.config.server.max_connections, 3);
  EXPECT_EQ(r.config.server.read_timeout_ms, 250);
  EXPECT_EQ(r.config.server.idle_timeout_ms, 400);
  EXPECT_EQ(r.config.server.max_batch_items, 5);

  auto bad = LoadConfigText(R"(
server:
  body_limit_bytes: 10
  max_connections: 0
  read_timeout_ms: 5
  idle_timeout_ms: -1
  max_batch_items: 10001
)",
                            Dir());
  for (const char* key :
       {"server.body_limit_bytes", "server.max_connections", "server.read_timeout_ms",
        "server.idle_timeout_ms", "server.max_batch_items"}) {
    EXPECT_TRUE(HasError(bad, std::string(key) + ": must be between")) << key;
  }
}

TEST(ConfigLoaderTest, ShippedConfigDocumentsEveryServerLimit) {
  std::ifstream in(std::string(REACH_SOURCE_DIR) + "/config/reachd.yaml");
  std::stringstream ss;
  ss << in.rdbuf();
  for (const char* key :
       {"body_limit_bytes:", "max_connections:", "read_timeout_ms:", "idle_timeout_ms:",
        "max_batch_items:", "format:", "secret_file", "password_file", "engine:"}) {
    EXPECT_NE(ss.str().find(key), std::string::npos) << key;
  }
}

TEST(ConfigLoaderTest, WebhookSecretFileMissingOrDoubledNamesTheKey) {
  std::string dir = Dir();
  std::ofstream(dir + "/wh2") << "whsec_AAAA\r\n";
  auto missing = LoadConfigText(
      "channels:\n  webhook:\n    url: http://127.0.0.1:1/x\n    secret_file: no/such/file\n", dir);
  EXPECT_TRUE(HasError(missing, "channels.webhook.secret_file: cannot read"));
  auto both = LoadConfigText(
      "channels:\n  webhook:\n    url: http://127.0.0.1:1/x\n    secret: whsec_AAAA\n"
      "    secret_file: wh2\n",
      dir);
  EXPECT_TRUE(HasError(both, "channels.webhook.secret_file: set either secret or secret_file"));
  auto abs = LoadConfigText(
      "channels:\n  webhook:\n    url: http://127.0.0.1:1/x\n    secret_file: " + dir + "/wh2\n",
      "/nonexistent");
  EXPECT_EQ(abs.config.channels.webhook.secret, "whsec_AAAA");  // CRLF stripped
  EXPECT_FALSE(HasError(abs, "channels.webhook"));
}

TEST(ConfigLoaderTest, ErrorsDoNotEchoSecrets) {
  std::string dir = Dir();
  auto r = LoadConfigText(
      "channels:\n  webhook:\n    url: http://127.0.0.1:1/x\n    secret: hunter2-not-whsec\n"
      "  email:\n    url: smtp://127.0.0.1:25\n    from_address: a@b.cn\n"
      "    password: [hunter3]\n",
      dir);
  ASSERT_FALSE(r.errors.empty());
  for (const auto& e : r.errors) {
    EXPECT_EQ(e.find("hunter2"), std::string::npos) << e;
    EXPECT_EQ(e.find("hunter3"), std::string::npos) << e;
  }
  EXPECT_TRUE(HasError(r, "channels.webhook.secret: missing or not"));
  EXPECT_TRUE(HasError(r, "channels.email.password: wrong type"));
}

TEST(ConfigLoaderTest, NoChannelsSectionMeansNoChannels) {
  for (const char* text : {"server: {listen: \"127.0.0.1:0\"}\n", "channels:\n", ""}) {
    auto r = LoadConfigText(text, Dir());
    for (const auto& e : r.errors) ADD_FAILURE() << text << ": " << e;
    EXPECT_FALSE(r.config.channels.email.enabled) << text;
    EXPECT_FALSE(r.config.channels.webhook.enabled) << text;
  }
}

TEST(ConfigLoaderTest, NonMappingRootIsAnError) {
  auto r = LoadConfigText("- a\n- b\n", Dir());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], "(root): must be a mapping");
}

TEST(ConfigLoaderTest, FileErrorsArePrefixedWithThePath) {
  std::string dir = Dir();
  std::string path = dir + "/bad.yaml";
  std::ofstream(path) << "server: {lisen: x}\ntemplates: {dir: " << dir << "/templates}\n";
  auto r = LoadConfigFile(path);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], path + ": server.lisen: unknown key");
  auto none = LoadConfigFile(dir + "/nope.yaml");
  ASSERT_EQ(none.errors.size(), 1u);
  EXPECT_NE(none.errors[0].find("cannot read"), std::string::npos);
}

TEST(ConfigLoaderTest, CommandLineOverridesAreCheckedLikeTheFile) {
  auto r =
      LoadConfigText("server: {listen: \"127.0.0.1:1\"}\nstore: {data_dir: /nowhere}\n", Dir());
  ASSERT_TRUE(r.errors.empty());
  ApplyOverrides({"127.0.0.1:0", "/tmp/reach-x/../reach-y"}, &r);
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(r.config.server.listen, "127.0.0.1:0");
  EXPECT_EQ(r.config.store.data_dir, "/tmp/reach-y");
  ApplyOverrides({std::nullopt, std::nullopt}, &r);  // nothing given: nothing changes
  EXPECT_EQ(r.config.server.listen, "127.0.0.1:0");

  for (const char* bad : {"nonsense", "127.0.0.1:99999", "127.0.0.1:", ":80", "127.0.0.1:8o"}) {
    auto b = LoadConfigText("", Dir());
    ApplyOverrides({bad, std::nullopt}, &b);
    ASSERT_EQ(b.errors.size(), 1u) << bad;
    EXPECT_EQ(b.errors[0].rfind("--listen: must be HOST:PORT", 0), 0u) << b.errors[0];
    EXPECT_EQ(b.config.server.listen, ServerConfig().listen) << bad;
  }
  auto e = LoadConfigText("", Dir());
  ApplyOverrides({std::nullopt, ""}, &e);
  EXPECT_TRUE(HasError(e, "--data-dir: must not be empty"));
}

TEST(ConfigLoaderTest, MalformedYamlReportsLine) {
  auto r = LoadConfigText("server:\n  listen: [\n", Dir());
  ASSERT_FALSE(r.errors.empty());
  EXPECT_NE(r.errors[0].find("line"), std::string::npos);
}

}  // namespace
}  // namespace reach::config
