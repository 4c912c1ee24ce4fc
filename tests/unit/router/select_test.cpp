#include "router/select.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <vector>

namespace llmux::router {
namespace {

using config::RoutingStrategy;

// A group of deployments with their shared state, and one selector over them.
struct Fixture {
  std::vector<DeploymentInfo> info;
  std::unique_ptr<DeploymentState[]> state;
  std::vector<size_t> order;
  std::unique_ptr<Selector> sel;

  explicit Fixture(std::vector<DeploymentInfo> i,
                   RoutingStrategy s = RoutingStrategy::SimpleShuffle, double buffer = 0)
      : info(std::move(i)), state(std::make_unique<DeploymentState[]>(info.size())) {
    for (size_t k = 0; k < info.size(); ++k) order.push_back(k);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return info[a].tier < info[b].tier; });
    sel = std::make_unique<Selector>(info, std::span<DeploymentState>(state.get(), info.size()), s,
                                     buffer, 42);
  }
  PickInput input() const {
    PickInput in;
    in.deployments = order;
    in.nowMs = 1000000;
    in.minute = 100;
    in.msToNextMinute = 30000;
    return in;
  }
  int pickOnce(const PickInput& in) {
    Reservation r;
    Pick p = sel->pick(in, r);
    sel->settle(r, true, 0);
    return p.deployment;
  }
};

DeploymentInfo dep(double weight = 1, int tier = 0) {
  DeploymentInfo d;
  d.weight = weight;
  d.tier = tier;
  return d;
}

TEST(Choose, SmoothWeightedRoundRobinFollowsWeights) {
  Fixture f({dep(3), dep(1)});
  std::map<int, int> n;
  for (int i = 0; i < 40; ++i) ++n[f.pickOnce(f.input())];
  EXPECT_EQ(n[0], 30);
  EXPECT_EQ(n[1], 10);
}

TEST(Choose, AllZeroWeightsShareEqually) {
  Fixture f({dep(0), dep(0)});
  std::map<int, int> n;
  for (int i = 0; i < 10; ++i) ++n[f.pickOnce(f.input())];
  EXPECT_EQ(n[0], 5);
  EXPECT_EQ(n[1], 5);
}

TEST(Choose, LeastBusyPicksFewestInFlight) {
  std::vector<Candidate> c(3);
  c[0].inFlight = 4;
  c[1].inFlight = 1;
  c[2].inFlight = 2;
  for (size_t i = 0; i < 3; ++i) c[i].deployment = i;
  Rng rng(1);
  std::vector<double> wrr(3);
  EXPECT_EQ(choose(RoutingStrategy::LeastBusy, c, rng, wrr, 0), 1u);
}

TEST(Choose, LatencyPrefersUnmeasuredThenFastestWithinBuffer) {
  std::vector<Candidate> c(3);
  for (size_t i = 0; i < 3; ++i) c[i].deployment = i;
  c[0].latencyUs = 1000;
  c[1].latencyUs = 0;  // never measured: tried first
  c[2].latencyUs = 5000;
  Rng rng(7);
  std::vector<double> wrr(3);
  EXPECT_EQ(choose(RoutingStrategy::LatencyBased, c, rng, wrr, 0), 1u);
  c[1].latencyUs = 1100;
  // Without a buffer only the fastest; with 0.5 both 1000 and 1100 qualify, 5000 never.
  for (int i = 0; i < 50; ++i) EXPECT_EQ(choose(RoutingStrategy::LatencyBased, c, rng, wrr, 0), 0u);
  std::map<size_t, int> n;
  for (int i = 0; i < 400; ++i) ++n[choose(RoutingStrategy::LatencyBased, c, rng, wrr, 0.5)];
  EXPECT_GT(n[0], 100);
  EXPECT_GT(n[1], 100);
  EXPECT_EQ(n[2], 0);
}

