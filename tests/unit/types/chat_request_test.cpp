#include "types/chat_request.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace llmux::types {
namespace {

std::string_view slice(std::string_view body, Span span) {
  return body.substr(span.begin, span.end - span.begin);
}

// Parses `body` (kept alive by the caller) and fails the test on an error.
ChatRequest parseOk(std::string& body) {
  const std::string before = body;
  auto result = parseChatRequest(body);
  EXPECT_EQ(body, before) << "the body must not change";
  EXPECT_GE(body.capacity(), body.size() + 64);
  if (auto* err = std::get_if<GatewayError>(&result)) {
    ADD_FAILURE() << "unexpected error: " << err->toJson();
    return {};
  }
  return std::get<ChatRequest>(std::move(result));
}

GatewayError parseErr(std::string body) {
  auto result = parseChatRequest(body);
  if (auto* req = std::get_if<ChatRequest>(&result)) {
    ADD_FAILURE() << "expected an error for: " << body;
    return {};
  }
  GatewayError err = std::get<GatewayError>(std::move(result));
  EXPECT_EQ(err.status, 400);
  EXPECT_EQ(err.type, "invalid_request_error");
  return err;
}

void expectJsonError(std::string body) {
  SCOPED_TRACE(testing::PrintToString(body));
  const GatewayError err = parseErr(std::move(body));
  EXPECT_EQ(err.message.rfind("Invalid JSON in request body: ", 0), 0u) << err.message;
  EXPECT_FALSE(err.param.has_value());
}

void expectFieldError(std::string body, std::string_view message, std::string_view param) {
  SCOPED_TRACE(testing::PrintToString(body));
  const GatewayError err = parseErr(std::move(body));
  EXPECT_EQ(err.message, message);
  ASSERT_TRUE(err.param.has_value());
  EXPECT_EQ(*err.param, param);
}

constexpr std::string_view kMsgs = R"("messages":[{"role":"user","content":"hi"}])";

std::string withMessages(std::string_view members) {
  return "{" + std::string(kMsgs) + "," + std::string(members) + "}";
}

// ---------------------------------------------------------------------------------------------
// Valid bodies

TEST(ChatRequest, Minimal) {
  std::string body = R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello!"}]})";
  const ChatRequest req = parseOk(body);
  EXPECT_EQ(req.model, "gpt-4o-mini");
  EXPECT_EQ(req.model.data(), body.data() + 10) << "model must be a view into the body";
  EXPECT_EQ(slice(body, req.modelSpan), R"("gpt-4o-mini")");
  EXPECT_FALSE(req.stream);
  EXPECT_FALSE(req.includeUsage);
  EXPECT_TRUE(req.streamOptionsMember.empty());
  EXPECT_EQ(req.objectEnd, body.size() - 1);
  EXPECT_EQ(body[req.objectEnd], '}');
  EXPECT_EQ(req.messageCount, 1u);
  EXPECT_EQ(req.lastUserText, "Hello!");
  EXPECT_FALSE(req.mockResponse.has_value());
}

TEST(ChatRequest, PrettyPrintedWithStreamOptions) {
  std::string body =
      "\r\n {\n"
      "  \"model\" :  \"gpt-4o\" ,\n"
      "  \"messages\": [\n"
      "    {\"role\": \"system\", \"content\": \"Be brief.\"},\n"
      "    {\"role\": \"user\", \"content\": \"Hi\"}\n"
      "  ],\n"
      "  \"stream\": true,\n"
      "  \"stream_options\" :\t{ \"include_usage\" : true }  ,\n"
      "  \"temperature\": 0.2\n"
      "}\n\n";
  const ChatRequest req = parseOk(body);
  EXPECT_EQ(req.model, "gpt-4o");
  EXPECT_EQ(slice(body, req.modelSpan), "\"gpt-4o\"");
  EXPECT_TRUE(req.stream);
  EXPECT_TRUE(req.includeUsage);
  EXPECT_EQ(slice(body, req.streamOptionsMember),
            "\"stream_options\" :\t{ \"include_usage\" : true }");
  EXPECT_EQ(req.objectEnd, body.rfind('}'));
  EXPECT_EQ(req.messageCount, 2u);
  EXPECT_EQ(req.lastUserText, "Hi");
}

TEST(ChatRequest, StreamOptionsVariants) {
  struct Case {
    std::string members;
    bool stream;
    bool includeUsage;
    std::string_view member;  // expected slice ("" = absent)
  };
  const Case cases[] = {
      {R"("stream":true)", true, false, ""},
      {R"("stream":false)", false, false, ""},
      {R"("stream":null)", false, false, ""},
      {R"("stream":true,"stream_options":{"include_usage":true})", true, true,
       R"("stream_options":{"include_usage":true})"},
      {R"("stream":true,"stream_options":{"include_usage":false})", true, false,
       R"("stream_options":{"include_usage":false})"},
      {R"("stream":true,"stream_options":{"include_usage":null})", true, false,
       R"("stream_options":{"include_usage":null})"},
      {R"("stream":true,"stream_options":{})", true, false, R"("stream_options":{})"},
      {R"("stream":true,"stream_options":null)", true, false, R"("stream_options":null)"},
      {R"("stream_options" : null , "stream":true)", true, false, R"("stream_options" : null)"},
      {R"("stream":true,"stream_options":{"x":[1,{"y":"}"}],"include_usage":true,"z":1})", true,
       true, R"("stream_options":{"x":[1,{"y":"}"}],"include_usage":true,"z":1})"},
  };
  for (const Case& c : cases) {
    std::string body = withMessages("\"model\":\"m\"," + c.members) + "  ";
    SCOPED_TRACE(body);
    const ChatRequest req = parseOk(body);
    EXPECT_EQ(req.stream, c.stream);
    EXPECT_EQ(req.includeUsage, c.includeUsage);
    EXPECT_EQ(slice(body, req.streamOptionsMember), c.member);
    EXPECT_EQ(req.objectEnd, body.size() - 3);
  }
}

