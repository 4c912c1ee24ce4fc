#include "tokenizer/rank_table.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace llmux::tokenizer {
namespace {

// An 8-byte aligned, writable copy of an embedded table.
struct Blob {
  std::vector<uint64_t> words;
  size_t size = 0;
  explicit Blob(std::string_view src) : words((src.size() + 7) / 8), size(src.size()) {
    std::memcpy(words.data(), src.data(), src.size());
  }
  char* data() { return reinterpret_cast<char*>(words.data()); }
  [[nodiscard]] std::string_view view(size_t n) const {
    return {reinterpret_cast<const char*>(words.data()), n};
  }
  [[nodiscard]] std::string_view view() const { return view(size); }
};

TEST(RankTableTest, HashMatchesTheGenerator) {
  // Values printed by scripts/tiktoken_ranks.py token_hash().
  EXPECT_EQ(RankTable::hash("", 0), 0x8632f0229a99a2d8ULL);
  EXPECT_EQ(RankTable::hash("a", 1), 0x036ff55ea0a36b30ULL);
  EXPECT_EQ(RankTable::hash("hello", 5), 0x19ccb4523316a650ULL);
  EXPECT_EQ(RankTable::hash("12345678", 8), 0xe554375d071c8882ULL);
  EXPECT_EQ(RankTable::hash("123456789abcdefgh", 17), 0x511a40aba1281ddfULL);
}

TEST(RankTableTest, EmbeddedTables) {
  EXPECT_TRUE(detail::embeddedRanks("p50k_base").empty());
  RankTable t;
  ASSERT_TRUE(t.load(detail::embeddedRanks("cl100k_base")));
  EXPECT_EQ(t.size(), 100256u);
  EXPECT_EQ(t.maxTokenBytes(), 128u);  // the longest cl100k token
  EXPECT_EQ(t.rank("hello"), 15339u);
  EXPECT_EQ(t.rank(" world"), 1917u);
  EXPECT_EQ(t.rank("!"), 0u);
  EXPECT_EQ(t.bytes(15339), "hello");
  EXPECT_EQ(t.bytes(100256), "");
  EXPECT_EQ(t.rank(""), kNoRank);
  EXPECT_EQ(t.rank("hellohellohellohello"), kNoRank);
  EXPECT_EQ(t.rank(std::string(200, 'a')), kNoRank);
  // Every token maps back to its own rank, through all lookup paths (1, 2 and more bytes).
  for (uint32_t r = 0; r < t.size(); ++r) ASSERT_EQ(t.rank(t.bytes(r)), r) << r;
  RankTable o;
  ASSERT_TRUE(o.load(detail::embeddedRanks("o200k_base")));
  EXPECT_EQ(o.size(), 199998u);
  for (uint32_t r = 0; r < o.size(); ++r) ASSERT_EQ(o.rank(o.bytes(r)), r) << r;
}

TEST(RankTableTest, RejectsMalformedBlobs) {
  const std::string_view real = detail::embeddedRanks("cl100k_base");
  RankTable t;
  EXPECT_FALSE(t.load(""));
  Blob ok(real);
  ASSERT_TRUE(t.load(ok.view()));

  EXPECT_FALSE(t.load(ok.view(ok.size - 1)));  // truncated
  EXPECT_EQ(t.size(), 0u);                     // a failed load leaves an empty table
  EXPECT_FALSE(t.load(ok.view(31)));

  Blob magic(real);
  magic.data()[7] = '9';
  EXPECT_FALSE(t.load(magic.view()));

  Blob misaligned(std::string(1, 'x') + std::string(real));
  EXPECT_FALSE(t.load(misaligned.view().substr(1)));

  // A slot whose length disagrees with the offsets table.
  Blob slot(real);
  const uint32_t count = 100256;
  const size_t slotsAt = (32 + (count + 1) * 4 + 7) / 8 * 8;
  auto* slots = reinterpret_cast<uint64_t*>(slot.data() + slotsAt);
  size_t s = 0;
  while (slots[s] == 0) ++s;
  slots[s] ^= uint64_t{1} << 32;
  EXPECT_FALSE(t.load(slot.view()));

  // Offsets that run backwards.
  Blob offsets(real);
  auto* off = reinterpret_cast<uint32_t*>(offsets.data() + 32);
  off[10] = off[12];
  EXPECT_FALSE(t.load(offsets.view()));
}

}  // namespace
}  // namespace llmux::tokenizer
