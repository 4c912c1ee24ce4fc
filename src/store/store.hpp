#pragma once
// The database runtime: two threads, each with its own connection opened from the same URL, so
// the I/O threads never wait on SQL.
//   reader thread: management calls, key lookups on a cache miss, the periodic budget reset;
//   writer thread: spend-log batches (SpendWriter, with its on-disk spool).
// I/O coroutines call `co_await store.run([](Db& db) { ... })`: the function runs on the reader
// thread and the coroutine resumes on its own executor with the result moved back. The reader
// queue is bounded: when it is full (or the store is stopping) run() completes at once, through
// the caller's executor, with std::nullopt and the function is not called; callers answer 503.
// A job that ran always yields a value (SQL failures are the job's own result: RepoError etc.).
//
// When the reader's connection is unhealthy it is reconnected (with backoff) before the next job;
// jobs run anyway and see connectionLost from their statements. When the database cannot be opened
// at start and requireDbAtStart is false, jobs see a stand-in Db whose every call fails with
// connectionLost until a reconnect succeeds.
//
// Lifetime: stop() (or the destructor) must run while the io_contexts that await run() still
// exist; it finishes the running job, completes queued ones with std::nullopt, and flushes spend.
#include <atomic>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>

#include "store/db.hpp"
#include "store/repo.hpp"
#include "store/spend_writer.hpp"

namespace llmux::store {

// Opens one connection (production: store::open(url) and, once, migrate()); nullptr + error when
// it cannot. Called on the thread that will own the connection, also for later re-opens.
using DbFactory = std::function<std::unique_ptr<Db>(std::string& error)>;
// The budget-reset job (default: repo resetDueBudgets with StoreOptions::nextReset).
using ResetBudgetsFn = std::function<int64_t(Db& db, int64_t nowMs, RepoError& err)>;

struct StoreOptions {
  DbFactory open;  // required
  // false: start even when the database is down, and keep reconnecting.
  bool requireDbAtStart = true;
  size_t readerQueueCapacity = 1024;            // jobs waiting for the reader thread
  std::chrono::milliseconds reconnectMin{250};  // reader reconnect backoff
  std::chrono::milliseconds reconnectMax{10000};
  // Budget resets run at start and then every resetInterval when nextReset or resetBudgets is
  // set. onBudgetsReset runs on the reader thread after a run that reset at least one row.
  std::chrono::milliseconds resetInterval{10000};
  NextResetFn nextReset = nullptr;
  std::function<void(int64_t rowsReset)> onBudgetsReset;
  ResetBudgetsFn resetBudgets;  // overrides the repo call (tests)
  SpendWriterOptions spend;
  // Overrides the writer's connection and repo writeSpendBatch (tests); no writer Db is opened.
  SpendSink spendSink;
};

struct ReaderStats {
  uint64_t queued = 0;     // jobs waiting now
  uint64_t completed = 0;  // jobs run
  uint64_t rejected = 0;   // run()/post() refused: queue full or stopping
  uint64_t resets = 0;     // budget-reset runs
  int64_t lastResetRows = 0;
  bool dbHealthy = false;
  std::string lastError;
};

namespace detail {

class ReaderJob {
 public:
  virtual ~ReaderJob() = default;
  virtual void run(Db& db) = 0;
  // Completes without running (queue full, store stopping).
  virtual void cancel() = 0;
};

// Holds an asio completion handler; completes it through the handler's own executor, keeping
// that executor's context busy (outstanding work) while the job waits.
template <class R, class F, class Handler>
class RunJob final : public ReaderJob {
 public:
  RunJob(F fn, Handler handler)
      : fn_(std::move(fn)),
        handler_(std::move(handler)),
        work_(boost::asio::prefer(boost::asio::get_associated_executor(handler_),
                                  boost::asio::execution::outstanding_work.tracked)) {}
  void run(Db& db) override {
    std::optional<R> result;
    try {
      result.emplace(fn_(db));
    } catch (...) {  // a job must not take the reader thread down; its caller gets nullopt
    }
    complete(std::move(result));
  }
  void cancel() override { complete(std::nullopt); }

