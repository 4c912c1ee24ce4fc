#pragma once
// Millisecond clocks, defined once so every module reads time the same way.
#include <chrono>
#include <cstdint>

namespace llmux {

// Unix time in milliseconds: stored times, budgets, rate-limit windows shared between instances.
inline int64_t wallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Monotonic milliseconds: timeouts and cooldowns inside one process.
inline int64_t steadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace llmux
