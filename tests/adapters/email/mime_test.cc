#include "adapters/email/mime.h"

#include <gtest/gtest.h>

#include "common/crypto.h"

namespace reach::adapters::mime {
namespace {

// Decodes "=?UTF-8?B?...?=" words separated by folding whitespace (what a mail reader does).
std::string DecodeWords(std::string_view v) {
  std::string out;
  size_t pos = 0;
  while ((pos = v.find("=?UTF-8?B?", pos)) != std::string_view::npos) {
    size_t start = pos + 10;
    size_t end = v.find("?=", start);
    auto bytes = crypto::Base64Decode(v.substr(start, end - start));
    EXPECT_TRUE(bytes.has_value());
    out += bytes.value_or("");
    pos = end + 2;
  }
  return out;
}

std::string DecodeQp(std::string_view qp) {
  std::string out;
  for (size_t i = 0; i < qp.size(); ++i) {
    if (qp[i] == '=' && i + 2 < qp.size() && qp[i + 1] == '\r' && qp[i + 2] == '\n') {
      i += 2;
    } else if (qp[i] == '=') {
      out += static_cast<char>(std::stoi(std::string(qp.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else if (qp[i] == '\r' && i + 1 < qp.size() && qp[i + 1] == '\n') {
      out += '\n';
      ++i;
    } else {
      out += qp[i];
    }
  }
  return out;
}

std::string HeaderValue(const std::string& msg, const std::string& name) {
  size_t head_end = msg.find("\r\n\r\n");
  size_t p = msg.find("\r\n" + name + ": ");
  if (msg.rfind(name + ": ", 0) == 0) p = static_cast<size_t>(-2);
  if (p == std::string::npos || (p != static_cast<size_t>(-2) && p > head_end)) return "";
  size_t start = p + 2 + name.size() + 2;
  std::string v;
  for (size_t i = start; i < msg.size(); ++i) {  // unfold continuation lines
    if (msg.compare(i, 2, "\r\n") == 0) {
      if (i + 2 < msg.size() && (msg[i + 2] == ' ' || msg[i + 2] == '\t')) {
        i += 1;
        continue;
      }
      break;
    }
    v += msg[i];
  }
  return v;
}

Email Sample() {
  Email e;
  e.from_address = "noreply@reach.example";
  e.from_name = "Reach 通知";
  e.to_address = "li.lei@example.com";
  e.subject = "您好，李雷 — order A1234 shipped 🚚 and a rather long tail to force several words";
  e.text = "第一行\n.starts with a dot\n" + std::string(200, 'x') + " trailing space \nend=ok";
  e.html = "<p>李雷 &lt;script&gt;</p>";
  e.message_id = "msg_1.abc@reach.example";
  e.date_s = 1795510800;  // 2026-11-24 09:00:00 UTC
  e.list_unsubscribe_url = "https://reach.example/u/msg_1";
  e.list_unsubscribe_mailto = "unsub@reach.example?subject=msg_1";
  e.boundary = "=_reach_test";
  return e;
}

TEST(MimeTest, CrlfOnlyAndShortLines) {
  auto m = Build(Sample());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const std::string& s = *m;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n') {
      ASSERT_TRUE(i > 0 && s[i - 1] == '\r') << "bare LF at " << i;
    }
    if (s[i] == '\r') {
      ASSERT_TRUE(i + 1 < s.size() && s[i + 1] == '\n') << "bare CR at " << i;
    }
  }
  size_t start = 0;
  while (start < s.size()) {
    size_t end = s.find("\r\n", start);
    if (end == std::string::npos) end = s.size();
    EXPECT_LE(end - start, 78u) << s.substr(start, end - start);
    start = end + 2;
  }
}

TEST(MimeTest, SubjectIsEncodedWordsThatDecodeToTheOriginal) {
  Email e = Sample();
  auto m = Build(e);
  ASSERT_TRUE(m.ok());
  std::string subject = HeaderValue(*m, "Subject");
  EXPECT_EQ(DecodeWords(subject), e.subject);
  // Each encoded-word is at most 75 characters and holds whole UTF-8 characters.
  size_t pos = 0;
  int words = 0;
  while ((pos = subject.find("=?UTF-8?B?", pos)) != std::string::npos) {
    size_t end = subject.find("?=", pos + 10) + 2;
    EXPECT_LE(end - pos, 75u);
    auto bytes = crypto::Base64Decode(subject.substr(pos + 10, end - pos - 12));
    ASSERT_TRUE(bytes);
    unsigned char first = static_cast<unsigned char>((*bytes)[0]);
    EXPECT_NE(first & 0xC0, 0x80) << "word starts inside a character";
    pos = end;
    ++words;
  }
  EXPECT_GE(words, 3);
  EXPECT_EQ(DecodeWords(HeaderValue(*m, "From")), "Reach 通知");
  EXPECT_NE(HeaderValue(*m, "From").find("<noreply@reach.example>"), std::string::npos);
  // ASCII subjects travel as they are.
  e.subject = "Your code";
  EXPECT_EQ(HeaderValue(*Build(e), "Subject"), "Your code");
}

TEST(MimeTest, HeadersPresent) {
  auto m = Build(Sample());
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(HeaderValue(*m, "Date"), "Tue, 24 Nov 2026 09:00:00 +0000");
  EXPECT_EQ(HeaderValue(*m, "Message-ID"), "<msg_1.abc@reach.example>");
  EXPECT_EQ(HeaderValue(*m, "MIME-Version"), "1.0");
  EXPECT_EQ(HeaderValue(*m, "To"), "<li.lei@example.com>");
  EXPECT_EQ(HeaderValue(*m, "List-Unsubscribe"),
            "<https://reach.example/u/msg_1>, <mailto:unsub@reach.example?subject=msg_1>");
  EXPECT_EQ(HeaderValue(*m, "List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
  Email plain = Sample();
  plain.list_unsubscribe_url.clear();
  auto p = Build(plain);
  EXPECT_EQ(HeaderValue(*p, "List-Unsubscribe"), "<mailto:unsub@reach.example?subject=msg_1>");
  EXPECT_EQ(HeaderValue(*p, "List-Unsubscribe-Post"), "");  // one-click needs https
  plain.list_unsubscribe_mailto.clear();
  EXPECT_EQ(HeaderValue(*Build(plain), "List-Unsubscribe"), "");
}

TEST(MimeTest, MultipartAlternativeTextThenHtml) {
  Email e = Sample();
  auto m = Build(e);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(HeaderValue(*m, "Content-Type"), "multipart/alternative; boundary=\"=_reach_test\"");
  size_t text = m->find("--=_reach_test\r\nContent-Type: text/plain; charset=UTF-8\r\n");
  size_t html = m->find("--=_reach_test\r\nContent-Type: text/html; charset=UTF-8\r\n");
  size_t close = m->find("--=_reach_test--\r\n");
  ASSERT_NE(text, std::string::npos);
  ASSERT_NE(html, std::string::npos);
  ASSERT_NE(close, std::string::npos);
  EXPECT_LT(text, html);
  EXPECT_LT(html, close);
  auto body_of = [&](size_t part_start, size_t part_end) {
    size_t b = m->find("\r\n\r\n", part_start) + 4;
    return DecodeQp(m->substr(b, part_end - b - 2));  // minus the CRLF before the delimiter
  };
  EXPECT_EQ(body_of(text, html), e.text);
  EXPECT_EQ(body_of(html, close), e.html);
  // A random boundary is used when none is given, and never occurs in the bodies.
  e.boundary.clear();
  auto r = Build(e);
  std::string ct = HeaderValue(*r, "Content-Type");
  std::string boundary = ct.substr(ct.find('"') + 1, ct.rfind('"') - ct.find('"') - 1);
  EXPECT_EQ(boundary.rfind("=_reach_", 0), 0u);
  EXPECT_EQ(r->find(boundary, r->find("\r\n\r\n")), r->find("--" + boundary) + 2);
}

TEST(MimeTest, SinglePartWhenOnlyOneBody) {
  Email e = Sample();
  e.html.clear();
  auto m = Build(e);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(HeaderValue(*m, "Content-Type"), "text/plain; charset=UTF-8");
  EXPECT_EQ(m->find("multipart"), std::string::npos);
  e.text.clear();
  EXPECT_FALSE(Build(e).ok());
}

TEST(MimeTest, QuotedPrintableRules) {
  EXPECT_EQ(QuotedPrintable("a=b"), "a=3Db");
  EXPECT_EQ(QuotedPrintable("end \nnext"), "end=20\r\nnext");
  EXPECT_EQ(QuotedPrintable(".dot"), "=2Edot");
  EXPECT_EQ(QuotedPrintable("é"), "=C3=A9");
  std::string long_line(200, 'a');
  std::string qp = QuotedPrintable(long_line);
  EXPECT_EQ(DecodeQp(qp), long_line);
  for (size_t s = 0, e; s < qp.size(); s = e + 2) {
    e = qp.find("\r\n", s);
    if (e == std::string::npos) e = qp.size();
    EXPECT_LE(e - s, 76u);
  }
}

TEST(MimeTest, RejectsHeaderInjection) {
  Email e = Sample();
  e.subject = "hi\r\nBcc: victim@example.com";
  EXPECT_EQ(Build(e).status().field(), "subject");
  e = Sample();
  e.to_address = "a@b.com>\r\nBcc: <x@y.com";
  EXPECT_EQ(Build(e).status().field(), "to");
  e = Sample();
  e.to_address = "not-an-address";
  EXPECT_FALSE(Build(e).ok());
  e = Sample();
  e.from_name = "x\ny";
  EXPECT_EQ(Build(e).status().field(), "from_name");
  e = Sample();
  e.extra_headers = {{"X-A", "1\r\nX-B: 2"}};
  EXPECT_FALSE(Build(e).ok());
}

}  // namespace
}  // namespace reach::adapters::mime
