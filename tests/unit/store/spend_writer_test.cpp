#include "store/spend_writer.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace llmux::store {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

SpendRow makeRow(const std::string& id) {
  SpendRow r;
  r.requestId = id;
  r.model = "m";
  r.spend = 0.5;
  return r;
}

std::string rid(int i) {
  return "r" + std::to_string(i);
}

// A database stand-in: records every committed batch; can be taken down or made to refuse rows.
class FakeSink {
 public:
  SpendSink sink() {
    return [this](SpendBatch rows, RepoError& err) {
      if (gate_.valid()) {
        blocked_ = true;
        gate_.wait();
      }
      std::lock_guard lk(mu_);
      ++calls_;
      if (down_) {
        err.message = "connection refused";
        err.connectionLost = true;
        return false;
      }
      for (const SpendRow* r : rows) {
        if (!refuse_.empty() && r->requestId == refuse_) {
          err.message = "constraint failed";
          return false;
        }
      }
      std::vector<std::string> batch;
      for (const SpendRow* r : rows) batch.push_back(r->requestId);
      batches_.push_back(std::move(batch));
      return true;
    };
  }
  // The next sink calls wait for release() (blocked() says one is waiting). Call before start.
  void hold() { gate_ = release_.get_future().share(); }
  void release() { release_.set_value(); }
  bool blocked() const { return blocked_.load(); }
  void setDown(bool d) {
    std::lock_guard lk(mu_);
    down_ = d;
  }
  void refuse(std::string id) {
    std::lock_guard lk(mu_);
    refuse_ = std::move(id);
  }
  std::vector<std::vector<std::string>> batches() {
    std::lock_guard lk(mu_);
    return batches_;
  }
  std::vector<std::string> rows() {
    std::lock_guard lk(mu_);
    std::vector<std::string> out;
    for (auto& b : batches_) out.insert(out.end(), b.begin(), b.end());
    return out;
  }
  int calls() {
    std::lock_guard lk(mu_);
    return calls_;
  }

 private:
  std::promise<void> release_;
  std::shared_future<void> gate_;
  std::atomic<bool> blocked_{false};
  std::mutex mu_;
  bool down_ = false;
  std::string refuse_;
  int calls_ = 0;
  std::vector<std::vector<std::string>> batches_;
};

template <class Pred>
bool waitFor(Pred pred, std::chrono::milliseconds limit = 5s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return pred();
}

std::vector<std::string> range(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back(rid(i));
  return out;
}

class SpendWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("llmux-spendw-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  SpendWriterOptions opts() {
    SpendWriterOptions o;
    o.producers = 2;
    o.queueCapacity = 64;
    o.batchSize = 10;
    o.flushInterval = 10s;  // only size triggers unless a test says otherwise
    o.pollInterval = 1ms;
    o.retryMin = 5ms;
    o.retryMax = 20ms;
    o.spool.dir = dir_.string();
    o.spool.fsync = false;
    return o;
  }
  fs::path dir_;
  FakeSink db_;
};

TEST_F(SpendWriterTest, BatchesBySize) {
  SpendWriter w(opts(), db_.sink());
  std::string err;
  ASSERT_TRUE(w.start(err)) << err;
  for (int i = 0; i < 35; ++i) ASSERT_TRUE(w.push(0, makeRow(rid(i))));
  ASSERT_TRUE(waitFor([&] { return db_.rows().size() == 30; }));
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(db_.rows().size(), 30u);  // the last 5 wait for a full batch or the interval
  w.flushAndStop(2s);
  auto batches = db_.batches();
  ASSERT_EQ(batches.size(), 4u);
  for (int b = 0; b < 3; ++b) EXPECT_EQ(batches[b].size(), 10u);
  EXPECT_EQ(batches[3].size(), 5u);
  EXPECT_EQ(db_.rows(), range(0, 35));
  const auto s = w.stats();
  EXPECT_EQ(s.enqueued, 35u);
  EXPECT_EQ(s.written, 35u);
  EXPECT_EQ(s.batches, 4u);
  EXPECT_EQ(s.dropped, 0u);
}

