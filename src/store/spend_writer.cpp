#include "store/spend_writer.hpp"

#include <algorithm>
#include <utility>

namespace llmux::store {
namespace {

// Nodes kept per worker for reuse beyond one batch; past that they are freed (on the writer
// thread). A written batch hands all its nodes back at once, so a free ring holds a batch more.
constexpr size_t kSpareFreeNodes = 1024;

// Empties a row for reuse: strings keep their capacity.
void clearRow(SpendRow& r) {
  for (std::string* t :
       {&r.requestId, &r.callType, &r.apiKey, &r.keyAlias, &r.teamId, &r.userId, &r.endUser,
        &r.model, &r.modelGroup, &r.deployment, &r.provider, &r.apiBase, &r.errorType}) {
    t->clear();
  }
  r.promptTokens = r.completionTokens = r.cachedTokens = r.cacheWriteTokens = 0;
  r.reasoningTokens = 0;
  r.tokensEstimated = false;
  r.spend = 0;
  r.status = 0;
  r.startTime = r.endTime = 0;
  r.completionStartTime.reset();
  r.cacheHit = false;
  r.tags.assign("[]");
  r.metadata.assign("{}");
}

}  // namespace

SpendWriter::SpendWriter(SpendWriterOptions opts, SpendSink sink, ReconnectFn reconnect)
    : opts_(std::move(opts)),
      sink_(std::move(sink)),
      reconnect_(std::move(reconnect)),
      spool_(opts_.spool) {
  opts_.producers = std::max<size_t>(opts_.producers, 1);
  opts_.queueCapacity = std::max<size_t>(opts_.queueCapacity, 2);
  opts_.batchSize = std::max<size_t>(opts_.batchSize, 1);
  opts_.poisonAttempts = std::max(opts_.poisonAttempts, 1);
  if (opts_.retryMin.count() <= 0) opts_.retryMin = std::chrono::milliseconds(1);
  opts_.retryMax = std::max(opts_.retryMax, opts_.retryMin);
  rings_.reserve(opts_.producers);
  for (size_t i = 0; i < opts_.producers; ++i) {
    rings_.push_back(std::make_unique<boost::lockfree::spsc_queue<SpendRow*>>(opts_.queueCapacity));
    free_.push_back(std::make_unique<boost::lockfree::spsc_queue<SpendRow*>>(opts_.batchSize +
                                                                             kSpareFreeNodes));
  }
  producerState_ = std::make_unique<Producer[]>(opts_.producers);
  replayBatch_ = opts_.batchSize;
  backoff_ = opts_.retryMin;
  pending_.reserve(opts_.batchSize);
  pendingWorker_.reserve(opts_.batchSize);
}

SpendWriter::~SpendWriter() {
  if (!stopped_) flushAndStop(std::chrono::seconds(5));
  for (auto* rings : {&rings_, &free_}) {
    for (auto& ring : *rings) {
      SpendRow* p = nullptr;
      while (ring->pop(p)) delete p;
    }
  }
  for (SpendRow* p : pending_) delete p;  // rows flushAndStop could neither write nor spool
}

bool SpendWriter::start(std::string& error) {
  if (started_ || stopped_) {
    error = "spend writer already started";
    return false;
  }
  if (!spool_.open(error)) return false;
  spoolOpen_ = true;
  corrupt_.store(spool_.corrupt(), std::memory_order_relaxed);
  publishSpool();
  started_ = true;
  thread_ = std::thread([this] { run(); });
  return true;
}

std::unique_ptr<SpendRow> SpendWriter::take(size_t worker) {
  SpendRow* p = nullptr;
  if (worker < free_.size() && free_[worker]->pop(p)) return std::unique_ptr<SpendRow>(p);
  return std::make_unique<SpendRow>();
}

bool SpendWriter::push(size_t worker, SpendRow&& row) {
  auto node = take(worker);
  *node = std::move(row);
  return push(worker, std::move(node));
}

bool SpendWriter::push(size_t worker, std::unique_ptr<SpendRow> node) {
  if (worker >= rings_.size() || node == nullptr) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  Producer& p = producerState_[worker];
  // Pairs with flushAndStop(): either this push sees closed_, or the stopper sees inflight and
  // waits for the row to be enqueued before the final drain (both seq_cst).
  p.inflight.store(true, std::memory_order_seq_cst);
  if (closed_.load(std::memory_order_seq_cst)) {
    p.inflight.store(false, std::memory_order_release);
    p.dropped.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  bool accepted = true;
  // Once a worker overflows it keeps using the overflow until the writer has emptied it, so its
  // rows stay in push order.
  if (!p.overflowing.load(std::memory_order_acquire) && rings_[worker]->push(node.get())) {
    node.release();  // the writer owns it now
  } else {
    std::lock_guard lk(overflowMu_);
    accepted = overflow_.size() < opts_.overflowCapacity;
    if (accepted) {
      p.overflowing.store(true, std::memory_order_relaxed);
      overflow_.push_back(std::move(*node));
      overflowSize_.store(overflow_.size(), std::memory_order_release);
      p.overflowed.fetch_add(1, std::memory_order_relaxed);
    }
  }
  (accepted ? p.enqueued : p.dropped).fetch_add(1, std::memory_order_relaxed);
  p.inflight.store(false, std::memory_order_release);
  return accepted;
}

void SpendWriter::flushAndStop(std::chrono::milliseconds deadline) {
  if (stopped_) return;
  closed_.store(true, std::memory_order_seq_cst);
  for (size_t i = 0; i < opts_.producers; ++i) {
    while (producerState_[i].inflight.load(std::memory_order_seq_cst)) std::this_thread::yield();
  }
  {
    std::lock_guard lk(wakeMu_);
    deadline_ = Clock::now() + deadline;
    stopRequested_ = true;
  }
  if (started_) {
    wake_.notify_all();
    thread_.join();
  } else {
    // Never started: drain on this thread, into the spool found on disk (never over it).
    std::string err;
    spoolOpen_ = spool_.open(err);
    if (!spoolOpen_) setError(err);
    run();
  }
  stopped_ = true;
}

size_t SpendWriter::available() const {
  size_t n = overflowSize_.load(std::memory_order_acquire);
  for (const auto& ring : rings_) n += ring->read_available();
  return n;
}

void SpendWriter::run() {
  bool sawStop = false;
  for (;;) {
    bool stopping = false;
    Clock::time_point deadline;
    {
      std::lock_guard lk(wakeMu_);
      stopping = stopRequested_;
      deadline = deadline_;
    }
    Clock::time_point now = Clock::now();
    if (stopping && !sawStop) {
      sawStop = true;
      nextRetry_ = now;  // shutdown is the last chance: one attempt without waiting out the backoff
    }
    if (stopping && now >= deadline) pastDeadline_ = true;
    const bool progressed = iterate(now, stopping);
    if (stopping && pending_.empty() && available() == 0) {
      // Inputs are closed and drained; replay what the spool holds while the database works.
      while (!spool_.empty() && healthy_ && !pastDeadline_) {
        now = Clock::now();
        if (now >= deadline) break;
        replayOne(now);
      }
      break;
    }
    // Go on at once while rows move and a full batch (or a replay) is ready; else poll.
    const bool moreWork =
        stopping || (progressed && ((!spool_.empty() && healthy_) ||
                                    available() + pending_.size() >= opts_.batchSize));
    if (moreWork) continue;
    std::unique_lock lk(wakeMu_);
    wake_.wait_for(lk, std::min(opts_.pollInterval, opts_.flushInterval),
                   [this] { return stopRequested_; });
  }
  if (!spool_.onDisk() && !spool_.empty()) {
    const uint64_t lost = spool_.clear();  // an in-memory spool ends with the process
    dropped_.fetch_add(lost, std::memory_order_relaxed);
    setError("database down at shutdown: dropped " + std::to_string(lost) +
             " spend rows held in memory (set a spool directory to keep them)");
  }
  publishSpool();
}

void SpendWriter::collect() {
  size_t want = opts_.batchSize > pending_.size() ? opts_.batchSize - pending_.size() : 0;
  // Start at a rotating ring so a busy worker cannot starve the others.
  for (size_t k = 0; k < rings_.size() && want > 0; ++k) {
    const size_t worker = (nextRing_ + k) % rings_.size();
    auto& ring = *rings_[worker];
    SpendRow* node = nullptr;
    while (want > 0 && ring.pop(node)) {
      pending_.push_back(node);
      pendingWorker_.push_back(static_cast<uint32_t>(worker));
      --want;
    }
  }
  nextRing_ = (nextRing_ + 1) % rings_.size();
  // A worker's ring rows are older than its overflow rows: take the overflow only once the rings
  // of the workers using it are empty (they add nothing to their rings meanwhile).
  if (want > 0 && overflowSize_.load(std::memory_order_acquire) > 0) {
    std::lock_guard lk(overflowMu_);
    for (size_t i = 0; i < opts_.producers; ++i) {
      if (producerState_[i].overflowing.load(std::memory_order_relaxed) &&
          rings_[i]->read_available() > 0) {
        return;
      }
    }
    while (want > 0 && !overflow_.empty()) {
      pending_.push_back(new SpendRow(std::move(overflow_.front())));
      pendingWorker_.push_back(kNoWorker);
      overflow_.pop_front();
      --want;
    }
    overflowSize_.store(overflow_.size(), std::memory_order_release);
    if (overflow_.empty()) {
      for (size_t i = 0; i < opts_.producers; ++i) {
        producerState_[i].overflowing.store(false, std::memory_order_release);
      }
    }
  }
}

void SpendWriter::recycle(uint32_t worker, SpendRow* node) {
  if (worker == kNoWorker) {
    delete node;
    return;
  }
  clearRow(*node);
  if (!free_[worker]->push(node)) delete node;
}

void SpendWriter::releasePending(size_t n) {
  for (size_t i = 0; i < n; ++i) recycle(pendingWorker_[i], pending_[i]);
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(n));
  pendingWorker_.erase(pendingWorker_.begin(), pendingWorker_.begin() + static_cast<ptrdiff_t>(n));
}

bool SpendWriter::iterate(Clock::time_point now, bool stopping) {
  const size_t before = pending_.size();
  collect();
  bool progressed = pending_.size() != before;
  if (before == 0 && !pending_.empty()) pendingSince_ = now;
  const bool flushDue = !pending_.empty() && (pending_.size() >= opts_.batchSize || stopping ||
                                              now - pendingSince_ >= opts_.flushInterval);
  if (!spool_.empty() && dbUp(now)) {
    replayOne(now);
    progressed = true;
  }
  if (!flushDue) return progressed;
  // Older spooled rows go first: while any wait, new rows queue behind them on disk.
  size_t done = 0;
  if (spool_.empty() && dbUp(now) && writeDb(pending(), now)) {
    done = pending_.size();
  } else {
    done = spoolRows(pending(), now, stopping);
  }
  if (done == 0) return progressed;
  releasePending(done);
  pendingSince_ = now;
  return true;
}

bool SpendWriter::dbUp(Clock::time_point now) {
  if (pastDeadline_) return false;
  if (healthy_) return true;
  if (now < nextRetry_) return false;
  if (reconnect_ && !reconnect_()) {
    setError("spend writer: database reconnect failed");
    nextRetry_ = now + backoff_;
    backoff_ = std::min(backoff_ * 2, opts_.retryMax);
    return false;
  }
  return true;
}

bool SpendWriter::writeDb(SpendBatch rows, Clock::time_point now) {
  RepoError err;
  if (sink_ && sink_(rows, err)) {
    healthy_ = true;
    dbHealthy_.store(true, std::memory_order_relaxed);
    backoff_ = opts_.retryMin;
    written_.fetch_add(rows.size(), std::memory_order_relaxed);
    batches_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  healthy_ = false;
  dbHealthy_.store(false, std::memory_order_relaxed);
  lastConnectionLost_ = err.connectionLost;
  lastSinkError_ = err.message.empty() ? "spend batch write failed" : err.message;
  setError(lastSinkError_);
  if (err.connectionLost) {
    nextRetry_ = now + backoff_;
    backoff_ = std::min(backoff_ * 2, opts_.retryMax);
  } else {
    // A refused statement is not an outage: retry (split) soon.
    nextRetry_ = now + opts_.retryMin;
  }
  return false;
}

size_t SpendWriter::spoolRows(SpendBatch rows, Clock::time_point now, bool stopping) {
  if (rows.empty()) return 0;
  std::string err;
  const size_t n = spoolOpen_ ? spool_.append(rows, err) : 0;
  if (!err.empty()) setError(err);
  publishSpool();
  if (n == rows.size()) {
    spoolFullNoted_ = false;
    return n;
  }
  const auto rest = rows.subspan(n);
  // Spool full or failing: a working database still takes them (out of order, not lost).
  if (healthy_ && !pastDeadline_ && writeDb(rest, now)) return rows.size();
  if (!stopping) {
    // Hold them (the writer stops draining the rings, which then overflow) until the spool
    // drains or the database answers; push() drops only once the overflow is full too.
    if (!spoolFullNoted_) setError("spend spool full: holding rows in memory");
    spoolFullNoted_ = true;
    return n;
  }
  dropped_.fetch_add(rest.size(), std::memory_order_relaxed);
  setError("spool full or unavailable at shutdown: dropped " + std::to_string(rest.size()) +
           " spend rows");
  return rows.size();
}

void SpendWriter::replayOne(Clock::time_point now) {
  spool_.peek(replayBatch_, replayBuf_);
  if (replayBuf_.empty()) {
    // Rows counted but unreadable (files removed underneath us): give up on them.
    const uint64_t lost = spool_.clear();
    dropped_.fetch_add(lost, std::memory_order_relaxed);
    if (lost > 0) setError("spool unreadable: dropped " + std::to_string(lost) + " spend rows");
    publishSpool();
    return;
  }
  pointTo(replayBuf_, replayRows_);
  if (writeDb(replayRows_, now)) {
    spool_.consume();
    replayBatch_ = std::min(replayBatch_ * 2, opts_.batchSize);
    poisonFailures_ = 0;
    publishSpool();
    return;
  }
  if (lastConnectionLost_) return;  // outage: same batch after the backoff
  // The database refused the batch: narrow it down to the row it refuses.
  if (replayBuf_.size() > 1) {
    replayBatch_ = std::max<size_t>(1, replayBuf_.size() / 2);
  } else if (++poisonFailures_ >= opts_.poisonAttempts) {
    setError("discarded spend row " + replayBuf_.front().requestId +
             " the database refused: " + lastSinkError_);
    spool_.consume();
    rejected_.fetch_add(1, std::memory_order_relaxed);
    poisonFailures_ = 0;
    replayBatch_ = opts_.batchSize;
    publishSpool();
  }
}

void SpendWriter::setError(std::string e) {
  std::lock_guard lk(errorMu_);
  lastError_ = std::move(e);
}

void SpendWriter::publishSpool() {
  spooled_.store(spool_.rows(), std::memory_order_relaxed);
  spoolBytes_.store(spool_.bytes(), std::memory_order_relaxed);
}

SpendWriterStats SpendWriter::stats() const {
  SpendWriterStats s;
  for (size_t i = 0; i < opts_.producers; ++i) {
    s.enqueued += producerState_[i].enqueued.load(std::memory_order_relaxed);
    s.overflowed += producerState_[i].overflowed.load(std::memory_order_relaxed);
    s.dropped += producerState_[i].dropped.load(std::memory_order_relaxed);
  }
  s.written = written_.load(std::memory_order_relaxed);
  s.batches = batches_.load(std::memory_order_relaxed);
  s.spooled = spooled_.load(std::memory_order_relaxed);
  s.spoolBytes = spoolBytes_.load(std::memory_order_relaxed);
  s.dropped += dropped_.load(std::memory_order_relaxed);
  s.rejected = rejected_.load(std::memory_order_relaxed);
  s.corrupt = corrupt_.load(std::memory_order_relaxed);
  s.dbHealthy = dbHealthy_.load(std::memory_order_relaxed);
  std::lock_guard lk(errorMu_);
  s.lastError = lastError_;
  return s;
}

}  // namespace llmux::store
