#pragma once
// The governance state every I/O thread shares: the store (database threads), the spend-log
// writer, the in-process limiters, the cache epoch, and the Redis settings the threads' own
// connections use. Created once by `llmux serve` before the listeners start; shutdown() flushes
// the spend log after the server has drained.
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "governance/access.hpp"

namespace llmux::store {
class Store;
class SpendWriter;
}  // namespace llmux::store
namespace llmux::governance {
class LocalLimiter;
}
namespace llmux::auth {
struct Principal;
}
namespace llmux::kv {
class RedisConnection;
}

namespace llmux::api {

class GovernanceRuntime {
 public:
  // Opens (and migrates) the database, replays the spool, starts the store threads. nullptr with
  // `error` when the database cannot be opened.
  static std::unique_ptr<GovernanceRuntime> start(const config::Config& cfg, size_t workers,
                                                  std::string& error);
  ~GovernanceRuntime();
  GovernanceRuntime(const GovernanceRuntime&) = delete;
  GovernanceRuntime& operator=(const GovernanceRuntime&) = delete;

  // Flushes queued spend rows (to the database, else the spool) within `deadline`.
  void shutdown(std::chrono::milliseconds deadline);

  [[nodiscard]] const config::GovernanceSettings& settings() const { return settings_; }
  [[nodiscard]] const std::string& masterKey() const { return masterKey_; }
  store::Store& store() { return *store_; }
  store::SpendWriter* spend();  // null when spend logs are off
  governance::LocalLimiter& local() { return *local_; }
  // Per-instance share of every limit, used while Redis is unreachable (fail_open).
  governance::LocalLimiter& degraded() { return *degraded_; }
  const governance::AccessGroups& accessGroups() const { return accessGroups_; }

  // Management writes and budget resets move the epoch; every thread's caches then reload.
  std::atomic<uint64_t>& epoch() { return epoch_; }
  void invalidateCaches() { epoch_.fetch_add(1, std::memory_order_acq_rel); }

  // Each I/O thread's Redis connection (registered at start); Redis is up when all are.
  void registerRedis(std::shared_ptr<kv::RedisConnection> conn);
  [[nodiscard]] bool redisUp() const;
  [[nodiscard]] bool redisConfigured() const { return !settings_.redisHost.empty(); }

  // Prometheus lines: spend-log pipeline, admission outcomes, Redis state.
  void renderMetrics(std::string& out) const;

  // A key this instance has loaded (cache miss): its spend and remaining budget become gauges.
  // Bounded (kMaxGaugedKeys); takes a mutex, which is fine off the cache-hit path.
  void notePrincipal(const std::shared_ptr<const auth::Principal>& p);
  static constexpr size_t kMaxGaugedKeys = 1000;
  // Spend settled by this instance (nano-USD), for llmux_spend_usd_total.
  std::atomic<int64_t> spendNano{0};

  // Counters bumped by the threads.
  std::atomic<uint64_t> authFailures{0}, refusedLimits{0}, refusedBudget{0}, redisFailures{0},
      redisFailOpen{0}, redisFailClosed{0};

 private:
  GovernanceRuntime() = default;

  config::GovernanceSettings settings_;
  std::string masterKey_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<governance::LocalLimiter> local_, degraded_;
  governance::AccessGroups accessGroups_;
  std::atomic<uint64_t> epoch_{1};
  mutable std::mutex redisMu_;
  std::vector<std::shared_ptr<kv::RedisConnection>> redis_;
  int spoolLockFd_ = -1;
  mutable std::mutex gaugedMu_;
  std::map<std::string, std::shared_ptr<const auth::Principal>> gauged_;  // by key hash
};

}  // namespace llmux::api