TEST(ChatRequest, StreamOptionsAsFirstAndLastMember) {
  std::string first =
      R"({ "stream_options":{"include_usage":true}, "model":"m",)" + std::string(kMsgs) + "}";
  ChatRequest req = parseOk(first);
  EXPECT_EQ(req.streamOptionsMember.begin, 2u);
  EXPECT_EQ(slice(first, req.streamOptionsMember), R"("stream_options":{"include_usage":true})");

  std::string last =
      R"({"model":"m",)" + std::string(kMsgs) + ",\n\"stream_options\":{\"include_usage\":true}\n}";
  req = parseOk(last);
  EXPECT_EQ(slice(last, req.streamOptionsMember), R"("stream_options":{"include_usage":true})");
  EXPECT_EQ(req.objectEnd, last.size() - 1);
}

TEST(ChatRequest, SpliceFromSpansRebuildsTheBody) {
  // What the OpenAI adapter does: replace model, replace stream_options, keep every other byte.
  std::string body = R"({"model":"alias","messages":[{"role":"user","content":"x"}],)"
                     R"("stream":true,"stream_options":{"include_usage":false},"n":1})";
  const ChatRequest req = parseOk(body);
  std::string out;
  out.append(body, 0, req.modelSpan.begin);
  out += R"("gpt-4o")";
  out.append(body, req.modelSpan.end, req.streamOptionsMember.begin - req.modelSpan.end);
  out += R"("stream_options":{"include_usage":true})";
  out.append(body, req.streamOptionsMember.end);
  EXPECT_EQ(out, R"({"model":"gpt-4o","messages":[{"role":"user","content":"x"}],)"
                 R"("stream":true,"stream_options":{"include_usage":true},"n":1})");
}

