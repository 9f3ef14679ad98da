// SPDX-License-Identifier: Apache-2.0
// Unit tests for the HTTP/1.x syntax checks the stream parser is built on.
#include "protocols/http1/http_syntax.h"

#include <gtest/gtest.h>

#include <string>

namespace aster::http_syntax {
namespace {

TEST(HttpSyntax, RequestStartLineIsSplitIntoItsParts) {
  StartLine s;
  ASSERT_TRUE(ParseStartLineSyntax(StreamKind::kRequests, "GET /a/b?q=1 HTTP/1.0", &s));
  EXPECT_EQ(s.method, "GET");
  EXPECT_EQ(s.target, "/a/b?q=1");
  EXPECT_EQ(s.version_minor, 0);
}

TEST(HttpSyntax, ResponseStartLineWithAndWithoutReason) {
  StartLine s;
  ASSERT_TRUE(ParseStartLineSyntax(StreamKind::kResponses, "HTTP/1.1 204 No Content", &s));
  EXPECT_EQ(s.status, 204);
  EXPECT_EQ(s.version_minor, 1);
  ASSERT_TRUE(ParseStartLineSyntax(StreamKind::kResponses, "HTTP/1.1 200", &s));
  EXPECT_EQ(s.status, 200);
}

TEST(HttpSyntax, MalformedStartLinesAreRefused) {
  StartLine s;
  for (const char* line : {"GET /x HTTP/2.0", "GET  /x HTTP/1.1", "G(T /x HTTP/1.1", "GET /x", "",
                           "GET /a\x7f HTTP/1.1", "AVERYLONGMETHODNAMETHATISNOTREAL /x HTTP/1.1"}) {
    EXPECT_FALSE(ParseStartLineSyntax(StreamKind::kRequests, line, &s)) << line;
  }
  for (const char* line : {"HTTP/1.1 2000 OK", "HTTP/1.1 099 Low", "HTTP/1.1 20x OK", "HTTP/1.1 200\x01",
                           "HTTP/1.2 200 OK", "HTTP/1.1  200 OK"}) {
    EXPECT_FALSE(ParseStartLineSyntax(StreamKind::kResponses, line, &s)) << line;
  }
}

TEST(HttpSyntax, IsStartLineIgnoresATrailingCr) {
  EXPECT_TRUE(IsStartLine(StreamKind::kRequests, "POST /p HTTP/1.1\r"));
  EXPECT_TRUE(IsStartLine(StreamKind::kResponses, "HTTP/1.0 404 Not Found\r"));
  EXPECT_FALSE(IsStartLine(StreamKind::kResponses, "POST /p HTTP/1.1\r"));
}

TEST(HttpSyntax, TargetPathDropsQueryFragmentAndAuthority) {
  EXPECT_EQ(TargetPath("/a/b?x=1#f"), "/a/b");
  EXPECT_EQ(TargetPath("http://host:80/p?q"), "/p");
  EXPECT_EQ(TargetPath("https://host"), "/");
  EXPECT_EQ(TargetPath("*"), "*");
  EXPECT_EQ(TargetPath("host:443"), "");  // CONNECT's authority-form
}

TEST(HttpSyntax, ChunkSizeLines) {
  EXPECT_EQ(ParseChunkSize("1a"), 26);
  EXPECT_EQ(ParseChunkSize("FF ; name=value"), 255);
  EXPECT_EQ(ParseChunkSize("0"), 0);
  EXPECT_EQ(ParseChunkSize(""), -1);
  EXPECT_EQ(ParseChunkSize("xyz"), -1);
  EXPECT_EQ(ParseChunkSize("10 junk"), -1);
  EXPECT_EQ(ParseChunkSize("fffffffffffffffffff"), -1);  // past kMaxContentLength
}

TEST(HttpSyntax, FieldValueBytesAreCheckedPastTheWordBoundary) {
  EXPECT_FALSE(HasBadFieldByte("text/html; charset=utf-8\tok"));
  std::string s(37, 'a');
  for (size_t i = 0; i < s.size(); ++i) {
    std::string bad = s;
    bad[i] = '\0';
    EXPECT_TRUE(HasBadFieldByte(bad)) << i;
    bad[i] = '\x7f';
    EXPECT_TRUE(HasBadFieldByte(bad)) << i;
  }
}

TEST(HttpSyntax, ListElementsAreTrimmedAndEmptyOnesSkipped) {
  std::string seen;
  ForEachListElement(" keep-alive , ,Upgrade,", [&](std::string_view v) { seen += std::string(v) + "|"; });
  EXPECT_EQ(seen, "keep-alive|Upgrade|");
  EXPECT_TRUE(IEquals("Content-Length", "content-length"));
  EXPECT_FALSE(IEquals("Content-Lengt", "content-length"));
}

TEST(HttpSyntax, PlausibleStartLooksAtTheFirstBytesOnly) {
  EXPECT_TRUE(PlausibleStart(StreamKind::kRequests, "GE", 2));
  EXPECT_TRUE(PlausibleStart(StreamKind::kRequests, "GET /", 5));
  EXPECT_FALSE(PlausibleStart(StreamKind::kRequests, "\x16\x03\x01", 3));  // a TLS record
  EXPECT_TRUE(PlausibleStart(StreamKind::kResponses, "HTTP/", 5));
  EXPECT_FALSE(PlausibleStart(StreamKind::kResponses, "HTTP/2", 6));
  EXPECT_FALSE(PlausibleStart(StreamKind::kResponses, "HTTP/1.9", 8));
}

// A request line whose end was not captured keeps its method and path
// only when the path ended in the captured bytes (or passed the label's
// limit); a path that runs into the cut might go on.
TEST(HttpSyntax, ACutRequestLineKeepsAPathThatEndedBeforeTheCut) {
  StartLine s;
  ASSERT_TRUE(ParseCutRequestLine("GET /x.txt?q=aaaa", 256, &s));
  EXPECT_EQ(s.method, "GET");
  EXPECT_EQ(TargetPath(s.target), "/x.txt");
  EXPECT_TRUE(ParseCutRequestLine("get /x.txt#frag", 256, &s));
  EXPECT_TRUE(ParseCutRequestLine("GET /x.txt HTT", 256, &s));
  EXPECT_TRUE(ParseCutRequestLine("GET /x.txt HTTP/1.1\r", 256, &s));
  EXPECT_TRUE(ParseCutRequestLine("GET http://h/p?q", 256, &s));
  EXPECT_EQ(TargetPath(s.target), "/p");
  EXPECT_TRUE(ParseCutRequestLine("GET /" + std::string(300, 'p'), 256, &s)) << "past the label's limit";
  EXPECT_FALSE(ParseCutRequestLine("GET /x.tx", 256, &s)) << "the path may go on";
  EXPECT_FALSE(ParseCutRequestLine("GET http://host.exa", 256, &s)) << "cut in the authority";
  EXPECT_FALSE(ParseCutRequestLine("GET /x.txt RTSP/1.0", 256, &s));
  EXPECT_FALSE(ParseCutRequestLine("GET /x.txt HTTP/2", 256, &s));
  EXPECT_FALSE(ParseCutRequestLine("hello there, this?", 256, &s));
  EXPECT_FALSE(ParseCutRequestLine("GET ", 256, &s));
  EXPECT_FALSE(ParseCutRequestLine("GET /a\x01?b", 256, &s));
}

}  // namespace
}  // namespace aster::http_syntax

namespace aster {
namespace {

// FieldValueEnd scans eight bytes at a time: it must stop exactly where a
// byte-by-byte scan stops, for every byte value at every position of a word.
TEST(HttpSyntax, FieldValueEndStopsWhereAByteScanStops) {
  auto reference = [](const std::string& s) {
    size_t i = 0;
    while (i < s.size() && http_syntax::IsFieldValueByte(s[i])) ++i;
    return i;
  };
  for (int b = 0; b < 256; ++b) {
    for (size_t at = 0; at < 20; ++at) {
      for (const char* fill : {"abcdefghijklmnopqrstuvwxyz", "\t\t a\tb\t c\t\t\t\td\te\tf\tg\th\ti\tj", "\x80\xff\xc3\xa9 ~!\x7e\x20\x21"}) {
        std::string s = std::string(fill).substr(0, 20);
        s.resize(20, 'x');
        s[at] = static_cast<char>(b);
        s += "\r\nNext: header";
        const char* got = http_syntax::FieldValueEnd(s.data(), s.data() + s.size());
        ASSERT_EQ(static_cast<size_t>(got - s.data()), reference(s)) << "byte " << b << " at " << at;
      }
    }
  }
}

}  // namespace
}  // namespace aster
