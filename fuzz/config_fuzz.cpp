// Fuzzes the config loader: arbitrary bytes must give a config or problems, never a crash, hang or
// leak. The environment is not exported so that inputs cannot change the fuzzer's own process.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {  // NOLINT: libFuzzer ABI
  const std::string text(reinterpret_cast<const char*>(data), size);
  const llmux::config::LoadResult result =
      llmux::config::loadConfigText(text, llmux::config::LoadOptions{.exportEnvironment = false});
  // A result is either a config or at least one problem.
  if (result.config.has_value() == !result.problems.empty()) __builtin_trap();
  for (const auto& p : result.problems) (void)p.format("fuzz.yaml");
  return 0;
}
