#include "tokenizer/token_counter.hpp"

#include <gtest/gtest.h>

#include <string>

namespace llmux::tokenizer {
namespace {

std::string ok(std::string_view body, std::string_view deployment = {}) {
  auto r = tokenCounterResponse(body, deployment);
  if (auto* e = std::get_if<GatewayError>(&r)) {
    ADD_FAILURE() << e->message;
    return {};
  }
  return std::get<std::string>(r);
}

GatewayError err(std::string_view body) {
  auto r = tokenCounterResponse(body, {});
  if (std::holds_alternative<std::string>(r)) {
    ADD_FAILURE() << "expected an error for " << body;
    return {};
  }
  return std::get<GatewayError>(r);
}

TEST(TokenCounterTest, PromptShape) {
  EXPECT_EQ(ok(R"({"model":"gpt-4","prompt":"Hi there"})"),
            R"({"total_tokens":2,"request_model":"gpt-4","model_used":"gpt-4",)"
            R"("tokenizer_type":"openai_tokenizer"})");
}

TEST(TokenCounterTest, MessagesWithDeployment) {
  // The alias resolves to azure/gpt-4o: the provider prefix is dropped and o200k is used.
  EXPECT_EQ(ok(R"({"model":"my-alias","messages":[{"role":"user","content":"hello world"}]})",
               "azure/gpt-4o"),
            R"({"total_tokens":9,"request_model":"my-alias","model_used":"gpt-4o",)"
            R"("tokenizer_type":"openai_tokenizer"})");
}

TEST(TokenCounterTest, OtherModelsAreEstimates) {
  EXPECT_EQ(
      ok(R"({"model":"claude","prompt":["tiktoken is great!"]})", "anthropic/claude-sonnet-4-5"),
      R"({"total_tokens":6,"request_model":"claude","model_used":"claude-sonnet-4-5",)"
      R"("tokenizer_type":"estimate"})");
}

TEST(TokenCounterTest, EscapesModelNames) {
  const std::string out = ok(R"({"model":"a\"b\\c","prompt":"x"})");
  EXPECT_NE(out.find(R"("request_model":"a\"b\\c")"), std::string::npos) << out;
}

TEST(TokenCounterTest, Errors) {
  EXPECT_EQ(err("not json").param, "body");
  EXPECT_EQ(err("[1]").message, "request body must be a JSON object");
  GatewayError e = err(R"({"prompt":"x"})");
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.type, "invalid_request_error");
  EXPECT_EQ(e.message, "model is required");
  EXPECT_EQ(e.param, "model");
  EXPECT_EQ(err(R"({"model":["gpt-4"],"prompt":"x"})").message, "model must be a non-empty string");
  EXPECT_EQ(err(R"({"model":"","prompt":"x"})").message, "model must be a non-empty string");
  EXPECT_EQ(err(R"({"model":"gpt-4"})").message, "prompt or messages must be provided");
  EXPECT_EQ(err(R"({"model":"gpt-4","prompt":null,"messages":null})").message,
            "prompt or messages must be provided");
  EXPECT_EQ(err(R"({"model":"gpt-4","prompt":"a","messages":[]})").message,
            "prompt and messages cannot both be set");
  EXPECT_EQ(err(R"({"model":"gpt-4","messages":"hi"})").message, "messages must be an array");
  EXPECT_EQ(err(R"({"model":"gpt-4","prompt":{"a":1}})").param, "prompt");
}

}  // namespace
}  // namespace llmux::tokenizer
