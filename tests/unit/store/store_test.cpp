#include "store/store.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace llmux::store {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;

// Shared by every connection a test's factory opens.
struct FakeState {
  std::atomic<bool> healthy{true};
  std::atomic<bool> reconnectWorks{true};
  std::atomic<int> opens{0};
  std::atomic<int> openFailures{0};  // the next N opens fail
  std::atomic<int> reconnects{0};
};

class FakeDb final : public Db {
 public:
  FakeDb(std::shared_ptr<FakeState> st, int id) : st_(std::move(st)), id_(id) {}
  [[nodiscard]] Dialect dialect() const override { return Dialect::Postgres; }
  Result exec(std::string_view, std::span<const Value>) override {
    Result r;
    r.ok = st_->healthy.load();
    r.connectionLost = !r.ok;
    if (r.ok) r.rows.push_back(Row{{Value{int64_t{id_}}}});
    return r;
  }
  Result execScript(std::string_view sql) override { return exec(sql, {}); }
  Result begin() override { return exec("", {}); }
  Result commit() override { return exec("", {}); }
  Result rollback() override { return exec("", {}); }
  bool healthy() override { return st_->healthy.load(); }
  bool reconnect() override {
    st_->reconnects.fetch_add(1);
    if (!st_->reconnectWorks.load()) return false;
    st_->healthy = true;
    return true;
  }
  [[nodiscard]] int id() const { return id_; }

 private:
  std::shared_ptr<FakeState> st_;
  int id_;
};

DbFactory fakeFactory(const std::shared_ptr<FakeState>& st) {
  return [st](std::string& err) -> std::unique_ptr<Db> {
    if (st->openFailures.load() > 0) {
      st->openFailures.fetch_sub(1);
      err = "connection refused";
      return nullptr;
    }
    return std::make_unique<FakeDb>(st, st->opens.fetch_add(1) + 1);
  };
}

StoreOptions baseOptions(const std::shared_ptr<FakeState>& st) {
  StoreOptions o;
  o.open = fakeFactory(st);
  o.reconnectMin = 1ms;
  o.reconnectMax = 5ms;
  o.spend.spool.dir.clear();  // in memory
  o.spend.pollInterval = 1ms;
  o.spendSink = [](SpendBatch, RepoError&) { return true; };
  return o;
}

template <class Pred>
bool waitFor(Pred pred, std::chrono::milliseconds limit = 5s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return pred();
}

TEST(Store, RunResumesOnTheCallersExecutorWithTheResultMovedBack) {
  auto st = std::make_shared<FakeState>();
  Store store(baseOptions(st));
  std::string err;
  ASSERT_TRUE(store.start(err)) << err;

  net::io_context ioc;
  std::thread::id jobThread;
  std::thread::id before;
  std::thread::id after;
  std::unique_ptr<int> got;
  bool sawNullopt = false;
  net::co_spawn(
      ioc,
      [&]() -> net::awaitable<void> {
        before = std::this_thread::get_id();
        auto r = co_await store.run([&](Db& db) {
          jobThread = std::this_thread::get_id();
          auto res = db.exec("SELECT 1");
          return std::make_unique<int>(
              static_cast<int>(std::get<int64_t>(res.rows.at(0).cols.at(0))) * 10);
        });
        after = std::this_thread::get_id();
        if (r) {
          got = std::move(*r);
        } else {
          sawNullopt = true;
        }
      },
      net::detached);
  std::thread::id ioThread;
  std::thread io([&] {
    ioThread = std::this_thread::get_id();
    ioc.run();  // returns only once the coroutine finished: the pending job keeps it busy
  });
  io.join();
  EXPECT_FALSE(sawNullopt);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 10);  // the reader's connection is the first one opened
  EXPECT_EQ(before, ioThread);
  EXPECT_EQ(after, ioThread);
  EXPECT_NE(jobThread, ioThread);
  EXPECT_NE(jobThread, std::thread::id());
  // Counted just after the job hands its result over.
  EXPECT_TRUE(waitFor([&] { return store.readerStats().completed == 1; }));
}

