#include "tokenizer/count.hpp"

#include <gtest/gtest.h>

#include <string>

#include "tokenizer/encoding.hpp"

namespace llmux::tokenizer {
namespace {

// The OpenAI cookbook's example ("How to count tokens with tiktoken", section 6), whose counts
// equal the API's usage.prompt_tokens: 129 for gpt-4 / gpt-3.5-turbo, 124 for gpt-4o.
constexpr std::string_view kCookbookMessages = R"({"messages":[
 {"role":"system","content":"You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
 {"role":"system","name":"example_user","content":"New synergies will help drive top-line growth."},
 {"role":"system","name":"example_assistant","content":"Things working well together will increase revenue."},
 {"role":"system","name":"example_user","content":"Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
 {"role":"system","name":"example_assistant","content":"Let's talk later when we're less busy about how to do better."},
 {"role":"user","content":"This late pivot means we don't have time to boil the ocean for the client deliverable."}]})";

// The cookbook's tools example (section 7): 105 (cl100k models), 101 (gpt-4o).
constexpr std::string_view kCookbookTools = R"({"messages":[
 {"role":"system","content":"You are a helpful assistant that can answer to questions about the weather."},
 {"role":"user","content":"What's the weather like in San Francisco?"}],
 "tools":[{"type":"function","function":{"name":"get_current_weather",
  "description":"Get the current weather in a given location",
  "parameters":{"type":"object","properties":{
   "location":{"type":"string","description":"The city and state, e.g. San Francisco, CA"},
   "unit":{"type":"string","description":"The unit of temperature to return","enum":["celsius","fahrenheit"]}},
  "required":["location"]}}}]})";

Count chatOk(std::string_view model, std::string_view body) {
  auto r = countChatBody(model, body);
  if (auto* e = std::get_if<GatewayError>(&r)) {
    ADD_FAILURE() << e->message;
    return {};
  }
  return std::get<Count>(r);
}

std::string chatError(std::string_view model, std::string_view body) {
  auto r = countChatBody(model, body);
  if (std::holds_alternative<Count>(r)) {
    ADD_FAILURE() << "expected an error for " << body;
    return {};
  }
  const GatewayError& e = std::get<GatewayError>(r);
  EXPECT_EQ(e.status, 400);
  return e.message;
}

TEST(ModelMappingTest, OpenAIModels) {
  for (const char* m : {"gpt-4o",
                        "gpt-4o-mini",
                        "gpt-4o-2024-08-06",
                        "chatgpt-4o-latest",
                        "gpt-4.1",
                        "gpt-4.1-nano",
                        "gpt-4.5-preview",
                        "gpt-5",
                        "gpt-5-mini",
                        "gpt-5.1",
                        "o1",
                        "o1-mini",
                        "o3-mini",
                        "o3",
                        "o4-mini",
                        "gpt-oss-120b",
                        "openai/gpt-4o",
                        "azure/gpt-4.1-mini",
                        "openrouter/openai/gpt-5",
                        "ft:gpt-4o-mini-2024-07-18:acme::abc123",
                        "GPT-4o",
                        "bedrock/openai.gpt-oss-20b-1:0"}) {
    EXPECT_EQ(encodingForModel(m), "o200k_base") << m;
  }
  for (const char* m : {"gpt-4", "gpt-4-0613", "gpt-4-turbo", "gpt-4-32k", "gpt-3.5-turbo",
                        "gpt-3.5-turbo-0125", "gpt-35-turbo", "azure/gpt-35-turbo-16k",
                        "text-embedding-3-small", "text-embedding-3-large",
                        "text-embedding-ada-002", "ft:gpt-3.5-turbo-0125:org::x", "davinci-002"}) {
    EXPECT_EQ(encodingForModel(m), "cl100k_base") << m;
  }
  for (const char* m : {"", "claude-3-5-sonnet", "anthropic/claude-sonnet-4", "gemini-2.5-pro",
                        "llama-3.1-8b", "mistral-large", "o10", "gpt-4omni", "gpt-4.2",
                        "text-davinci-003", "o", "gpt", "openai/", "my-gpt-4o"}) {
    EXPECT_EQ(encodingForModel(m), "") << m;
  }
}