TEST(ChatRequest, ContentPartsAndLastUserMessage) {
  std::string body = R"({"model":"m","messages":[
    {"role":"system","content":"sys"},
    {"role":"user","content":"first"},
    {"content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"data:x"}},
                {"text":"b \"q\" \u00e9\n","type":"text"},{"type":"text"},
                {"type":"input_audio","text":"no"}],
     "role":"user"},
    {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function",
      "function":{"name":"f","arguments":"{}"}}]},
    {"role":"tool","tool_call_id":"c1","content":"42"}
  ]})";
  const ChatRequest req = parseOk(body);
  EXPECT_EQ(req.messageCount, 5u);
  EXPECT_EQ(req.lastUserText, "a\nb \"q\" \xc3\xa9\n");
}

TEST(ChatRequest, LastUserTextEdgeCases) {
  std::string noUser = R"({"model":"m","messages":[{"role":"system","content":"s"}]})";
  EXPECT_EQ(parseOk(noUser).lastUserText, "");
  std::string nullContent = R"({"model":"m","messages":[{"role":"user","content":"a"},)"
                            R"({"role":"user","content":null}]})";
  EXPECT_EQ(parseOk(nullContent).lastUserText, "");
  std::string escapedRole = R"({"model":"m","messages":[{"role":"\u0075ser","content":"e\tx"}]})";
  EXPECT_EQ(parseOk(escapedRole).lastUserText, "e\tx");
  std::string duplicateContent = R"({"model":"m","messages":[{"role":"user","content":"old",)"
                                 R"("content":[{"type":"text","text":"new"}]}]})";
  EXPECT_EQ(parseOk(duplicateContent).lastUserText, "new");
}

TEST(ChatRequest, MockResponse) {
  std::string body = withMessages(R"("model":"m","mock_response":"Hi \"there\"\n")");
  EXPECT_EQ(parseOk(body).mockResponse, std::optional<std::string>("Hi \"there\"\n"));
  std::string notString = withMessages(R"("model":"m","mock_response":{"a":1})");
  EXPECT_FALSE(parseOk(notString).mockResponse.has_value());
  std::string overridden = withMessages(R"("model":"m","mock_response":"x","mock_response":null)");
  EXPECT_FALSE(parseOk(overridden).mockResponse.has_value());
  std::string empty = withMessages(R"("model":"m","mock_response":"")");
  EXPECT_EQ(parseOk(empty).mockResponse, std::optional<std::string>(""));
}

TEST(ChatRequest, EscapedKeysAreRecognised) {
  std::string body = R"({"mod\u0065l":"m","messages":[{"role":"user"}],"stream":true,)"
                     R"("stream\u005foptions":{"include\u005fusage":true}})";
  const ChatRequest req = parseOk(body);
  EXPECT_EQ(req.model, "m");
  EXPECT_TRUE(req.includeUsage);
  EXPECT_EQ(slice(body, req.streamOptionsMember),
            R"("stream\u005foptions":{"include\u005fusage":true})");
}

TEST(ChatRequest, UnicodeModel) {
  std::string body = withMessages("\"model\":\"mod\xc3\xa8le-\xe2\x82\xac\"");
  EXPECT_EQ(parseOk(body).model, "mod\xc3\xa8le-\xe2\x82\xac");
}

TEST(ChatRequest, DuplicateKeysLastWins) {
  std::string body = R"({"model":5,"model":"first","messages":[],"messages":[{"role":"user"}],)"
                     R"("stream":"x","stream":true,"model":"second",)"
                     R"("stream_options":7,"stream_options":{"include_usage":true},"n":1})";
  const ChatRequest req = parseOk(body);
  EXPECT_EQ(req.model, "second");
  EXPECT_EQ(slice(body, req.modelSpan), "\"second\"");
  EXPECT_EQ(req.modelSpan.begin, body.find("\"second\""));
  EXPECT_TRUE(req.stream);
  EXPECT_TRUE(req.includeUsage);
  EXPECT_EQ(req.streamOptionsMember.begin, body.rfind("\"stream_options\""));
  EXPECT_EQ(slice(body, req.streamOptionsMember), R"("stream_options":{"include_usage":true})");
  EXPECT_EQ(req.messageCount, 1u);

  // The last occurrence is the one checked.
  expectFieldError(withMessages(R"("model":"ok","model":5)"),
                   "Invalid type for 'model': expected a string.", "model");
  std::string nullLast = withMessages(R"("model":"m","stream_options":{"include_usage":true},)"
                                      R"("stream_options":null)");
  const ChatRequest req2 = parseOk(nullLast);
  EXPECT_FALSE(req2.includeUsage);
  EXPECT_EQ(slice(nullLast, req2.streamOptionsMember), R"("stream_options":null)");
  std::string usageTwice =
      withMessages(R"("model":"m","stream_options":{"include_usage":1,"include_usage":true})");
  EXPECT_TRUE(parseOk(usageTwice).includeUsage);
}

