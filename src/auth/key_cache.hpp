#pragma once
// Per-I/O-thread caches of resolved keys and end users, so the request path does not touch the
// database: an entry lives for the TTL, or until any management write or budget reset moves the
// shared epoch (then every thread reloads what it uses; such writes are rare). Unknown keys are
// cached too (negative entries), so a client repeating a bad key cannot flood the database.
// Owned by one thread: no locks.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "auth/principal.hpp"

namespace llmux::auth {

template <class View>
class TtlCache {
 public:
  struct Hit {
    bool found = false;                 // an entry is present and fresh
    std::shared_ptr<const View> value;  // null for a negative entry
    // When not found: the expired entry, if any. Used while the database cannot be reached, so
    // an outage longer than the TTL does not lock out keys this thread already knows.
    std::shared_ptr<const View> stale;
  };

  TtlCache(const std::atomic<uint64_t>& epoch, int64_t ttlMs, size_t maxEntries)
      : epoch_(epoch), ttlMs_(ttlMs), maxEntries_(maxEntries) {}

  Hit find(const std::string& id, int64_t nowMs) {
    auto it = map_.find(id);
    if (it == map_.end()) return {};
    const Entry& e = it->second;
    if (e.epoch != epoch_.load(std::memory_order_acquire) || nowMs - e.loadedMs >= ttlMs_ ||
        nowMs < e.loadedMs) {
      return {false, nullptr, e.value};  // replaced by the next put()
    }
    return {true, e.value, nullptr};
  }

  // `epochAtLoad`: the epoch read before the load started, so a write that lands during the
  // load leaves the entry stale rather than cached for a whole TTL.
  void put(const std::string& id, std::shared_ptr<const View> value, uint64_t epochAtLoad,
           int64_t nowMs) {
    if (map_.size() >= maxEntries_) map_.clear();  // crude but bounded; reloads are cheap
    map_.insert_or_assign(id, Entry{std::move(value), epochAtLoad, nowMs});
  }

  [[nodiscard]] uint64_t epoch() const { return epoch_.load(std::memory_order_acquire); }
  [[nodiscard]] size_t size() const { return map_.size(); }

 private:
  struct Entry {
    std::shared_ptr<const View> value;
    uint64_t epoch = 0;
    int64_t loadedMs = 0;
  };
  const std::atomic<uint64_t>& epoch_;
  int64_t ttlMs_;
  size_t maxEntries_;
  std::unordered_map<std::string, Entry> map_;
};

using KeyCache = TtlCache<Principal>;
using CustomerCache = TtlCache<CustomerView>;

}  // namespace llmux::auth
