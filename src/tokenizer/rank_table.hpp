#pragma once
// A read-only view of one embedded BPE rank table (written by scripts/tiktoken_ranks.py, whose
// header documents the layout): token bytes by rank, and an open-addressing hash table from bytes
// to rank. Nothing is built at run time beyond a 64K-entry table of two-byte ranks.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace llmux::tokenizer {

namespace detail {
// Defined in the generated tiktoken_ranks.cpp: the table bytes for "cl100k_base" / "o200k_base",
// empty for any other name.
std::string_view embeddedRanks(std::string_view name);
}  // namespace detail

inline constexpr uint32_t kNoRank = UINT32_MAX;

class RankTable {
 public:
  // Checks the layout (magic, sizes, offsets, every slot); false, and an empty table, when the
  // blob is malformed. The blob must outlive the table and be 8-byte aligned.
  bool load(std::string_view blob);

  // Rank of exactly these bytes, or kNoRank.
  [[nodiscard]] uint32_t rank(const char* data, size_t size) const {
    // One- and two-byte strings (every merge starts from them) come from a direct table.
    if (size == 2) {
      return short_[256 + (static_cast<size_t>(static_cast<unsigned char>(data[0])) << 8 |
                           static_cast<unsigned char>(data[1]))];
    }
    if (size == 1) return short_[static_cast<unsigned char>(data[0])];
    return lookup(data, size);
  }
  [[nodiscard]] uint32_t rank(std::string_view bytes) const {
    return rank(bytes.data(), bytes.size());
  }
  // Bytes of token `rank` (empty when out of range).
  [[nodiscard]] std::string_view bytes(uint32_t rank) const;
  [[nodiscard]] uint32_t size() const { return count_; }
  [[nodiscard]] uint32_t maxTokenBytes() const { return maxLen_; }

  // The hash the generator uses (same constants, same word order).
  static uint64_t hash(const char* data, size_t size);

 private:
  [[nodiscard]] uint32_t lookup(const char* data, size_t size) const;

  std::vector<uint32_t> short_;        // ranks of all 1-byte, then all 2-byte strings
  const uint32_t* offsets_ = nullptr;  // count_ + 1 entries
  const uint64_t* slots_ = nullptr;    // 2^bits_ entries, see the generator
  const char* bytes_ = nullptr;
  uint32_t count_ = 0;
  uint32_t bits_ = 0;
  uint32_t maxLen_ = 0;
};

}  // namespace llmux::tokenizer
