// Reading upstream answers: usage of a chat.completion body and classification of stream chunks.
// inspectStreamChunk runs on every relayed event, so the common case (an ordinary chunk with
// "usage":null and no error) is decided by a byte scan without parsing, and parsing reuses a
// per-thread parser and buffer so a warmed-up thread allocates nothing.
#include <simdjson.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <cmath>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "providers/openai/openai.hpp"

namespace llmux::providers::openai {
namespace {

namespace od = simdjson::ondemand;

// Bodies above this are parsed with a one-off parser so a thread does not keep a huge index alive.
constexpr size_t kMaxRetainedParse = size_t{1} << 20;
// Token counts above 2^53 cannot be real; clamping keeps sums from overflowing.
constexpr int64_t kMaxTokens = int64_t{1} << 53;

od::parser& threadParser() {
  thread_local od::parser parser;
  return parser;
}

int64_t clampTokens(int64_t v) {
  return v < 0 ? 0 : (v > kMaxTokens ? kMaxTokens : v);
}

// A token count: integers as is (clamped), doubles truncated; nullopt for non-numbers. The type is
// peeked first because simdjson 3.0.1's get_number() returns 0 for floats with over 19 digits.
std::optional<int64_t> readTokenCount(od::value& v) {
  od::json_type type;
  if (v.type().get(type) != simdjson::SUCCESS || type != od::json_type::number) return std::nullopt;
  od::number_type numberType;
  if (v.get_number_type().get(numberType) != simdjson::SUCCESS) return std::nullopt;
  switch (numberType) {
    case od::number_type::signed_integer: {
      int64_t i = 0;
      if (v.get_int64().get(i) != simdjson::SUCCESS) return std::nullopt;
      return clampTokens(i);
    }
    case od::number_type::unsigned_integer: {
      uint64_t u = 0;
      if (v.get_uint64().get(u) != simdjson::SUCCESS) return std::nullopt;
      return u > static_cast<uint64_t>(kMaxTokens) ? kMaxTokens : static_cast<int64_t>(u);
    }
    case od::number_type::floating_point_number: {
      double d = 0;
      if (v.get_double().get(d) != simdjson::SUCCESS) return std::nullopt;
      if (!std::isfinite(d) || d <= 0) return 0;
      return d >= static_cast<double>(kMaxTokens) ? kMaxTokens : static_cast<int64_t>(d);
    }
  }
  return std::nullopt;
}

// Reads a usage value; returns false on a parse error. A non-object (null, ...) leaves usage
// absent.
bool readUsage(od::value v, Usage& usage) {
  od::json_type type;
  if (v.type().get(type) != simdjson::SUCCESS) return false;
  if (type != od::json_type::object) return true;
  od::object obj;
  if (v.get_object().get(obj) != simdjson::SUCCESS) return false;
  Usage u;
  u.present = true;
  bool haveTotal = false;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return false;
    od::value fv;
    if (field.value().get(fv) != simdjson::SUCCESS) return false;
    // A field that is not a number counts as missing.
    if (key == "prompt_tokens") {
      u.promptTokens = readTokenCount(fv).value_or(0);
    } else if (key == "completion_tokens") {
      u.completionTokens = readTokenCount(fv).value_or(0);
    } else if (key == "total_tokens") {
      const auto total = readTokenCount(fv);
      haveTotal = total.has_value();
      u.totalTokens = total.value_or(0);
    }
  }
  if (!haveTotal) u.totalTokens = u.promptTokens + u.completionTokens;
  usage = u;
  return true;
}

// Groq puts usage in "x_groq":{"usage":{...}}.
bool readGroqUsage(od::value v, Usage& usage) {
  od::json_type type;
  if (v.type().get(type) != simdjson::SUCCESS) return false;
  if (type != od::json_type::object) return true;
  od::object obj;
  if (v.get_object().get(obj) != simdjson::SUCCESS) return false;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return false;
    od::value fv;
    if (field.value().get(fv) != simdjson::SUCCESS) return false;
    if (key == "usage" && !readUsage(fv, usage)) return false;
  }
  return true;
}

struct TopLevel {
  Usage usage;
  Usage groqUsage;
  bool hasError = false;
  bool choicesEmpty = false;
};

// One pass over the top-level members. Returns false when the document is not a well-formed object.
bool scanTopLevel(od::parser& parser, const char* data, size_t len, size_t capacity,
                  TopLevel& top) {
  od::document doc;
  if (parser.iterate(data, len, capacity).get(doc) != simdjson::SUCCESS) return false;
  od::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) return false;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return false;
    od::value v;
    if (field.value().get(v) != simdjson::SUCCESS) return false;
    if (key == "usage") {
      if (!readUsage(v, top.usage)) return false;
    } else if (key == "x_groq") {
      if (!readGroqUsage(v, top.groqUsage)) return false;
    } else if (key == "error") {
      bool isNull = false;
      if (v.is_null().get(isNull) != simdjson::SUCCESS) return false;
      top.hasError = !isNull;
    } else if (key == "choices") {
      od::json_type type;
      if (v.type().get(type) != simdjson::SUCCESS) return false;
      if (type == od::json_type::array) {
        od::array arr;
        if (v.get_array().get(arr) != simdjson::SUCCESS) return false;
        bool empty = false;
        if (arr.is_empty().get(empty) != simdjson::SUCCESS) return false;
        top.choicesEmpty = empty;
      } else {
        top.choicesEmpty = false;
      }
    }
  }
  return true;
}

