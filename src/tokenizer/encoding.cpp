#include "tokenizer/encoding.hpp"

#include <re2/re2.h>
#include <simdjson.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>

#include "tokenizer/bpe.hpp"

namespace llmux::tokenizer {
namespace {

// Unicode White_Space, tiktoken's (Rust regex) `\s`, as the body of a character class.
#define LLMUX_WS                                                                         \
  "\\t\\n\\x{0B}\\x{0C}\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}" \
  "\\x{202F}\\x{205F}\\x{3000}"

// tiktoken's regex crate classifies by Unicode 16.0; RE2 20220601 knows Unicode 15.0. These are
// the code points Unicode 15.1 and 16.0 added to (or, for U+0295, moved between) the classes the
// patterns use, found by comparing RE2 with a Unicode 17 table and keeping only what the Rust
// tiktoken (1.0.22) treats as letter, number or mark. Added to RE2's own classes they are no-ops
// on a newer RE2.
// Letters (Lu Lt Ll Lm Lo):
#define LLMUX_L16                                                                                  \
  "\\x{295}\\x{1C89}-\\x{1C8A}\\x{A7CB}-\\x{A7CD}\\x{A7DA}-\\x{A7DC}\\x{105C0}-\\x{105F3}"         \
  "\\x{10D4A}-\\x{10D65}\\x{10D6F}-\\x{10D85}\\x{10EC2}-\\x{10EC4}\\x{11380}-\\x{11389}\\x{1138B}" \
  "\\x{1138E}\\x{11390}-\\x{113B5}\\x{113B7}\\x{113D1}\\x{113D3}\\x{11BC0}-\\x{11BE0}"             \
  "\\x{13460}-\\x{143FA}\\x{16100}-\\x{1611D}\\x{16D40}-\\x{16D6C}\\x{18CFF}\\x{1E5D0}-\\x{1E5ED}" \
  "\\x{1E5F0}\\x{2EBF0}-\\x{2EE5D}"
// Numbers (Nd Nl No):
#define LLMUX_N16                                                                        \
  "\\x{10D40}-\\x{10D49}\\x{116D0}-\\x{116E3}\\x{11BF0}-\\x{11BF9}\\x{16130}-\\x{16139}" \
  "\\x{16D70}-\\x{16D79}\\x{1CCF0}-\\x{1CCF9}\\x{1E5F1}-\\x{1E5FA}"
// o200k's "upper" class (Lu Lt Lm Lo M):
#define LLMUX_UPPER16                                                                              \
  "\\x{295}\\x{897}\\x{1C89}\\x{A7CB}-\\x{A7CC}\\x{A7DA}\\x{A7DC}\\x{105C0}-\\x{105F3}"            \
  "\\x{10D4A}-\\x{10D65}\\x{10D69}-\\x{10D6D}\\x{10D6F}\\x{10EC2}-\\x{10EC4}\\x{10EFC}"            \
  "\\x{11380}-\\x{11389}\\x{1138B}\\x{1138E}\\x{11390}-\\x{113B5}\\x{113B7}-\\x{113C0}\\x{113C2}"  \
  "\\x{113C5}\\x{113C7}-\\x{113CA}\\x{113CC}-\\x{113D3}\\x{113E1}-\\x{113E2}\\x{11BC0}-\\x{11BE0}" \
  "\\x{11F5A}\\x{13460}-\\x{143FA}\\x{16100}-\\x{1612F}\\x{16D40}-\\x{16D6C}\\x{18CFF}"            \
  "\\x{1E5D0}-\\x{1E5F0}\\x{2EBF0}-\\x{2EE5D}"
// o200k's "lower" class (Ll Lm Lo M):
#define LLMUX_LOWER16                                                                              \
  "\\x{295}\\x{897}\\x{1C8A}\\x{A7CD}\\x{A7DB}\\x{105C0}-\\x{105F3}\\x{10D4A}-\\x{10D4F}"          \
  "\\x{10D69}-\\x{10D6D}\\x{10D6F}-\\x{10D85}\\x{10EC2}-\\x{10EC4}\\x{10EFC}\\x{11380}-\\x{11389}" \
  "\\x{1138B}\\x{1138E}\\x{11390}-\\x{113B5}\\x{113B7}-\\x{113C0}\\x{113C2}\\x{113C5}"             \
  "\\x{113C7}-\\x{113CA}\\x{113CC}-\\x{113D3}\\x{113E1}-\\x{113E2}\\x{11BC0}-\\x{11BE0}\\x{11F5A}" \
  "\\x{13460}-\\x{143FA}\\x{16100}-\\x{1612F}\\x{16D40}-\\x{16D6C}\\x{18CFF}\\x{1E5D0}-\\x{1E5F0}" \
  "\\x{2EBF0}-\\x{2EE5D}"

#define LLMUX_NOT_LN "\\p{L}\\p{N}" LLMUX_L16 LLMUX_N16
#define LLMUX_UPPER "[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}" LLMUX_UPPER16 "]"
#define LLMUX_LOWER "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}" LLMUX_LOWER16 "]"

// tiktoken's patterns without their last two alternatives (`\s+(?!\S)|\s+`), which
// wsPieceLength() implements. Possessive quantifiers of the upstream forms are dropped: the
// classes on either side are disjoint, so they never change a match. RE2 is leftmost-first like
// the backtracking engine, so it picks the same alternative and length.
// clang-format off
constexpr const char* kCl100kPattern =
    "'(?i:[sdmt]|ll|ve|re)"
    "|[^\\r\\n" LLMUX_NOT_LN "]?[\\p{L}" LLMUX_L16 "]+"
    "|[\\p{N}" LLMUX_N16 "]{1,3}"
    "| ?[^" LLMUX_WS LLMUX_NOT_LN "]+[\\r\\n]*"
    "|[" LLMUX_WS "]*[\\r\\n]+";

constexpr const char* kO200kPattern =
    "[^\\r\\n" LLMUX_NOT_LN "]?" LLMUX_UPPER "*" LLMUX_LOWER "+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    "|[^\\r\\n" LLMUX_NOT_LN "]?" LLMUX_UPPER "+" LLMUX_LOWER "*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    "|[\\p{N}" LLMUX_N16 "]{1,3}"
    "| ?[^" LLMUX_WS LLMUX_NOT_LN "]+[\\r\\n/]*"
    "|[" LLMUX_WS "]*[\\r\\n]+";
// clang-format on

#undef LLMUX_WS
#undef LLMUX_L16
#undef LLMUX_N16
#undef LLMUX_UPPER16
#undef LLMUX_LOWER16
#undef LLMUX_NOT_LN
#undef LLMUX_UPPER
#undef LLMUX_LOWER

constexpr std::array<Encoding::Special, 5> kCl100kSpecials{{{"<|endoftext|>", 100257},
                                                            {"<|fim_prefix|>", 100258},
                                                            {"<|fim_middle|>", 100259},
                                                            {"<|fim_suffix|>", 100260},
                                                            {"<|endofprompt|>", 100276}}};
constexpr std::array<Encoding::Special, 2> kO200kSpecials{
    {{"<|endoftext|>", 199999}, {"<|endofprompt|>", 200018}}};

bool isWhiteSpace(uint32_t cp) {
  if (cp < 0x80) return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// Decodes the code point at `pos` of valid UTF-8; sets `len` to its byte length.
uint32_t codePointAt(std::string_view s, size_t pos, size_t& len) {
  const auto c = static_cast<unsigned char>(s[pos]);
  len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  if (pos + len > s.size()) {  // cannot happen for valid UTF-8
    len = 1;
    return c;
  }
  uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1Fu) : len == 3 ? (c & 0x0Fu) : (c & 0x07u);
  for (size_t i = 1; i < len; ++i) {
    cp = (cp << 6) | (static_cast<unsigned char>(s[pos + i]) & 0x3Fu);
  }
  return cp;
}

// The piece at `pos` when no regex alternative matched: tiktoken's `\s+(?!\S)|\s+`. The maximal
// whitespace run there holds no CR/LF (the last alternative would have matched it). At the end of
// the text the whole run is one piece; otherwise the run minus its last character (which then
// prefixes the next piece), or the single character when the run has only one.
size_t wsPieceLength(std::string_view text, size_t pos) {
  size_t q = pos;
  size_t lastStart = pos;
  size_t runLength = 0;
  while (q < text.size()) {
    size_t len = 1;
    const uint32_t cp = codePointAt(text, q, len);
    if (!isWhiteSpace(cp)) break;
    lastStart = q;
    q += len;
    ++runLength;
  }
  if (runLength == 0) {  // not whitespace: unreachable for valid UTF-8, but always make progress
    size_t len = 1;
    (void)codePointAt(text, pos, len);
    return len;
  }
  if (q == text.size() || runLength == 1) return q - pos;
  return lastStart - pos;
}

// Per-thread buffers of the hot path (reused; shrunk after an unusually large input).
struct Scratch {
  std::string repaired;
  std::vector<uint32_t> ids;
};
constexpr size_t kKeepScratchBytes = size_t{1} << 20;

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

void trim(Scratch& s) {
  if (s.repaired.capacity() > kKeepScratchBytes) std::string().swap(s.repaired);
  if (s.ids.capacity() > kKeepScratchBytes / sizeof(uint32_t)) std::vector<uint32_t>().swap(s.ids);
}

// Takes the pages of an embedded table out of this process's resident set. build() reads every
// page to check the table; the pages are read-only and backed by the executable, so a later lookup
// faults them back in from the page cache. An idle gateway (or one whose requests never need a
// token count) then does not carry megabytes of tables in its RSS.
void releasePages(std::string_view blob) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  if (page == 0 || (page & (page - 1)) != 0) return;
  const auto first = reinterpret_cast<uintptr_t>(blob.data());
  const uintptr_t begin = (first + page - 1) & ~(page - 1);
  const uintptr_t end = (first + blob.size()) & ~(page - 1);
  // Only whole pages inside the table; failure just leaves them resident.
  if (end > begin) (void)madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace

std::string_view repairUtf8(std::string_view in, std::string& storage) {
  if (simdjson::validate_utf8(in.data(), in.size())) return in;
  storage.clear();
  storage.reserve(in.size() + 16);
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(in[i]); };
  constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  size_t i = 0;
  while (i < in.size()) {
    const unsigned char lead = byte(i);
    if (lead < 0x80) {
      storage.push_back(static_cast<char>(lead));
      ++i;
      continue;
    }
    size_t need = 0;
    unsigned char lower = 0x80;
    unsigned char upper = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      need = 1;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      need = 2;
      if (lead == 0xE0) lower = 0xA0;  // overlong
      if (lead == 0xED) upper = 0x9F;  // surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      need = 3;
      if (lead == 0xF0) lower = 0x90;  // overlong
      if (lead == 0xF4) upper = 0x8F;  // above U+10FFFF
    } else {
      storage.append(kReplacement);
      ++i;
      continue;
    }
    size_t j = i + 1;
    size_t got = 0;
    while (got < need && j < in.size() && byte(j) >= lower && byte(j) <= upper) {
      lower = 0x80;
      upper = 0xBF;
      ++j;
      ++got;
    }
    if (got == need) {
      storage.append(in.substr(i, j - i));
    } else {
      storage.append(kReplacement);  // the byte that broke the sequence is read again
    }
    i = j;
  }
  return storage;
}

