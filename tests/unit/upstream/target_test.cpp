#include "upstream/target.hpp"

#include <gtest/gtest.h>

namespace llmux::upstream {
namespace {

Target ok(std::string_view url) {
  auto r = parseTarget(url);
  EXPECT_TRUE(std::holds_alternative<Target>(r)) << url;
  return std::holds_alternative<Target>(r) ? std::get<Target>(r) : Target{};
}

std::string err(std::string_view url) {
  auto r = parseTarget(url);
  EXPECT_TRUE(std::holds_alternative<std::string>(r)) << url;
  return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : "";
}

TEST(Target, HttpsDefaults) {
  Target t = ok("https://api.openai.com/v1");
  EXPECT_TRUE(t.tls);
  EXPECT_EQ(t.host, "api.openai.com");
  EXPECT_EQ(t.port, 443);
  EXPECT_EQ(t.basePath, "/v1");
  EXPECT_EQ(t.hostHeader, "api.openai.com");
  EXPECT_EQ(t.origin, "https://api.openai.com");
  EXPECT_EQ(t.poolKey, t.origin);
}

TEST(Target, ExplicitPortTrailingSlashAndNoPath) {
  Target t = ok("http://127.0.0.1:8000/v1/");
  EXPECT_FALSE(t.tls);
  EXPECT_EQ(t.port, 8000);
  EXPECT_EQ(t.basePath, "/v1");
  EXPECT_EQ(t.hostHeader, "127.0.0.1:8000");
  Target bare = ok("http://localhost");
  EXPECT_EQ(bare.port, 80);
  EXPECT_EQ(bare.basePath, "");
  EXPECT_EQ(bare.hostHeader, "localhost");
}

TEST(Target, Ipv6LiteralKeepsBracketsInHostHeader) {
  Target t = ok("http://[::1]:9000/openai/v1");
  EXPECT_EQ(t.host, "::1");
  EXPECT_EQ(t.hostHeader, "[::1]:9000");
  EXPECT_EQ(t.basePath, "/openai/v1");
}

TEST(Target, Rejections) {
  EXPECT_NE(err("ftp://example.com").find("scheme"), std::string::npos);
  EXPECT_NE(err("api.openai.com/v1").find("absolute"), std::string::npos);
  EXPECT_NE(err("http://example.com:0/").find("port"), std::string::npos);
  EXPECT_NE(err("http://example.com:99999/").find("port"), std::string::npos);
  EXPECT_NE(err("http://example.com/v1?x=1").find("query"), std::string::npos);
}

}  // namespace
}  // namespace llmux::upstream
