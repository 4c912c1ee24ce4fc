#include "kv/redis_limiter.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <random>
#include <thread>

#include "kv/limiter_scripts.hpp"
#include "unit/kv/redis_fixture.hpp"

namespace llmux::kv {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using governance::AdmitRequest;
using governance::AdmitResult;
using governance::Descriptor;
using governance::LimitKind;
using governance::SettleRequest;
using test::RedisServer;
using test::runCo;
using test::runUntil;

constexpr int64_t kT = 1'700'000'000'000;  // a realistic unix-ms "now" for injected clocks

Descriptor desc(std::string id, std::optional<int64_t> rpm = {}, std::optional<int64_t> tpm = {},
                std::optional<int64_t> parallel = {}, std::optional<int64_t> budget = {}) {
  Descriptor d;
  d.id = std::move(id);
  d.kind = "api_key";
  d.name = d.id;
  d.rpm = rpm;
  d.tpm = tpm;
  d.parallel = parallel;
  d.maxBudgetNano = budget;
  return d;
}

ConnectionConfig configFor(const RedisServer& s) {
  ConnectionConfig c;
  c.port = s.port();
  c.connectTimeout = 300ms;
  c.commandTimeout = 150ms;
  c.reconnectMin = 10ms;
  c.reconnectMax = 100ms;
  return c;
}

// One limiter on one io_context (the test thread).
struct Node {
  explicit Node(const RedisServer& s, LimiterConfig lc = {}) {
    conn = RedisConnection::create(io.get_executor(), configFor(s));
    conn->start();
    lim = std::make_unique<RedisLimiter>(conn, std::move(lc));
    runUntil(
        io, [&] { return conn->healthy(); }, 3000ms);
  }
  AdmitResult admit(const std::vector<Descriptor>& ds, int64_t now, int64_t tokens = 0,
                    int64_t cost = 0, bool reserve = true) {
    AdmitRequest r{&ds, tokens, cost, reserve, now};
    auto res = runCo(io, lim->admit(r));
    return res.value_or(AdmitResult{});
  }
  void settle(const std::vector<Descriptor>& ds, int64_t now, int64_t reservedTokens,
              int64_t actualTokens, int64_t reservedCost = 0, int64_t actualCost = 0,
              bool reserve = true) {
    lim->settle(
        SettleRequest{&ds, reservedTokens, actualTokens, reservedCost, actualCost, reserve, now});
  }
  bool flush() { return runCo(io, lim->flush()).value_or(false); }