// Rows travel in nodes that come back, cleared, to the worker that filled them once written, so
// a worker in steady state fills rows without allocating.
TEST_F(SpendWriterTest, WrittenNodesComeBackClearedToTheirWorker) {
  SpendWriter w(opts(), db_.sink());
  std::string err;
  ASSERT_TRUE(w.start(err)) << err;
  std::set<const SpendRow*> sent[2];
  for (int i = 0; i < 20; ++i) {
    const size_t worker = static_cast<size_t>(i % 2);
    auto node = w.take(worker);
    node->requestId = rid(i);
    node->apiKey = std::string(80, 'k');
    node->tags = R"(["t"])";
    sent[worker].insert(node.get());
    ASSERT_TRUE(w.push(worker, std::move(node)));
  }
  ASSERT_TRUE(waitFor([&] { return db_.rows().size() == 20; }));
  w.flushAndStop(1s);  // the writer thread has ended: every node is back
  auto rows = db_.rows();
  std::sort(rows.begin(), rows.end());
  auto want = range(0, 20);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(rows, want);
  for (size_t worker = 0; worker < 2; ++worker) {
    for (int i = 0; i < 10; ++i) {
      auto node = w.take(worker);
      ASSERT_EQ(sent[worker].count(node.get()), 1u) << "worker " << worker << " node " << i;
      sent[worker].erase(node.get());
      EXPECT_TRUE(node->requestId.empty());
      EXPECT_TRUE(node->apiKey.empty());
      EXPECT_GE(node->apiKey.capacity(), 80u);  // the buffer stays for the next row
      EXPECT_EQ(node->tags, "[]");
      EXPECT_EQ(node->metadata, "{}");
    }
  }
}

TEST_F(SpendWriterTest, BatchesByTime) {
  auto o = opts();
  o.batchSize = 1000;
  o.flushInterval = 40ms;
  SpendWriter w(o, db_.sink());
  std::string err;
  ASSERT_TRUE(w.start(err));
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(w.push(1, makeRow(rid(i))));
  ASSERT_TRUE(waitFor([&] { return db_.rows().size() == 3; }));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 35ms);
  EXPECT_EQ(db_.batches().size(), 1u);
  w.flushAndStop(1s);
}

TEST_F(SpendWriterTest, FullRingOverflowsWithoutLoss) {
  auto o = opts();
  o.queueCapacity = 4;
  SpendWriter w(o, db_.sink());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(w.push(0, makeRow(rid(i))));  // writer not running
  auto s = w.stats();
  EXPECT_EQ(s.enqueued, 100u);
  EXPECT_GE(s.overflowed, 95u);
  db_.hold();
  std::string err;
  ASSERT_TRUE(w.start(err));
  // The writer took a first batch (the ring's rows and some overflow) and is stuck writing it:
  // the ring has room again, yet new rows must queue behind the overflowed ones.
  ASSERT_TRUE(waitFor([&] { return db_.blocked(); }));
  for (int i = 100; i < 120; ++i) ASSERT_TRUE(w.push(0, makeRow(rid(i))));
  db_.release();
  w.flushAndStop(2s);
  EXPECT_EQ(db_.rows(), range(0, 120));  // one worker: push order end to end
  EXPECT_EQ(w.stats().written, 120u);
}

TEST_F(SpendWriterTest, OverflowCapDropsAndCounts) {
  auto o = opts();
  o.queueCapacity = 4;
  o.overflowCapacity = 10;
  SpendWriter w(o, db_.sink());
  int accepted = 0;
  for (int i = 0; i < 50; ++i) accepted += w.push(0, makeRow(rid(i))) ? 1 : 0;
  EXPECT_LT(accepted, 20);
  EXPECT_GE(accepted, 10);
  EXPECT_FALSE(w.push(7, makeRow("bad-index")));
  auto s = w.stats();
  EXPECT_EQ(s.dropped, 50u - accepted + 1);
  w.flushAndStop(1s);  // never started: drained on this thread
  EXPECT_EQ(db_.rows().size(), static_cast<size_t>(accepted));
}

