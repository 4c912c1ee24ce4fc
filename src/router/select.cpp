#include "router/select.hpp"

#include <algorithm>
#include <limits>

namespace llmux::router {

namespace {

using config::RoutingStrategy;

// Picks uniformly among the positions whose score equals the minimum (ties shuffle, so equal
// deployments share the load instead of the first one taking everything).
template <typename Score>
size_t lowest(std::span<const Candidate> c, Rng& rng, Score score) {
  auto best = score(c[0]);
  size_t ties = 1;
  size_t pick = 0;
  for (size_t i = 1; i < c.size(); ++i) {
    const auto s = score(c[i]);
    if (s < best) {
      best = s;
      pick = i;
      ties = 1;
    } else if (s == best && rng.next() % ++ties == 0) {
      pick = i;  // reservoir sampling over the ties
    }
  }
  return pick;
}

size_t smoothWeighted(std::span<const Candidate> c, std::span<double> wrr) {
  // nginx's smooth weighted round-robin: each candidate gains its weight, the leader is chosen and
  // pays the total back. Deterministic and interleaved (no bursts to the heaviest deployment).
  double total = 0;
  for (const auto& x : c) total += x.weight;
  const bool equal = total <= 0;  // every weight 0: share equally rather than starve the group
  size_t best = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    double& w = wrr[c[i].deployment];
    w += equal ? 1.0 : c[i].weight;
    if (w > wrr[c[best].deployment]) best = i;
  }
  wrr[c[best].deployment] -= equal ? static_cast<double>(c.size()) : total;
  return best;
}

}  // namespace

size_t choose(RoutingStrategy strategy, std::span<const Candidate> c, Rng& rng,
              std::span<double> wrr, double latencyBuffer) {
  if (c.size() <= 1) return 0;
  switch (strategy) {
    case RoutingStrategy::SimpleShuffle:
      return smoothWeighted(c, wrr);
    case RoutingStrategy::LeastBusy:
      return lowest(c, rng, [](const Candidate& x) { return x.inFlight; });
    case RoutingStrategy::LatencyBased: {
      // Unmeasured deployments (0) come first so that every one gets sampled; then a random one
      // among those within (1 + buffer) x the fastest, so near-equal deployments share traffic.
      uint64_t fastest = std::numeric_limits<uint64_t>::max();
      for (const auto& x : c) fastest = std::min(fastest, x.latencyUs);
      const double limit = static_cast<double>(fastest) * (1.0 + std::max(0.0, latencyBuffer));
      return lowest(c, rng, [&](const Candidate& x) {
        return static_cast<double>(x.latencyUs) <= limit ? 0 : 1;
      });
    }
    case RoutingStrategy::UsageBased: {
      bool limits = false;
      for (const auto& x : c) limits = limits || x.tpmLimit != 0 || x.rpmLimit != 0;
      if (!limits) {
        return lowest(c, rng, [](const Candidate& x) {
          return std::pair<uint64_t, uint64_t>(x.tpmUsed, x.rpmUsed);
        });
      }
      // Most headroom: the smallest used share of the tighter of the two limits (no limit = 0).
      return lowest(c, rng, [](const Candidate& x) {
        double share = 0;
        if (x.tpmLimit != 0) {
          share = static_cast<double>(x.tpmUsed) / static_cast<double>(x.tpmLimit);
        }
        if (x.rpmLimit != 0) {
          share = std::max(share, static_cast<double>(x.rpmUsed) / static_cast<double>(x.rpmLimit));
        }
        return share;
      });
    }
    case RoutingStrategy::CostBased:
      return lowest(c, rng, [](const Candidate& x) {
        return x.cost < 0 ? std::numeric_limits<double>::infinity() : x.cost;
      });
  }
  return 0;
}

Selector::Selector(std::span<const DeploymentInfo> info, std::span<DeploymentState> state,
                   RoutingStrategy strategy, double latencyBuffer, uint64_t seed)
    : info_(info),
      state_(state),
      strategy_(strategy),
      latencyBuffer_(latencyBuffer),
      rng_(seed),
      wrr_(info.size(), 0.0) {
  cands_.reserve(16);
}