TEST(CountTest, Text) {
  const Count c = countText("gpt-4o", "hello world");
  EXPECT_EQ(c.tokens, 2);
  EXPECT_TRUE(c.exact);
  EXPECT_EQ(c.tokenizer, "o200k_base");
  const Count est = countText("claude-3-5-sonnet", "tiktoken is great!");
  EXPECT_EQ(est.tokens, 6);  // cl100k's count, as an estimate
  EXPECT_FALSE(est.exact);
  EXPECT_EQ(est.tokenizer, "cl100k_base");
  EXPECT_EQ(countText("gpt-4", "").tokens, 0);
}

TEST(CountTest, CookbookMessages) {
  EXPECT_EQ(chatOk("gpt-4", kCookbookMessages).tokens, 129);
  EXPECT_EQ(chatOk("gpt-3.5-turbo", kCookbookMessages).tokens, 129);
  const Count c = chatOk("gpt-4o", kCookbookMessages);
  EXPECT_EQ(c.tokens, 124);
  EXPECT_TRUE(c.exact);
  EXPECT_EQ(chatOk("gpt-4o-mini", kCookbookMessages).tokens, 124);
}

TEST(CountTest, CookbookTools) {
  EXPECT_EQ(chatOk("gpt-4", kCookbookTools).tokens, 105);
  EXPECT_EQ(chatOk("gpt-3.5-turbo", kCookbookTools).tokens, 105);
  EXPECT_EQ(chatOk("gpt-4o", kCookbookTools).tokens, 101);
  EXPECT_EQ(chatOk("gpt-4o-mini", kCookbookTools).tokens, 101);
}

TEST(CountTest, LegacyFunctionsCountLikeTools) {
  std::string legacy(kCookbookTools);
  legacy.replace(legacy.find(R"("tools":[{"type":"function","function":)"),
                 std::string_view(R"("tools":[{"type":"function","function":)").size(),
                 R"("functions":[)");
  legacy.replace(legacy.rfind("}]}"), 3, "]}");
  EXPECT_EQ(chatOk("gpt-4o", legacy).tokens, 101) << legacy;
}

TEST(CountTest, ModelFromBody) {
  const Count c =
      chatOk("", R"({"model":"gpt-4o","messages":[{"role":"user","content":"hello world"}]})");
  // 3 per message + "user" (1) + "hello world" (2) + 3 priming.
  EXPECT_EQ(c.tokens, 9);
  EXPECT_TRUE(c.exact);
  EXPECT_EQ(c.tokenizer, "o200k_base");
}

TEST(CountTest, ContentPartsAndToolCalls) {
  const std::string_view parts =
      R"({"messages":[{"role":"user","content":[{"type":"text","text":"hello world"},
      {"type":"text","text":"hello world"}]}]})";
  EXPECT_EQ(chatOk("gpt-4o", parts).tokens, 3 + 1 + 2 + 2 + 3);
  EXPECT_TRUE(chatOk("gpt-4o", parts).exact);

  const std::string_view image =
      R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}},
      {"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA","detail":"high"}}]}]})";
  const Count img = chatOk("gpt-4o", image);
  EXPECT_EQ(img.tokens, 3 + 1 + 85 + 765 + 3);
  EXPECT_FALSE(img.exact);

  const std::string_view audio =
      R"({"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}]}]})";
  EXPECT_FALSE(chatOk("gpt-4o", audio).exact);

  // Tool calls count the function's name and arguments; null content and unknown non-string
  // fields count nothing; tool_call_id is a string field like any other.
  const std::string_view calls =
      R"({"messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function",
      "function":{"name":"hello","arguments":"world"}}],"refusal":null},
      {"role":"tool","tool_call_id":"hello","content":"hello world"}]})";
  const Count tc = chatOk("gpt-4", calls);
  const int64_t hello = countText("gpt-4", "hello").tokens;
  const int64_t world = countText("gpt-4", "world").tokens;
  const int64_t assistant = countText("gpt-4", "assistant").tokens;
  const int64_t tool = countText("gpt-4", "tool").tokens;
  EXPECT_EQ(tc.tokens, 3 + assistant + hello + world + 3 + tool + hello + 2 + 3);
  EXPECT_TRUE(tc.exact);
}

