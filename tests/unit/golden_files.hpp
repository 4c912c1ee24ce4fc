#pragma once
// File helpers shared by the golden-file tests (tests/data/golden/<provider>/...).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

namespace llmux::testing {

// LLMUX_UPDATE_GOLDEN=1 rewrites expected files instead of comparing with them.
inline bool updatingGolden() {
  const char* v = std::getenv("LLMUX_UPDATE_GOLDEN");
  return v != nullptr && *v != '\0' && std::string_view(v) != "0";
}

inline std::string readFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void writeFile(const std::filesystem::path& p, std::string_view data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

}  // namespace llmux::testing