  net::io_context io;
  std::shared_ptr<RedisConnection> conn;
  std::unique_ptr<RedisLimiter> lim;
};

#define START_REDIS(srv) \
  LLMUX_REQUIRE_REDIS(); \
  RedisServer srv;       \
  ASSERT_TRUE(srv.start())

TEST(RedisLimiter, RpmExactAtTheLimitWithAnchoredWindows) {
  START_REDIS(srv);
  Node a(srv);
  ASSERT_TRUE(a.lim->available());
  const std::vector<Descriptor> ds = {desc("key:a", 5)};
  for (int i = 0; i < 5; ++i) {
    auto r = a.admit(ds, kT + i);
    ASSERT_TRUE(r.ok) << i;
    ASSERT_EQ(r.remaining.requests.size(), 1u);
    EXPECT_EQ(r.remaining.requests[0], 4 - i);
    EXPECT_EQ(r.remaining.tokens[0], -1);
    EXPECT_EQ(r.remaining.parallel[0], -1);
    EXPECT_EQ(r.remaining.budgetNano[0], -1);
  }
  auto no = a.admit(ds, kT + 10'000);
  EXPECT_FALSE(no.ok);
  EXPECT_FALSE(no.unavailable);
  EXPECT_EQ(no.failed, 0u);
  EXPECT_EQ(no.kind, LimitKind::Requests);
  EXPECT_EQ(no.limit, 5);
  EXPECT_EQ(no.current, 5);
  EXPECT_EQ(no.retryAfterS, 50);
  EXPECT_EQ(no.windowResetMs, kT + 60'000);
  // Refusals are not counted, and the window ends exactly 60 s after its first request.
  auto last = a.admit(ds, kT + 59'999);
  EXPECT_FALSE(last.ok);
  EXPECT_EQ(last.current, 5);
  EXPECT_EQ(last.retryAfterS, 1);
  // A new window starts at the first request after the old one ended (not at kT + 120 s).
  auto fresh = a.admit(ds, kT + 75'000);
  ASSERT_TRUE(fresh.ok);
  EXPECT_EQ(fresh.remaining.requests[0], 4);
  EXPECT_EQ(srv.query({"HGET", "{llmux:key:a}:win", "rs"}), std::to_string(kT + 75'000));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(a.admit(ds, kT + 80'000).ok);
  auto full = a.admit(ds, kT + 134'999);
  EXPECT_FALSE(full.ok);
  EXPECT_EQ(full.retryAfterS, 1);
  EXPECT_EQ(full.windowResetMs, kT + 135'000);
  EXPECT_TRUE(a.admit(ds, kT + 135'000).ok);

  // rpm 0 blocks; the refusal does not start a window.
  const std::vector<Descriptor> zero = {desc("key:zero", 0)};
  auto z = a.admit(zero, kT);
  EXPECT_FALSE(z.ok);
  EXPECT_EQ(z.retryAfterS, 60);
  EXPECT_EQ(srv.query({"EXISTS", "{llmux:key:zero}:win"}), "0");
  EXPECT_EQ(a.conn->stats().commands.load(), a.lim->stats().admits.load() + 2)
      << "one round trip per admit, plus the two SCRIPT LOADs";
}

TEST(RedisLimiter, AllOrNothingAcrossDescriptors) {
  START_REDIS(srv);
  Node a(srv);
  const std::vector<Descriptor> ds = {desc("key:k", 10, 1000, 5), desc("team:t", 2),
                                      desc("user:u", {}, {}, {}, 1'000'000)};
  ASSERT_TRUE(a.admit(ds, kT, 100, 1000).ok);
  auto second = a.admit(ds, kT + 1, 100, 1000);
  ASSERT_TRUE(second.ok);
  ASSERT_EQ(second.remaining.requests.size(), 3u);
  EXPECT_THAT(second.remaining.requests, ::testing::ElementsAre(8, 0, -1));
  EXPECT_THAT(second.remaining.tokens, ::testing::ElementsAre(800, -1, -1));
  EXPECT_THAT(second.remaining.parallel, ::testing::ElementsAre(3, -1, -1));
  EXPECT_THAT(second.remaining.budgetNano, ::testing::ElementsAre(-1, -1, 1'000'000 - 2000));
  auto third = a.admit(ds, kT + 2, 100, 1000);
  EXPECT_FALSE(third.ok);
  EXPECT_EQ(third.failed, 1u);
  EXPECT_EQ(third.kind, LimitKind::Requests);
  // Nothing was taken from the descriptors that would have admitted.
  EXPECT_EQ(srv.query({"HGET", "{llmux:key:k}:win", "rn"}), "2");
  EXPECT_EQ(srv.query({"HGET", "{llmux:key:k}:win", "tn"}), "200");
  EXPECT_EQ(srv.query({"HGET", "{llmux:key:k}:in", a.lim->instanceId() + ":p"}), "2");
  EXPECT_EQ(srv.query({"HGET", "{llmux:user:u}:in", a.lim->instanceId() + ":r"}), "2000");

  // No descriptors: admitted without a round trip.
  const auto before = a.conn->stats().commands.load();
  const std::vector<Descriptor> none;
  EXPECT_TRUE(a.admit(none, kT).ok);
  EXPECT_EQ(a.conn->stats().commands.load(), before);
}

TEST(RedisLimiter, TpmReservationAndSettleTrueUp) {
  START_REDIS(srv);
  Node a(srv);
  const std::vector<Descriptor> ds = {desc("key:tpm", {}, 1000)};
  auto r1 = a.admit(ds, kT, 600);
  ASSERT_TRUE(r1.ok);
  EXPECT_EQ(r1.remaining.tokens[0], 400);
  auto r2 = a.admit(ds, kT + 1, 600);
  EXPECT_FALSE(r2.ok);
  EXPECT_EQ(r2.kind, LimitKind::Tokens);
  EXPECT_EQ(r2.current, 600);
  EXPECT_EQ(r2.limit, 1000);
  EXPECT_EQ(r2.retryAfterS, 60);

  a.settle(ds, kT + 2, 600, 100);  // used far less than reserved
  ASSERT_TRUE(a.flush());
  EXPECT_EQ(srv.query({"HGET", "{llmux:key:tpm}:win", "tn"}), "100");
  auto r3 = a.admit(ds, kT + 3, 600);
  ASSERT_TRUE(r3.ok);
  EXPECT_EQ(r3.remaining.tokens[0], 300);

  a.settle(ds, kT + 4, 600, 800);  // used more than reserved
  ASSERT_TRUE(a.flush());
  EXPECT_EQ(srv.query({"HGET", "{llmux:key:tpm}:win", "tn"}), "900");
  EXPECT_FALSE(a.admit(ds, kT + 5, 200).ok);
  EXPECT_TRUE(a.admit(ds, kT + 6, 100).ok);

  // A settle for a request this limiter did not admit (fail_open) releases nothing.
  a.settle(ds, kT + 7, 500, 0);
  ASSERT_TRUE(a.flush());
  EXPECT_EQ(srv.query({"HGET", "{llmux:key:tpm}:win", "tn"}), "900");  // 100 outstanding - 100
}

TEST(RedisLimiter, ParallelSlotsAreReleasedOnceAndInTheBackground) {
  START_REDIS(srv);
  LimiterConfig lc;
  lc.flushInterval = 10ms;
  Node a(srv, lc);
  const std::vector<Descriptor> ds = {desc("key:par", {}, {}, 2)};
  ASSERT_TRUE(a.admit(ds, kT).ok);
  auto second = a.admit(ds, kT);
  ASSERT_TRUE(second.ok);
  EXPECT_EQ(second.remaining.parallel[0], 0);
  auto third = a.admit(ds, kT);
  EXPECT_FALSE(third.ok);
  EXPECT_EQ(third.kind, LimitKind::Parallel);
  EXPECT_EQ(third.current, 2);
  EXPECT_EQ(third.retryAfterS, 1);

  const std::string field = a.lim->instanceId() + ":p";
  a.settle(ds, kT, 0, 0);  // no flush(): the interval flush must carry it
  EXPECT_EQ(a.lim->pendingSettleEntries(), 0u) << "nothing relative to send, only the release";
  ASSERT_TRUE(runUntil(
      a.io,
      [&] {
        return srv.query({"HGET", "{llmux:key:par}:in", field}) == "1";
      },
      1000ms));
  EXPECT_TRUE(a.admit(ds, kT).ok);

  // Three settles for two slots: the extra one releases nothing.
  for (int i = 0; i < 3; ++i) a.settle(ds, kT, 0, 0);
  ASSERT_TRUE(a.flush());
  EXPECT_EQ(srv.query({"HGET", "{llmux:key:par}:in", field}), "(nil)");
  EXPECT_TRUE(a.admit(ds, kT).ok);
  EXPECT_TRUE(a.admit(ds, kT).ok);
  EXPECT_FALSE(a.admit(ds, kT).ok);
}

TEST(RedisLimiter, SlotsOfADeadInstanceExpireWithItsLease) {
  START_REDIS(srv);
  LimiterConfig lc;
  lc.lease = 2000ms;
  const std::vector<Descriptor> ds = {desc("key:lease", {}, {}, 2, 1000)};
  {
    Node dead(srv, lc);
    ASSERT_TRUE(dead.admit(ds, kT, 0, 400).ok);
    ASSERT_TRUE(dead.admit(ds, kT, 0, 400).ok);
  }  // gone without settling (a crash)
  Node b(srv, lc);
  auto blocked = b.admit(ds, kT + 1000, 0, 100);
  EXPECT_FALSE(blocked.ok);
  EXPECT_EQ(blocked.kind, LimitKind::Parallel);
  auto after = b.admit(ds, kT + 2001, 0, 100);  // the dead instance's lease ended at kT + 2000
  ASSERT_TRUE(after.ok);
  EXPECT_EQ(after.remaining.parallel[0], 1);
  EXPECT_EQ(after.remaining.budgetNano[0], 900) << "its reservations are gone as well";
}

TEST(RedisLimiter, BudgetSeedingAndPeriodChange) {
  START_REDIS(srv);
  Node a(srv);
  const int64_t p1 = kT + 3'600'000;
  Descriptor d = desc("team:b", {}, {}, {}, 100);
  d.dbSpendNano = 90;
  d.budgetPeriod = p1;
  const std::vector<Descriptor> v1 = {d};
  auto r1 = a.admit(v1, kT, 0, 5);
  ASSERT_TRUE(r1.ok);
  EXPECT_EQ(r1.remaining.budgetNano[0], 5);
  auto r2 = a.admit(v1, kT, 0, 6);
  EXPECT_FALSE(r2.ok);
  EXPECT_EQ(r2.kind, LimitKind::Budget);
  EXPECT_EQ(r2.current, 95) << "spend plus what is reserved in flight, like LocalLimiter";
  EXPECT_EQ(r2.limit, 100);
  EXPECT_EQ(r2.retryAfterS, 3600);
  a.settle(v1, kT, 0, 0, 5, 4);  // cost 4 of the 5 reserved
  ASSERT_TRUE(a.flush());
  EXPECT_EQ(srv.query({"HGET", "{llmux:team:b}:bg", "s"}), "94");
  EXPECT_EQ(srv.query({"HGET", "{llmux:team:b}:in", a.lim->instanceId() + ":r"}), "(nil)");

  // The budget was reset: the next view carries a later period and the database's new spend.
  Descriptor d2 = d;
  d2.dbSpendNano = 0;
  d2.budgetPeriod = p1 + 86'400'000;
  const std::vector<Descriptor> v2 = {d2};
  auto r3 = a.admit(v2, kT + 10, 0, 50);
  ASSERT_TRUE(r3.ok);
  EXPECT_EQ(r3.remaining.budgetNano[0], 50);
  EXPECT_EQ(srv.query({"HGET", "{llmux:team:b}:bg", "p"}), std::to_string(d2.budgetPeriod));
  // Another instance still holding the old view does not reseed the newer counter.
  Node b(srv);
  auto stale = b.admit(v1, kT + 20, 0, 10);
  ASSERT_TRUE(stale.ok);
  EXPECT_EQ(stale.remaining.budgetNano[0], 40);
  EXPECT_EQ(srv.query({"HGET", "{llmux:team:b}:bg", "s"}), "0");

  // Check-then-spend: admitted while spend < max, whatever the cost; nothing reserved.
  Descriptor d3 = desc("key:cts", {}, {}, {}, 100);
  d3.dbSpendNano = 95;
  const std::vector<Descriptor> v3 = {d3};
  EXPECT_TRUE(a.admit(v3, kT, 0, 500, false).ok);
  EXPECT_EQ(srv.query({"HGET", "{llmux:key:cts}:in", a.lim->instanceId() + ":r"}), "(nil)");
  a.settle(v3, kT, 0, 0, 500, 5, false);
  ASSERT_TRUE(a.flush());
  auto spent = a.admit(v3, kT, 0, 1, false);
  EXPECT_FALSE(spent.ok);
  EXPECT_EQ(spent.current, 100);

  // A counter that disappeared (expiry, flushed Redis) is seeded again from the database.
  srv.query({"DEL", "{llmux:key:cts}:bg"});
  d3.dbSpendNano = 20;
  const std::vector<Descriptor> v4 = {d3};
  auto reseeded = a.admit(v4, kT, 0, 10);
  ASSERT_TRUE(reseeded.ok);
  EXPECT_EQ(reseeded.remaining.budgetNano[0], 70);
}

TEST(RedisLimiter, SettleBatchAppliesOnceWhenResent) {
  START_REDIS(srv);
  // Straight to the script: the same batch (same instance and seq) twice, as after a lost reply.
  auto eval = [&](const std::string& seq, const std::string& absSlots) {
    return srv.query({"EVAL",
                      std::string(kSettleScript),
                      "3",
                      "{llmux:k}:win",
                      "{llmux:k}:in",
                      "{llmux:k}:bg",
                      std::to_string(kT),
                      "inst1",
                      "30000",
                      seq,
                      "1",
                      "0",
                      "0",
                      "0",
                      "1",
                      "7",
                      "0",
                      "3",
                      absSlots,
                      "-1"});
  };
  EXPECT_EQ(eval("5", "2"), "1");
  EXPECT_EQ(eval("5", "1"), "0") << "skipped";
  EXPECT_EQ(srv.query({"HGET", "{llmux:k}:bg", "s"}), "10") << "seeded 3 + 7, once";
  EXPECT_EQ(srv.query({"HGET", "{llmux:k}:in", "inst1:p"}), "1") << "absolute parts always apply";
  EXPECT_EQ(eval("4", "0"), "0") << "older batches are skipped too";
  EXPECT_EQ(eval("6", "0"), "1");
  EXPECT_EQ(srv.query({"HGET", "{llmux:k}:bg", "s"}), "17");
  EXPECT_EQ(srv.query({"HGET", "{llmux:k}:in", "inst1:p"}), "(nil)");
}

TEST(RedisLimiter, UnavailableWhileDownAndRecoversAfter) {
  START_REDIS(srv);
  Node a(srv);
  const std::vector<Descriptor> ds = {desc("key:down", 100, {}, 10)};
  ASSERT_TRUE(a.admit(ds, kT).ok);

  srv.pause();  // a hung server: the admit waits for the command timeout, not longer
  auto t0 = std::chrono::steady_clock::now();
  auto hung = a.admit(ds, kT);
  EXPECT_TRUE(hung.unavailable);
  EXPECT_FALSE(hung.ok);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 600ms);
  EXPECT_FALSE(a.lim->available());
  t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(a.admit(ds, kT).unavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 20ms) << "known down: no waiting";
  srv.resume();
  ASSERT_TRUE(runUntil(
      a.io, [&] { return a.lim->available(); }, 3000ms));

  srv.stop();
  runUntil(
      a.io, [&] { return !a.lim->available(); }, 1000ms);
  t0 = std::chrono::steady_clock::now();
  auto down = a.admit(ds, kT);
  EXPECT_TRUE(down.unavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 20ms);
  a.settle(ds, kT, 0, 0);  // kept for later, never blocks

  ASSERT_TRUE(srv.restart());
  ASSERT_TRUE(runUntil(
      a.io, [&] { return a.lim->available(); }, 3000ms));
  auto back = a.admit(ds, kT + 1);
  ASSERT_TRUE(back.ok) << "scripts are loaded again (or EVAL'd) on the new server";
  EXPECT_EQ(back.remaining.requests[0], 99) << "the restarted server lost its counters";
  ASSERT_TRUE(a.flush());
  // This instance's slots are re-asserted as absolute values: the admit with a lost reply (which
  // the paused server did run later) and the one settled while down count nothing; the one just
  // taken counts.
  EXPECT_EQ(srv.query({"HGET", "{llmux:key:down}:in", a.lim->instanceId() + ":p"}), "1");
}

TEST(RedisLimiter, FallsBackToEvalAfterScriptFlush) {
  START_REDIS(srv);
  Node a(srv);
  const std::vector<Descriptor> ds = {desc("key:ns", 10)};
  runUntil(
      a.io, [] { return false; }, 50ms);  // let SCRIPT LOAD finish
  ASSERT_TRUE(a.admit(ds, kT).ok);
  EXPECT_EQ(a.lim->stats().evalFallbacks.load(), 0u);
  EXPECT_EQ(srv.query({"SCRIPT", "FLUSH"}), "OK");
  auto r = a.admit(ds, kT);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.remaining.requests[0], 8);
  EXPECT_EQ(a.lim->stats().evalFallbacks.load(), 1u);
  EXPECT_TRUE(a.admit(ds, kT).ok);
  EXPECT_EQ(a.lim->stats().evalFallbacks.load(), 1u) << "EVAL cached the script again";
}

// Three limiters on three threads (their own io_context and connection), 32 concurrent clients.
struct ThreadNode {
  explicit ThreadNode(const RedisServer& s) {
    conn = RedisConnection::create(io.get_executor(), configFor(s));
    conn->start();
    lim = std::make_unique<RedisLimiter>(conn);
  }
  net::io_context io;
  std::shared_ptr<RedisConnection> conn;
  std::unique_ptr<RedisLimiter> lim;
};

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(RedisLimiter, BudgetNeverOvershotAcrossThreeInstances) {
  START_REDIS(srv);
  constexpr int64_t kMax = 1'000'000'000;  // 1 USD
  constexpr int64_t kWorst = 50'000'000;   // 0.05 USD worst case per request
  const std::vector<Descriptor> ds = {desc("team:shared", {}, {}, {}, kMax),
                                      desc("key:shared", {}, {}, 32)};
  std::array<std::unique_ptr<ThreadNode>, 3> nodes;
  for (auto& n : nodes) n = std::make_unique<ThreadNode>(srv);
  std::atomic<int64_t> spentTotal{0};
  std::atomic<int> admitted{0}, budgetRefusals{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      ThreadNode& n = *nodes[t];
      runUntil(
          n.io, [&] { return n.conn->healthy(); }, 3000ms);
      const int clients = t == 0 ? 12 : 10;
      int done = 0;
      for (int c = 0; c < clients; ++c) {
        net::co_spawn(
            n.io,
            [&, c]() -> net::awaitable<void> {
              std::mt19937_64 rng(t * 100 + c);
              net::steady_timer timer(n.io);
              int refusedInARow = 0;
              while (refusedInARow < 5) {
                AdmitRequest req{&ds, 0, kWorst, true, nowMs()};
                AdmitResult r = co_await n.lim->admit(req);
                if (!r.ok) {
                  if (r.kind == LimitKind::Budget && !r.unavailable) {
                    ++budgetRefusals;
                  } else {
                    ++other;
                  }
                  ++refusedInARow;
                  timer.expires_after(2ms);
                  co_await timer.async_wait(net::use_awaitable);
                  continue;
                }
                refusedInARow = 0;
                ++admitted;
                timer.expires_after(std::chrono::microseconds(rng() % 3000));
                co_await timer.async_wait(net::use_awaitable);
                const int64_t actual = static_cast<int64_t>(rng() % (kWorst + 1));
                spentTotal += actual;
                n.lim->settle(SettleRequest{&ds, 0, 0, kWorst, actual, true, nowMs()});
              }
              ++done;
            },
            net::detached);
      }
      runUntil(
          n.io, [&] { return done == clients; }, 20000ms);
      runCo(n.io, n.lim->flush());
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(spentTotal.load(), kMax) << "the budget was overshot";
  EXPECT_GE(admitted.load(), kMax / kWorst) << "every request of worst-case cost fits at least";
  EXPECT_GT(budgetRefusals.load(), 0);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(srv.query({"HGET", "{llmux:team:shared}:bg", "s"}), std::to_string(spentTotal.load()))
      << "every true-up applied exactly once";
  for (auto& n : nodes) {
    EXPECT_EQ(srv.query({"HGET", "{llmux:team:shared}:in", n->lim->instanceId() + ":r"}), "(nil)");
    EXPECT_EQ(srv.query({"HGET", "{llmux:key:shared}:in", n->lim->instanceId() + ":p"}), "(nil)");
    EXPECT_GT(n->lim->stats().admits.load(), 0u);
  }
}

TEST(RedisLimiter, RpmSharedAcrossInstancesNotMultiplied) {
  START_REDIS(srv);
  Node a(srv), b(srv), c(srv);
  const std::vector<Descriptor> ds = {desc("key:shared-rpm", 30)};
  int ok = 0;
  for (int i = 0; i < 40; ++i) {
    Node& n = i % 3 == 0 ? a : (i % 3 == 1 ? b : c);
    ok += n.admit(ds, kT + i).ok ? 1 : 0;
  }
  EXPECT_EQ(ok, 30);
}

// Admits queued in one turn of the loop go as one script call; each gets its own answer, as if
// it had been sent alone and in order (requests with different descriptor lists mixed).
TEST(RedisLimiter, AdmitsOfOneLoopTurnShareOneScriptCall) {
  START_REDIS(srv);
  Node a(srv);
  runUntil(
      a.io, [] { return false; }, 50ms);  // scripts loaded
  const std::vector<Descriptor> one = {desc("key:batch", 7)};
  const std::vector<Descriptor> two = {desc("team:batch", 100), desc("key:batch", 7)};
  constexpr int kN = 10;
  std::vector<AdmitResult> results(kN);
  int done = 0;
  const auto cmds0 = a.conn->stats().commands.load();
  for (int i = 0; i < kN; ++i) {
    net::co_spawn(
        a.io,
        [&, i]() -> net::awaitable<void> {
          AdmitRequest r{i % 2 == 0 ? &one : &two, 0, 0, true, kT + i};
          results[i] = co_await a.lim->admit(r);
          ++done;
        },
        net::detached);
  }
  runUntil(
      a.io, [&] { return done == kN; }, 3000ms);
  ASSERT_EQ(done, kN);
  EXPECT_EQ(a.conn->stats().commands.load() - cmds0, 1u) << "one EVALSHA for the whole turn";
  for (int i = 0; i < kN; ++i) {
    const AdmitResult& r = results[i];
    ASSERT_FALSE(r.unavailable) << i;
    if (i < 7) {
      EXPECT_TRUE(r.ok) << i;
      const size_t keyIdx = i % 2 == 0 ? 0 : 1;
      ASSERT_EQ(r.remaining.requests.size(), i % 2 == 0 ? 1u : 2u);
      EXPECT_EQ(r.remaining.requests[keyIdx], 7 - i - 1) << i;
      if (i % 2 == 1) EXPECT_EQ(r.remaining.requests[0], 100 - (i + 1) / 2) << i;
    } else {
      EXPECT_FALSE(r.ok) << i;
      EXPECT_EQ(r.kind, LimitKind::Requests) << i;
      EXPECT_EQ(r.failed, i % 2 == 0 ? 0u : 1u) << "the key, not the team";
      EXPECT_EQ(r.limit, 7);
      EXPECT_EQ(r.current, 7);
    }
  }
  // Refused requests took nothing from the team either.
  EXPECT_EQ(srv.query({"HGET", "{llmux:team:batch}:win", "rn"}), "3");
}

TEST(RedisLimiter, OneRoundTripPerAdmitLatency) {
  START_REDIS(srv);
  Node a(srv);
  runUntil(
      a.io, [] { return false; }, 50ms);  // scripts loaded
  const std::vector<Descriptor> ds = {desc("key:lat", 1'000'000, 100'000'000, 1000),
                                      desc("team:lat", 1'000'000, {}, {}, 1'000'000'000'000),
                                      desc("user:lat", 1'000'000)};
  constexpr int kN = 2000;
  std::vector<double> us;
  us.reserve(kN);
  const auto cmds0 = a.conn->stats().commands.load();
  for (int i = 0; i < kN; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = a.admit(ds, kT + i, 10, 1000);
    us.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    ASSERT_TRUE(r.ok) << i;
    a.settle(ds, kT + i, 10, 5, 1000, 500);
  }
  ASSERT_TRUE(a.flush());
  const auto cmds = a.conn->stats().commands.load() - cmds0;
  const auto flushes = a.lim->stats().flushes.load();
  std::sort(us.begin(), us.end());
  double sum = 0;
  for (double v : us) sum += v;
  std::printf(
      "admit (3 descriptors) against local redis: mean %.1f us, p50 %.1f us, p99 %.1f us; "
      "%llu commands for %d admits + %llu settle flushes\n",
      sum / kN, us[kN / 2], us[kN * 99 / 100], static_cast<unsigned long long>(cmds), kN,
      static_cast<unsigned long long>(flushes));
  EXPECT_EQ(cmds, static_cast<uint64_t>(kN) + flushes) << "exactly one round trip per admit";
  EXPECT_LT(flushes, static_cast<uint64_t>(kN / 10)) << "settles are aggregated";
  EXPECT_EQ(srv.query({"HGET", "{llmux:team:lat}:bg", "s"}), std::to_string(500 * kN));
}

}  // namespace
}  // namespace llmux::kv
