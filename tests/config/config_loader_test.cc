#include "config/config_loader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

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
    retry:
      jitter: 2
  webhook:
    url: ftp://x
    secret: plain
)",
                          Dir());
  EXPECT_TRUE(HasError(r, "server.listen: must be HOST:PORT"));
  EXPECT_TRUE(HasError(r, "server.threads: must be between"));
  EXPECT_TRUE(HasError(r, "store.synchronous: must be one of"));
  EXPECT_TRUE(HasError(r, "channels.email.url: must start with smtp://"));
  EXPECT_TRUE(HasError(r, "channels.email.from_address"));
  EXPECT_TRUE(HasError(r, "channels.email.retry.jitter"));
  EXPECT_TRUE(HasError(r, "channels.webhook.url"));
  EXPECT_TRUE(HasError(r, "channels.webhook.secret"));
  EXPECT_GE(r.errors.size(), 8u);
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

TEST(ConfigLoaderTest, MalformedYamlReportsLine) {
  auto r = LoadConfigText("server:\n  listen: [\n", Dir());
  ASSERT_FALSE(r.errors.empty());
  EXPECT_NE(r.errors[0].find("line"), std::string::npos);
}

}  // namespace
}  // namespace reach::config