TEST(CountTest, NonOpenAIModelIsAnEstimate) {
  const Count c = chatOk("claude-sonnet-4", kCookbookMessages);
  EXPECT_EQ(c.tokens, 129);  // cl100k numbers
  EXPECT_FALSE(c.exact);
  EXPECT_EQ(c.tokenizer, "cl100k_base");
}

TEST(CountTest, ChatErrors) {
  EXPECT_NE(chatError("gpt-4o", "{").find("not valid JSON"), std::string::npos);
  EXPECT_NE(chatError("gpt-4o", "[]").find("JSON object"), std::string::npos);
  EXPECT_NE(chatError("", R"({"messages":[]})").find("model is required"), std::string::npos);
  EXPECT_NE(chatError("", R"({"model":7,"messages":[]})").find("model must be"), std::string::npos);
  EXPECT_NE(chatError("gpt-4o", R"({})").find("messages is required"), std::string::npos);
  EXPECT_NE(chatError("gpt-4o", R"({"messages":{}})").find("messages must be an array"),
            std::string::npos);
  EXPECT_NE(chatError("gpt-4o", R"({"messages":[1]})").find("messages[0] must be an object"),
            std::string::npos);
  EXPECT_NE(chatError("gpt-4o", R"({"messages":[{"role":"user","content":5}]})")
                .find("messages[0].content must be"),
            std::string::npos);
  EXPECT_NE(
      chatError("gpt-4o",
                R"({"messages":[{"role":"user","content":"a"},{"role":"user","content":["x"]}]})")
          .find("messages[1].content[0] must be an object"),
      std::string::npos);
  EXPECT_NE(chatError("gpt-4o", R"({"messages":[],"tools":{}})").find("tools must be an array"),
            std::string::npos);
  EXPECT_NE(chatError("gpt-4o", R"({"messages":[],"tools":[3]})").find("tools[0] must be"),
            std::string::npos);
}

TEST(CountTest, EmptyMessagesStillPrime) {
  EXPECT_EQ(chatOk("gpt-4o", R"({"messages":[]})").tokens, 3);
}

TEST(CountTest, PromptBodies) {
  auto ok = [](std::string_view model, std::string_view body, std::string_view field) {
    auto r = countPromptBody(model, body, field);
    if (auto* e = std::get_if<GatewayError>(&r)) {
      ADD_FAILURE() << e->message;
      return Count{};
    }
    return std::get<Count>(r);
  };
  EXPECT_EQ(ok("gpt-4", R"({"prompt":"tiktoken is great!"})", "prompt").tokens, 6);
  EXPECT_EQ(ok("gpt-4", R"({"prompt":["hello world","tiktoken is great!"]})", "prompt").tokens, 8);
  EXPECT_EQ(ok("text-embedding-3-small", R"({"input":[1,2,3]})", "input").tokens, 3);
  EXPECT_EQ(ok("text-embedding-3-small", R"({"input":[[1,2],[3],[]]})", "input").tokens, 3);
  const Count fromBody =
      ok("", R"({"model":"text-embedding-3-large","input":"hello world"})", "input");
  EXPECT_EQ(fromBody.tokens, 2);
  EXPECT_TRUE(fromBody.exact);
  EXPECT_FALSE(ok("nomic-embed-text", R"({"input":"hello world"})", "input").exact);

  auto err = [](std::string_view body, std::string_view field) {
    auto r = countPromptBody("gpt-4", body, field);
    EXPECT_TRUE(std::holds_alternative<GatewayError>(r)) << body;
    return std::holds_alternative<GatewayError>(r) ? std::get<GatewayError>(r).message : "";
  };
  EXPECT_NE(err(R"({})", "prompt").find("prompt is required"), std::string::npos);
  EXPECT_NE(err(R"({"input":null})", "input").find("input is required"), std::string::npos);
  EXPECT_NE(err(R"({"prompt":5})", "prompt").find("prompt must be"), std::string::npos);
  EXPECT_NE(err(R"({"prompt":[true]})", "prompt").find("prompt must be"), std::string::npos);
  EXPECT_NE(err(R"({"prompt":[[1,"x"]]})", "prompt").find("prompt must be"), std::string::npos);
  EXPECT_NE(err(R"({"prompt":[1.5]})", "prompt").find("prompt must be"), std::string::npos);
}

}  // namespace
}  // namespace llmux::tokenizer
