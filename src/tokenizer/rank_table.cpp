#include "tokenizer/rank_table.hpp"

#include <bit>

namespace llmux::tokenizer {
namespace {

static_assert(std::endian::native == std::endian::little, "the rank tables are little-endian");

constexpr std::string_view kMagic = "LLMXBPE2";
constexpr size_t kHeaderBytes = 32;

template <class T>
T loadAs(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Equality of two byte strings of length n without a libc call for short ones: two overlapping
// loads cover every byte from 4 to 16, three single bytes cover 1 to 3.
bool sameBytes(const char* a, const char* b, size_t n) {
  if (n >= 8) {
    if (n > 16) return std::memcmp(a, b, n) == 0;
    return loadAs<uint64_t>(a) == loadAs<uint64_t>(b) &&
           loadAs<uint64_t>(a + n - 8) == loadAs<uint64_t>(b + n - 8);
  }
  if (n >= 4) {
    return loadAs<uint32_t>(a) == loadAs<uint32_t>(b) &&
           loadAs<uint32_t>(a + n - 4) == loadAs<uint32_t>(b + n - 4);
  }
  return n == 0 || (a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1]);
}

}  // namespace

uint64_t RankTable::hash(const char* data, size_t size) {
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ static_cast<uint64_t>(size);
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    h = (h ^ loadAs<uint64_t>(data + i)) * 0xFF51AFD7ED558CCDULL;
    h ^= h >> 32;
  }
  if (i < size) {
    uint64_t word = 0;
    std::memcpy(&word, data + i, size - i);
    h = (h ^ word) * 0xFF51AFD7ED558CCDULL;
    h ^= h >> 32;
  }
  h ^= h >> 29;
  h *= 0xC4CEB9FE1A85EC53ULL;
  h ^= h >> 32;
  return h;
}

bool RankTable::load(std::string_view blob) {
  *this = RankTable{};
  if (blob.size() < kHeaderBytes || blob.substr(0, kMagic.size()) != kMagic) return false;
  if (reinterpret_cast<uintptr_t>(blob.data()) % alignof(uint64_t) != 0) return false;
  const uint32_t count = loadAs<uint32_t>(blob.data() + 8);
  const uint32_t bits = loadAs<uint32_t>(blob.data() + 12);
  const uint32_t byteCount = loadAs<uint32_t>(blob.data() + 16);
  const uint32_t maxLen = loadAs<uint32_t>(blob.data() + 20);
  if (count == 0 || count >= (1u << 24) || maxLen > 255 || bits < 1 || bits > 30) return false;
  const size_t slotCount = size_t{1} << bits;
  const size_t slotsAt = (kHeaderBytes + (size_t{count} + 1) * 4 + 7) / 8 * 8;
  if (slotsAt + slotCount * 8 + byteCount > blob.size()) return false;
  const auto* offsets = reinterpret_cast<const uint32_t*>(blob.data() + kHeaderBytes);
  // Offsets must be monotonic and end at the byte count, so bytes() never reads out of range.
  if (offsets[0] != 0 || offsets[count] != byteCount) return false;
  for (uint32_t r = 0; r < count; ++r) {
    if (offsets[r + 1] < offsets[r] || offsets[r + 1] - offsets[r] > maxLen) return false;
  }
  // Every slot must name a real token by its true offset and length, one slot per token, and the
  // table must be at most half full so that every probe meets an empty slot and ends.
  const auto* slots = reinterpret_cast<const uint64_t*>(blob.data() + slotsAt);
  size_t used = 0;
  for (size_t s = 0; s < slotCount; ++s) {
    const uint64_t e = slots[s];
    if (e == 0) continue;
    const auto high = static_cast<uint32_t>(e >> 32);
    const uint32_t r = (high >> 8) - 1;
    if ((high >> 8) == 0 || r >= count || offsets[r] != static_cast<uint32_t>(e) ||
        offsets[r + 1] - offsets[r] != (high & 0xFF)) {
      return false;
    }
    ++used;
  }
  if (used != count || used > slotCount / 2) return false;
  offsets_ = offsets;
  slots_ = slots;
  bytes_ = blob.data() + slotsAt + slotCount * 8;
  count_ = count;
  bits_ = bits;
  maxLen_ = maxLen;
  short_.assign(256 + 65536, kNoRank);
  char pair[2];
  for (size_t a = 0; a < 256; ++a) {
    pair[0] = static_cast<char>(a);
    short_[a] = lookup(pair, 1);
    for (size_t b = 0; b < 256; ++b) {
      pair[1] = static_cast<char>(b);
      short_[256 + (a << 8 | b)] = lookup(pair, 2);
    }
  }
  return true;
}

uint32_t RankTable::lookup(const char* data, size_t size) const {
  if (size == 0 || size > maxLen_) return kNoRank;
  const size_t mask = (size_t{1} << bits_) - 1;
  size_t slot = static_cast<size_t>(hash(data, size) >> (64 - bits_));
  while (true) {
    const uint64_t e = slots_[slot];
    if (e == 0) return kNoRank;
    const auto high = static_cast<uint32_t>(e >> 32);
    if ((high & 0xFF) == size && sameBytes(bytes_ + static_cast<uint32_t>(e), data, size)) {
      return (high >> 8) - 1;
    }
    slot = (slot + 1) & mask;
  }
}

std::string_view RankTable::bytes(uint32_t rank) const {
  if (rank >= count_) return {};
  return {bytes_ + offsets_[rank], offsets_[rank + 1] - offsets_[rank]};
}

}  // namespace llmux::tokenizer
