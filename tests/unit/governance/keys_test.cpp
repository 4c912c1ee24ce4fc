#include "governance/keys.hpp"

#include <gtest/gtest.h>

#include <set>

namespace llmux::governance {
namespace {

TEST(GenerateKey, PrefixLengthAndAlphabet) {
  const std::string key = generateKey();
  ASSERT_EQ(key.size(), 25u);  // "sk-" + 22 (16 bytes of base64url, no padding)
  EXPECT_EQ(key.substr(0, 3), "sk-");
  for (char c : key.substr(3)) {
    EXPECT_TRUE((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_')
        << key;
  }
  // 16 bytes = 128 bits: the last character only carries 2 bits, so it is one of A, Q, g, w.
  EXPECT_NE(std::string_view("AQgw").find(key.back()), std::string_view::npos) << key;
}

TEST(GenerateKey, KeysAreDistinct) {
  std::set<std::string> keys;
  for (int i = 0; i < 2000; ++i) keys.insert(generateKey());
  EXPECT_EQ(keys.size(), 2000u);
}

TEST(HashKey, Sha256LowerHexOfTheWholeKey) {
  EXPECT_EQ(hashKey("sk-1234"), "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b");
  EXPECT_EQ(hashKey(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_NE(hashKey("sk-1234"), hashKey("1234"));  // the prefix is hashed too
  const std::string h = hashKey(generateKey());
  EXPECT_EQ(h.size(), 64u);
  EXPECT_EQ(h.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(LooksLikeHash, LiteLLMRule) {
  EXPECT_TRUE(looksLikeHash(hashKey("sk-1234")));
  EXPECT_TRUE(looksLikeHash("abc"));  // no "sk" and no "sk-" prefix
  EXPECT_FALSE(looksLikeHash("sk-1234"));
  EXPECT_FALSE(looksLikeHash(generateKey()));
  EXPECT_FALSE(looksLikeHash("task-1234"));  // contains "sk"
  EXPECT_FALSE(looksLikeHash(""));
}

TEST(DisplayKey, LastFourOnly) {
  EXPECT_EQ(displayKey("sk-abcdefghijklmnopqrs1234"), "sk-...1234");
  EXPECT_EQ(displayKey("sk-...1234"), "sk-...1234");  // idempotent on its own output
  EXPECT_EQ(displayKey("sk-1234"), "sk-...");         // too short to show a suffix
  EXPECT_EQ(displayKey(""), "sk-...");
  EXPECT_EQ(displayKey("sk-abcdefgh\n\xC3\xA9x"), "sk-...\?\?\?x");
}

TEST(MaskKey, FirstAndLastFour) {
  EXPECT_EQ(maskKey("sk-1abcdefghijklmnabcd"), "sk-1****abcd");
  EXPECT_EQ(maskKey("Bearer-token-value"), "Bear****alue");
  EXPECT_EQ(maskKey("short"), "****");
  EXPECT_EQ(maskKey("12345678901"), "****");
  EXPECT_EQ(maskKey("123456789012"), "1234****9012");
  EXPECT_EQ(maskKey("\x01\x02\x03\x04xxxxxxxx\r\n"), "????****xx??");
}

}  // namespace
}  // namespace llmux::governance
