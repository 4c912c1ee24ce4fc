#include "tokenizer/count_cache.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "tokenizer/count.hpp"
#include "tokenizer/encoding.hpp"

namespace llmux::tokenizer {
namespace {

const Encoding& enc(const char* name) {
  const Encoding* e = Encoding::get(name);
  EXPECT_NE(e, nullptr);
  return *e;
}

std::vector<std::string> sampleTexts() {
  std::vector<std::string> texts{"",
                                 "user",
                                 "You are a helpful assistant.",
                                 "Say hello in one short sentence, please.",
                                 "  leading and trailing spaces  \n\n",
                                 "caf\xC3\xA9 \xE4\xBD\xA0\xE5\xA5\xBD 12345678 don't",
                                 "broken \xC3 utf-8 \xFF\xFE here",
                                 std::string(3000, 'a') + " tail"};
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    std::string t;
    const int n = static_cast<int>(rng() % 80);
    for (int j = 0; j < n; ++j) t.push_back(static_cast<char>(" aZ9.,'\n\xC3\xA9"[rng() % 11]));
    texts.push_back(std::move(t));
  }
  return texts;
}

TEST(CountCache, HitsAndMissesGiveTheEncodingsCount) {
  CountCache cache(64, 1 << 20);
  const std::vector<std::string> texts = sampleTexts();
  for (const char* name : {"cl100k_base", "o200k_base"}) {
    const Encoding& e = enc(name);
    for (int round = 0; round < 3; ++round) {
      for (const std::string& t : texts) ASSERT_EQ(cache.count(e, t), e.count(t)) << name << t;
    }
  }
  EXPECT_GT(cache.hits(), 0U);
  EXPECT_GT(cache.misses(), 0U);
}

TEST(CountCache, ARepeatedTextIsAHit) {
  CountCache cache(16, 1 << 20);
  const Encoding& e = enc("o200k_base");
  const std::string text = "You are a helpful assistant.";
  EXPECT_EQ(cache.count(e, text), e.count(text));
  EXPECT_EQ(cache.misses(), 1U);
  EXPECT_EQ(cache.count(e, std::string(text)), e.count(text));  // equal text, other buffer
  EXPECT_EQ(cache.hits(), 1U);
}

TEST(CountCache, OneSlotSharedByDifferentTextsAndEncodings) {
  // Every text maps to the one slot: a hit must still need the same text and encoding.
  CountCache cache(1, 1 << 20);
  const Encoding& cl = enc("cl100k_base");
  const Encoding& o2 = enc("o200k_base");
  const std::string a = "hello world, hello world";
  const std::string b = "hello world, hello world!";
  const std::string c = "\xE4\xBD\xA0\xE5\xA5\xBD\xE4\xB8\x96\xE7\x95\x8C and more";
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(cache.count(cl, a), cl.count(a));
    EXPECT_EQ(cache.count(cl, b), cl.count(b));
    EXPECT_EQ(cache.count(o2, c), o2.count(c));
    EXPECT_EQ(cache.count(cl, c), cl.count(c));
  }
  EXPECT_EQ(cache.hits(), 0U);
  EXPECT_EQ(cache.count(cl, c), cl.count(c));
  EXPECT_EQ(cache.hits(), 1U);
}

TEST(CountCache, StoredTextsStayWithinTheBudget) {
  CountCache cache(256, 4096);
  const Encoding& e = enc("cl100k_base");
  std::mt19937 rng(3);
  for (int i = 0; i < 300; ++i) {
    std::string t;
    const size_t target = 100 + rng() % 900;
    while (t.size() < target) t += "lorem ipsum ";
    t += std::to_string(i);
    ASSERT_EQ(cache.count(e, t), e.count(t));
    ASSERT_LE(cache.storedBytes(), 4096U);
  }
  EXPECT_GT(cache.storedBytes(), 0U);
}

TEST(CountCache, TooLongTextsAreCountedButNotKept) {
  CountCache cache(4, size_t{1} << 30);
  const Encoding& e = enc("cl100k_base");
  const std::string big(CountCache::kMaxTextBytes + 1, 'z');
  EXPECT_EQ(cache.count(e, big), e.count(big));
  EXPECT_EQ(cache.count(e, big), e.count(big));
  EXPECT_EQ(cache.hits(), 0U);
  EXPECT_EQ(cache.storedBytes(), 0U);
}

TEST(CountCache, ChatCountsAreTheSameOnRepeat) {
  // countChatBody goes through the thread's cache; the second and third counts are hits.
  const std::string body =
      R"({"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are terse."},)"
      R"({"role":"user","content":"Name three primes."}]})";
  const auto first = countChatBody("", body);
  ASSERT_TRUE(std::holds_alternative<Count>(first));
  const uint64_t hitsBefore = CountCache::forThread().hits();
  for (int i = 0; i < 2; ++i) {
    const auto again = countChatBody("", body);
    ASSERT_TRUE(std::holds_alternative<Count>(again));
    EXPECT_EQ(std::get<Count>(again).tokens, std::get<Count>(first).tokens);
  }
  EXPECT_GT(CountCache::forThread().hits(), hitsBefore);
}

}  // namespace
}  // namespace llmux::tokenizer
