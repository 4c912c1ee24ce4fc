#pragma once
// Small text helpers shared by the request path (no allocation beyond the output string's growth).
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace llmux {

// Appends the decimal form of `v` (to_chars: no locale, no format-string parsing).
inline void appendDecimal(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(r.ptr - buf));
}

// False when `v` contains CR, LF or NUL: written into an HTTP head it could split it and inject
// headers, so every value that reaches a head from config or upstream is checked with this.
inline bool isSafeHeaderValue(std::string_view v) {
  return v.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// The first at most `n` bytes of `s`, not ending inside a UTF-8 sequence: for quoting client or
// upstream text in error messages, which must stay valid UTF-8 JSON.
inline std::string_view utf8Prefix(std::string_view s, size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

}  // namespace llmux