TEST_F(SpendWriterTest, OutageSpoolsThenReplaysInOrderExactlyOnce) {
  SpendWriter w(opts(), db_.sink());
  std::string err;
  ASSERT_TRUE(w.start(err));
  db_.setDown(true);
  for (int i = 0; i < 45; ++i) ASSERT_TRUE(w.push(i % 2, makeRow(rid(i))));
  ASSERT_TRUE(waitFor([&] { return w.stats().spooled >= 40; }));
  auto s = w.stats();
  EXPECT_FALSE(s.dbHealthy);
  EXPECT_EQ(s.written, 0u);
  EXPECT_NE(s.lastError.find("connection refused"), std::string::npos);
  const int failedCalls = db_.calls();
  std::this_thread::sleep_for(60ms);
  EXPECT_LT(db_.calls() - failedCalls, 12);  // backoff, not a hot loop
  db_.setDown(false);
  ASSERT_TRUE(waitFor([&] { return w.stats().spooled == 0 && w.stats().written >= 40; }));
  for (int i = 45; i < 60; ++i) ASSERT_TRUE(w.push(0, makeRow(rid(i))));
  w.flushAndStop(2s);
  s = w.stats();
  EXPECT_TRUE(s.dbHealthy);
  EXPECT_EQ(s.written, 60u);
  EXPECT_EQ(s.spooled, 0u);
  // Within each producer the order holds; everything arrives exactly once.
  auto got = db_.rows();
  ASSERT_EQ(got.size(), 60u);
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()).size(), 60u);
  std::vector<std::string> even;
  for (auto& id : got) {
    const int n = std::stoi(id.substr(1));
    if (n < 45 && n % 2 == 0) even.push_back(id);
  }
  std::vector<std::string> wantEven;
  for (int i = 0; i < 45; i += 2) wantEven.push_back(rid(i));
  EXPECT_EQ(even, wantEven);
  // Rows pushed after recovery come after every spooled row.
  auto firstNew = std::find(got.begin(), got.end(), rid(45));
  EXPECT_EQ(firstNew - got.begin(), 45);
}

TEST_F(SpendWriterTest, NewRowsQueueBehindSpooledOnes) {
  auto o = opts();
  o.producers = 1;
  SpendWriter w(o, db_.sink());
  std::string err;
  ASSERT_TRUE(w.start(err));
  db_.setDown(true);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(w.push(0, makeRow(rid(i))));
  ASSERT_TRUE(waitFor([&] { return w.stats().spooled == 20; }));
  db_.setDown(false);
  for (int i = 20; i < 200; ++i) {
    while (!w.push(0, makeRow(rid(i)))) {
    }
  }
  w.flushAndStop(3s);
  EXPECT_EQ(db_.rows(), range(0, 200));
}

TEST_F(SpendWriterTest, StopDuringOutageSpoolsAndRestartReplaysFirst) {
  {
    SpendWriter w(opts(), db_.sink());
    std::string err;
    ASSERT_TRUE(w.start(err));
    db_.setDown(true);
    for (int i = 0; i < 25; ++i) ASSERT_TRUE(w.push(0, makeRow(rid(i))));
    const auto t0 = std::chrono::steady_clock::now();
    w.flushAndStop(5s);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);  // no waiting for a dead database
    EXPECT_EQ(w.stats().spooled, 25u);
    EXPECT_EQ(w.stats().dropped, 0u);
  }
  EXPECT_TRUE(db_.rows().empty());
  SpendWriter w(opts(), db_.sink());
  EXPECT_EQ(w.stats().spooled, 0u);
  std::string err;
  ASSERT_TRUE(w.start(err));          // the database is still down: nothing can leave the spool yet
  EXPECT_EQ(w.stats().spooled, 25u);  // found on disk
  db_.setDown(false);
  for (int i = 25; i < 30; ++i) ASSERT_TRUE(w.push(1, makeRow(rid(i))));
  w.flushAndStop(2s);
  EXPECT_EQ(db_.rows(), range(0, 30));
  EXPECT_EQ(w.stats().spooled, 0u);
}

