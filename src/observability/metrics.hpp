#pragma once
// Prometheus metrics without locks on the request path: every I/O thread owns a Shard of relaxed
// atomic counters indexed by (deployment, status class) and (model group); a scrape sums the
// shards. Label values come only from the config (never from request input), so cardinality is
// bounded.
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::observability {

// Histogram bucket upper bounds in microseconds (0.1 ms .. 600 s).
inline constexpr std::array<uint64_t, 18> kBucketsUs = {
    100,    250,    500,    1000,    2500,    5000,    10000,    25000,    50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 60000000, 600000000};

// Status codes given their own label value; anything else is counted under its class ("5xx").
inline constexpr std::array<int, 16> kTrackedStatuses = {200, 400, 401, 403, 404, 405, 408, 413,
                                                         422, 429, 431, 499, 500, 502, 503, 504};
inline constexpr size_t kStatusSlots = kTrackedStatuses.size() + 5;  // + 1xx..5xx classes

struct Histogram {
  std::array<std::atomic<uint64_t>, kBucketsUs.size()> buckets{};
  std::atomic<uint64_t> count{0};
  std::atomic<uint64_t> sumUs{0};
  void observe(uint64_t us);
};

struct GroupStats {
  Histogram total, upstream, overhead, ttft;
};

struct Shard {
  Shard(size_t deployments, size_t groups);
  // requests_[(deployment+1) * kStatusSlots + statusSlot]; deployment -1 = none (rejected early)
  std::vector<std::atomic<uint64_t>> requests;
  std::vector<std::atomic<uint64_t>> promptTokens;      // per deployment
  std::vector<std::atomic<uint64_t>> completionTokens;  // per deployment
  std::vector<GroupStats> groups;                       // per model group, + 1 for "none"
  std::atomic<int64_t> inFlight{0};
};

class Metrics {
 public:
  // deploymentGroup[i] = group index of deployment i.
  Metrics(std::vector<std::string> groupNames, std::vector<std::string> deploymentIds,
          std::vector<size_t> deploymentGroup, size_t shards);
  Shard& shard(size_t i) { return *shards_[i]; }

  struct Observation {
    int deployment = -1;  // index, -1 = none
    int group = -1;       // index, -1 = none
    int status = 0;
    uint64_t totalUs = 0;
    uint64_t upstreamUs = 0;  // 0 = no upstream call
    uint64_t ttftUs = 0;      // 0 = not a stream
    uint64_t promptTokens = 0;
    uint64_t completionTokens = 0;
  };
  static void record(Shard& s, const Observation& o);

  // Prometheus text exposition format 0.0.4.
  [[nodiscard]] std::string render() const;
  // Further families rendered after the built-in ones (the router's); set once at startup.
  std::function<void(std::string&)> extra;

 private:
  std::vector<std::string> groupNames_;
  std::vector<std::string> deploymentIds_;
  std::vector<size_t> deploymentGroup_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

size_t statusSlot(int status);
// A label value escaped for the exposition format (backslash, quote, newline).
std::string escapeLabel(std::string_view v);

}  // namespace llmux::observability
