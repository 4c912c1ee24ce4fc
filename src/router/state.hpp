#pragma once
// Live routing state of one deployment, shared by every I/O thread without locks: in-flight count,
// cooldown deadline, this minute's request/token/failure counters and recent latencies. Each field
// is one atomic word, so the request path pays a few relaxed atomic operations and no mutex.
// (Issue 5 mirrors the counters in Redis for several instances; this is the per-instance truth.)
#include <algorithm>
#include <atomic>
#include <cstdint>

namespace llmux::router {

// A counter for the current minute: the minute number and the count packed into one 64-bit word,
// so a new minute resets the count in the same atomic step that adds to it.
class MinuteCounter {
 public:
  [[nodiscard]] uint64_t get(int64_t minute) const {
    const uint64_t v = word_.load(std::memory_order_relaxed);
    return minuteOf(v) == static_cast<uint32_t>(minute) ? countOf(v) : 0;
  }
  void add(int64_t minute, uint64_t n) {
    uint64_t v = word_.load(std::memory_order_relaxed);
    for (;;) {
      const uint64_t base = minuteOf(v) == static_cast<uint32_t>(minute) ? countOf(v) : 0;
      const uint64_t next = pack(minute, std::min<uint64_t>(base + n, kMaxCount));
      if (word_.compare_exchange_weak(v, next, std::memory_order_relaxed)) return;
    }
  }
  // Adds n only when the minute's count stays <= limit; false (nothing added) otherwise.
  bool tryAdd(int64_t minute, uint64_t n, uint64_t limit) {
    uint64_t v = word_.load(std::memory_order_relaxed);
    for (;;) {
      const uint64_t base = minuteOf(v) == static_cast<uint32_t>(minute) ? countOf(v) : 0;
      if (base + n > limit) return false;
      if (word_.compare_exchange_weak(v, pack(minute, base + n), std::memory_order_relaxed)) {
        return true;
      }
    }
  }
  // Takes back n from this minute (a reservation that did not happen); never below zero.
  void sub(int64_t minute, uint64_t n) {
    uint64_t v = word_.load(std::memory_order_relaxed);
    for (;;) {
      if (minuteOf(v) != static_cast<uint32_t>(minute)) return;  // already a new minute
      const uint64_t c = countOf(v);
      const uint64_t next = pack(minute, c > n ? c - n : 0);
      if (word_.compare_exchange_weak(v, next, std::memory_order_relaxed)) return;
    }
  }

 private:
  static constexpr uint64_t kMaxCount = 0xffffffffULL;
  static uint32_t minuteOf(uint64_t v) { return static_cast<uint32_t>(v >> 32); }
  static uint64_t countOf(uint64_t v) { return v & kMaxCount; }
  static uint64_t pack(int64_t minute, uint64_t count) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(minute)) << 32) | count;
  }
  std::atomic<uint64_t> word_{0};
};

// Exponentially weighted moving average of a duration in microseconds (0 = no sample yet).
class Ewma {
 public:
  [[nodiscard]] uint64_t get() const { return v_.load(std::memory_order_relaxed); }
  void observe(uint64_t us) {
    uint64_t old = v_.load(std::memory_order_relaxed);
    for (;;) {
      // The newest sample weighs 1/4: recent enough to follow an incident within a few requests,
      // smooth enough that one slow answer does not move all traffic.
      const uint64_t next = old == 0 ? std::max<uint64_t>(us, 1) : (old * 3 + us) / 4;
      if (v_.compare_exchange_weak(old, std::max<uint64_t>(next, 1), std::memory_order_relaxed)) {
        return;
      }
    }
  }
  void reset() { v_.store(0, std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

enum class Health : uint8_t { Unknown = 0, Healthy = 1, Unhealthy = 2 };

struct alignas(64) DeploymentState {
  std::atomic<int64_t> inFlight{0};
  std::atomic<int64_t> cooldownUntilMs{0};  // steady-clock ms; in cooldown while now < this
  MinuteCounter requests;                   // admitted this minute (rpm)
  MinuteCounter tokens;                     // prompt + completion tokens this minute (tpm)
  MinuteCounter fails;                      // failed attempts this minute (allowed_fails)
  MinuteCounter successes;                  // successful attempts this minute (failure rate)
  Ewma latencyUs;                           // whole call, non-streaming
  Ewma ttftUs;                              // time to first token, streams
  Ewma usPerOutputToken;                    // generation speed (throughput = 1e6 / this)
  std::atomic<Health> health{Health::Unknown};
  // Totals for /metrics.
  std::atomic<uint64_t> cooldownsTotal{0};
  std::atomic<uint64_t> failuresTotal{0};

  [[nodiscard]] bool coolingDown(int64_t nowMs) const {
    return nowMs < cooldownUntilMs.load(std::memory_order_relaxed);
  }
};

// Per model group totals for /metrics.
struct alignas(64) GroupState {
  std::atomic<uint64_t> retries{0};    // attempts after a group's first
  std::atomic<uint64_t> fallbacks{0};  // requests that moved on to another group
};

}  // namespace llmux::router
