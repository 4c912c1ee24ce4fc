#include "store/store.hpp"

#include <algorithm>

#include "common/clock.hpp"

namespace llmux::store {

namespace {

// Stands in for a connection that could not be opened: every call fails as an outage, so jobs
// and the spend writer take their connectionLost paths until a real connection replaces it.
class UnavailableDb final : public Db {
 public:
  explicit UnavailableDb(std::string why) : why_("database unavailable: " + std::move(why)) {}
  [[nodiscard]] Dialect dialect() const override { return Dialect::Sqlite; }
  Result exec(std::string_view, std::span<const Value>) override { return fail(); }
  Result execScript(std::string_view) override { return fail(); }
  Result begin() override { return fail(); }
  Result commit() override { return fail(); }
  Result rollback() override { return fail(); }
  bool healthy() override { return false; }
  bool reconnect() override { return false; }

 private:
  Result fail() const {
    Result r;
    r.connectionLost = true;
    r.error = why_;
    return r;
  }
  std::string why_;
};

class PostJob final : public detail::ReaderJob {
 public:
  explicit PostJob(std::function<void(Db&)> fn) : fn_(std::move(fn)) {}
  void run(Db& db) override {
    try {
      fn_(db);
    } catch (...) {  // fire and forget: nobody to tell, but the reader thread survives
    }
  }
  void cancel() override {}

 private:
  std::function<void(Db&)> fn_;
};

}  // namespace

Store::Store(StoreOptions opts) : opts_(std::move(opts)) {
  reconnectBackoff_ = std::max(opts_.reconnectMin, std::chrono::milliseconds(1));
  opts_.reconnectMax = std::max(opts_.reconnectMax, reconnectBackoff_);
  opts_.readerQueueCapacity = std::max<size_t>(opts_.readerQueueCapacity, 1);
  SpendSink sink = opts_.spendSink;
  ReconnectFn reconnect;
  if (!sink) {
    sink = [this](SpendBatch rows, RepoError& err) {
      if (!writerDb_) {  // start() failed or never ran: flushAndStop() spools instead
        err.message = "database not connected";
        err.connectionLost = true;
        return false;
      }
      return writeSpendRows(*writerDb_, rows, err);
    };
    reconnect = [this] { return writerReconnect(); };
  }
  spend_ = std::make_unique<SpendWriter>(opts_.spend, std::move(sink), std::move(reconnect));
}

Store::~Store() {
  stop(std::chrono::seconds(5));
}

bool Store::start(std::string& error) {
  if (started_ || stopped_) {
    error = "store already started";
    return false;
  }
  if (!opts_.open) {
    error = "store: no database factory";
    return false;
  }
  std::string err;
  readerDb_ = opts_.open(err);
  if (!readerDb_) {
    if (opts_.requireDbAtStart) {
      error = "cannot open the database: " + err;
      return false;
    }
    setError(err);
    readerDb_ = std::make_unique<UnavailableDb>(err);
    readerStandIn_ = true;
  }
  if (!opts_.spendSink) {
    err.clear();
    writerDb_ = opts_.open(err);
    if (!writerDb_) {
      if (opts_.requireDbAtStart) {
        error = "cannot open the database: " + err;
        readerDb_.reset();
        return false;
      }
      writerDb_ = std::make_unique<UnavailableDb>(err);
      writerStandIn_ = true;
    }
  }
  if (!spend_->start(error)) {
    readerDb_.reset();
    writerDb_.reset();
    return false;
  }
  dbHealthy_.store(!readerStandIn_, std::memory_order_relaxed);
  started_ = true;
  {
    std::lock_guard lk(mu_);
    accepting_ = true;
  }
  reader_ = std::thread([this] { readerLoop(); });
  return true;
}

void Store::stop(std::chrono::milliseconds spendDeadline) {
  if (stopped_) return;
  stopped_ = true;
  spend_->flushAndStop(spendDeadline);
  {
    std::lock_guard lk(mu_);
    accepting_ = false;
    stopping_ = true;
  }
  cv_.notify_all();
  if (reader_.joinable()) reader_.join();
  queued_.store(0, std::memory_order_relaxed);
}

bool Store::submit(std::unique_ptr<detail::ReaderJob> job) {
  {
    std::lock_guard lk(mu_);
    if (accepting_ && queue_.size() < opts_.readerQueueCapacity) {
      queue_.push_back(std::move(job));
      queued_.store(queue_.size(), std::memory_order_relaxed);
    }
  }
  if (job) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    job->cancel();  // completes through the caller's executor, never inline
    return false;
  }
  cv_.notify_one();
  return true;
}