bool Selector::eligible(size_t d, const PickInput& in, bool allowTried) const {
  if (!allowTried && std::find(in.tried.begin(), in.tried.end(), d) != in.tried.end()) {
    return false;
  }
  const DeploymentInfo& i = info_[d];
  const DeploymentState& s = state_[d];
  if (!in.ignoreCooldown && s.coolingDown(in.nowMs)) return false;
  if (s.health.load(std::memory_order_relaxed) == Health::Unhealthy) return false;
  if (in.checkContextWindow && i.maxInputTokens && in.promptTokens > *i.maxInputTokens) {
    return false;
  }
  if (i.rpm && s.requests.get(in.minute) >= *i.rpm) return false;
  if (i.tpm &&
      s.tokens.get(in.minute) + static_cast<uint64_t>(std::max<int64_t>(in.promptTokens, 1)) >
          *i.tpm) {
    return false;
  }
  if (i.maxParallel && s.inFlight.load(std::memory_order_relaxed) >= *i.maxParallel) return false;
  return true;
}

bool Selector::reserve(size_t d, const PickInput& in, Reservation& res) {
  const DeploymentInfo& i = info_[d];
  DeploymentState& s = state_[d];
  res = Reservation{};
  res.minute = in.minute;
  const bool countInFlight = i.maxParallel || strategy_ == RoutingStrategy::LeastBusy;
  if (countInFlight) {
    const int64_t now = s.inFlight.fetch_add(1, std::memory_order_relaxed) + 1;
    if (i.maxParallel && now > *i.maxParallel) {
      s.inFlight.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
  }
  const bool countRequests = i.rpm || strategy_ == RoutingStrategy::UsageBased;
  if (countRequests) {
    if (i.rpm) {
      if (!s.requests.tryAdd(in.minute, 1, *i.rpm)) {
        if (countInFlight) s.inFlight.fetch_sub(1, std::memory_order_relaxed);
        return false;
      }
    } else {
      s.requests.add(in.minute, 1);
    }
  }
  const auto est = static_cast<uint64_t>(std::max<int64_t>(in.promptTokens, 1));
  if (i.tpm) {
    if (!s.tokens.tryAdd(in.minute, est, *i.tpm)) {
      if (countInFlight) s.inFlight.fetch_sub(1, std::memory_order_relaxed);
      if (countRequests) s.requests.sub(in.minute, 1);
      return false;
    }
    res.reservedTokens = est;
  }
  res.deployment = static_cast<int>(d);
  res.countedInFlight = countInFlight;
  return true;
}

Pick Selector::pick(const PickInput& in, Reservation& res) {
  res = Reservation{};
  // Two passes: deployments not yet tried for this request first (a retry goes elsewhere when it
  // can), then any. Within a pass the lowest `order` tier with an eligible deployment wins. A lost
  // race for the last rpm / parallel slot drops that candidate and chooses again.
  for (int pass = 0; pass < 2; ++pass) {
    const bool allowTried = pass == 1;
    if (allowTried && in.tried.empty()) break;
    auto tierAt = [&](size_t k) {
      return in.tiers.empty() ? info_[in.deployments[k]].tier : in.tiers[k];
    };
    size_t start = 0;
    while (start < in.deployments.size()) {
      const int tier = tierAt(start);
      size_t end = start;
      while (end < in.deployments.size() && tierAt(end) == tier) ++end;
      cands_.clear();
      for (size_t k = start; k < end; ++k) {
        const size_t d = in.deployments[k];
        if (!eligible(d, in, allowTried)) continue;
        const DeploymentInfo& i = info_[d];
        const DeploymentState& s = state_[d];
        Candidate c;
        c.deployment = d;
        c.weight = i.weight;
        switch (strategy_) {
          case config::RoutingStrategy::LeastBusy:
            c.inFlight = s.inFlight.load(std::memory_order_relaxed);
            break;
          case config::RoutingStrategy::LatencyBased:
            // LiteLLM's measure: time to first token for streams, otherwise time per output
            // token (so long answers do not count against a deployment).
            c.latencyUs = in.stream ? s.ttftUs.get() : s.usPerOutputToken.get();
            break;
          case config::RoutingStrategy::UsageBased:
            c.tpmUsed = s.tokens.get(in.minute);
            c.rpmUsed = s.requests.get(in.minute);
            c.tpmLimit = i.tpm.value_or(0);
            c.rpmLimit = i.rpm.value_or(0);
            break;
          case config::RoutingStrategy::CostBased:
            c.cost = i.costPerToken;
            break;
          case config::RoutingStrategy::SimpleShuffle:
            break;
        }
        cands_.push_back(c);
      }
      while (!cands_.empty()) {
        const size_t at = choose(strategy_, cands_, rng_, wrr_, latencyBuffer_);
        const size_t d = cands_[at].deployment;
        if (reserve(d, in, res)) return Pick{static_cast<int>(d), NoPick::None, 0};
        cands_.erase(cands_.begin() + static_cast<std::ptrdiff_t>(at));
      }
      start = end;
    }
  }
  // Nothing eligible: say why, and when the earliest deployment frees up.
  Pick p;
  bool anyLimit = false;
  bool anyCooling = false;
  bool allTooSmall = !in.deployments.empty();
  int64_t soonest = std::numeric_limits<int64_t>::max();
  for (size_t d : in.deployments) {
    const DeploymentInfo& i = info_[d];
    const DeploymentState& s = state_[d];
    const bool tooSmall =
        in.checkContextWindow && i.maxInputTokens && in.promptTokens > *i.maxInputTokens;
    allTooSmall = allTooSmall && tooSmall;
    if (tooSmall) continue;
    if (!in.ignoreCooldown && s.coolingDown(in.nowMs)) {
      anyCooling = true;
      soonest = std::min(soonest, s.cooldownUntilMs.load(std::memory_order_relaxed) - in.nowMs);
    } else if (s.health.load(std::memory_order_relaxed) == Health::Unhealthy) {
      anyCooling = true;
    } else {
      anyLimit = true;
      // rpm / tpm free up at the next minute; a parallel slot when a request ends (~1 s guess).
      soonest =
          std::min<int64_t>(soonest, i.maxParallel && !i.rpm && !i.tpm ? 1000 : in.msToNextMinute);
    }
  }
  if (allTooSmall) {
    p.reason = NoPick::TooSmall;
  } else if (anyLimit) {
    p.reason = NoPick::AtLimit;
  } else {
    p.reason = anyCooling ? NoPick::CoolingDown : NoPick::AtLimit;
  }
  p.retryAfterMs =
      soonest == std::numeric_limits<int64_t>::max() ? 1000 : std::max<int64_t>(soonest, 1);
  return p;
}

bool Selector::anyEligible(const PickInput& in, bool allowTried) const {
  for (size_t d : in.deployments) {
    if (eligible(d, in, allowTried)) return true;
  }
  return false;
}

void Selector::settle(Reservation& res, bool ok, uint64_t totalTokens) {
  if (res.deployment < 0) return;
  const auto d = static_cast<size_t>(res.deployment);
  DeploymentState& s = state_[d];
  if (res.countedInFlight) s.inFlight.fetch_sub(1, std::memory_order_relaxed);
  if (info_[d].tpm || strategy_ == config::RoutingStrategy::UsageBased) {
    if (totalTokens > res.reservedTokens) {
      s.tokens.add(res.minute, totalTokens - res.reservedTokens);
    } else if (res.reservedTokens > totalTokens) {
      s.tokens.sub(res.minute, res.reservedTokens - totalTokens);
    }
  }
  (void)ok;
  res.deployment = -1;
}

}  // namespace llmux::router
