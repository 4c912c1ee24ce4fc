#pragma once
// Structured access log written off the I/O threads: each I/O thread pushes fixed-size records into
// its own lock-free single-producer ring; one writer thread formats JSON lines and writes them.
// A full ring drops the record and counts it, so logging can never stall a request.
#include <array>
#include <atomic>
#include <boost/lockfree/spsc_queue.hpp>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace llmux::observability {

// Fixed-capacity text field: copying it never allocates; long values are truncated.
template <size_t N>
struct FixedText {
  std::array<char, N> buf{};
  uint16_t len = 0;
  void set(std::string_view s) {
    len = static_cast<uint16_t>(s.size() < N ? s.size() : N);
    for (size_t i = 0; i < len; ++i) buf[i] = s[i];
  }
  [[nodiscard]] std::string_view view() const { return {buf.data(), len}; }
};

struct AccessRecord {
  int64_t unixMs = 0;
  FixedText<40> requestId;
  FixedText<8> method;
  FixedText<64> path;
  FixedText<64> modelGroup;
  FixedText<96> deployment;
  FixedText<40> errorType;
  // Routing: upstream attempts, whether a fallback group answered, and "deployment:status,..."
  // when there was more than one attempt (truncated when long).
  FixedText<240> attemptLog;
  uint16_t attempts = 0;
  bool fallback = false;
  int status = 0;
  bool stream = false;
  uint64_t totalUs = 0, upstreamUs = 0, ttftUs = 0, overheadUs = 0;
  uint64_t promptTokens = 0, completionTokens = 0, bytesIn = 0, bytesOut = 0;
};

class AccessLog {
 public:
  // target: "-" stdout, "" disabled, else a file path (appended). `producers` = I/O threads.
  AccessLog(const std::string& target, size_t producers);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  [[nodiscard]] bool enabled() const { return out_ != nullptr; }
  // Called only by I/O thread `producer`.
  void push(size_t producer, const AccessRecord& r);
  // Flushes pending records and stops the writer thread.
  void stop();
  [[nodiscard]] uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

  static void format(const AccessRecord& r, std::string& out);

 private:
  void run();
  bool drainOnce(std::string& line);

  static constexpr size_t kRingSize = 1024;
  using Ring = boost::lockfree::spsc_queue<AccessRecord, boost::lockfree::capacity<kRingSize>>;
  std::vector<std::unique_ptr<Ring>> rings_;
  FILE* out_ = nullptr;
  bool ownsFile_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> dropped_{0};
  std::thread writer_;
};

}  // namespace llmux::observability
