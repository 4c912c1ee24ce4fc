#pragma once
// Millisecond clocks, defined once so every module reads time the same way.
#include <time.h>

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

// The same two clocks at tick resolution (CLOCK_REALTIME_COARSE / CLOCK_MONOTONIC_COARSE, 1 to 4
// ms behind): a few ns instead of a full clock read, which a VM's paravirtual clock makes cost tens
// of ns. For minute buckets, cooldowns, idle ages and whole-call deadlines, not for latencies.
inline int64_t coarseWallMs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

inline int64_t coarseSteadyMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace llmux