TEST(ChatRequest, HugeAndOddNumbersAreValidJson) {
  std::string body =
      withMessages(R"("model":"m","a":1e400,"b":-1E-400,"c":123456789012345678901234567890123,)"
                   R"("d":-0.0,"e":0,"f":1.5e+3,"g":[0.1,2E2,-3e-2])");
  parseOk(body);
}

TEST(ChatRequest, DeepNesting) {
  auto nested = [](int depth) {
    return withMessages("\"model\":\"m\",\"x\":" + std::string(depth, '[') +
                        std::string(depth, ']'));
  };
  std::string ok = nested(200);
  parseOk(ok);
  expectJsonError(nested(300));
  expectJsonError(nested(100000));  // must not overflow the stack
  std::string objects = "{\"model\":\"m\"," + std::string(kMsgs) + ",\"x\":";
  for (int i = 0; i < 5000; ++i) objects += "{\"k\":";
  objects += "1" + std::string(5001, '}');
  expectJsonError(objects);
}

TEST(ChatRequest, LargeBodyUsesItsOwnParser) {
  std::string body = R"({"model":"m","messages":[{"role":"user","content":")" +
                     std::string(3u << 20, 'x') + R"("}],"stream":true})";
  const ChatRequest req = parseOk(body);
  EXPECT_EQ(req.lastUserText.size(), 3u << 20);
  EXPECT_TRUE(req.stream);
  std::string small = withMessages(R"("model":"after")");
  EXPECT_EQ(parseOk(small).model, "after");
}

TEST(ChatRequest, ResultsSurviveTheNextParse) {
  std::string a = withMessages(R"("model":"first","mock_response":"x")");
  std::string b = withMessages(R"("model":"second")");
  const ChatRequest ra = parseOk(a);
  const ChatRequest rb = parseOk(b);
  EXPECT_EQ(ra.model, "first");
  EXPECT_EQ(ra.lastUserText, "hi");
  EXPECT_EQ(rb.model, "second");
}

// ---------------------------------------------------------------------------------------------
// Errors

TEST(ChatRequest, InvalidJson) {
  const std::string bad[] = {
      "",
      "   \n",
      "hello",
      "{",
      R"({"model":"m")",
      R"({"model":})",
      R"({"model":"m",})",
      R"({"model" "m"})",
      R"({model:"m"})",
      R"({'model':'m'})",
      R"({"model":"m"} x)",
      R"({"model":"m"}})",
      R"({"model":"m"}{})",
      R"({"model":"m"} "s")",
      R"({"model":"m"} [)",
      R"({"model":"m","x":[1 2]})",
      R"({"model":"m","x":[1,]})",
      R"({"model":"m","x":[1}]})",
      R"({"model":"m","x":{"a":1,}})",
      R"({"model":"m","x":{1:2}})",
      R"({"model":"m","x":"unterminated})",
      // On-Demand alone would skip these when the value is not consumed (found by the fuzzer).
      R"({"model":"m","x":{"a":"b":"c"}})",
      R"({"model":"m","x":{"a":1:2}})",
      R"({"model":"m","x":["a":1]})",
      R"({"model":"m","x":[true:1]})",
      R"({"model":"m","x":[{"a":1}:2]})",
      R"({"model":"m","messages":[{"role":"user","content":[{"type":"te":"x"}]}]})",
      R"({"model":"m","messages":[{"role":"user":"x"}]})",
      R"({"model":"m":"x","messages":[{"role":"user"}]})",
  };
  for (const std::string& body : bad) expectJsonError(body);
}

