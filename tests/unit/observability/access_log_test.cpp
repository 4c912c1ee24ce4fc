#include "observability/access_log.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace llmux::observability {
namespace {

AccessRecord sample() {
  AccessRecord r;
  r.unixMs = 1795660000123;
  r.requestId.set("0123456789abcdef0123456789abcdef");
  r.method.set("POST");
  r.path.set("/v1/chat/completions");
  r.status = 429;
  r.modelGroup.set("gpt \"4o\"");
  r.deployment.set("gpt/0");
  r.errorType.set("rate_limit_error");
  r.stream = true;
  r.totalUs = 12345;
  r.upstreamUs = 12000;
  r.ttftUs = 7;
  r.overheadUs = 345;
  r.promptTokens = 19;
  r.completionTokens = 3;
  r.bytesIn = 300;
  r.bytesOut = 512;
  return r;
}

TEST(AccessLog, FormatsOneJsonLine) {
  std::string line;
  AccessLog::format(sample(), line);
  EXPECT_EQ(
      line,
      R"({"ts":1795660000123,"request_id":"0123456789abcdef0123456789abcdef","method":"POST",)"
      R"("path":"/v1/chat/completions","status":429,"model_group":"gpt \"4o\"","deployment":"gpt/0",)"
      R"("stream":true,"total_ms":12.345,"upstream_ms":12.000,"ttft_ms":0.007,"overhead_ms":0.345,)"
      R"("prompt_tokens":19,"completion_tokens":3,"bytes_in":300,"bytes_out":512,)"
      R"("error_type":"rate_limit_error","attempts":0,"fallback":false})"
      "\n");
  AccessRecord ok = sample();
  ok.errorType.set("");
  ok.attempts = 2;
  ok.fallback = true;
  ok.attemptLog.set("a/0:429,b/1:200");
  line.clear();
  AccessLog::format(ok, line);
  EXPECT_NE(line.find(R"("error_type":null,"attempts":2,"fallback":true,)"
                      R"("attempt_log":"a/0:429,b/1:200"})"),
            std::string::npos);
}

TEST(AccessLog, FixedTextTruncates) {
  FixedText<4> t;
  t.set("abcdefgh");
  EXPECT_EQ(t.view(), "abcd");
}

TEST(AccessLog, WritesRecordsFromEveryProducerToTheFile) {
  const std::string path = ::testing::TempDir() + "llmux_access_log_test.jsonl";
  std::remove(path.c_str());
  {
    AccessLog log(path, 2);
    ASSERT_TRUE(log.enabled());
    for (int i = 0; i < 10; ++i) log.push(static_cast<size_t>(i % 2), sample());
    log.stop();  // flushes
    EXPECT_EQ(log.dropped(), 0u);
  }
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  size_t lines = 0;
  for (char c : all) lines += c == '\n';
  EXPECT_EQ(lines, 10u);
  std::remove(path.c_str());
}

TEST(AccessLog, DisabledLogAcceptsPushes) {
  AccessLog log("", 1);
  EXPECT_FALSE(log.enabled());
  log.push(0, sample());
  EXPECT_EQ(log.dropped(), 0u);
}

}  // namespace
}  // namespace llmux::observability
