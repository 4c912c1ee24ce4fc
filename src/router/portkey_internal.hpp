#pragma once
// Shared by portkey_config.cpp and portkey_condition.cpp (not a public API).
#include <fmt/format.h>

#include <string>
#include <string_view>

#include "common/text.hpp"

namespace llmux::router::portkey::detail {

// `path`.`key` for error messages; a long client key is cut short so that messages stay small.
inline std::string join(std::string_view path, std::string_view key) {
  constexpr size_t kMax = 64;
  const std::string_view more = key.size() > kMax ? "..." : "";
  key = utf8Prefix(key, kMax);
  if (path.empty()) return fmt::format("{}{}", key, more);
  return fmt::format("{}.{}{}", path, key, more);
}

}  // namespace llmux::router::portkey::detail