TEST(Choose, UsageBasedPicksLowestUseOrMostHeadroom) {
  std::vector<Candidate> c(2);
  c[0].deployment = 0;
  c[1].deployment = 1;
  c[0].tpmUsed = 500;
  c[1].tpmUsed = 100;
  Rng rng(3);
  std::vector<double> wrr(2);
  EXPECT_EQ(choose(RoutingStrategy::UsageBased, c, rng, wrr, 0), 1u);
  // With limits: 500 of 10000 (5 %) beats 100 of 1000 (10 %).
  c[0].tpmLimit = 10000;
  c[1].tpmLimit = 1000;
  EXPECT_EQ(choose(RoutingStrategy::UsageBased, c, rng, wrr, 0), 0u);
}

TEST(Choose, CostBasedPicksCheapestUnknownLast) {
  std::vector<Candidate> c(3);
  for (size_t i = 0; i < 3; ++i) c[i].deployment = i;
  c[0].cost = -1;
  c[1].cost = 3e-6;
  c[2].cost = 1e-6;
  Rng rng(3);
  std::vector<double> wrr(3);
  EXPECT_EQ(choose(RoutingStrategy::CostBased, c, rng, wrr, 0), 2u);
}

TEST(Selector, LowerTierOnlyWhenHigherIsUnavailable) {
  Fixture f({dep(1, 2), dep(1, 1)});
  PickInput in = f.input();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(f.pickOnce(in), 1);
  f.state[1].cooldownUntilMs = in.nowMs + 500;
  EXPECT_EQ(f.pickOnce(in), 0);
  in.nowMs += 600;  // the cooldown is over
  EXPECT_EQ(f.pickOnce(in), 1);
}

TEST(Selector, TriedDeploymentsAreSkippedWhileOthersRemain) {
  Fixture f({dep(1, 1), dep(1, 2)});
  PickInput in = f.input();
  std::vector<size_t> tried = {0};
  in.tried = tried;
  EXPECT_EQ(f.pickOnce(in), 1);  // untried, even in a lower tier
  f.state[1].cooldownUntilMs = in.nowMs + 1000;
  EXPECT_EQ(f.pickOnce(in), 0);  // only the tried one is left: it is retried
}

TEST(Selector, RpmLimitIsEnforcedPerMinute) {
  DeploymentInfo d = dep();
  d.rpm = 2;
  Fixture f({d});
  PickInput in = f.input();
  EXPECT_EQ(f.pickOnce(in), 0);
  EXPECT_EQ(f.pickOnce(in), 0);
  Reservation r;
  Pick p = f.sel->pick(in, r);
  EXPECT_EQ(p.deployment, -1);
  EXPECT_EQ(p.reason, NoPick::AtLimit);
  EXPECT_EQ(p.retryAfterMs, 30000);  // the next minute
  in.minute += 1;
  EXPECT_EQ(f.pickOnce(in), 0);
}

TEST(Selector, TpmReservesTheEstimateAndSettlesTheRealCount) {
  DeploymentInfo d = dep();
  d.tpm = 1000;
  Fixture f({d});
  PickInput in = f.input();
  in.promptTokens = 600;
  Reservation r1;
  ASSERT_EQ(f.sel->pick(in, r1).deployment, 0);
  Reservation r2;
  EXPECT_EQ(f.sel->pick(in, r2).deployment, -1);  // 600 + 600 > 1000 while the first is open
  f.sel->settle(r1, true, 200);                   // it really used 200
  EXPECT_EQ(f.state[0].tokens.get(in.minute), 200u);
  ASSERT_EQ(f.sel->pick(in, r2).deployment, 0);
  f.sel->settle(r2, true, 700);
  EXPECT_EQ(f.state[0].tokens.get(in.minute), 900u);
}