TEST(Store, ManyConcurrentRunsFromSeveralIoThreads) {
  auto st = std::make_shared<FakeState>();
  Store store(baseOptions(st));
  std::string err;
  ASSERT_TRUE(store.start(err));
  constexpr int kThreads = 4;
  constexpr int kPerThread = 200;
  std::atomic<int> ok{0};
  std::atomic<int> wrongThread{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      net::io_context ioc;
      for (int i = 0; i < kPerThread; ++i) {
        net::co_spawn(
            ioc,
            [&, i]() -> net::awaitable<void> {
              const auto self = std::this_thread::get_id();
              auto r = co_await store.run([i, t](Db&) { return t * 1000 + i; });
              if (std::this_thread::get_id() != self) wrongThread.fetch_add(1);
              if (r && *r == t * 1000 + i) ok.fetch_add(1);
            },
            net::detached);
      }
      ioc.run();
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  EXPECT_EQ(wrongThread.load(), 0);
}

TEST(Store, FullReaderQueueRefusesAtOnceAndOthersStillComplete) {
  auto st = std::make_shared<FakeState>();
  auto o = baseOptions(st);
  o.readerQueueCapacity = 2;
  Store store(o);
  std::string err;
  ASSERT_TRUE(store.start(err));

  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::atomic<bool> blockerRunning{false};
  ASSERT_TRUE(store.post([&](Db&) {
    blockerRunning = true;
    gate.wait();
  }));
  ASSERT_TRUE(waitFor([&] { return blockerRunning.load(); }));

  net::io_context ioc;
  std::vector<std::optional<int>> results(3);
  std::vector<bool> done(3, false);
  for (int i = 0; i < 3; ++i) {
    net::co_spawn(
        ioc,
        [&, i]() -> net::awaitable<void> {
          results[i] = co_await store.run([i](Db&) { return i + 100; });
          done[i] = true;
        },
        net::detached);
  }
  // The third run finds two jobs queued and completes without the reader.
  const auto t0 = std::chrono::steady_clock::now();
  while (!done[2] && std::chrono::steady_clock::now() - t0 < 2s) ioc.run_for(5ms);
  EXPECT_TRUE(done[2]);
  EXPECT_FALSE(results[2].has_value());
  EXPECT_FALSE(done[0]);
  EXPECT_FALSE(store.post([](Db&) {}));  // still full
  EXPECT_EQ(store.readerStats().rejected, 2u);
  EXPECT_EQ(store.readerStats().queued, 2u);
  release.set_value();
  ioc.restart();
  ioc.run();
  EXPECT_EQ(results[0], std::optional<int>(100));
  EXPECT_EQ(results[1], std::optional<int>(101));
}

TEST(Store, StopCompletesQueuedRunsWithNullopt) {
  auto st = std::make_shared<FakeState>();
  Store store(baseOptions(st));
  std::string err;
  ASSERT_TRUE(store.start(err));
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::atomic<bool> running{false};
  store.post([&](Db&) {
    running = true;
    gate.wait();
  });
  ASSERT_TRUE(waitFor([&] { return running.load(); }));
  net::io_context ioc;
  std::optional<int> result = 5;
  bool done = false;
  net::co_spawn(
      ioc,
      [&]() -> net::awaitable<void> {
        result = co_await store.run([](Db&) { return 1; });
        done = true;
      },
      net::detached);
  ioc.poll();  // the job is queued behind the blocker
  std::thread stopper([&] { store.stop(1s); });
  std::this_thread::sleep_for(20ms);
  release.set_value();
  stopper.join();
  ioc.run();
  EXPECT_TRUE(done);
  EXPECT_FALSE(result.has_value());
  EXPECT_FALSE(store.post([](Db&) {}));  // stopped
}

TEST(Store, RunBlockingAndThrowingJobs) {
  auto st = std::make_shared<FakeState>();
  Store store(baseOptions(st));
  std::string err;
  ASSERT_TRUE(store.start(err));
  EXPECT_EQ(store.runBlocking([](Db& db) { return db.exec("x").ok; }), std::optional<bool>(true));
  EXPECT_FALSE(store.runBlocking([](Db&) -> int { throw std::runtime_error("boom"); }));
  // The reader survives a throwing job.
  EXPECT_EQ(store.runBlocking([](Db&) { return 7; }), std::optional<int>(7));
}

TEST(Store, UnhealthyConnectionIsReconnectedWithBackoffJobsStillRun) {
  auto st = std::make_shared<FakeState>();
  auto o = baseOptions(st);
  o.reconnectMin = 1h;  // one attempt, then a long backoff
  o.reconnectMax = 1h;
  Store store(o);
  std::string err;
  ASSERT_TRUE(store.start(err));
  st->healthy = false;
  st->reconnectWorks = false;
  for (int i = 0; i < 5; ++i) {
    auto r = store.runBlocking([](Db& db) { return db.exec("SELECT 1"); });
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->ok);
    EXPECT_TRUE(r->connectionLost);
  }
  EXPECT_EQ(st->reconnects.load(), 1);
  EXPECT_FALSE(store.readerStats().dbHealthy);
  EXPECT_NE(store.readerStats().lastError.find("reconnect"), std::string::npos);
}