TEST(ChatRequest, InvalidValuesAnywhere) {
  // A malformed value deep inside a field the gateway does not otherwise look at is still a 400.
  const std::string values[] = {
      "01",           "1.",       ".5",       "-",        "+1",        "1e",        "1e+",
      "0x10",         "NaN",      "Infinity", "-01",      "1.2.3",     "tru",       "nul",
      "falsey",       "True",     "nulll",    "t",        "\"\\q\"",   "\"\\u12\"", "\"\\ud800\"",
      "\"\\udc00x\"", "\"a\tb\"", "\"a\nb\"", "\"\x01\"", "undefined", "[1,,2]",
  };
  for (const std::string& v : values) {
    expectJsonError(withMessages("\"model\":\"m\",\"x\":{\"y\":[" + v + "]}"));
    expectJsonError(R"({"model":"m","messages":[{"role":"user","content":"x","extra":)" + v +
                    "}]}");
  }
  // Invalid keys too.
  expectJsonError(withMessages(R"("model":"m","x":{"\q":1})"));
}

TEST(ChatRequest, BadUtf8) {
  const std::string bad[] = {"\xff",     "\xc0\xaf", "\xed\xa0\x80",
                             "\xe2\x82", "\x80",     "\xf5\x80\x80\x80"};
  for (const std::string& b : bad) {
    SCOPED_TRACE(testing::PrintToString(b));
    const GatewayError inString = parseErr(withMessages("\"model\":\"m" + b + "\""));
    EXPECT_EQ(inString.message, "Invalid JSON in request body: The input is not valid UTF-8");
    expectJsonError(withMessages("\"model\":\"m\",\"k" + b + "\":1"));
  }
}

TEST(ChatRequest, NotAnObject) {
  for (const std::string body : {"[]", "[{\"model\":\"m\"}]", "\"str\"", "42", "null", "true"}) {
    SCOPED_TRACE(body);
    const GatewayError err = parseErr(body);
    EXPECT_EQ(err.message, "Invalid request body: expected a JSON object.");
    EXPECT_FALSE(err.param.has_value());
  }
}

TEST(ChatRequest, ModelErrors) {
  expectFieldError("{" + std::string(kMsgs) + "}", "Missing required parameter: 'model'.", "model");
  expectFieldError(R"({})", "Missing required parameter: 'model'.", "model");
  for (const char* v : {"5", "null", "true", "[\"m\"]", "{\"name\":\"m\"}"}) {
    expectFieldError(withMessages(std::string("\"model\":") + v),
                     "Invalid type for 'model': expected a string.", "model");
  }
  expectFieldError(withMessages(R"("model":"")"),
                   "Invalid value for 'model': expected a non-empty string.", "model");
}

TEST(ChatRequest, EscapedModelNameIsUnescapedAndSurvivesCopies) {
  // PHP's json_encode escapes '/', so "openai\/gpt-4o" must mean "openai/gpt-4o".
  std::string body = withMessages(R"("model":"openai\/gpt-4o")");
  ChatRequest req = parseOk(body);
  EXPECT_EQ(req.model, "openai/gpt-4o");
  EXPECT_TRUE(req.modelOwned);
  EXPECT_EQ(body.substr(req.modelSpan.begin, req.modelSpan.end - req.modelSpan.begin),
            R"("openai\/gpt-4o")");
  ChatRequest copy = req;
  ChatRequest moved = std::move(req);
  EXPECT_EQ(copy.model, "openai/gpt-4o");
  EXPECT_EQ(moved.model, "openai/gpt-4o");
  EXPECT_EQ(copy.model.data(), copy.modelStorage.data());  // points at its own storage
  EXPECT_EQ(moved.model.data(), moved.modelStorage.data());
  // Reusing the struct for a plain name drops the owned copy.
  std::string plain = withMessages(R"("model":"m")");
  ASSERT_FALSE(parseChatRequest(plain, moved));
  EXPECT_EQ(moved.model, "m");
  EXPECT_FALSE(moved.modelOwned);
  EXPECT_EQ(moved.model.data(), plain.data() + plain.find("\"m\"") + 1);
}

