#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdint>
#include <string>

#include "providers/openai/openai.hpp"

namespace llmux::providers::openai {
namespace {

void expectValidJson(const GatewayError& e) {
  const std::string json = e.toJson();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  EXPECT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
}

TEST(OpenAiUpstreamError, OpenAiEnvelope) {
  const GatewayError e = mapUpstreamError(
      429,
      R"({"error":{"message":"Rate limit reached for gpt-4o. Please try again in 6s.",)"
      R"("type":"requests","param":null,"code":"rate_limit_exceeded"}})",
      6);
  EXPECT_EQ(e.status, 429);
  EXPECT_EQ(e.message, "Rate limit reached for gpt-4o. Please try again in 6s.");
  EXPECT_EQ(e.type, "requests");
  EXPECT_FALSE(e.param.has_value());
  EXPECT_EQ(e.code, "rate_limit_exceeded");
  EXPECT_EQ(e.retryAfterSeconds, 6);
  EXPECT_EQ(e.toJson(),
            R"({"error":{"message":"Rate limit reached for gpt-4o. Please try again in 6s.",)"
            R"("type":"requests","param":null,"code":"rate_limit_exceeded"}})");
}

TEST(OpenAiUpstreamError, EnvelopeWithParamAndEscapes) {
  const GatewayError e = mapUpstreamError(
      400,
      R"({"error":{"message":"Unsupported parameter: 'max_tokens' \"x\"\n\u00e9",)"
      R"("type":"invalid_request_error","param":"max_tokens","code":"unsupported_parameter"}})",
      std::nullopt);
  EXPECT_EQ(e.message, "Unsupported parameter: 'max_tokens' \"x\"\n\xC3\xA9");
  EXPECT_EQ(e.param, "max_tokens");
  EXPECT_EQ(e.code, "unsupported_parameter");
  EXPECT_FALSE(e.retryAfterSeconds.has_value());
  expectValidJson(e);
}

TEST(OpenAiUpstreamError, NumericCodeBecomesString) {
  const GatewayError e =
      mapUpstreamError(502, R"({"error":{"message":"down","code":502 ,"param":7}})", std::nullopt);
  EXPECT_EQ(e.code, "502");
  EXPECT_EQ(e.param, "7");
  EXPECT_EQ(e.type, "api_error");  // missing type: derived from the status
}

TEST(OpenAiUpstreamError, FlatVllmForm) {
  const GatewayError e = mapUpstreamError(
      400,
      R"({"object":"error","message":"\"auto\" tool choice requires --enable-auto-tool-choice",)"
      R"("type":"BadRequestError","param":null,"code":400})",
      std::nullopt);
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.message, "\"auto\" tool choice requires --enable-auto-tool-choice");
  EXPECT_EQ(e.type, "BadRequestError");
  EXPECT_FALSE(e.param.has_value());
  EXPECT_EQ(e.code, "400");
}

TEST(OpenAiUpstreamError, FlatMistralForm) {
  const GatewayError e = mapUpstreamError(
      422,
      R"({"object":"error","message":"Tool call id was abc but must be a-z, A-Z, 0-9",)"
      R"("type":"invalid_request_message_order","param":null,"code":"3230"})",
      std::nullopt);
  EXPECT_EQ(e.status, 422);
  EXPECT_EQ(e.type, "invalid_request_message_order");
  EXPECT_EQ(e.code, "3230");
}

TEST(OpenAiUpstreamError, ErrorString) {
  const GatewayError e =
      mapUpstreamError(404, R"({"error":"model 'llama9' not found"})", std::nullopt);
  EXPECT_EQ(e.status, 404);
  EXPECT_EQ(e.message, "model 'llama9' not found");
  EXPECT_EQ(e.type, "not_found_error");
  EXPECT_FALSE(e.code.has_value());
}

TEST(OpenAiUpstreamError, DetailForm) {
  const GatewayError e = mapUpstreamError(404, R"({"detail":"Not Found"})", std::nullopt);
  EXPECT_EQ(e.message, "Not Found");
  EXPECT_EQ(e.type, "not_found_error");
}

