// Micro-benchmarks of the routing decision on the happy path: Selector::pick + settle for a
// single-deployment group and for groups of three (each strategy), plus the result bookkeeping
// the engine does per attempt (minute counters, latency average).
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "router/policy.hpp"
#include "router/select.hpp"

namespace {

using llmux::config::RoutingStrategy;
using namespace llmux::router;  // NOLINT(google-build-using-namespace): benchmark file

struct Group {
  std::vector<DeploymentInfo> info;
  std::unique_ptr<DeploymentState[]> state;
  std::vector<size_t> order;
  Selector sel;
  Group(size_t n, RoutingStrategy s, bool limits)
      : info(n),
        state(std::make_unique<DeploymentState[]>(n)),
        sel(info, std::span<DeploymentState>(state.get(), n), s, 0.0, 1) {
    for (size_t i = 0; i < n; ++i) {
      order.push_back(i);
      info[i].costPerToken = 1e-6 * static_cast<double>(i + 1);
      if (limits) {
        info[i].rpm = 1ull << 40;
        info[i].tpm = 1ull << 40;
        info[i].maxParallel = 1 << 30;
      }
    }
  }
};

void pickOnce(benchmark::State& st, size_t n, RoutingStrategy s, bool limits) {
  Group g(n, s, limits);
  PickInput in;
  in.deployments = g.order;
  in.nowMs = 1000;
  in.minute = 7;
  in.promptTokens = 40;
  for (auto _ : st) {
    Reservation r;
    Pick p = g.sel.pick(in, r);
    benchmark::DoNotOptimize(p);
    g.sel.settle(r, true, 60);
    // What Engine::recordResult adds on success.
    DeploymentState& d = g.state[static_cast<size_t>(p.deployment)];
    d.successes.add(in.minute, 1);
    d.latencyUs.observe(500);
    d.usPerOutputToken.observe(25);
  }
}

void BM_Pick_Single(benchmark::State& st) {
  pickOnce(st, 1, RoutingStrategy::SimpleShuffle, false);
}
void BM_Pick_Three_Shuffle(benchmark::State& st) {
  pickOnce(st, 3, RoutingStrategy::SimpleShuffle, false);
}
void BM_Pick_Three_Shuffle_Limits(benchmark::State& st) {
  pickOnce(st, 3, RoutingStrategy::SimpleShuffle, true);
}
void BM_Pick_Three_LeastBusy(benchmark::State& st) {
  pickOnce(st, 3, RoutingStrategy::LeastBusy, false);
}
void BM_Pick_Three_Latency(benchmark::State& st) {
  pickOnce(st, 3, RoutingStrategy::LatencyBased, false);
}
void BM_Pick_Three_Usage(benchmark::State& st) {
  pickOnce(st, 3, RoutingStrategy::UsageBased, true);
}
void BM_Pick_Three_Cost(benchmark::State& st) {
  pickOnce(st, 3, RoutingStrategy::CostBased, false);
}

BENCHMARK(BM_Pick_Single);
BENCHMARK(BM_Pick_Three_Shuffle);
BENCHMARK(BM_Pick_Three_Shuffle_Limits);
BENCHMARK(BM_Pick_Three_LeastBusy);
BENCHMARK(BM_Pick_Three_Latency);
BENCHMARK(BM_Pick_Three_Usage);
BENCHMARK(BM_Pick_Three_Cost);

}  // namespace
