#pragma once
// Token counts of recently seen prompt texts, per thread. Chat prompts repeat: every request of an
// app sends the same system prompt and tool descriptions, and each turn of a conversation sends
// all earlier messages again, so without a cache a conversation of n turns tokenizes O(n^2)
// messages. A hit costs a hash and a memcmp of the text instead of the regex pre-tokenizer and
// the BPE merges.
//
// Exact: an entry keeps the whole text and is used only when the text compares equal, so a hit
// returns what Encoding::count would. Direct-mapped (a new text replaces the one in its slot) and
// bounded: texts above kMaxTextBytes are never kept, and the stored texts of one cache never
// exceed its byte budget (an insert that would is skipped). Not thread-safe: one per thread.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::tokenizer {

class Encoding;

class CountCache {
 public:
  static constexpr size_t kMaxTextBytes = size_t{64} << 10;

  // `slots` is rounded up to a power of two.
  CountCache(size_t slots, size_t budgetBytes);

  // encoding.count(text), from the cache when this thread counted the same text lately.
  size_t count(const Encoding& encoding, std::string_view text);

  // The calling thread's cache (1,024 slots, 2 MiB of text).
  static CountCache& forThread();

  [[nodiscard]] uint64_t hits() const { return hits_; }
  [[nodiscard]] uint64_t misses() const { return misses_; }
  [[nodiscard]] size_t storedBytes() const { return stored_; }

 private:
  struct Slot {
    const Encoding* encoding = nullptr;
    uint64_t hash = 0;
    size_t tokens = 0;
    std::string text;
  };

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t budget_ = 0;
  size_t stored_ = 0;  // sum of the kept texts' capacities
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace llmux::tokenizer
