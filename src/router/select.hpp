#pragma once
// Choosing a deployment inside a model group: eligibility (cooldown, health, rpm / tpm /
// max_parallel_requests, context window, already tried), `order` priority tiers, then the
// configured strategy. The Selector is per I/O thread (its round-robin and random state is not
// shared); the DeploymentState it reads and reserves is shared through atomics.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "config/config.hpp"
#include "router/state.hpp"

namespace llmux::router {

// The static routing facts of one deployment (from its config and the price table).
struct DeploymentInfo {
  double weight = 1.0;                    // simple-shuffle share (weight, else rpm, else tpm)
  int tier = 0;                           // `order`; unset sorts after every set value
  std::optional<uint64_t> rpm, tpm;       // per-minute limits, enforced
  std::optional<int64_t> maxParallel;     // max_parallel_requests, enforced
  std::optional<int64_t> maxInputTokens;  // context window, when known
  double costPerToken = -1;               // input + output USD per token; < 0 unknown
};

// What the selector needs from one candidate (pure strategy input; tests build these directly).
struct Candidate {
  size_t deployment = 0;  // opaque id (the index into the gateway's deployments)
  double weight = 1.0;
  int64_t inFlight = 0;
  uint64_t latencyUs = 0;  // 0 = not measured yet (tried first, like LiteLLM)
  uint64_t tpmUsed = 0, rpmUsed = 0;
  uint64_t tpmLimit = 0, rpmLimit = 0;  // 0 = none
  double cost = -1;                     // < 0 unknown (sorted last)
};

// xorshift64*: cheap per-thread randomness for shuffles and jitter.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed == 0 ? 0x9e3779b97f4a7c15ULL : seed) {}
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545f4914f6cdd1dULL;
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
};

// Picks one of `cands` (non-empty) with `strategy`; returns its position. `wrr` is the smooth
// weighted round-robin state indexed by Candidate::deployment (simple-shuffle only).
size_t choose(config::RoutingStrategy strategy, std::span<const Candidate> cands, Rng& rng,
              std::span<double> wrr, double latencyBuffer);

enum class NoPick : uint8_t {
  None,         // a deployment was picked
  CoolingDown,  // every eligible deployment is cooling down (or unhealthy)
  AtLimit,      // every deployment is at its rpm / tpm / max_parallel_requests limit
  TooSmall,     // the prompt exceeds every deployment's context window
};

struct Pick {
  int deployment = -1;
  NoPick reason = NoPick::None;
  int64_t retryAfterMs = 0;  // CoolingDown / AtLimit: when one frees up
};

// The admission a pick holds; settle() exactly once.
struct Reservation {
  int deployment = -1;
  bool countedInFlight = false;
  uint64_t reservedTokens = 0;
  int64_t minute = 0;
};

struct PickInput {
  std::span<const size_t> deployments;  // the group's deployments, sorted by tier
  std::span<const size_t> tried;        // deployments that already failed for this request
  bool stream = false;
  int64_t promptTokens = 0;         // estimate, for tpm and context windows (0 = unknown)
  bool checkContextWindow = false;  // enable_pre_call_checks
  bool ignoreCooldown = false;      // disable_cooldowns
  int64_t nowMs = 0;                // steady clock
  int64_t minute = 0;               // wall-clock minute number
  int64_t msToNextMinute = 60000;   // when this minute's rpm / tpm counts reset
  // Preference tiers per entry of `deployments` (non-decreasing), replacing the deployments'
  // `order` (OpenRouter's provider.order / sort). Empty: the configured tiers.
  std::span<const int> tiers;
};

class Selector {
 public:
  Selector(std::span<const DeploymentInfo> info, std::span<DeploymentState> state,
           config::RoutingStrategy strategy, double latencyBuffer, uint64_t seed);

  // Chooses and reserves a deployment (rpm slot, tpm estimate, in-flight slot). Deployments in
  // `tried` are skipped while any untried one is eligible.
  Pick pick(const PickInput& in, Reservation& res);
  // Whether some deployment (not in `in.tried`, unless allowTried) is eligible now.
  [[nodiscard]] bool anyEligible(const PickInput& in, bool allowTried) const;
  // Ends a reservation: the real token count replaces the estimate; latency samples when given.
  void settle(Reservation& res, bool ok, uint64_t totalTokens);

  Rng& rng() { return rng_; }
  [[nodiscard]] config::RoutingStrategy strategy() const { return strategy_; }

 private:
  bool eligible(size_t d, const PickInput& in, bool allowTried) const;
  bool reserve(size_t d, const PickInput& in, Reservation& res);

  std::span<const DeploymentInfo> info_;
  std::span<DeploymentState> state_;
  config::RoutingStrategy strategy_;
  double latencyBuffer_;
  Rng rng_;
  std::vector<double> wrr_;
  std::vector<Candidate> cands_;  // scratch, reused (no allocation per pick once warm)
};

}  // namespace llmux::router