TEST(Selector, MaxParallelRequestsCapsInFlight) {
  DeploymentInfo d = dep();
  d.maxParallel = 1;
  Fixture f({d, dep()});
  PickInput in = f.input();
  in.deployments = std::span<const size_t>(f.order.data(), 1);  // only the capped one
  Reservation r1, r2;
  ASSERT_EQ(f.sel->pick(in, r1).deployment, 0);
  Pick p = f.sel->pick(in, r2);
  EXPECT_EQ(p.deployment, -1);
  EXPECT_EQ(p.reason, NoPick::AtLimit);
  f.sel->settle(r1, true, 0);
  EXPECT_EQ(f.state[0].inFlight.load(), 0);
  ASSERT_EQ(f.sel->pick(in, r2).deployment, 0);
  f.sel->settle(r2, true, 0);
}

TEST(Selector, ReportsCoolingDownWithTheEarliestEnd) {
  Fixture f({dep(), dep()});
  PickInput in = f.input();
  f.state[0].cooldownUntilMs = in.nowMs + 4000;
  f.state[1].cooldownUntilMs = in.nowMs + 2500;
  Reservation r;
  Pick p = f.sel->pick(in, r);
  EXPECT_EQ(p.deployment, -1);
  EXPECT_EQ(p.reason, NoPick::CoolingDown);
  EXPECT_EQ(p.retryAfterMs, 2500);
  in.ignoreCooldown = true;
  EXPECT_GE(f.pickOnce(in), 0);
}

TEST(Selector, ContextWindowFiltersWhenChecked) {
  DeploymentInfo small = dep();
  small.maxInputTokens = 100;
  DeploymentInfo big = dep();
  big.maxInputTokens = 100000;
  Fixture f({small, big});
  PickInput in = f.input();
  in.promptTokens = 5000;
  in.checkContextWindow = true;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(f.pickOnce(in), 1);
  in.deployments = std::span<const size_t>(f.order.data(), 1);
  Reservation r;
  EXPECT_EQ(f.sel->pick(in, r).reason, NoPick::TooSmall);
}

TEST(Selector, OrderedInputIsAStrictPreference) {
  Fixture f({dep(5), dep(1), dep(1)});
  std::vector<size_t> pref = {2, 0, 1};
  std::vector<int> tiers = {0, 1, 2};
  PickInput in = f.input();
  in.deployments = pref;
  in.tiers = tiers;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(f.pickOnce(in), 2);
  f.state[2].cooldownUntilMs = in.nowMs + 1;
  EXPECT_EQ(f.pickOnce(in), 0);
  // A shared last tier: the strategy (weights 5:1) decides among the rest.
  f.state[2].cooldownUntilMs = 0;
  std::vector<int> shared = {1, 1, 1};
  in.tiers = shared;
  std::map<int, int> n;
  for (int i = 0; i < 14; ++i) ++n[f.pickOnce(in)];
  EXPECT_EQ(n[0], 10);
  EXPECT_EQ(n[1], 2);
  EXPECT_EQ(n[2], 2);
}

TEST(State, MinuteCounterResetsWithTheMinute) {
  MinuteCounter c;
  c.add(5, 3);
  EXPECT_EQ(c.get(5), 3u);
  EXPECT_EQ(c.get(6), 0u);
  EXPECT_TRUE(c.tryAdd(5, 2, 5));
  EXPECT_FALSE(c.tryAdd(5, 1, 5));
  c.sub(5, 4);
  EXPECT_EQ(c.get(5), 1u);
  c.add(6, 1);
  EXPECT_EQ(c.get(6), 1u);
  EXPECT_EQ(c.get(5), 0u);
  c.sub(5, 1);  // an old minute's correction does not touch the new one
  EXPECT_EQ(c.get(6), 1u);
}

TEST(State, EwmaWeighsTheNewestSampleByAQuarter) {
  Ewma e;
  EXPECT_EQ(e.get(), 0u);
  e.observe(1000);
  EXPECT_EQ(e.get(), 1000u);
  e.observe(2000);
  EXPECT_EQ(e.get(), 1250u);
}

}  // namespace
}  // namespace llmux::router
