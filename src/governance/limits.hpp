#pragma once
// What admission control checks for one request, independent of where the counters live
// (this process: governance::LocalLimiter; every instance: kv::RedisLimiter, same semantics).
//
// A request is checked against a list of descriptors (its key, the key's team, the team member,
// the key's user, the end user, the key per model, ...). Each descriptor may carry a requests-per-
// minute, tokens-per-minute and parallel-request limit and a budget. Admission is atomic over the
// whole list: either every descriptor admits and all counters are taken, or nothing is taken.
//
// Windows: a fixed 60 s window anchored at the first request it counts (LiteLLM's rule): when a
// request arrives 60 s or more after the window's start, a new window starts at that request.
// Refused requests are not counted.
// Budgets: spend is in nano-USD (int64). Admission reserves the request's worst-case cost; it is
// admitted when spent + reserved + cost <= max (with reservation off: when spent < max, LiteLLM's
// check-then-spend). settle() replaces the reservation by the real cost and the token estimate by
// the real count, and releases the parallel slot.
#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmux::governance {

constexpr int64_t kNanoPerUsd = 1'000'000'000;
inline int64_t toNano(double usd) {
  return static_cast<int64_t>(usd * 1e9 + (usd >= 0 ? 0.5 : -0.5));
}
inline double fromNano(int64_t n) {
  return static_cast<double>(n) / 1e9;
}

enum class LimitKind { Requests, Tokens, Parallel, Budget };

struct Descriptor {
  // Counter identity, shared by every instance: "key:<hash>", "team:<id>", "user:<id>",
  // "member:<team>:<user>", "end_user:<id>", "key_model:<hash>:<model>", "budget:<id>".
  std::string id;
  // For messages and headers: kind ("api_key", "team", "user", "team_member", "end_user",
  // "model_per_key") and a readable name (alias, else id; never a raw key).
  std::string kind;
  std::string name;
  std::optional<int64_t> rpm;
  std::optional<int64_t> tpm;
  std::optional<int64_t> parallel;
  std::optional<int64_t> maxBudgetNano;
  // Spend stored in the database when this view was loaded, and the budget period it belongs to
  // (budget_reset_at; a change means the budget was reset and the counter starts from dbSpend).
  int64_t dbSpendNano = 0;
  int64_t budgetPeriod = 0;
};

struct AdmitRequest {
  const std::vector<Descriptor>* descriptors = nullptr;
  int64_t tokens = 0;         // prompt tokens + output cap (the tpm reservation)
  int64_t costNano = 0;       // worst-case cost (the budget reservation)
  bool reserveBudget = true;  // false: LiteLLM's check-then-spend
  int64_t nowMs = 0;
};

struct Remaining {
  // Per descriptor, parallel to AdmitRequest::descriptors; -1 where that limit is not set. Inline
  // storage covers every descriptor list a request builds (key, team, member, user, end user,
  // key per model), so admission allocates nothing for them.
  using Counts = boost::container::small_vector<int64_t, 8>;
  Counts requests;
  Counts tokens;
  Counts parallel;
  Counts budgetNano;  // max - spent - reserved after admission
};

struct AdmitResult {
  bool ok = false;
  // When refused: which descriptor and limit, its value, and seconds until it frees up.
  size_t failed = 0;
  LimitKind kind = LimitKind::Requests;
  int64_t limit = 0;
  int64_t current = 0;      // requests/tokens counted in the window, in flight, or spend (nano)
  int64_t retryAfterS = 0;  // window end (requests/tokens), 1 (parallel), budget reset (budget)
  int64_t windowResetMs = 0;
  Remaining remaining;  // filled when ok
  // Redis limiter only: the store could not be reached (the caller applies fail_open/closed).
  bool unavailable = false;
};

struct SettleRequest {
  const std::vector<Descriptor>* descriptors = nullptr;
  int64_t reservedTokens = 0;
  int64_t actualTokens = 0;
  int64_t reservedCostNano = 0;
  int64_t actualCostNano = 0;
  bool reserveBudget = true;
  int64_t nowMs = 0;
};

}  // namespace llmux::governance
