#include "tokenizer/count_cache.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <functional>

#include "tokenizer/encoding.hpp"

namespace llmux::tokenizer {
namespace {

// Heap bytes a string holds (a short one lives inside the object).
size_t heapBytes(const std::string& s) {
  static const size_t kInline = std::string().capacity();
  return s.capacity() > kInline ? s.capacity() : 0;
}

}  // namespace

CountCache::CountCache(size_t slots, size_t budgetBytes)
    : slots_(std::bit_ceil(slots == 0 ? size_t{1} : slots)),
      mask_(slots_.size() - 1),
      budget_(budgetBytes) {}

CountCache& CountCache::forThread() {
  thread_local CountCache cache(1024, size_t{2} << 20);
  return cache;
}

size_t CountCache::count(const Encoding& encoding, std::string_view text) {
  if (text.size() > kMaxTextBytes) return encoding.count(text);
  const uint64_t hash = std::hash<std::string_view>{}(text);
  Slot& slot = slots_[hash & mask_];
  if (slot.encoding == &encoding && slot.hash == hash && slot.text.size() == text.size() &&
      std::memcmp(slot.text.data(), text.data(), text.size()) == 0) {
    ++hits_;
    return slot.tokens;
  }
  ++misses_;
  const size_t tokens = encoding.count(text);
  // Replace the slot's text. The buffer is reused when it fits and is not much larger than the
  // text, so the budget counts memory actually held.
  stored_ -= heapBytes(slot.text);
  slot.encoding = nullptr;
  if (slot.text.capacity() < text.size() || slot.text.capacity() > 2 * text.size() + 64) {
    std::string().swap(slot.text);
  }
  slot.text.assign(text);
  if (stored_ + heapBytes(slot.text) > budget_) {
    std::string().swap(slot.text);
    return tokens;  // over budget: leave the slot empty
  }
  stored_ += heapBytes(slot.text);
  slot.encoding = &encoding;
  slot.hash = hash;
  slot.tokens = tokens;
  return tokens;
}

}  // namespace llmux::tokenizer
