#include "common/crypto.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace reach::crypto {
namespace {

// RFC 4231 test case 2 (HMAC-SHA256) and RFC 2202 test case 2 (HMAC-SHA1): key "Jefe".
constexpr const char* kData = "what do ya want for nothing?";
constexpr const char* kJefeSha256 =
    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
constexpr const char* kJefeSha1 = "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79";
// RFC 4231 test case 1: key 20 x 0x0b, data "Hi There".
constexpr const char* kCase1Sha256 =
    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";

TEST(CryptoTest, HmacMatchesTheRfcVectors) {
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", kData)), kJefeSha256);
  EXPECT_EQ(HexEncode(HmacSha1("Jefe", kData)), kJefeSha1);
  EXPECT_EQ(HexEncode(HmacSha256(std::string(20, '\x0b'), "Hi There")), kCase1Sha256);
}

// Each thread keeps the last key's context: switching keys and digests back and forth, and
// signing the same key twice in a row, must give the same answers as fresh computations.
TEST(CryptoTest, HmacKeyAndDigestChangesAreNeverMixedUp) {
  std::string key1(20, '\x0b');
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(HexEncode(HmacSha256("Jefe", kData)), kJefeSha256);
    EXPECT_EQ(HexEncode(HmacSha256("Jefe", kData)), kJefeSha256);
    EXPECT_EQ(HexEncode(HmacSha1("Jefe", kData)), kJefeSha1);
    EXPECT_EQ(HexEncode(HmacSha256(key1, "Hi There")), kCase1Sha256);
  }
  // A key that is a prefix of another, and an empty message.
  EXPECT_NE(HmacSha256("Jef", kData), HmacSha256("Jefe", kData));
  EXPECT_EQ(HmacSha256("k", "").size(), 32u);
}

TEST(CryptoTest, HmacFromManyThreadsAtOnce) {
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        bool ok = (i + t) % 2 ? HexEncode(HmacSha256("Jefe", kData)) == kJefeSha256
                              : HexEncode(HmacSha1("Jefe", kData)) == kJefeSha1;
        if (!ok) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(CryptoTest, Base64RoundTrip) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    auto d = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(d.has_value()) << s;
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_FALSE(Base64Decode("abc").has_value());
}

}  // namespace
}  // namespace reach::crypto