TEST_F(SpendWriterTest, FullSpoolHoldsRowsUntilTheOverflowIsFull) {
  auto o = opts();
  o.producers = 1;
  o.spool.dir.clear();     // in memory
  o.spool.maxBytes = 600;  // four rows
  o.overflowCapacity = 20;
  SpendWriter w(o, db_.sink());
  std::string err;
  ASSERT_TRUE(w.start(err));
  db_.setDown(true);
  // Room: spool 4 + held batch 10 + ring 64 + overflow 20 = 98 rows, whatever the timing.
  int accepted = 0;
  std::vector<std::string> acceptedIds;
  for (int i = 0; i < 100; ++i) {
    if (w.push(0, makeRow(rid(i)))) {
      ++accepted;
      acceptedIds.push_back(rid(i));
    }
  }
  EXPECT_LE(accepted, 98);
  EXPECT_GE(accepted, 84);  // ring + overflow at least
  ASSERT_TRUE(waitFor([&] { return w.stats().spooled == 4; }));
  std::this_thread::sleep_for(20ms);
  auto s = w.stats();
  EXPECT_LE(s.spoolBytes, 600u);
  EXPECT_EQ(s.dropped, static_cast<uint64_t>(100 - accepted));
  EXPECT_EQ(s.written, 0u);
  db_.setDown(false);
  w.flushAndStop(3s);
  s = w.stats();
  EXPECT_EQ(s.written, static_cast<uint64_t>(accepted));
  EXPECT_EQ(s.dropped, static_cast<uint64_t>(100 - accepted));
  EXPECT_EQ(db_.rows(), acceptedIds);  // one producer: order kept end to end
}

TEST_F(SpendWriterTest, StopWithTheDatabaseDownAndTheSpoolFullCountsTheLoss) {
  auto o = opts();
  o.spool.maxBytes = 1000;
  o.spool.segmentBytes = 1000;
  SpendWriter w(o, db_.sink());
  std::string err;
  ASSERT_TRUE(w.start(err));
  db_.setDown(true);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(w.push(0, makeRow(rid(i))));
  w.flushAndStop(1s);
  const auto s = w.stats();
  EXPECT_GT(s.spooled, 0u);
  EXPECT_LT(s.spooled, 30u);
  EXPECT_EQ(s.spooled + s.dropped, 30u);
  EXPECT_EQ(s.written, 0u);
  EXPECT_NE(s.lastError.find("at shutdown"), std::string::npos);
}

TEST_F(SpendWriterTest, InMemorySpoolCountsRowsLostAtShutdown) {
  auto o = opts();
  o.spool.dir.clear();
  SpendWriter w(o, db_.sink());
  std::string err;
  ASSERT_TRUE(w.start(err));
  db_.setDown(true);
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(w.push(0, makeRow(rid(i))));
  w.flushAndStop(1s);
  const auto s = w.stats();
  EXPECT_EQ(s.written, 0u);
  EXPECT_EQ(s.spooled, 0u);
  EXPECT_EQ(s.dropped, 12u);
  EXPECT_NE(s.lastError.find("spool directory"), std::string::npos);
}

TEST_F(SpendWriterTest, TinySpoolLosesNothingAcrossAnOutage) {
  auto o = opts();
  o.producers = 1;
  o.spool.dir.clear();
  o.spool.maxBytes = 300;  // two rows
  SpendWriter w(o, db_.sink());
  std::string err;
  ASSERT_TRUE(w.start(err));
  db_.setDown(true);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(w.push(0, makeRow(rid(i))));
  ASSERT_TRUE(waitFor([&] { return w.stats().spooled == 2; }));
  db_.setDown(false);
  for (int i = 10; i < 30; ++i) ASSERT_TRUE(w.push(0, makeRow(rid(i))));
  w.flushAndStop(2s);
  const auto s = w.stats();
  EXPECT_EQ(s.dropped, 0u);
  EXPECT_EQ(s.written, 30u);
  EXPECT_EQ(s.spooled, 0u);
  EXPECT_EQ(db_.rows(), range(0, 30));
}

