#include "governance/local_limiter.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>

namespace llmux::governance {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;  // a round-ish unix ms (…000 s exactly)

Descriptor desc(std::string id) {
  Descriptor d;
  d.kind = "api_key";
  d.name = id;
  d.id = std::move(id);
  return d;
}

AdmitRequest admitReq(const std::vector<Descriptor>& ds, int64_t nowMs, int64_t tokens = 0,
                      int64_t cost = 0, bool reserve = true) {
  AdmitRequest r;
  r.descriptors = &ds;
  r.nowMs = nowMs;
  r.tokens = tokens;
  r.costNano = cost;
  r.reserveBudget = reserve;
  return r;
}

SettleRequest settleReq(const std::vector<Descriptor>& ds, int64_t nowMs, int64_t reservedTokens,
                        int64_t actualTokens, int64_t reservedCost, int64_t actualCost,
                        bool reserve = true) {
  SettleRequest s;
  s.descriptors = &ds;
  s.nowMs = nowMs;
  s.reservedTokens = reservedTokens;
  s.actualTokens = actualTokens;
  s.reservedCostNano = reservedCost;
  s.actualCostNano = actualCost;
  s.reserveBudget = reserve;
  return s;
}

TEST(LocalLimiter, RequestsWindowAnchorsAtTheFirstRequest) {
  LocalLimiter lim;
  std::vector<Descriptor> ds{desc("key:a")};
  ds[0].rpm = 3;
  const int64_t start = kT0 + 10'000;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(lim.admit(admitReq(ds, start + i * 1000)).ok);
  AdmitResult r = lim.admit(admitReq(ds, start + 47'000));
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.failed, 0u);
  EXPECT_EQ(r.kind, LimitKind::Requests);
  EXPECT_EQ(r.limit, 3);
  EXPECT_EQ(r.current, 3);
  EXPECT_EQ(r.retryAfterS, 13);
  EXPECT_EQ(r.windowResetMs, start + 60'000);
  EXPECT_TRUE(r.remaining.requests.empty());
  // Still the same window just before 60 s; a new one from 60 s on.
  EXPECT_FALSE(lim.admit(admitReq(ds, start + 59'999)).ok);
  r = lim.admit(admitReq(ds, start + 60'000));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.remaining.requests[0], 2);
  EXPECT_EQ(r.windowResetMs, start + 120'000);
  EXPECT_EQ(lim.peek("key:a", start + 60'000).requests, 1);
}

TEST(LocalLimiter, RefusedRequestsAreNotCounted) {
  LocalLimiter lim;
  std::vector<Descriptor> ds{desc("key:a")};
  ds[0].rpm = 2;
  EXPECT_TRUE(lim.admit(admitReq(ds, kT0)).ok);
  EXPECT_TRUE(lim.admit(admitReq(ds, kT0)).ok);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(lim.admit(admitReq(ds, kT0 + i)).ok);
  EXPECT_EQ(lim.peek("key:a", kT0).requests, 2);
}

TEST(LocalLimiter, ClockReadsSlightlyOutOfOrderStayInTheWindow) {
  LocalLimiter lim;
  std::vector<Descriptor> ds{desc("key:a")};
  ds[0].rpm = 5;
  ASSERT_TRUE(lim.admit(admitReq(ds, kT0 + 500)).ok);
  // Another thread read the clock 300 ms earlier but admits later: same window, not a new one.
  ASSERT_TRUE(lim.admit(admitReq(ds, kT0 + 200)).ok);
  EXPECT_EQ(lim.peek("key:a", kT0 + 500).requests, 2);
}

TEST(LocalLimiter, TokensReserveAndSettle) {
  LocalLimiter lim;
  std::vector<Descriptor> ds{desc("key:a")};
  ds[0].tpm = 1000;
  EXPECT_TRUE(lim.admit(admitReq(ds, kT0, 400)).ok);
  AdmitResult r = lim.admit(admitReq(ds, kT0, 400));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.remaining.tokens[0], 200);
  EXPECT_EQ(r.remaining.requests[0], -1);
  r = lim.admit(admitReq(ds, kT0 + 1000, 400));
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.kind, LimitKind::Tokens);
  EXPECT_EQ(r.current, 800);
  EXPECT_EQ(r.limit, 1000);
  // The first request used 100 of its 400: 300 come back.
  lim.settle(settleReq(ds, kT0 + 2000, 400, 100, 0, 0), kT0);
  EXPECT_EQ(lim.peek("key:a", kT0 + 2000).tokens, 500);
  EXPECT_TRUE(lim.admit(admitReq(ds, kT0 + 2000, 400)).ok);
  // Using more than reserved adds the difference.
  lim.settle(settleReq(ds, kT0 + 3000, 400, 450, 0, 0), kT0);
  EXPECT_EQ(lim.peek("key:a", kT0 + 3000).tokens, 950);
}

TEST(LocalLimiter, ARequestLargerThanTheTpmIsAlwaysRefused) {
  LocalLimiter lim;
  std::vector<Descriptor> ds{desc("key:a")};
  ds[0].tpm = 100;
  const AdmitResult r = lim.admit(admitReq(ds, kT0, 101));
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.current, 0);
  EXPECT_EQ(r.retryAfterS, 60);
  EXPECT_FALSE(lim.peek("key:a", kT0).windowEndMs);
  EXPECT_TRUE(lim.admit(admitReq(ds, kT0, 100)).ok);
}

TEST(LocalLimiter, NegativeTokenCorrectionSkipsAWindowStartedAfterAdmission) {
  LocalLimiter lim;
  std::vector<Descriptor> ds{desc("key:a")};
  ds[0].tpm = 10'000;
  ASSERT_TRUE(lim.admit(admitReq(ds, kT0, 4000)).ok);
  // 70 s later (a long stream) another request opened a new window.
  ASSERT_TRUE(lim.admit(admitReq(ds, kT0 + 70'000, 500)).ok);
  lim.settle(settleReq(ds, kT0 + 71'000, 4000, 10, 0, 0), kT0);
  EXPECT_EQ(lim.peek("key:a", kT0 + 71'000).tokens, 500);
  // Without the admission time the correction lands in the live window (documented).
  lim.settle(settleReq(ds, kT0 + 71'000, 400, 100, 0, 0));
  EXPECT_EQ(lim.peek("key:a", kT0 + 71'000).tokens, 200);
  // A dead window takes no correction at all.
  lim.settle(settleReq(ds, kT0 + 200'000, 0, 999, 0, 0));
  EXPECT_EQ(lim.peek("key:a", kT0 + 200'000).tokens, 0);
}

TEST(LocalLimiter, ParallelSlots) {
  LocalLimiter lim;
  std::vector<Descriptor> ds{desc("key:a")};
  ds[0].parallel = 2;
  ASSERT_TRUE(lim.admit(admitReq(ds, kT0)).ok);
  AdmitResult r = lim.admit(admitReq(ds, kT0));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.remaining.parallel[0], 0);
  r = lim.admit(admitReq(ds, kT0));
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.kind, LimitKind::Parallel);
  EXPECT_EQ(r.current, 2);
  EXPECT_EQ(r.retryAfterS, 1);
  lim.settle(settleReq(ds, kT0, 0, 0, 0, 0));
  EXPECT_EQ(lim.peek("key:a", kT0).parallel, 1);
  EXPECT_TRUE(lim.admit(admitReq(ds, kT0)).ok);
}

TEST(LocalLimiter, BudgetReservationHoldsUnderConcurrentRequests) {
  LocalLimiter lim;
  std::vector<Descriptor> ds{desc("team:ml")};
  ds[0].maxBudgetNano = toNano(1.0);
  const int64_t cost = toNano(0.4);
  ASSERT_TRUE(lim.admit(admitReq(ds, kT0, 0, cost)).ok);
  AdmitResult r = lim.admit(admitReq(ds, kT0, 0, cost));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.remaining.budgetNano[0], toNano(0.2));
  r = lim.admit(admitReq(ds, kT0, 0, cost));
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.kind, LimitKind::Budget);
  EXPECT_EQ(r.limit, toNano(1.0));
  EXPECT_EQ(r.current, toNano(0.8));
  EXPECT_EQ(r.retryAfterS, 0);  // no reset known
  lim.settle(settleReq(ds, kT0, 0, 0, cost, toNano(0.1)));
  const auto snap = lim.peek("team:ml", kT0);
  EXPECT_EQ(snap.spentNano, toNano(0.1));
  EXPECT_EQ(snap.reservedNano, cost);
  EXPECT_TRUE(lim.admit(admitReq(ds, kT0, 0, cost)).ok);  // 0.1 + 0.4 + 0.4 <= 1
}

TEST(LocalLimiter, ExhaustedBudgetRefusesEvenFreeRequests) {
  LocalLimiter lim;
  std::vector<Descriptor> ds{desc("key:a")};
  ds[0].maxBudgetNano = toNano(1.0);
  ASSERT_TRUE(lim.admit(admitReq(ds, kT0, 0, toNano(1.0))).ok);  // fits exactly
  lim.settle(settleReq(ds, kT0, 0, 0, toNano(1.0), toNano(1.0)));
  const AdmitResult r = lim.admit(admitReq(ds, kT0, 0, 0));  // an unpriced model
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.kind, LimitKind::Budget);
  std::vector<Descriptor> zero{desc("key:z")};
  zero[0].maxBudgetNano = 0;
  EXPECT_FALSE(lim.admit(admitReq(zero, kT0, 0, 0)).ok);
}

TEST(LocalLimiter, CheckThenSpendWithoutReservation) {
  LocalLimiter lim;
  std::vector<Descriptor> ds{desc("key:a")};
  ds[0].maxBudgetNano = toNano(1.0);
  // Reservation off: admitted while spent < max, whatever the cost.
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(lim.admit(admitReq(ds, kT0, 0, toNano(5), false)).ok);
  lim.settle(settleReq(ds, kT0, 0, 0, toNano(5), toNano(0.6), false));
  EXPECT_TRUE(lim.admit(admitReq(ds, kT0, 0, 0, false)).ok);
  lim.settle(settleReq(ds, kT0, 0, 0, 0, toNano(0.4), false));
  const AdmitResult r = lim.admit(admitReq(ds, kT0, 0, 0, false));
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.current, toNano(1.0));
  EXPECT_EQ(lim.peek("key:a", kT0).reservedNano, 0);
}

TEST(LocalLimiter, BudgetBaselineFollowsTheDatabaseView) {
  LocalLimiter lim;
  std::vector<Descriptor> ds{desc("key:a")};
  ds[0].maxBudgetNano = toNano(1.0);
  ds[0].dbSpendNano = toNano(0.9);
  ds[0].budgetPeriod = kT0 + 3'600'000;  // budget_reset_at
  AdmitResult r = lim.admit(admitReq(ds, kT0, 0, toNano(0.2)));
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.current, toNano(0.9));
  EXPECT_EQ(r.retryAfterS, 3600);
  EXPECT_EQ(r.windowResetMs, kT0 + 3'600'000);
  // Same period, another instance wrote more spend: max(local, db).
  ds[0].dbSpendNano = toNano(0.95);
  r = lim.admit(admitReq(ds, kT0, 0, toNano(0.06)));
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.current, toNano(0.95));
  // A lower db value in the same period does not lower local spend.
  ds[0].dbSpendNano = toNano(0.5);
  EXPECT_FALSE(lim.admit(admitReq(ds, kT0, 0, toNano(0.06))).ok);
  // The budget was reset in the database: a newer period restarts from its spend.
  ds[0].dbSpendNano = 0;
  ds[0].budgetPeriod = kT0 + 7'200'000;
  ASSERT_TRUE(lim.admit(admitReq(ds, kT0, 0, toNano(0.2))).ok);
  EXPECT_EQ(lim.peek("key:a", kT0).spentNano, 0);
  EXPECT_EQ(lim.peek("key:a", kT0).reservedNano, toNano(0.2));  // kept across the rebase
  // A stale view (older period) is ignored.
  std::vector<Descriptor> stale = ds;
  stale[0].dbSpendNano = toNano(0.99);
  stale[0].budgetPeriod = kT0 + 3'600'000;
  EXPECT_TRUE(lim.admit(admitReq(stale, kT0, 0, toNano(0.2))).ok);
  EXPECT_EQ(lim.peek("key:a", kT0).spentNano, 0);
}

TEST(LocalLimiter, ResetBudgetIgnoresStaleViewsUntilANewPeriod) {
  LocalLimiter lim;
  std::vector<Descriptor> ds{desc("user:u")};
  ds[0].maxBudgetNano = toNano(1.0);
  ASSERT_TRUE(lim.admit(admitReq(ds, kT0, 0, toNano(0.5))).ok);
  lim.settle(settleReq(ds, kT0, 0, 0, toNano(0.5), toNano(0.5)));
  ASSERT_TRUE(lim.admit(admitReq(ds, kT0, 0, toNano(0.3))).ok);  // in flight
  EXPECT_FALSE(lim.resetBudget("user:none"));
  ASSERT_TRUE(lim.resetBudget("user:u"));
  auto snap = lim.peek("user:u", kT0);
  EXPECT_EQ(snap.spentNano, 0);
  EXPECT_EQ(snap.reservedNano, toNano(0.3));
  // A view loaded before the reset still says 0.9 spent: ignored.
  ds[0].dbSpendNano = toNano(0.9);
  EXPECT_TRUE(lim.admit(admitReq(ds, kT0, 0, toNano(0.6))).ok);
  EXPECT_EQ(lim.peek("user:u", kT0).spentNano, 0);
  // The next period's view is taken again.
  ds[0].budgetPeriod = 1;
  ds[0].dbSpendNano = toNano(0.05);
  EXPECT_FALSE(lim.admit(admitReq(ds, kT0, 0, toNano(0.1))).ok);  // 0.05 + 0.9 in flight
  EXPECT_EQ(lim.peek("user:u", kT0).spentNano, toNano(0.05));
  lim.resetAll();
  EXPECT_EQ(lim.peek("user:u", kT0).spentNano, 0);
}

TEST(LocalLimiter, PartialRefusalRollsBackEveryCounterTaken) {
  LocalLimiter lim;
  std::vector<Descriptor> ds{desc("key:k"), desc("team:t")};
  ds[0].rpm = 100;
  ds[0].tpm = 10'000;
  ds[0].parallel = 10;
  ds[0].maxBudgetNano = toNano(10);
  ds[1].kind = "team";
  ds[1].rpm = 1;
  ASSERT_TRUE(lim.admit(admitReq(ds, kT0, 100, toNano(1))).ok);
  const auto before = lim.peek("key:k", kT0);
  const AdmitResult r = lim.admit(admitReq(ds, kT0 + 5000, 100, toNano(1)));
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.failed, 1u);
  const auto after = lim.peek("key:k", kT0 + 5000);
  EXPECT_EQ(after.requests, before.requests);
  EXPECT_EQ(after.tokens, before.tokens);
  EXPECT_EQ(after.parallel, before.parallel);
  EXPECT_EQ(after.reservedNano, before.reservedNano);
  EXPECT_EQ(after.windowEndMs, before.windowEndMs);
}

TEST(LocalLimiter, RollbackLeavesNoWindowAnchoredByARefusedRequest) {
  LocalLimiter lim;
  std::vector<Descriptor> ds{desc("key:k"), desc("team:t")};
  ds[0].rpm = 5;
  ds[1].maxBudgetNano = 0;  // refuses any reservation with a cost
  ASSERT_FALSE(lim.admit(admitReq(ds, kT0, 0, 1)).ok);
  EXPECT_EQ(lim.peek("key:k", kT0).windowEndMs, 0);
  // The window anchors at the first admitted request, 30 s later.
  ds[1].maxBudgetNano.reset();
  ASSERT_TRUE(lim.admit(admitReq(ds, kT0 + 30'000)).ok);
  EXPECT_EQ(lim.peek("key:k", kT0 + 30'000).windowEndMs, kT0 + 90'000);
}

TEST(LocalLimiter, SameCountersAcrossDescriptorLists) {
  LocalLimiter lim;
  std::vector<Descriptor> a{desc("key:1"), desc("team:x")};
  std::vector<Descriptor> b{desc("key:2"), desc("team:x")};
  a[1].rpm = b[1].rpm = 3;
  EXPECT_TRUE(lim.admit(admitReq(a, kT0)).ok);
  EXPECT_TRUE(lim.admit(admitReq(b, kT0)).ok);
  EXPECT_TRUE(lim.admit(admitReq(a, kT0)).ok);
  const AdmitResult r = lim.admit(admitReq(b, kT0));
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.failed, 1u);
  EXPECT_EQ(lim.size(), 3u);
}

TEST(LocalLimiter, RemainingAndTightestWindow) {
  LocalLimiter lim;
  std::vector<Descriptor> ds{desc("key:k"), desc("team:t"), desc("user:u")};
  ds[0].rpm = 10;
  ds[1].rpm = 4;
  ds[1].tpm = 1000;
  ds[2].parallel = 3;
  ds[2].maxBudgetNano = toNano(2);
  // team:t's window starts 20 s before key:k's.
  std::vector<Descriptor> team{ds[1]};
  ASSERT_TRUE(lim.admit(admitReq(team, kT0, 100)).ok);
  const AdmitResult r = lim.admit(admitReq(ds, kT0 + 20'000, 100, toNano(0.5)));
  ASSERT_TRUE(r.ok);
  EXPECT_THAT(r.remaining.requests, ::testing::ElementsAre(9, 2, -1));
  EXPECT_THAT(r.remaining.tokens, ::testing::ElementsAre(-1, 800, -1));
  EXPECT_THAT(r.remaining.parallel, ::testing::ElementsAre(-1, -1, 2));
  EXPECT_THAT(r.remaining.budgetNano, ::testing::ElementsAre(-1, -1, toNano(1.5)));
  EXPECT_EQ(r.windowResetMs, kT0 + 60'000);  // team:t has the fewest requests left
}

TEST(LocalLimiter, DivisorSplitsLimitsBetweenInstances) {
  LocalLimiter lim(3);
  EXPECT_EQ(lim.divisor(), 3);
  std::vector<Descriptor> ds{desc("key:k")};
  ds[0].rpm = 10;  // 10 / 3 = 3
  int admitted = 0;
  for (int i = 0; i < 10; ++i) admitted += lim.admit(admitReq(ds, kT0)).ok;
  EXPECT_EQ(admitted, 3);

  std::vector<Descriptor> small{desc("key:s")};
  small[0].parallel = 2;  // at least 1
  EXPECT_TRUE(lim.admit(admitReq(small, kT0)).ok);
  const AdmitResult r = lim.admit(admitReq(small, kT0));
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.limit, 1);

  std::vector<Descriptor> zero{desc("key:z")};
  zero[0].rpm = 0;  // a zero limit stays zero
  EXPECT_FALSE(lim.admit(admitReq(zero, kT0)).ok);

  // Budget: 1/3 of the headroom left at the last database load.
  std::vector<Descriptor> budget{desc("team:b")};
  budget[0].maxBudgetNano = toNano(1.0);
  budget[0].dbSpendNano = toNano(0.4);
  admitted = 0;
  for (int i = 0; i < 5; ++i) admitted += lim.admit(admitReq(budget, kT0, 0, toNano(0.1))).ok;
  EXPECT_EQ(admitted, 2);  // 0.4 + 0.2 <= 0.4 + 0.6 / 3

  lim.setDivisor(0);
  EXPECT_EQ(lim.divisor(), 1);
}

TEST(LocalLimiter, HandlesResolveOnceAndMatchIds) {
  LocalLimiter lim;
  std::vector<Descriptor> ds{desc("key:k"), desc("team:t")};
  ds[1].rpm = 2;
  std::vector<LocalLimiter::Handle> handles;
  lim.resolve(ds, handles);
  ASSERT_EQ(handles.size(), 2u);
  EXPECT_TRUE(handles[0]);
  EXPECT_FALSE(LocalLimiter::Handle{});
  EXPECT_EQ(handles[1], lim.resolve("team:t"));
  EXPECT_NE(handles[0], handles[1]);
  AdmitResult out;
  lim.admit(admitReq(ds, kT0), handles, out);
  EXPECT_TRUE(out.ok);
  EXPECT_TRUE(lim.admit(admitReq(ds, kT0)).ok);  // by id: same counters
  lim.admit(admitReq(ds, kT0), handles, out);
  EXPECT_FALSE(out.ok);
  EXPECT_TRUE(out.remaining.requests.empty());
  EXPECT_EQ(lim.size(), 2u);
}

TEST(LocalLimiter, MissingHandlesAreResolvedNotSkipped) {
  LocalLimiter lim;
  std::vector<Descriptor> ds{desc("key:k"), desc("team:t")};
  ds[1].rpm = 1;
  const std::vector<LocalLimiter::Handle> partial{lim.resolve("key:k")};
  AdmitResult out;
  lim.admit(admitReq(ds, kT0), partial, out);
  ASSERT_TRUE(out.ok);
  const std::vector<LocalLimiter::Handle> unresolved(2);
  lim.admit(admitReq(ds, kT0), unresolved, out);
  EXPECT_FALSE(out.ok);  // team:t was counted by the first admission
  EXPECT_EQ(out.failed, 1u);
}

TEST(LocalLimiter, ManyDescriptorsAndEmptyRequests) {
  LocalLimiter lim;
  std::vector<Descriptor> ds;
  for (int i = 0; i < 40; ++i) {
    ds.push_back(desc("d:" + std::to_string(i)));
    ds.back().rpm = 1;
  }
  EXPECT_TRUE(lim.admit(admitReq(ds, kT0)).ok);
  const AdmitResult r = lim.admit(admitReq(ds, kT0));
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.failed, 0u);
  lim.settle(settleReq(ds, kT0, 0, 0, 0, 0));
  AdmitRequest none;
  EXPECT_TRUE(lim.admit(none).ok);
  lim.settle(SettleRequest{});
}

TEST(LocalLimiter, RegistryGrowsUnderConcurrentCreation) {
  LocalLimiter lim;
  constexpr int kIds = 5000;
  constexpr int kThreads = 8;
  std::vector<std::vector<LocalLimiter::Handle>> seen(kThreads,
                                                      std::vector<LocalLimiter::Handle>(kIds));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<int> order(kIds);
      for (int i = 0; i < kIds; ++i) order[i] = i;
      std::shuffle(order.begin(), order.end(), std::mt19937(t));
      for (int i : order) seen[t][i] = lim.resolve("end_user:" + std::to_string(i));
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(lim.size(), static_cast<size_t>(kIds));
  for (int t = 1; t < kThreads; ++t) EXPECT_EQ(seen[t], seen[0]);
  for (int i = 0; i < kIds; i += 97) {
    EXPECT_EQ(lim.resolve("end_user:" + std::to_string(i)), seen[0][i]);
  }
}

// 8 threads admit and settle against three shared descriptors: no limit is ever exceeded, and
// everything taken is given back.
TEST(LocalLimiter, ConcurrentAdmitSettleNeverExceedsLimits) {
  LocalLimiter lim;
  std::vector<Descriptor> ds{desc("key:k"), desc("team:t"), desc("user:u")};
  ds[0].rpm = 30'000;
  ds[0].tpm = 3'000'000;
  ds[1].parallel = 4;
  ds[2].maxBudgetNano = 20'000;
  constexpr int kThreads = 8;
  constexpr int kAttempts = 20'000;
  std::atomic<int> inFlight{0};
  std::atomic<int> maxInFlight{0};
  std::atomic<int64_t> admitted{0};
  std::atomic<int64_t> spentTotal{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<LocalLimiter::Handle> handles;
      lim.resolve(ds, handles);
      AdmitResult out;
      std::mt19937 rng(t);
      for (int i = 0; i < kAttempts; ++i) {
        lim.admit(admitReq(ds, kT0, 100, 3), handles, out);
        if (!out.ok) continue;
        const int now = inFlight.fetch_add(1) + 1;
        int prev = maxInFlight.load();
        while (now > prev && !maxInFlight.compare_exchange_weak(prev, now)) {
        }
        admitted.fetch_add(1);
        const int64_t actual = static_cast<int64_t>(rng() % 4);  // 0..3 <= reserved 3
        spentTotal.fetch_add(actual);
        inFlight.fetch_sub(1);
        lim.settle(settleReq(ds, kT0, 100, 50, 3, actual), handles, kT0);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(maxInFlight.load(), 4);
  EXPECT_LE(admitted.load(), 30'000);
  const auto key = lim.peek("key:k", kT0);
  EXPECT_EQ(key.requests, admitted.load());
  EXPECT_EQ(key.tokens, admitted.load() * 50);
  EXPECT_EQ(lim.peek("team:t", kT0).parallel, 0);
  const auto user = lim.peek("user:u", kT0);
  EXPECT_EQ(user.reservedNano, 0);
  EXPECT_EQ(user.spentNano, spentTotal.load());
  EXPECT_LE(user.spentNano, 20'000);
  EXPECT_GT(admitted.load(), 1000);
}

// With every admission kept (no settle), the counts land exactly on the limits.
TEST(LocalLimiter, ConcurrentAdmissionsStopExactlyAtTheLimits) {
  LocalLimiter lim;
  std::vector<Descriptor> ds{desc("key:k"), desc("team:t"), desc("user:u")};
  ds[0].rpm = 5000;
  ds[1].tpm = 1'000'000;       // 200 tokens each: room for 5000
  ds[2].maxBudgetNano = 4000;  // cost 1 each: room for 4000
  std::atomic<int64_t> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) admitted += lim.admit(admitReq(ds, kT0 + i, 200, 1)).ok;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(admitted.load(), 4000);
  EXPECT_EQ(lim.peek("key:k", kT0 + 2000).requests, 4000);
  EXPECT_EQ(lim.peek("team:t", kT0 + 2000).tokens, 800'000);
  EXPECT_EQ(lim.peek("user:u", kT0).reservedNano, 4000);
}

}  // namespace
}  // namespace llmux::governance