TEST(OpenAiUpstreamError, NonJsonBodyIsQuoted) {
  const GatewayError e = mapUpstreamError(
      502, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n</html>\r\n", std::nullopt);
  EXPECT_EQ(e.status, 502);
  EXPECT_EQ(e.message,
            "Upstream returned HTTP 502: <html>\r\n<head><title>502 Bad Gateway</title></head>\r\n"
            "</html>");
  EXPECT_EQ(e.type, "api_error");
  EXPECT_FALSE(e.code.has_value());
  expectValidJson(e);
}

TEST(OpenAiUpstreamError, EmptyBody) {
  const GatewayError e = mapUpstreamError(503, "", 30);
  EXPECT_EQ(e.message, "Upstream returned HTTP 503");
  EXPECT_EQ(e.type, "api_error");
  EXPECT_EQ(e.retryAfterSeconds, 30);
  EXPECT_EQ(mapUpstreamError(500, " \n", std::nullopt).message, "Upstream returned HTTP 500");
}

TEST(OpenAiUpstreamError, LongBodyCutAtACharacterBoundary) {
  // 199 ASCII bytes then a 3-byte character: the character would cross byte 200, so it is dropped.
  const std::string body = std::string(199, 'x') + "\xE2\x82\xAC" + "tail";
  const GatewayError e = mapUpstreamError(500, body, std::nullopt);
  EXPECT_EQ(e.message, "Upstream returned HTTP 500: " + std::string(199, 'x'));
  const std::string fits = std::string(197, 'y') + "\xE2\x82\xAC" + "tail";
  EXPECT_EQ(mapUpstreamError(500, fits, std::nullopt).message,
            "Upstream returned HTTP 500: " + std::string(197, 'y') + "\xE2\x82\xAC");
}

TEST(OpenAiUpstreamError, InvalidUtf8IsReplaced) {
  const GatewayError e =
      mapUpstreamError(500, "bad \xFF\xC3 bytes \xED\xA0\x80 \xC0\xAF", std::nullopt);
  EXPECT_EQ(e.message,
            "Upstream returned HTTP 500: bad \xEF\xBF\xBD\xEF\xBF\xBD bytes "
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD");
  expectValidJson(e);
}

TEST(OpenAiUpstreamError, TypeDerivedFromStatus) {
  const std::pair<int, const char*> cases[] = {{400, "invalid_request_error"},
                                               {401, "authentication_error"},
                                               {403, "permission_error"},
                                               {404, "not_found_error"},
                                               {429, "rate_limit_error"},
                                               {500, "api_error"},
                                               {503, "api_error"},
                                               {529, "api_error"},
                                               {409, "invalid_request_error"},
                                               {422, "invalid_request_error"}};
  for (const auto& [status, type] : cases) {
    EXPECT_EQ(
        mapUpstreamError(status, R"({"error":{"message":"m","type":null}})", std::nullopt).type,
        type)
        << status;
    EXPECT_EQ(mapUpstreamError(status, R"({"error":{"message":"m","type":""}})", std::nullopt).type,
              type)
        << status;
    EXPECT_EQ(mapUpstreamError(status, "oops", std::nullopt).type, type) << status;
  }
}

TEST(OpenAiUpstreamError, EnvelopeWithoutMessageQuotesBody) {
  const std::string body = R"({"error":{"type":"server_error","code":"boom"}})";
  const GatewayError e = mapUpstreamError(500, body, std::nullopt);
  EXPECT_EQ(e.message, "Upstream returned HTTP 500: " + body);
  EXPECT_EQ(e.type, "server_error");
  EXPECT_EQ(e.code, "boom");
}

TEST(OpenAiUpstreamError, EmptyMessageQuotesBody) {
  EXPECT_EQ(mapUpstreamError(500, R"({"error":""})", std::nullopt).message,
            R"(Upstream returned HTTP 500: {"error":""})");
  const GatewayError e =
      mapUpstreamError(400, R"({"error":{"message":"","code":"c"}})", std::nullopt);
  EXPECT_EQ(e.message, R"(Upstream returned HTTP 400: {"error":{"message":"","code":"c"}})");
  EXPECT_EQ(e.code, "c");
}

TEST(OpenAiUpstreamError, UnrecognisedJsonIsQuoted) {
  for (std::string_view body :
       {std::string_view(R"(["error"])"), std::string_view(R"({"error":null})"),
        std::string_view(R"({"error":{"message":"x"})"), std::string_view(R"({"message":42})"),
        std::string_view(R"("just a string")")}) {
    const GatewayError e = mapUpstreamError(500, body, std::nullopt);
    EXPECT_EQ(e.message, "Upstream returned HTTP 500: " + std::string(body)) << body;
    EXPECT_EQ(e.type, "api_error");
    EXPECT_FALSE(e.code.has_value());
    EXPECT_FALSE(e.param.has_value());
  }
}

TEST(OpenAiUpstreamError, NonErrorStatusBecomes502) {
  const GatewayError e = mapUpstreamError(302, "moved", std::nullopt);
  EXPECT_EQ(e.status, 502);
  EXPECT_EQ(e.message, "Upstream returned HTTP 302: moved");
  EXPECT_EQ(mapUpstreamError(0, "", std::nullopt).status, 502);
  EXPECT_EQ(mapUpstreamError(700, "", std::nullopt).status, 502);
  EXPECT_EQ(mapUpstreamError(599, "", std::nullopt).status, 599);
}

TEST(OpenAiUpstreamError, AnthropicStyleEnvelope) {
  const GatewayError e = mapUpstreamError(
      529, R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})", 2);
  EXPECT_EQ(e.status, 529);
  EXPECT_EQ(e.type, "overloaded_error");
  EXPECT_EQ(e.message, "Overloaded");
}

TEST(OpenAiRetryAfter, DeltaSeconds) {
  EXPECT_EQ(parseRetryAfter("5", 0), 5);
  EXPECT_EQ(parseRetryAfter(" 120 ", 0), 120);
  EXPECT_EQ(parseRetryAfter("0", 0), 0);
  EXPECT_EQ(parseRetryAfter("007", 0), 7);
  EXPECT_EQ(parseRetryAfter("1.5", 0), 2);
  EXPECT_EQ(parseRetryAfter("0.2", 0), 1);
  EXPECT_EQ(parseRetryAfter("3.000", 0), 3);
  EXPECT_EQ(parseRetryAfter("3.", 0), 3);
  EXPECT_EQ(parseRetryAfter("99999999999999999999999", 0), int64_t{1} << 31);
}

TEST(OpenAiRetryAfter, Garbage) {
  for (std::string_view v : {"",
                             " ",
                             "-1",
                             "+1",
                             "abc",
                             "1e3",
                             "1,5",
                             "1.5.2",
                             ".5",
                             "5s",
                             "0x10",
                             "Wed, 21 Oct 2015",
                             "Wed, 32 Oct 2015 07:28:00 GMT",
                             "Wed, 29 Feb 2015 07:28:00 GMT",
                             "Wed, 21 Foo 2015 07:28:00 GMT",
                             "Xyz, 21 Oct 2015 07:28:00 GMT",
                             "Wed, 21 Oct 2015 24:00:00 GMT",
                             "Wed, 21 Oct 2015 07:28:00 PST",
                             "Wed, 21 Oct 15 07:28:00 GMT",
                             "Wed 21 Oct 2015 07:28:00 GMT",
                             "Wed, 21 Oct 2015 07:28:00 GMTX"}) {
    EXPECT_FALSE(parseRetryAfter(v, 0).has_value()) << v;
  }
}

TEST(OpenAiRetryAfter, HttpDate) {
  constexpr int64_t kDate = 1445412480;  // Wed, 21 Oct 2015 07:28:00 GMT
  EXPECT_EQ(parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", kDate - 30), 30);
  EXPECT_EQ(parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", kDate), 0);
  EXPECT_EQ(parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", kDate + 3600),
            0);  // past: never negative
  EXPECT_EQ(parseRetryAfter("wed, 21 oct 2015 07:28:00 gmt", kDate - 1), 1);
  EXPECT_EQ(parseRetryAfter("Wed,  1 Oct 2015 07:28:00 GMT", 0), kDate - int64_t{20} * 86400);
  EXPECT_EQ(parseRetryAfter("Wed, 1 Oct 2015 07:28:00 UTC", 0), kDate - int64_t{20} * 86400);
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", 0), 784111777);
  EXPECT_EQ(parseRetryAfter("Thu, 29 Feb 2024 23:59:59 GMT", 0), 1709251199);
  EXPECT_EQ(parseRetryAfter("Fri, 31 Dec 9999 23:59:59 GMT", 253402300799 - 100), 100);
  EXPECT_EQ(parseRetryAfter("Fri, 31 Dec 9999 23:59:59 GMT", 0), int64_t{1} << 31);  // capped
  EXPECT_EQ(parseRetryAfter("Fri, 31 Dec 9999 23:59:59 GMT", INT64_MIN), int64_t{1} << 31);
  EXPECT_EQ(parseRetryAfter("Fri, 31 Dec 9999 23:59:59 GMT", INT64_MAX), 0);
  EXPECT_EQ(parseRetryAfter("Tue, 29 Feb 2000 00:00:00 GMT", 0), 951782400);
  EXPECT_FALSE(parseRetryAfter("Thu, 29 Feb 1900 00:00:00 GMT", 0).has_value());
  EXPECT_EQ(parseRetryAfter("Mon, 01 Jan 0001 00:00:00 GMT", -62135596800 - 5), 5);
}

TEST(OpenAiRetryAfterMs, RoundsUpToSeconds) {
  EXPECT_EQ(parseRetryAfterMs("1500"), 2);
  EXPECT_EQ(parseRetryAfterMs("1000"), 1);
  EXPECT_EQ(parseRetryAfterMs("1"), 1);
  EXPECT_EQ(parseRetryAfterMs("0"), 0);
  EXPECT_EQ(parseRetryAfterMs(" 2000 "), 2);
  EXPECT_EQ(parseRetryAfterMs("2000.5"), 3);
  EXPECT_EQ(parseRetryAfterMs("999.0"), 1);
  EXPECT_EQ(parseRetryAfterMs("99999999999999999999999"), int64_t{1} << 31);
  for (std::string_view v : {"", "-5", "abc", "1e3", "5ms", ".5"}) {
    EXPECT_FALSE(parseRetryAfterMs(v).has_value()) << v;
  }
}

}  // namespace
}  // namespace llmux::providers::openai