TEST_F(SpendWriterTest, PoisonRowIsIsolatedAndDiscarded) {
  auto o = opts();
  o.producers = 1;
  o.poisonAttempts = 2;
  SpendWriter w(o, db_.sink());
  db_.refuse(rid(13));
  std::string err;
  ASSERT_TRUE(w.start(err));
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(w.push(0, makeRow(rid(i))));
  ASSERT_TRUE(waitFor([&] { return w.stats().rejected == 1 && w.stats().spooled == 0; }));
  w.flushAndStop(2s);
  auto want = range(0, 40);
  want.erase(want.begin() + 13);
  EXPECT_EQ(db_.rows(), want);
  const auto s = w.stats();
  EXPECT_EQ(s.written, 39u);
  EXPECT_NE(s.lastError.find(rid(13)), std::string::npos);
}

TEST_F(SpendWriterTest, FlushAndStopLosesNothingUnderConcurrentProducers) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20000;
  auto o = opts();
  o.producers = kThreads;
  o.queueCapacity = 256;  // small rings: bursts go through the overflow path too
  o.overflowCapacity = kThreads * kPerThread;
  o.batchSize = 500;
  SpendWriter w(o, db_.sink());
  std::string err;
  ASSERT_TRUE(w.start(err));
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&w, t] {
      for (int i = 0; i < kPerThread; ++i) {
        w.push(static_cast<size_t>(t), makeRow(std::to_string(t) + ":" + std::to_string(i)));
      }
    });
  }
  for (auto& p : producers) p.join();
  w.flushAndStop(10s);
  const auto s = w.stats();
  EXPECT_EQ(s.enqueued, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(s.written, s.enqueued);
  EXPECT_EQ(s.dropped, 0u);
  auto got = db_.rows();
  EXPECT_EQ(got.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()).size(), got.size());
}

TEST_F(SpendWriterTest, StopWhileProducersPushWritesEveryAcceptedRow) {
  constexpr int kThreads = 4;
  auto o = opts();
  o.producers = kThreads;
  o.queueCapacity = 128;
  o.batchSize = 200;
  SpendWriter w(o, db_.sink());
  std::string err;
  ASSERT_TRUE(w.start(err));
  std::atomic<uint64_t> accepted{0};
  std::atomic<bool> go{true};
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0; go.load(); ++i) {
        if (w.push(static_cast<size_t>(t), makeRow(std::to_string(t) + ":" + std::to_string(i)))) {
          accepted.fetch_add(1);
        } else {
          break;  // closed
        }
      }
    });
  }
  std::this_thread::sleep_for(50ms);
  w.flushAndStop(10s);
  go = false;
  for (auto& p : producers) p.join();
  EXPECT_GT(accepted.load(), 0u);
  EXPECT_EQ(w.stats().written, accepted.load());
  EXPECT_EQ(db_.rows().size(), accepted.load());
  EXPECT_FALSE(w.push(0, makeRow("late")));  // after stop
}

TEST_F(SpendWriterTest, ReconnectHookGatesRetries) {
  std::atomic<int> reconnects{0};
  std::atomic<bool> reachable{false};
  SpendWriter w(opts(), db_.sink(), [&] {
    reconnects.fetch_add(1);
    return reachable.load();
  });
  std::string err;
  ASSERT_TRUE(w.start(err));
  db_.setDown(true);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(w.push(0, makeRow(rid(i))));
  ASSERT_TRUE(waitFor([&] { return reconnects.load() >= 2; }));
  const int callsWhileUnreachable = db_.calls();
  std::this_thread::sleep_for(40ms);
  EXPECT_EQ(db_.calls(), callsWhileUnreachable);  // no sink call while reconnect fails
  db_.setDown(false);
  reachable = true;
  ASSERT_TRUE(waitFor([&] { return w.stats().written == 10; }));
  w.flushAndStop(1s);
  EXPECT_EQ(db_.rows(), range(0, 10));
}

}  // namespace
}  // namespace llmux::store