 private:
  void complete(std::optional<R> result) {
    auto ex = std::move(work_);
    boost::asio::post(ex, [h = std::move(handler_), r = std::move(result)]() mutable {
      std::move(h)(std::move(r));
    });
  }

  F fn_;
  Handler handler_;
  std::decay_t<decltype(boost::asio::prefer(
      std::declval<boost::asio::associated_executor_t<Handler>>(),
      boost::asio::execution::outstanding_work.tracked))>
      work_;
};

}  // namespace detail

class Store {
 public:
  template <class F>
  using RunResult = std::optional<std::invoke_result_t<F&, Db&>>;

  explicit Store(StoreOptions opts);
  ~Store();  // stop(5 s)
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Opens both connections, the spool, and starts the threads. False with `error` when a
  // connection cannot be opened (and requireDbAtStart) or the spool directory is unusable.
  bool start(std::string& error);
  // Flushes spend (see SpendWriter::flushAndStop), then stops the reader. Idempotent.
  void stop(std::chrono::milliseconds spendDeadline = std::chrono::seconds(5));

  // Runs fn(Db&) on the reader thread; resumes on the awaiting coroutine's executor. nullopt when
  // the reader queue is full, the store is not running (before start(), after stop()), or fn
  // threw. fn must not return void.
  template <class F>
  boost::asio::awaitable<RunResult<F>> run(F fn) {
    using R = std::invoke_result_t<F&, Db&>;
    static_assert(!std::is_void_v<R>, "Store::run needs a value (return bool for 'done')");
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                       void(std::optional<R>)>(
        [this](auto handler, F f) {
          using Job = detail::RunJob<R, F, decltype(handler)>;
          submit(std::make_unique<Job>(std::move(f), std::move(handler)));
        },
        boost::asio::use_awaitable, std::move(fn));
  }

  // Fire and forget on the reader thread; false when refused (queue full or not running).
  bool post(std::function<void(Db&)> fn);

  // Blocking variant for threads that are not I/O threads (startup, CLI, tests).
  template <class F>
  RunResult<F> runBlocking(F fn) {
    using R = std::invoke_result_t<F&, Db&>;
    auto done = std::make_shared<std::promise<std::optional<R>>>();
    auto fut = done->get_future();
    auto f = std::make_shared<F>(std::move(fn));  // std::function needs a copyable callable
    // Only the job owns the promise, so a job that throws or is dropped breaks it.
    const bool queued = post([f, p = std::move(done)](Db& db) { p->set_value((*f)(db)); });
    if (!queued) return std::nullopt;
    // A job dropped at stop never sets the promise: broken_promise -> nullopt.
    try {
      return fut.get();
    } catch (...) {
      return std::nullopt;
    }
  }

  SpendWriter& spend() { return *spend_; }
  [[nodiscard]] ReaderStats readerStats() const;

 private:
  using Clock = std::chrono::steady_clock;
  bool submit(std::unique_ptr<detail::ReaderJob> job);
  void readerLoop();
  void ensureReaderDb();
  void runBudgetReset();
  bool writerReconnect();
  void setError(std::string e);

  StoreOptions opts_;
  std::unique_ptr<SpendWriter> spend_;

  // Reader thread.
  std::thread reader_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<detail::ReaderJob>> queue_;  // guarded by mu_
  bool accepting_ = false;                                // guarded by mu_: started, not stopping
  bool stopping_ = false;                                 // guarded by mu_
  bool started_ = false;
  bool stopped_ = false;
  std::unique_ptr<Db> readerDb_;
  bool readerStandIn_ = false;
  Clock::time_point nextReconnect_{};
  std::chrono::milliseconds reconnectBackoff_;

  // Writer connection: touched by the spend writer thread only once started.
  std::unique_ptr<Db> writerDb_;
  bool writerStandIn_ = false;

  std::atomic<uint64_t> queued_{0}, completed_{0}, rejected_{0}, resets_{0};
  std::atomic<int64_t> lastResetRows_{0};
  std::atomic<bool> dbHealthy_{false};
  mutable std::mutex errorMu_;
  std::string lastError_;
};

}  // namespace llmux::store