Encoding::~Encoding() = default;

const Encoding* Encoding::build(std::string_view name) {
  const bool cl100k = name == "cl100k_base";
  std::unique_ptr<Encoding> e(new Encoding());
  e->name_ = cl100k ? "cl100k_base" : "o200k_base";
  const std::string_view blob = detail::embeddedRanks(e->name_);
  if (!e->ranks_.load(blob)) return nullptr;
  releasePages(blob);
  RE2::Options options;
  options.set_log_errors(false);
  // The big Unicode classes make many DFA states; a larger budget keeps RE2 on its DFA instead of
  // falling back to the slower NFA on long multilingual texts.
  options.set_max_mem(int64_t{64} << 20);
  e->regex_ = std::make_unique<re2::RE2>(cl100k ? kCl100kPattern : kO200kPattern, options);
  if (!e->regex_->ok()) return nullptr;
  e->specials_ =
      cl100k ? std::span<const Special>(kCl100kSpecials) : std::span<const Special>(kO200kSpecials);
  return e.release();  // lives for the process: callers hold plain pointers
}

const Encoding* Encoding::get(std::string_view name) {
  if (name == "cl100k_base") {
    static const Encoding* const cl100k = build("cl100k_base");
    return cl100k;
  }
  if (name == "o200k_base") {
    static const Encoding* const o200k = build("o200k_base");
    return o200k;
  }
  return nullptr;
}

