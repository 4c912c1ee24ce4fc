#include "http/request_parser.hpp"

#include <gtest/gtest.h>

#include <string>

namespace llmux::http {
namespace {

// Feeds `wire` in pieces of `piece` bytes the way Session::readRequest does; returns the final
// error.
boost::beast::error_code feed(RequestParser& p, std::string_view wire, size_t piece) {
  std::string buf;
  size_t fed = 0;
  for (;;) {
    if (!buf.empty()) {
      boost::beast::error_code ec;
      size_t used = p.put(boost::asio::buffer(buf.data(), buf.size()), ec);
      buf.erase(0, used);
      if (ec && ec != boost::beast::http::error::need_more) return ec;
      if (p.is_header_done()) p.eager(true);
      if (p.is_done()) return {};
      if (!ec && used > 0) continue;
    }
    if (fed == wire.size()) return boost::beast::http::error::partial_message;
    size_t n = std::min(piece, wire.size() - fed);
    buf.append(wire.substr(fed, n));
    fed += n;
  }
}

TEST(RequestParser, ContentLengthBodyAndHeadersAtAnySplit) {
  const std::string body = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";
  const std::string wire =
      "POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer k\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  for (size_t piece = 1; piece <= wire.size(); ++piece) {
    RequestHead h;
    RequestParser p(h);
    ASSERT_FALSE(feed(p, wire, piece)) << piece;
    EXPECT_EQ(h.method, boost::beast::http::verb::post);
    EXPECT_EQ(h.target, "/v1/chat/completions?x=1");
    EXPECT_EQ(h.headers.get("authorization"), "Bearer k");
    EXPECT_EQ(h.headers.get("AUTHORIZATION"), "Bearer k");
    EXPECT_EQ(h.headers.get("x-missing"), "");
    EXPECT_EQ(h.body, body);
    EXPECT_TRUE(p.keep_alive());
  }
}

TEST(RequestParser, ChunkedBody) {
  const std::string wire =
      "POST /chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  RequestHead h;
  RequestParser p(h);
  ASSERT_FALSE(feed(p, wire, 3));
  EXPECT_EQ(h.body, "hello world");
  EXPECT_FALSE(p.keep_alive());
}

TEST(RequestParser, ReuseClearsThePreviousRequest) {
  RequestHead h;
  {
    RequestParser p(h);
    ASSERT_FALSE(feed(p, "GET /a HTTP/1.1\r\nX-One: 1\r\nContent-Length: 2\r\n\r\nab", 64));
  }
  RequestParser p(h);
  ASSERT_FALSE(feed(p, "GET /b HTTP/1.0\r\n\r\n", 64));
  EXPECT_EQ(h.target, "/b");
  EXPECT_EQ(h.version, 10);
  EXPECT_EQ(h.headers.size(), 0u);
  EXPECT_EQ(h.body, "");
}

TEST(RequestParser, RejectsMalformedAndOversizedInput) {
  RequestHead h;
  RequestParser bad(h);
  EXPECT_TRUE(feed(bad, "NOT HTTP\r\n\r\n", 64));
  RequestParser big(h);
  big.body_limit(4);
  EXPECT_EQ(feed(big, "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 64),
            boost::beast::http::error::body_limit);
}

TEST(HeaderList, ArenaKeepsEveryFieldInOrder) {
  HeaderList l;
  for (int i = 0; i < 100; ++i) l.add("X-N" + std::to_string(i), std::string(50, 'a' + i % 26));
  ASSERT_EQ(l.size(), 100u);
  EXPECT_EQ(l.name(42), "X-N42");
  EXPECT_EQ(l.value(42), std::string(50, 'a' + 42 % 26));
  EXPECT_EQ(l.get("x-n99"), std::string(50, 'a' + 99 % 26));
  l.clear();
  EXPECT_EQ(l.size(), 0u);
  EXPECT_EQ(l.get("x-n1"), "");
}

}  // namespace
}  // namespace llmux::http
