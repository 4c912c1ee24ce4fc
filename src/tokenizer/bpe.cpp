#include "tokenizer/bpe.hpp"

#include <algorithm>
#include <array>

namespace llmux::tokenizer {
namespace detail {
namespace {

// Per-thread buffers of the heap merge; released after an unusually long piece so one huge
// request does not pin megabytes per thread.
struct HeapScratch {
  std::vector<uint32_t> next, prev, pairRank;
  std::vector<uint64_t> heap;  // (rank << 32 | pos), smallest first
};

constexpr size_t kKeepScratchBytes = size_t{1} << 16;

// A 4-ary min-heap of 64-bit keys: shallower than a binary heap, so fewer cache misses on the
// million-entry heaps of very long pieces.
void siftDown(std::vector<uint64_t>& h, size_t i, uint64_t v) {
  const size_t n = h.size();
  while (true) {
    const size_t first = 4 * i + 1;
    if (first >= n) break;
    size_t best = first;
    const size_t stop = std::min(first + 4, n);
    for (size_t c = first + 1; c < stop; ++c) {
      if (h[c] < h[best]) best = c;
    }
    if (h[best] >= v) break;
    h[i] = h[best];
    i = best;
  }
  h[i] = v;
}

void heapPush(std::vector<uint64_t>& h, uint64_t v) {
  size_t i = h.size();
  h.push_back(v);
  while (i > 0) {
    const size_t parent = (i - 1) / 4;
    if (h[parent] <= v) break;
    h[i] = h[parent];
    i = parent;
  }
  h[i] = v;
}

uint64_t heapPop(std::vector<uint64_t>& h) {
  const uint64_t top = h[0];
  const uint64_t last = h.back();
  h.pop_back();
  if (!h.empty()) siftDown(h, 0, last);
  return top;
}

void heapify(std::vector<uint64_t>& h) {
  for (size_t i = h.size() / 4 + 1; i-- > 0;) {
    if (i < h.size()) siftDown(h, i, h[i]);
  }
}

}  // namespace

void mergeByScan(const RankTable& table, std::string_view piece, std::vector<uint32_t>& out) {
  const size_t n = piece.size();
  if (n == 0) return;
  if (n >= kHeapMergeMinBytes) {  // the fixed arrays below hold shorter pieces only
    mergeByHeap(table, piece, out);
    return;
  }
  // parts[i].start is where part i begins; parts[i].rank is the rank of part i joined with part
  // i+1 (kNoRank when that is not a token). The last two entries are sentinels.
  struct Part {
    uint32_t start;
    uint32_t rank;
  };
  std::array<Part, kHeapMergeMinBytes + 1> parts;
  size_t count = n + 1;
  for (size_t i = 0; i + 1 < n; ++i) {
    parts[i] = {static_cast<uint32_t>(i), table.rank(piece.data() + i, 2)};
  }
  parts[n - 1] = {static_cast<uint32_t>(n - 1), kNoRank};
  parts[n] = {static_cast<uint32_t>(n), kNoRank};
  // Rank of parts i and i+1 joined, were part i+1 merged with i+2 (indices before the removal).
  auto joinedRank = [&](size_t i) {
    if (i + 3 >= count) return kNoRank;
    return table.rank(piece.data() + parts[i].start, parts[i + 3].start - parts[i].start);
  };
  while (count > 2) {
    uint32_t best = kNoRank;
    size_t at = 0;
    for (size_t i = 0; i + 1 < count; ++i) {
      if (parts[i].rank < best) {  // strict: the leftmost pair wins ties
        best = parts[i].rank;
        at = i;
      }
    }
    if (best == kNoRank) break;
    parts[at].rank = joinedRank(at);
    if (at > 0) parts[at - 1].rank = joinedRank(at - 1);
    std::copy(parts.begin() + static_cast<ptrdiff_t>(at) + 2,
              parts.begin() + static_cast<ptrdiff_t>(count),
              parts.begin() + static_cast<ptrdiff_t>(at) + 1);
    --count;
  }
  for (size_t i = 0; i + 1 < count; ++i) {
    out.push_back(table.rank(piece.data() + parts[i].start, parts[i + 1].start - parts[i].start));
  }
}

void mergeByHeap(const RankTable& table, std::string_view piece, std::vector<uint32_t>& out) {
  const size_t n = piece.size();
  if (n == 0) return;
  thread_local HeapScratch scratch;
  HeapScratch& s = scratch;
  // Parts are named by their first byte offset; next/prev link the live parts. pairRank[pos] is
  // the rank of part pos joined with its successor (kNoRank when none, or when pos was merged
  // away). A heap entry is current exactly when it still equals (pairRank[pos], pos): an outdated
  // entry that happens to match describes the same merge, so it is as good as the current one.
  s.next.resize(n);
  s.prev.resize(n);
  s.pairRank.resize(n);
  s.heap.clear();
  const auto end = static_cast<uint32_t>(n);
  const auto key = [](uint32_t rank, uint32_t pos) { return (uint64_t{rank} << 32) | pos; };
  const auto pairOf = [&](uint32_t pos) {
    const uint32_t mid = s.next[pos];
    if (mid == end) return kNoRank;
    return table.rank(piece.data() + pos, s.next[mid] - pos);
  };
  const auto update = [&](uint32_t pos) {
    s.pairRank[pos] = pairOf(pos);
    if (s.pairRank[pos] == kNoRank) return;
    heapPush(s.heap, key(s.pairRank[pos], pos));
  };
  for (uint32_t i = 0; i < end; ++i) {
    s.next[i] = i + 1;
    s.prev[i] = i == 0 ? end : i - 1;
  }
  for (uint32_t i = 0; i < end; ++i) {
    s.pairRank[i] = pairOf(i);
    if (s.pairRank[i] != kNoRank) s.heap.push_back(key(s.pairRank[i], i));
  }
  heapify(s.heap);
  while (!s.heap.empty()) {
    const uint64_t top = heapPop(s.heap);
    const auto left = static_cast<uint32_t>(top);
    if (s.pairRank[left] != static_cast<uint32_t>(top >> 32)) continue;  // outdated
    const uint32_t gone = s.next[left];
    const uint32_t after = s.next[gone];
    s.next[left] = after;
    if (after != end) s.prev[after] = left;
    s.pairRank[gone] = kNoRank;
    update(left);
    if (s.prev[left] != end) update(s.prev[left]);
  }
  for (uint32_t pos = 0; pos != end; pos = s.next[pos]) {
    out.push_back(table.rank(piece.data() + pos, s.next[pos] - pos));
  }
  if (n > kKeepScratchBytes) scratch = HeapScratch{};
}

}  // namespace detail

void bytePairEncode(const RankTable& table, std::string_view piece, std::vector<uint32_t>& out) {
  if (piece.empty()) return;
  const uint32_t whole = table.rank(piece);
  if (whole != kNoRank) {
    out.push_back(whole);
    return;
  }
  if (piece.size() < detail::kHeapMergeMinBytes) {
    detail::mergeByScan(table, piece, out);
  } else {
    detail::mergeByHeap(table, piece, out);
  }
}

}  // namespace llmux::tokenizer