TEST(Store, ReconnectSucceedsBeforeTheNextJob) {
  auto st = std::make_shared<FakeState>();
  Store store(baseOptions(st));
  std::string err;
  ASSERT_TRUE(store.start(err));
  st->healthy = false;
  auto r = store.runBlocking([](Db& db) { return db.exec("SELECT 1").ok; });
  EXPECT_EQ(r, std::optional<bool>(true));
  EXPECT_EQ(st->reconnects.load(), 1);
  EXPECT_TRUE(store.readerStats().dbHealthy);
}

TEST(Store, StartFailsWhenTheDatabaseIsRequired) {
  auto st = std::make_shared<FakeState>();
  st->openFailures = 1;
  Store store(baseOptions(st));
  std::string err;
  EXPECT_FALSE(store.start(err));
  EXPECT_NE(err.find("connection refused"), std::string::npos);
  EXPECT_FALSE(store.runBlocking([](Db&) { return 1; }).has_value());  // refused, not stuck
  EXPECT_EQ(store.readerStats().rejected, 1u);
}

TEST(Store, FailedStartKeepsPushedSpendRowsInTheSpool) {
  auto st = std::make_shared<FakeState>();
  st->openFailures = 100;
  auto o = baseOptions(st);
  o.spendSink = nullptr;  // the production sink: there is no writer connection to use
  const auto dir =
      std::filesystem::temp_directory_path() / ("llmux-store-spool-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  o.spend.spool.dir = dir.string();
  o.spend.spool.fsync = false;
  {
    Store store(o);
    for (int i = 0; i < 3; ++i) {
      SpendRow r;
      r.requestId = "early" + std::to_string(i);
      ASSERT_TRUE(store.spend().push(0, std::move(r)));
    }
    std::string err;
    EXPECT_FALSE(store.start(err));
    store.stop(1s);
    const auto s = store.spend().stats();
    EXPECT_EQ(s.spooled, 3u);
    EXPECT_EQ(s.dropped, 0u);
    EXPECT_EQ(s.written, 0u);
  }
  size_t segments = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    segments += e.path().extension() == ".seg" ? 1 : 0;
  }
  EXPECT_EQ(segments, 1u);
  std::filesystem::remove_all(dir);
}

TEST(Store, StartsWithoutTheDatabaseAndConnectsLater) {
  auto st = std::make_shared<FakeState>();
  st->openFailures = 3;
  auto o = baseOptions(st);
  o.requireDbAtStart = false;
  Store store(o);
  std::string err;
  ASSERT_TRUE(store.start(err)) << err;
  auto first = store.runBlocking([](Db& db) { return db.exec("SELECT 1"); });
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->ok);
  EXPECT_TRUE(first->connectionLost);
  EXPECT_NE(first->error.find("database unavailable"), std::string::npos);
  ASSERT_TRUE(waitFor([&] {
    auto r = store.runBlocking([](Db& db) { return db.exec("SELECT 1").ok; });
    return r && *r;
  }));
  EXPECT_TRUE(store.readerStats().dbHealthy);
}

