#pragma once
// Case-insensitive matching of provider error messages (ASCII): the message text is often the only
// signal for OpenAI's codes (context_length_exceeded, ...).
#include <string_view>

namespace llmux::providers {

inline char asciiLower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// True when `haystack` contains `lowerNeedle` ignoring ASCII case; `lowerNeedle` must be lowercase.
inline bool containsLower(std::string_view haystack, std::string_view lowerNeedle) {
  if (lowerNeedle.size() > haystack.size()) return false;
  for (size_t i = 0; i + lowerNeedle.size() <= haystack.size(); ++i) {
    size_t k = 0;
    while (k < lowerNeedle.size() && asciiLower(haystack[i + k]) == lowerNeedle[k]) ++k;
    if (k == lowerNeedle.size()) return true;
  }
  return false;
}

}  // namespace llmux::providers
