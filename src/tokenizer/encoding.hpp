#pragma once
// Exact OpenAI BPE tokenization (tiktoken's cl100k_base and o200k_base) for counting prompt
// tokens. The rank tables are compiled into the binary (scripts/tiktoken_ranks.py); the
// pre-tokenizer is tiktoken's regex run on RE2, with the one construct RE2 lacks (`\s+(?!\S)`)
// done by hand and `\s` spelled out as Unicode White_Space (RE2's `\s` is ASCII only).
//
// Text semantics are tiktoken's `encode_ordinary`: special-token strings such as "<|endoftext|>"
// are ordinary text, and encoding never fails. Input that is not valid UTF-8 is first repaired the
// way WHATWG's UTF-8 decoder (and Python's errors="replace") does: each maximal ill-formed
// subsequence (a byte that cannot start a sequence, or a lead byte plus the valid continuation
// bytes before the point where the sequence breaks) becomes U+FFFD (EF BF BD); the ids are those
// of the repaired text, so decode(encode(x)) == x exactly when x is valid UTF-8.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/rank_table.hpp"

namespace re2 {
class RE2;
}

namespace llmux::tokenizer {

class Encoding {
 public:
  // "cl100k_base" or "o200k_base"; nullptr for other names. Built on first use (thread-safe,
  // a few milliseconds: the tables need no parsing, only the regex is compiled) and immutable
  // afterwards, so one instance serves all threads.
  static const Encoding* get(std::string_view name);

  [[nodiscard]] std::string_view name() const { return name_; }
  // Number of tokens encode() would return, without building the id list.
  [[nodiscard]] size_t count(std::string_view text) const;
  [[nodiscard]] std::vector<uint32_t> encode(std::string_view text) const;
  // Appends the ids of `text` to `out`.
  void encodeTo(std::string_view text, std::vector<uint32_t>& out) const;
  // The bytes of `ids` concatenated; special-token ids give their text, unknown ids nothing.
  [[nodiscard]] std::string decode(std::span<const uint32_t> ids) const;
  // The pre-tokenizer's pieces of `text` (after UTF-8 repair), for tests and diagnostics.
  [[nodiscard]] std::vector<std::string> pieces(std::string_view text) const;
  // Mergeable (ordinary) token count: ids below it are byte sequences.
  [[nodiscard]] uint32_t mergeableCount() const { return ranks_.size(); }
  [[nodiscard]] const RankTable& ranks() const { return ranks_; }

  Encoding(const Encoding&) = delete;
  Encoding& operator=(const Encoding&) = delete;
  ~Encoding();

  struct Special {
    std::string_view text;
    uint32_t id;
  };

 private:
  Encoding() = default;
  static const Encoding* build(std::string_view name);
  // Calls on(piece) for each pre-tokenizer piece of valid UTF-8 `text`.
  template <class OnPiece>
  void forEachPiece(std::string_view text, OnPiece&& on) const;

  std::string_view name_;
  RankTable ranks_;
  std::unique_ptr<re2::RE2> regex_;
  std::span<const Special> specials_;
};

// WHATWG replacement of ill-formed UTF-8 (see above): `in` when it is valid, else a repaired copy
// in `storage`.
std::string_view repairUtf8(std::string_view in, std::string& storage);

}  // namespace llmux::tokenizer
