#pragma once
// governance::LocalLimiter: the admission control of limits.hpp with the counters in this
// process, shared by every I/O thread. Used alone (one instance, or no Redis configured) and as
// the per-instance fallback when Redis is unreachable with fail_open (divisor = instances).
//
// Concurrency: no mutex on the request path. Every counter is one atomic word updated with a CAS
// loop (windows pack their start and count into 64 bits), so a descriptor never over-admits. The
// registry id -> counters is sharded; looking up an existing id is lock-free (readers probe an
// insert-only open-addressing table published with release/acquire), only creating an id takes
// the shard's mutex. Counters are never freed before the limiter, so a Handle (a plain pointer)
// stays valid for the limiter's lifetime: a cached key view resolves its descriptors once and
// admits with its handles, skipping even the hash lookup.
//
// Semantics beyond limits.hpp:
// - Windows: 60 s anchored at the first admitted request, start kept with 100 ms resolution (a
//   window may end up to 100 ms early). Requests and tokens have separate windows; both anchor at
//   the same admitted request, so they move together.
// - Tokens: a request is admitted when window tokens + its reservation <= tpm. settle() adds a
//   positive correction (actual > reserved) to the live window; a negative one is applied only if
//   the live window already existed at admission (admittedMs given) or, with admittedMs unknown,
//   to whatever window is live (over-crediting by at most one reservation after a window change).
// - Budgets: spent and "used" (spent + reservations) are separate atomics; admission CASes used.
//   The baseline comes from each admission's descriptor: when its budgetPeriod is newer than the
//   one seen, spent restarts from dbSpendNano (a reset happened in the database); with the same
//   period spent becomes max(spent, dbSpendNano), which folds in spend other instances wrote;
//   an older period (a stale view) is ignored. After resetBudget()/resetAll() the database spend
//   of the current period is ignored (stale views still carry the pre-reset spend) until a view
//   with a newer period arrives.
// - Divisor N (per-instance fail-open mode): rpm, tpm and parallel limits become limit / N (at
//   least 1; a limit <= 0 refuses everything). Budgets are not divided (the baseline is global
//   spend): each instance may instead spend 1/N of the headroom left at the last database load,
//   i.e. the effective max is db + (max - db) / N, so N instances together stay under max.
// - Refusals: limit is the enforced (divided) value. For a budget, current is spent +
//   reservations (spent alone without reservation), and budgetPeriod is taken as the reset time
//   (budget_reset_at, unix ms): when it is after nowMs, retryAfterS and windowResetMs say when
//   the budget resets, else both are 0. Parallel refusals: retryAfterS 1, windowResetMs 0.
// - A descriptor listed twice in one request is counted twice.
// - Memory: ~128 bytes per distinct id, kept until the limiter is destroyed. Ids come from
//   database entities, but end-user ids come from the request's `user` field; the caller should
//   only make end_user descriptors for customers that exist (or cap them).
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "governance/limits.hpp"

namespace llmux::governance {

class LocalLimiter {
 public:
  struct Counters;  // one descriptor's atomics (local_limiter.cpp)

  // A resolved descriptor id; valid while the limiter lives. Default-constructed = unresolved.
  class Handle {
   public:
    Handle() = default;
    explicit operator bool() const { return c_ != nullptr; }
    bool operator==(const Handle&) const = default;

   private:
    friend class LocalLimiter;
    explicit Handle(Counters* c) : c_(c) {}
    Counters* c_ = nullptr;
  };

  static constexpr int64_t kWindowMs = 60'000;
  static constexpr int64_t kUnknownAdmitTime = std::numeric_limits<int64_t>::min();

  explicit LocalLimiter(int64_t divisor = 1);
  ~LocalLimiter();
  LocalLimiter(const LocalLimiter&) = delete;
  LocalLimiter& operator=(const LocalLimiter&) = delete;

  // Finds or creates the counters of `id` (lock-free when it exists).
  Handle resolve(std::string_view id);
  // Resolves every descriptor, in order, into `out` (cleared first).
  void resolve(std::span<const Descriptor> descriptors, std::vector<Handle>& out);

  // All-or-nothing admission over req.descriptors (limits.hpp). The first form resolves the ids;
  // the second takes handles parallel to req.descriptors (a missing or default Handle is resolved
  // by id) and writes into `out`, reusing its
  // vectors' capacity (keep one AdmitResult per thread to admit without allocating). On success
  // out.remaining is filled and out.windowResetMs is the window end of the descriptor with the
  // fewest requests left (else fewest tokens left; 0 without rpm/tpm limits).
  AdmitResult admit(const AdmitRequest& req);
  void admit(const AdmitRequest& req, std::span<const Handle> handles, AdmitResult& out);

  // Ends an admitted request: same descriptors (and handles) as its admit. admittedMs (the
  // admit's nowMs) makes negative token corrections exact across a window change.
  void settle(const SettleRequest& req, int64_t admittedMs = kUnknownAdmitTime);
  void settle(const SettleRequest& req, std::span<const Handle> handles,
              int64_t admittedMs = kUnknownAdmitTime);

  // Adds spend to a descriptor that was not admitted here (no budget to check, e.g. a key without
  // limits whose spend the x-llmux-key-spend header reports), with the same database baseline
  // rules as a budget. Returns the spend now known.
  int64_t recordSpend(const Descriptor& d, int64_t costNano);

  // Budget resets (the reset job, after the database commit): spent goes to 0, reservations of
  // requests in flight stay. resetBudget returns false for an id never seen.
  void resetAll();
  bool resetBudget(std::string_view id);

  void setDivisor(int64_t divisor);  // takes effect for the next admissions
  [[nodiscard]] int64_t divisor() const { return divisor_.load(std::memory_order_relaxed); }
  [[nodiscard]] size_t size() const;  // distinct ids

  // For tests, metrics and /health: the counters of `id` as of nowMs (zeros when unknown).
  struct Snapshot {
    bool exists = false;
    int64_t requests = 0;  // in the live window
    int64_t tokens = 0;
    int64_t windowEndMs = 0;  // of the live requests window, else 0
    int64_t parallel = 0;
    int64_t spentNano = 0;
    int64_t reservedNano = 0;
  };
  [[nodiscard]] Snapshot peek(std::string_view id, int64_t nowMs) const;

 private:
  struct Shard;
  static constexpr size_t kShards = 64;

  Counters* find(std::string_view id, uint64_t hash) const;

  std::unique_ptr<Shard[]> shards_;
  std::atomic<int64_t> divisor_;
};

}  // namespace llmux::governance