bool Store::post(std::function<void(Db&)> fn) {
  return submit(std::make_unique<PostJob>(std::move(fn)));
}

void Store::readerLoop() {
  const bool resets = static_cast<bool>(opts_.resetBudgets) || opts_.nextReset != nullptr;
  Clock::time_point nextReset = Clock::now();  // once at start: resets missed while down
  std::unique_lock lk(mu_);
  for (;;) {
    auto ready = [this] { return stopping_ || !queue_.empty(); };
    if (resets) {
      cv_.wait_until(lk, nextReset, ready);
    } else {
      cv_.wait(lk, ready);
    }
    if (stopping_) break;
    std::unique_ptr<detail::ReaderJob> job;
    if (!queue_.empty()) {
      job = std::move(queue_.front());
      queue_.pop_front();
      queued_.store(queue_.size(), std::memory_order_relaxed);
    }
    lk.unlock();
    ensureReaderDb();
    if (resets && Clock::now() >= nextReset) {
      runBudgetReset();
      nextReset = Clock::now() + opts_.resetInterval;
    }
    if (job) {
      job->run(*readerDb_);
      job.reset();  // the job's function is destroyed here, on the reader thread
      completed_.fetch_add(1, std::memory_order_relaxed);
    }
    lk.lock();
  }
  auto left = std::move(queue_);
  queue_.clear();
  lk.unlock();
  for (auto& j : left) j->cancel();
}

void Store::ensureReaderDb() {
  if (!readerStandIn_ && readerDb_->healthy()) {
    dbHealthy_.store(true, std::memory_order_relaxed);
    return;
  }
  dbHealthy_.store(false, std::memory_order_relaxed);
  const auto now = Clock::now();
  if (now < nextReconnect_) return;
  bool ok = false;
  if (readerStandIn_) {
    std::string err;
    if (auto db = opts_.open(err)) {
      readerDb_ = std::move(db);
      readerStandIn_ = false;
      ok = true;
    } else {
      setError("reader: " + err);
    }
  } else {
    ok = readerDb_->reconnect();
    if (!ok) setError("reader: database reconnect failed");
  }
  if (ok) {
    reconnectBackoff_ = std::max(opts_.reconnectMin, std::chrono::milliseconds(1));
    dbHealthy_.store(true, std::memory_order_relaxed);
  } else {
    nextReconnect_ = now + reconnectBackoff_;
    reconnectBackoff_ = std::min(reconnectBackoff_ * 2, opts_.reconnectMax);
  }
}

void Store::runBudgetReset() {
  RepoError err;
  const int64_t now = wallMs();
  const int64_t rows = opts_.resetBudgets ? opts_.resetBudgets(*readerDb_, now, err)
                                          : resetDueBudgets(*readerDb_, now, opts_.nextReset, err);
  resets_.fetch_add(1, std::memory_order_relaxed);
  if (!err.message.empty() || rows < 0) {
    setError("budget reset: " + (err.message.empty() ? std::string("failed") : err.message));
    return;
  }
  lastResetRows_.store(rows, std::memory_order_relaxed);
  if (rows > 0 && opts_.onBudgetsReset) opts_.onBudgetsReset(rows);
}

bool Store::writerReconnect() {
  if (writerStandIn_ || !writerDb_) {
    std::string err;
    auto db = opts_.open(err);
    if (!db) return false;
    writerDb_ = std::move(db);
    writerStandIn_ = false;
    return true;
  }
  return writerDb_->healthy() || writerDb_->reconnect();
}

void Store::setError(std::string e) {
  std::lock_guard lk(errorMu_);
  lastError_ = std::move(e);
}

ReaderStats Store::readerStats() const {
  ReaderStats s;
  s.queued = queued_.load(std::memory_order_relaxed);
  s.completed = completed_.load(std::memory_order_relaxed);
  s.rejected = rejected_.load(std::memory_order_relaxed);
  s.resets = resets_.load(std::memory_order_relaxed);
  s.lastResetRows = lastResetRows_.load(std::memory_order_relaxed);
  s.dbHealthy = dbHealthy_.load(std::memory_order_relaxed);
  std::lock_guard lk(errorMu_);
  s.lastError = lastError_;
  return s;
}

}  // namespace llmux::store