TEST(Store, BudgetResetTimerCallsTheCallback) {
  auto st = std::make_shared<FakeState>();
  auto o = baseOptions(st);
  o.resetInterval = 10ms;
  std::atomic<int> runs{0};
  std::atomic<int> callbacks{0};
  std::atomic<int64_t> lastRows{0};
  std::atomic<int64_t> lastNow{0};
  o.resetBudgets = [&](Db&, int64_t nowMs, RepoError&) -> int64_t {
    lastNow = nowMs;
    return runs.fetch_add(1) % 2 == 0 ? 3 : 0;  // every other run resets something
  };
  o.onBudgetsReset = [&](int64_t rows) {
    lastRows = rows;
    callbacks.fetch_add(1);
  };
  Store store(o);
  std::string err;
  ASSERT_TRUE(store.start(err));
  ASSERT_TRUE(waitFor([&] { return runs.load() >= 6; }));
  store.stop();
  EXPECT_GE(callbacks.load(), 3);
  EXPECT_LE(callbacks.load(), (runs.load() + 1) / 2);  // none for runs that reset nothing
  EXPECT_EQ(lastRows.load(), 3);
  const int64_t nowMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  EXPECT_NEAR(static_cast<double>(lastNow.load()), static_cast<double>(nowMs), 60000.0);
  EXPECT_EQ(store.readerStats().resets, static_cast<uint64_t>(runs.load()));
}

TEST(Store, BudgetResetIsPacedAndErrorsSkipTheCallback) {
  auto st = std::make_shared<FakeState>();
  auto o = baseOptions(st);
  o.resetInterval = 1h;
  std::atomic<int> runs{0};
  std::atomic<int> callbacks{0};
  o.resetBudgets = [&](Db&, int64_t, RepoError& err) -> int64_t {
    runs.fetch_add(1);
    err.message = "no such table";
    return 0;
  };
  o.onBudgetsReset = [&](int64_t) { callbacks.fetch_add(1); };
  Store store(o);
  std::string err;
  ASSERT_TRUE(store.start(err));
  ASSERT_TRUE(waitFor([&] { return runs.load() == 1; }));  // at start
  for (int i = 0; i < 20; ++i) store.runBlocking([](Db&) { return 0; });
  EXPECT_EQ(runs.load(), 1);  // jobs do not trigger extra resets
  EXPECT_EQ(callbacks.load(), 0);
  EXPECT_NE(store.readerStats().lastError.find("no such table"), std::string::npos);
}

TEST(Store, NoResetJobWithoutAResetFunction) {
  auto st = std::make_shared<FakeState>();
  auto o = baseOptions(st);
  o.resetInterval = 1ms;
  std::atomic<int> callbacks{0};
  o.onBudgetsReset = [&](int64_t) { callbacks.fetch_add(1); };
  Store store(o);
  std::string err;
  ASSERT_TRUE(store.start(err));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(store.readerStats().resets, 0u);
  EXPECT_EQ(callbacks.load(), 0);
}

TEST(Store, SpendRowsFlowThroughTheWriterAndStopFlushesThem) {
  auto st = std::make_shared<FakeState>();
  auto o = baseOptions(st);
  o.spend.producers = 2;
  o.spend.flushInterval = 10s;
  auto written = std::make_shared<std::atomic<int>>(0);
  o.spendSink = [written](SpendBatch rows, RepoError&) {
    written->fetch_add(static_cast<int>(rows.size()));
    return true;
  };
  Store store(o);
  std::string err;
  ASSERT_TRUE(store.start(err));
  EXPECT_EQ(st->opens.load(), 1);  // a sink override needs no writer connection
  for (int i = 0; i < 7; ++i) {
    SpendRow r;
    r.requestId = "q" + std::to_string(i);
    ASSERT_TRUE(store.spend().push(static_cast<size_t>(i % 2), std::move(r)));
  }
  store.stop(1s);
  EXPECT_EQ(written->load(), 7);
  EXPECT_EQ(store.spend().stats().written, 7u);
}

}  // namespace
}  // namespace llmux::store