TEST(ChatRequest, MessagesErrors) {
  expectFieldError(R"({"model":"m"})", "Missing required parameter: 'messages'.", "messages");
  for (const char* v : {"[]", "{}", "\"hi\"", "null", "3"}) {
    expectFieldError(std::string(R"({"model":"m","messages":)") + v + "}",
                     "'messages' must be a non-empty array.", "messages");
  }
  expectFieldError(R"({"model":"m","messages":[{"role":"user"},"hi"]})",
                   "Invalid type for 'messages[1]': expected an object.", "messages");
  expectFieldError(R"({"model":"m","messages":[{"content":"hi"}]})",
                   "Missing required parameter: 'messages[0].role'.", "messages");
  expectFieldError(R"({"model":"m","messages":[{"role":"user"},{"role":"user"},{"role":5}]})",
                   "Invalid type for 'messages[2].role': expected a string.", "messages");
  expectFieldError(R"({"model":"m","messages":[{"role":null}]})",
                   "Invalid type for 'messages[0].role': expected a string.", "messages");
  // The first bad message is reported.
  expectFieldError(R"({"model":"m","messages":[{"role":"u"},{},{"role":1}]})",
                   "Missing required parameter: 'messages[1].role'.", "messages");
  // A role given twice: the last one counts.
  std::string ok = R"({"model":"m","messages":[{"role":1,"role":"user"}]})";
  parseOk(ok);
  expectFieldError(R"({"model":"m","messages":[{"role":"user","role":1}]})",
                   "Invalid type for 'messages[0].role': expected a string.", "messages");
}

TEST(ChatRequest, StreamErrors) {
  for (const char* v : {"\"true\"", "1", "0", "[]", "{}"}) {
    expectFieldError(withMessages(std::string("\"model\":\"m\",\"stream\":") + v),
                     "Invalid type for 'stream': expected a boolean.", "stream");
  }
  for (const char* v : {"\"x\"", "[]", "true", "1"}) {
    expectFieldError(withMessages(std::string("\"model\":\"m\",\"stream_options\":") + v),
                     "Invalid type for 'stream_options': expected an object or null.",
                     "stream_options");
  }
  for (const char* v : {"\"yes\"", "1", "{}", "[]"}) {
    expectFieldError(
        withMessages(std::string("\"model\":\"m\",\"stream_options\":{\"include_usage\":") + v +
                     "}"),
        "Invalid type for 'stream_options.include_usage': expected a boolean.",
        "stream_options.include_usage");
  }
}

TEST(ChatRequest, ErrorPrecedence) {
  // Invalid JSON wins over any field problem, wherever it is.
  expectJsonError(R"({"model":5,"messages":[],"x":[1,]})");
  expectJsonError(R"({"model":5,"messages":[1, tru]})");
  // Then model, messages, stream, stream_options, in that order.
  expectFieldError(R"({"stream":1,"messages":[],"model":5})",
                   "Invalid type for 'model': expected a string.", "model");
  expectFieldError(R"({"stream":1,"stream_options":1,"messages":[],"model":"m"})",
                   "'messages' must be a non-empty array.", "messages");
  expectFieldError(withMessages(R"("stream_options":1,"stream":1,"model":"m")"),
                   "Invalid type for 'stream': expected a boolean.", "stream");
}

TEST(ChatRequest, ErrorJsonShape) {
  const GatewayError err = parseErr(R"({"model":"m"})");
  EXPECT_EQ(err.toJson(), R"({"error":{"message":"Missing required parameter: 'messages'.",)"
                          R"("type":"invalid_request_error","param":"messages","code":null}})");
}

}  // namespace
}  // namespace llmux::types
