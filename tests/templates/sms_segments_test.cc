#include "templates/sms_segments.h"

#include <gtest/gtest.h>

#include <string>

namespace reach::templates {
namespace {

std::string Repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(SmsSegmentsTest, Gsm7Boundaries) {
  SmsCount c = CountSms(Repeat("a", 160));
  EXPECT_EQ(c.encoding, SmsEncoding::kGsm7);
  EXPECT_EQ(c.units, 160u);
  EXPECT_EQ(c.segments, 1u);
  EXPECT_EQ(CountSms(Repeat("a", 161)).segments, 2u);
  EXPECT_EQ(CountSms(Repeat("a", 306)).segments, 2u);  // 153 * 2
  EXPECT_EQ(CountSms(Repeat("a", 307)).segments, 3u);
  EXPECT_EQ(CountSms("").segments, 0u);
  // Accented letters and Greek capitals of the default alphabet stay GSM-7.
  EXPECT_EQ(CountSms("Ça coûte 5£ à Δ").encoding, SmsEncoding::kUcs2);  // û is not GSM-7
  EXPECT_EQ(CountSms("Ça coute 5£ à Δ @ ¿ ñ").encoding, SmsEncoding::kGsm7);
}

TEST(SmsSegmentsTest, Gsm7ExtensionCharsCountTwo) {
  SmsCount c = CountSms("€{}");
  EXPECT_EQ(c.encoding, SmsEncoding::kGsm7);
  EXPECT_EQ(c.chars, 3u);
  EXPECT_EQ(c.units, 6u);
  // 158 + one € = 160 units: one segment; 159 + € = 161: two.
  EXPECT_EQ(CountSms(Repeat("a", 158) + "€").segments, 1u);
  EXPECT_EQ(CountSms(Repeat("a", 159) + "€").segments, 2u);
  EXPECT_EQ(CountSms(Repeat("a", 159) + "{").segments, 2u);
  for (const char* ext : {"^", "{", "}", "\\", "[", "]", "~", "|", "€"}) {
    EXPECT_EQ(CountSms(ext).units, 2u) << ext;
  }
  EXPECT_EQ(CountSms("`").encoding, SmsEncoding::kUcs2);  // backtick is not in GSM-7
}

TEST(SmsSegmentsTest, ChineseUsesUcs2) {
  SmsCount c = CountSms(Repeat("验", 70));
  EXPECT_EQ(c.encoding, SmsEncoding::kUcs2);
  EXPECT_EQ(c.units, 70u);
  EXPECT_EQ(c.segments, 1u);
  EXPECT_EQ(CountSms(Repeat("验", 71)).segments, 2u);
  EXPECT_EQ(CountSms(Repeat("验", 134)).segments, 2u);  // 67 * 2
  EXPECT_EQ(CountSms(Repeat("验", 135)).segments, 3u);
  // The reference example: 160 chars -> 67 + 67 + 26 = 3 segments.
  EXPECT_EQ(CountSms(Repeat("验", 160)).segments, 3u);
  // One Chinese char turns a GSM-7 text into UCS-2.
  SmsCount mixed = CountSms(Repeat("a", 69) + "中");
  EXPECT_EQ(mixed.encoding, SmsEncoding::kUcs2);
  EXPECT_EQ(mixed.segments, 1u);
  EXPECT_EQ(CountSms(Repeat("a", 70) + "中").segments, 2u);
}

TEST(SmsSegmentsTest, EmojiCountAsTwoUnits) {
  SmsCount c = CountSms("你好😀");
  EXPECT_EQ(c.encoding, SmsEncoding::kUcs2);
  EXPECT_EQ(c.chars, 3u);
  EXPECT_EQ(c.units, 4u);
  EXPECT_EQ(CountSms(Repeat("😀", 35)).segments, 1u);  // 70 units
  EXPECT_EQ(CountSms(Repeat("😀", 35) + "a").segments, 2u);
}

}  // namespace
}  // namespace reach::templates