template <class OnPiece>
void Encoding::forEachPiece(std::string_view text, OnPiece&& on) const {
  const re2::StringPiece whole(text.data(), text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    re2::StringPiece match;
    size_t len = 0;
    if (regex_->Match(whole, pos, text.size(), RE2::ANCHOR_START, &match, 1)) len = match.size();
    if (len == 0) len = wsPieceLength(text, pos);
    on(text.substr(pos, len));
    pos += len;
  }
}

size_t Encoding::count(std::string_view text) const {
  Scratch& s = scratch();
  const std::string_view valid = repairUtf8(text, s.repaired);
  size_t total = 0;
  forEachPiece(valid, [&](std::string_view piece) {
    if (ranks_.rank(piece) != kNoRank) {  // most pieces are one token: no merge, no ids
      ++total;
      return;
    }
    s.ids.clear();
    if (piece.size() < detail::kHeapMergeMinBytes) {
      detail::mergeByScan(ranks_, piece, s.ids);
    } else {
      detail::mergeByHeap(ranks_, piece, s.ids);
    }
    total += s.ids.size();
  });
  trim(s);
  return total;
}

void Encoding::encodeTo(std::string_view text, std::vector<uint32_t>& out) const {
  Scratch& s = scratch();
  const std::string_view valid = repairUtf8(text, s.repaired);
  forEachPiece(valid, [&](std::string_view piece) { bytePairEncode(ranks_, piece, out); });
  trim(s);
}

std::vector<uint32_t> Encoding::encode(std::string_view text) const {
  std::vector<uint32_t> out;
  out.reserve(text.size() / 3 + 1);
  encodeTo(text, out);
  return out;
}

std::string Encoding::decode(std::span<const uint32_t> ids) const {
  std::string out;
  for (uint32_t id : ids) {
    if (id < ranks_.size()) {
      out.append(ranks_.bytes(id));
      continue;
    }
    for (const Special& sp : specials_) {
      if (sp.id == id) out.append(sp.text);
    }
  }
  return out;
}

std::vector<std::string> Encoding::pieces(std::string_view text) const {
  std::string storage;
  const std::string_view valid = repairUtf8(text, storage);
  std::vector<std::string> out;
  forEachPiece(valid, [&](std::string_view piece) { out.emplace_back(piece); });
  return out;
}

}  // namespace llmux::tokenizer
