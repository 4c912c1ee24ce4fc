#include "providers/common/sigv4.hpp"

#include <gtest/gtest.h>

#include <string>

namespace llmux::providers::aws {
namespace {

// Fake credentials from the AWS SigV4 test suite (wire_formats.md 4.2).
AwsCredentials testCreds() {
  return {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
}

std::string signatureOf(const std::string& authorization) {
  const std::string key = "Signature=";
  const size_t pos = authorization.find(key);
  return pos == std::string::npos ? std::string() : authorization.substr(pos + key.size());
}

SigningInput vanilla(std::string_view method) {
  SigningInput in;
  in.method = method;
  in.host = "example.amazonaws.com";
  in.path = "/";
  in.region = "us-east-1";
  in.service = "service";
  in.amzDate = "20150830T123600Z";
  return in;
}

// A static so SigningInput's string_views never dangle (a temporary path would).
const std::string kConversePath =
    bedrockModelPath("anthropic.claude-3-haiku-20240307-v1:0", "converse");

constexpr std::string_view kConverseBody =
    R"({"messages":[{"role":"user","content":[{"text":"hi"}]}],)"
    R"("inferenceConfig":{"maxTokens":16}})";

SigningInput converse(std::string_view path) {
  SigningInput in;
  in.method = "POST";
  in.host = "bedrock-runtime.us-east-1.amazonaws.com";
  in.path = path;
  in.headers = {{"content-type", "application/json"}};
  in.body = kConverseBody;
  in.region = "us-east-1";
  in.service = "bedrock";
  in.amzDate = "20250101T000000Z";
  return in;
}

TEST(SigV4, GetVanilla) {
  for (bool dbl : {true, false}) {
    SigningInput in = vanilla("GET");
    in.doubleEncodePath = dbl;
    const SignedHeaders s = signRequest(in, testCreds());
    EXPECT_EQ(s.authorization,
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
              "SignedHeaders=host;x-amz-date, "
              "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    EXPECT_EQ(s.amzDate, "20150830T123600Z");
    EXPECT_EQ(s.contentSha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_TRUE(s.securityToken.empty());
  }
}

TEST(SigV4, PostVanilla) {
  const SignedHeaders s = signRequest(vanilla("POST"), testCreds());
  EXPECT_EQ(signatureOf(s.authorization),
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

TEST(SigV4, BedrockConverseVector) {
  const std::string path = bedrockModelPath("anthropic.claude-3-haiku-20240307-v1:0", "converse");
  ASSERT_EQ(path, "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse");
  const SignedHeaders s = signRequest(converse(path), testCreds());
  EXPECT_EQ(s.canonicalRequest,
            "POST\n"
            "/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse\n"
            "\n"
            "content-type:application/json\n"
            "host:bedrock-runtime.us-east-1.amazonaws.com\n"
            "x-amz-date:20250101T000000Z\n"
            "\n"
            "content-type;host;x-amz-date\n"
            "5903c58ae9037766e41ea3e3ef4368cbac6b3f82d1c1f15a67ac4a7520b79d7f");
  EXPECT_EQ(s.contentSha256, "5903c58ae9037766e41ea3e3ef4368cbac6b3f82d1c1f15a67ac4a7520b79d7f");
  EXPECT_EQ(s.stringToSign,
            "AWS4-HMAC-SHA256\n20250101T000000Z\n20250101/us-east-1/bedrock/aws4_request\n"
            "ec96644e19cea8120f618c685d491f72713b3912937d2c8faa8a85b4c99e1c7b");
  EXPECT_EQ(s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/bedrock/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date, "
            "Signature=e55d2d3d43d559030b5ac40103458a8192f8d9e8b6757fc279f66699ded79d6f");
}

TEST(SigV4, SingleEncodedPathIsTheClassicBug) {
  SigningInput in = converse("/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse");
  in.doubleEncodePath = false;
  const SignedHeaders s = signRequest(in, testCreds());
  const std::string sig = signatureOf(s.authorization);
  EXPECT_NE(sig, "e55d2d3d43d559030b5ac40103458a8192f8d9e8b6757fc279f66699ded79d6f");
  EXPECT_EQ(sig.substr(0, 8), "29d56eb2");  // prefix quoted in wire_formats.md 4.2
  EXPECT_NE(s.canonicalRequest.find("\n/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse\n"),
            std::string::npos);
}

TEST(SigV4, HeaderNamesAndValuesAreNormalised) {
  SigningInput in = converse(kConversePath);
  in.headers = {{"Content-Type", "  application/json  "}};
  const SignedHeaders s = signRequest(in, testCreds());
  EXPECT_EQ(signatureOf(s.authorization),
            "e55d2d3d43d559030b5ac40103458a8192f8d9e8b6757fc279f66699ded79d6f");

  in.headers = {{"X-Custom", " a   b \t c "}, {"x-custom", "d"}, {"Host", "ignored.example"}};
  const SignedHeaders t = signRequest(in, testCreds());
  EXPECT_NE(t.canonicalRequest.find("host:bedrock-runtime.us-east-1.amazonaws.com\n"),
            std::string::npos);
  EXPECT_NE(t.canonicalRequest.find("x-amz-date:20250101T000000Z\nx-custom:a b c,d\n\n"),
            std::string::npos);
  EXPECT_NE(t.authorization.find("SignedHeaders=host;x-amz-date;x-custom,"), std::string::npos);
}

TEST(SigV4, SessionTokenIsSigned) {
  AwsCredentials creds = testCreds();
  creds.sessionToken = "FQoGZXIvYXdzEXAMPLETOKEN";
  const SignedHeaders s = signRequest(converse(kConversePath), creds);
  EXPECT_EQ(s.securityToken, "FQoGZXIvYXdzEXAMPLETOKEN");
  EXPECT_NE(s.canonicalRequest.find("x-amz-security-token:FQoGZXIvYXdzEXAMPLETOKEN\n"),
            std::string::npos);
  EXPECT_NE(
      s.authorization.find("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,"),
      std::string::npos);
  EXPECT_NE(signatureOf(s.authorization),
            "e55d2d3d43d559030b5ac40103458a8192f8d9e8b6757fc279f66699ded79d6f");
}

TEST(SigV4, UriEncodePathSegment) {
  EXPECT_EQ(uriEncodePathSegment("AZaz09-_.~"), "AZaz09-_.~");
  EXPECT_EQ(uriEncodePathSegment(":"), "%3A");
  EXPECT_EQ(uriEncodePathSegment("/"), "%2F");
  EXPECT_EQ(uriEncodePathSegment("%"), "%25");
  EXPECT_EQ(uriEncodePathSegment("a b+c"), "a%20b%2Bc");
  EXPECT_EQ(uriEncodePathSegment("\xC3\xA9"), "%C3%A9");  // U+00E9 as UTF-8
  EXPECT_EQ(uriEncodePathSegment(std::string_view("\0\xff", 2)), "%00%FF");
  EXPECT_EQ(uriEncodePathSegment(""), "");
}

TEST(SigV4, BedrockModelPathEncodesArnAsOneSegment) {
  EXPECT_EQ(
      bedrockModelPath("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.x-v1:0",
                       "converse-stream"),
      "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.x-v1%3A0"
      "/converse-stream");
}

TEST(SigV4, FormatAmzDate) {
  EXPECT_EQ(formatAmzDate(0), "19700101T000000Z");
  EXPECT_EQ(formatAmzDate(1440938160), "20150830T123600Z");
  EXPECT_EQ(formatAmzDate(1709251199), "20240229T235959Z");  // leap day
  EXPECT_EQ(formatAmzDate(951782400), "20000229T000000Z");   // 400-year leap day
  EXPECT_EQ(formatAmzDate(4107499200), "21000228T120000Z");  // 2100 is not a leap year...
  EXPECT_EQ(formatAmzDate(4107542400), "21000301T000000Z");  // ...so March follows Feb 28
  EXPECT_EQ(formatAmzDate(-1), "19691231T235959Z");
}

TEST(SigV4, CanonicalQuery) {
  EXPECT_EQ(canonicalQuery(""), "");
  EXPECT_EQ(canonicalQuery("b=2&a=1&c"), "a=1&b=2&c=");
  EXPECT_EQ(canonicalQuery("a=2&a=1&A=3"), "A=3&a=1&a=2");  // byte order, then value
  // Raw and pre-encoded input canonicalise identically.
  EXPECT_EQ(canonicalQuery("k=a b:c"), "k=a%20b%3Ac");
  EXPECT_EQ(canonicalQuery("k=a%20b%3ac"), "k=a%20b%3Ac");
  EXPECT_EQ(canonicalQuery("x=%zz&&y=~"), "x=%25zz&y=~");

  SigningInput in = vanilla("GET");
  in.query = "Param2=value2&Param1=value1";
  const SignedHeaders s = signRequest(in, testCreds());
  EXPECT_NE(s.canonicalRequest.find("\n/\nParam1=value1&Param2=value2\n"), std::string::npos);
  // AWS suite "get-vanilla-query-order-key-case".
  EXPECT_EQ(signatureOf(s.authorization),
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

}  // namespace
}  // namespace llmux::providers::aws