bool isJsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// At a possible `"error"` / `"usage"` occurrence: true when the chunk must be parsed (an error key,
// or a usage key not followed by `: null`).
bool keyNeedsParse(std::string_view data, size_t pos) {
  if (data.size() - pos < 7) return false;
  const char* p = data.data() + pos;
  if (std::memcmp(p, R"("error")", 7) == 0) return true;
  if (std::memcmp(p, R"("usage")", 7) != 0) return false;
  const char* const end = data.data() + data.size();
  p += 7;
  while (p < end && isJsonSpace(*p)) ++p;
  if (p == end || *p != ':') return true;
  ++p;
  while (p < end && isJsonSpace(*p)) ++p;
  return end - p < 4 || std::memcmp(p, "null", 4) != 0;
}

// True when the chunk may carry something other than content: an "error" key or a "usage" key whose
// value is not literally null. Conservative: any doubt means "parse it". Candidates are found by
// the letters at offsets 1 and 5 of the two keys ("e..r", "u..e"), 16 positions at a time with
// SSE2.
bool needsParse(std::string_view data) {
  const char* s = data.data();
  const size_t n = data.size();
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i e = _mm_set1_epi8('e');
  const __m128i r = _mm_set1_epi8('r');
  const __m128i u = _mm_set1_epi8('u');
  // Candidates at i..i+15 read up to i+21 when verified, hence i + 22 <= n.
  for (; i + 22 <= n; i += 16) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 1));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 5));
    const __m128i hit = _mm_or_si128(_mm_and_si128(_mm_cmpeq_epi8(a, e), _mm_cmpeq_epi8(b, r)),
                                     _mm_and_si128(_mm_cmpeq_epi8(a, u), _mm_cmpeq_epi8(b, e)));
    auto mask = static_cast<unsigned>(_mm_movemask_epi8(hit));
    while (mask != 0) {
      if (keyNeedsParse(data, i + static_cast<size_t>(__builtin_ctz(mask)))) return true;
      mask &= mask - 1;
    }
  }
#endif
  for (; i + 7 <= n; ++i) {
    if (((s[i + 1] == 'e' && s[i + 5] == 'r') || (s[i + 1] == 'u' && s[i + 5] == 'e')) &&
        keyNeedsParse(data, i)) {
      return true;
    }
  }
  return false;
}

std::string_view trimSpace(std::string_view s) {
  while (!s.empty() && isJsonSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isJsonSpace(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

Usage parseResponseUsage(std::string& body) {
  const size_t len = body.size();
  body.reserve(len + simdjson::SIMDJSON_PADDING);
  TopLevel top;
  bool ok = false;
  if (len > kMaxRetainedParse) {
    od::parser parser;
    ok = scanTopLevel(parser, body.data(), len, body.capacity(), top);
  } else {
    ok = scanTopLevel(threadParser(), body.data(), len, body.capacity(), top);
  }
  if (!ok) return {};
  return top.usage.present ? top.usage : top.groqUsage;
}

ChunkInfo inspectStreamChunk(std::string_view data) {
  ChunkInfo info;
  const std::string_view trimmed = trimSpace(data);
  if (trimmed == "[DONE]") {
    info.kind = ChunkKind::Done;
    return info;
  }
  if (!needsParse(data)) return info;

  TopLevel top;
  bool ok = false;
  if (data.size() > kMaxRetainedParse) {
    std::string big;
    big.reserve(data.size() + simdjson::SIMDJSON_PADDING);
    big.assign(data);
    od::parser parser;
    ok = scanTopLevel(parser, big.data(), big.size(), big.capacity(), top);
  } else {
    thread_local std::string buffer;
    buffer.reserve(data.size() + simdjson::SIMDJSON_PADDING);
    buffer.assign(data);
    ok = scanTopLevel(threadParser(), buffer.data(), buffer.size(), buffer.capacity(), top);
  }
  if (!ok) return info;
  info.usage = top.usage.present ? top.usage : top.groqUsage;
  if (top.hasError) {
    info.kind = ChunkKind::Error;
  } else if (top.choicesEmpty && info.usage.present) {
    info.kind = ChunkKind::UsageOnly;
  }
  return info;
}

}  // namespace llmux::providers::openai
