// Anthropic error answers -> OpenAI errors.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <optional>
#include <string>

#include <fmt/format.h>

#include "providers/anthropic/anthropic.hpp"

namespace llmux::providers::anthropic {
namespace {

std::string envelope(std::string_view type, std::string_view message) {
  return fmt::format(R"({{"type":"error","error":{{"type":"{}","message":"{}"}},)"
                     R"("request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}})",
                     type, message);
}

bool isValidJson(const std::string& s) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  return parser.parse(s).get(doc) == simdjson::SUCCESS;
}

struct Case {
  int status;
  const char* anthropicType;
  const char* message;
  int wantStatus;
  const char* wantType;
  std::optional<std::string> wantCode;
};

class AnthropicErrorType : public ::testing::TestWithParam<Case> {};

TEST_P(AnthropicErrorType, Maps) {
  const Case& c = GetParam();
  const GatewayError err = mapError(c.status, envelope(c.anthropicType, c.message), std::nullopt);
  EXPECT_EQ(err.status, c.wantStatus);
  EXPECT_EQ(err.type, c.wantType);
  EXPECT_EQ(err.code, c.wantCode);
  EXPECT_EQ(err.message, c.message);
  EXPECT_EQ(err.param, std::nullopt);
  EXPECT_EQ(err.retryAfterSeconds, std::nullopt);
  EXPECT_TRUE(isValidJson(err.toJson())) << err.toJson();
}

INSTANTIATE_TEST_SUITE_P(
    Types, AnthropicErrorType,
    ::testing::Values(
        Case{400, "invalid_request_error", "max_tokens: Field required", 400,
             "invalid_request_error", std::nullopt},
        Case{401, "authentication_error", "invalid x-api-key", 401, "authentication_error",
             "invalid_api_key"},
        Case{402, "billing_error", "Your credit balance is too low", 402, "billing_error",
             "insufficient_quota"},
        Case{403, "permission_error", "Your API key does not have permission", 403,
             "permission_error", std::nullopt},
        Case{404, "not_found_error", "model: claude-nope", 404, "not_found_error",
             "model_not_found"},
        Case{413, "request_too_large", "Request exceeds the maximum allowed number of bytes.", 413,
             "invalid_request_error", "request_too_large"},
        Case{429, "rate_limit_error", "Number of request tokens has exceeded your rate limit", 429,
             "rate_limit_error", "rate_limit_exceeded"},
        Case{500, "api_error", "Internal server error", 500, "api_error", std::nullopt},
        Case{504, "timeout_error", "Request timed out", 504, "timeout_error", std::nullopt},
        Case{529, "overloaded_error", "Overloaded", 529, "overloaded_error", std::nullopt},
        Case{400, "invalid_request_error", "prompt is too long: 208310 tokens > 200000 maximum",
             400, "invalid_request_error", "context_length_exceeded"},
        Case{400, "invalid_request_error",
             "input length and `max_tokens` exceed context limit: 197022 + 8192 > 200000", 400,
             "invalid_request_error", "context_length_exceeded"}));

TEST(AnthropicMapError, RetryAfterIsKept) {
  const GatewayError err = mapError(429, envelope("rate_limit_error", "slow down"), 17);
  EXPECT_EQ(err.retryAfterSeconds, 17);
  EXPECT_EQ(err.code, "rate_limit_exceeded");
  const GatewayError overloaded = mapError(529, envelope("overloaded_error", "Overloaded"), 3);
  EXPECT_EQ(overloaded.retryAfterSeconds, 3);
  EXPECT_EQ(overloaded.status, 529);
}

TEST(AnthropicMapError, NonJsonBodiesAreQuoted) {
  const GatewayError err = mapError(502, "<html><body>Bad Gateway</body></html>\n", std::nullopt);
  EXPECT_EQ(err.status, 502);
  EXPECT_EQ(err.type, "api_error");
  EXPECT_EQ(err.message, "Upstream returned HTTP 502: <html><body>Bad Gateway</body></html>");
  EXPECT_TRUE(isValidJson(err.toJson()));

  const GatewayError empty = mapError(500, "", std::nullopt);
  EXPECT_EQ(empty.message, "Upstream returned HTTP 500");
  EXPECT_EQ(empty.type, "api_error");

  // Invalid UTF-8 and a long body still give a valid, bounded message.
  const std::string junk = "\xff\xfe" + std::string(5000, 'x');
  const GatewayError longBody = mapError(400, junk, std::nullopt);
  EXPECT_LT(longBody.message.size(), 300u);
  EXPECT_TRUE(isValidJson(longBody.toJson())) << longBody.toJson();
}

TEST(AnthropicMapError, NonJsonBodiesGetTheStatusType) {
  EXPECT_EQ(mapError(529, "Overloaded", std::nullopt).type, "overloaded_error");
  EXPECT_EQ(mapError(504, "upstream request timeout", std::nullopt).type, "timeout_error");
  EXPECT_EQ(mapError(401, "nope", std::nullopt).code, "invalid_api_key");
  EXPECT_EQ(mapError(429, "nope", std::nullopt).code, "rate_limit_exceeded");
  // Cloudflare answers 413 before the API with an HTML page.
  const GatewayError tooLarge = mapError(413, "<html>413 Request Entity Too Large</html>", {});
  EXPECT_EQ(tooLarge.status, 413);
  EXPECT_EQ(tooLarge.type, "invalid_request_error");
  EXPECT_EQ(tooLarge.code, "request_too_large");
}

TEST(AnthropicMapError, FlatBodies) {
  const GatewayError typed =
      mapError(529, R"({"type":"overloaded_error","message":"Overloaded"})", std::nullopt);
  EXPECT_EQ(typed.status, 529);
  EXPECT_EQ(typed.type, "overloaded_error");
  EXPECT_EQ(typed.message, "Overloaded");

  const GatewayError marker =
      mapError(400, R"({"type":"error","message":"prompt is too long"})", std::nullopt);
  EXPECT_EQ(marker.type, "invalid_request_error");
  EXPECT_EQ(marker.message, "prompt is too long");
  EXPECT_EQ(marker.code, "context_length_exceeded");

  const GatewayError bare = mapError(429, R"({"message":"Too many requests"})", 5);
  EXPECT_EQ(bare.type, "rate_limit_error");
  EXPECT_EQ(bare.code, "rate_limit_exceeded");
  EXPECT_EQ(bare.retryAfterSeconds, 5);
}

TEST(AnthropicMapError, EnvelopeWithoutMessageQuotesBody) {
  const std::string body = R"({"type":"error","error":{"type":"api_error"}})";
  const GatewayError err = mapError(500, body, std::nullopt);
  EXPECT_EQ(err.type, "api_error");
  EXPECT_EQ(err.message, "Upstream returned HTTP 500: " + body);
}

TEST(AnthropicMapError, ContextLengthNeedsInvalidRequest) {
  // The phrase in a server error is not the client's prompt being too long.
  const GatewayError err =
      mapError(500, envelope("api_error", "prompt is too long for cache"), std::nullopt);
  EXPECT_EQ(err.code, std::nullopt);
  const GatewayError upper = mapError(
      400, envelope("invalid_request_error", "Prompt Is Too Long: 300000 tokens"), std::nullopt);
  EXPECT_EQ(upper.code, "context_length_exceeded");
}

TEST(AnthropicMapError, NonErrorStatusBecomes502) {
  const GatewayError err = mapError(200, envelope("api_error", "odd"), std::nullopt);
  EXPECT_EQ(err.status, 502);
  EXPECT_EQ(err.message, "odd");
}

}  // namespace
}  // namespace llmux::providers::anthropic
