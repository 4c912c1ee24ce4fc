// GatewayError → Anthropic error body and status. Golden cases in
// tests/data/golden/messages_api/error/: <case>.json describes a GatewayError
// {"status","type","message","code"}; <case>.expected.txt is "<status>\n<body>\n".
#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>
#include <string_view>

#include "messages_api/messages_api.hpp"
#include "unit/messages_api/messages_golden.hpp"

namespace llmux::messages_api {
namespace {

using testing::caseStems;
using testing::compareOrUpdate;
using testing::goldenDir;

class ErrorGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ErrorGolden, Matches) {
  const auto dir = goldenDir("error");
  const std::string text = llmux::testing::readFile(dir / (GetParam() + ".json"));
  simdjson::dom::parser parser;
  simdjson::dom::element o;
  ASSERT_EQ(parser.parse(text).get(o), simdjson::SUCCESS);
  GatewayError err;
  int64_t status = 0;
  std::string_view sv;
  ASSERT_EQ(o["status"].get(status), simdjson::SUCCESS);
  err.status = static_cast<int>(status);
  if (o["type"].get(sv) == simdjson::SUCCESS) err.type = sv;
  if (o["message"].get(sv) == simdjson::SUCCESS) err.message = sv;
  if (o["code"].get(sv) == simdjson::SUCCESS) err.code = std::string(sv);
  std::string_view requestId;
  (void)o["request_id"].get(requestId);
  const std::string body = toAnthropicError(err, requestId);
  simdjson::dom::parser check;
  simdjson::dom::element doc;
  EXPECT_EQ(check.parse(body).get(doc), simdjson::SUCCESS) << body;
  compareOrUpdate(dir / (GetParam() + ".expected.txt"),
                  std::to_string(anthropicStatus(err)) + "\n" + body + "\n");
}

INSTANTIATE_TEST_SUITE_P(MessagesApi, ErrorGolden, ::testing::ValuesIn(caseStems("error", ".json")),
                         llmux::testing::goldenParamName);

TEST(MessagesErrors, GatewayFactories) {
  EXPECT_EQ(anthropicErrorType(GatewayError::invalidRequest("x", "max_tokens")),
            "invalid_request_error");
  EXPECT_EQ(anthropicErrorType(GatewayError::authentication("x")), "authentication_error");
  EXPECT_EQ(anthropicErrorType(GatewayError::notFound("x", "model_not_found")), "not_found_error");
  EXPECT_EQ(anthropicErrorType(GatewayError::payloadTooLarge("x")), "request_too_large");
  EXPECT_EQ(anthropicErrorType(GatewayError::badGateway("x")), "api_error");
  EXPECT_EQ(anthropicErrorType(GatewayError::gatewayTimeout("x")), "timeout_error");
  EXPECT_EQ(anthropicErrorType(GatewayError::unavailable("x")), "overloaded_error");
  EXPECT_EQ(anthropicErrorType(GatewayError::internal("x")), "api_error");
}

TEST(MessagesErrors, StatusIsKeptWhenItIsAnErrorStatus) {
  GatewayError e;
  e.status = 529;
  EXPECT_EQ(anthropicStatus(e), 529);
  e.status = 200;
  EXPECT_EQ(anthropicStatus(e), 500);
  e.status = 0;
  EXPECT_EQ(anthropicStatus(e), 500);
  EXPECT_EQ(anthropicErrorType(e), "api_error");
}

}  // namespace
}  // namespace llmux::messages_api
