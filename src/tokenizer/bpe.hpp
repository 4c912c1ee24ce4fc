#pragma once
// tiktoken's byte pair merge for one pre-tokenized piece: start from single bytes and repeatedly
// merge the adjacent pair whose concatenation has the lowest rank (the leftmost pair on ties)
// until no concatenation is a token. Ranks are looked up by byte string, as tiktoken does.
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/rank_table.hpp"

namespace llmux::tokenizer {

// Appends the token ids of `piece` to `out`. A piece that is itself a token yields that one id.
void bytePairEncode(const RankTable& table, std::string_view piece, std::vector<uint32_t>& out);

namespace detail {
// The two merge strategies behind bytePairEncode, exposed so tests can check they agree:
// a rescan of all pairs per merge (quadratic, fastest for short pieces), and a min-heap of pair
// ranks over a linked list of parts (n log n, for long pieces such as base64 blobs).
void mergeByScan(const RankTable& table, std::string_view piece, std::vector<uint32_t>& out);
void mergeByHeap(const RankTable& table, std::string_view piece, std::vector<uint32_t>& out);
// Pieces at least this long take the heap path.
inline constexpr size_t kHeapMergeMinBytes = 128;
}  // namespace detail

}  // namespace llmux::tokenizer
