#pragma once
// The spend-log pipeline: I/O threads hand finished requests' rows to push() without locks or
// syscalls; one writer thread batches them into the database. While the database fails, rows go
// to the on-disk Spool (store/spool.hpp) and are replayed, oldest first, before newer rows once a
// retry succeeds. When the spool is full too, the writer holds its current batch and stops
// draining the rings, so rows back up into the rings and the overflow; push() drops (and counts)
// only when the overflow is full as well. flushAndStop() drains everything before returning: a row
// is lost there only when the database is down and the spool full (or in memory).
//
// Producers: each I/O worker owns one single-producer ring (boost::lockfree::spsc_queue) named by
// its index; a worker index must be used by one thread at a time. When a worker's ring is full the
// row goes to a shared, mutex-protected overflow deque (bounded by overflowCapacity), so a burst
// costs a lock but loses nothing; the worker stays on the overflow until the writer has emptied
// it, which keeps each worker's rows in push order end to end. Rows travel through the rings in
// heap nodes (Boost 1.81's spsc_queue only copy-constructs its elements), and the nodes travel
// back: the writer batches the nodes themselves (the sink gets pointers, nothing is copied) and,
// once their rows are written or spooled, clears them (strings keep their capacity) and returns
// them through their worker's free ring, so in steady state a worker fills a row (take() then
// push()) without allocating, and nothing is freed on another thread.
//
// Ordering: while the spool holds rows, new rows are appended behind them (spool-through) so the
// database always receives rows oldest first; the spool drains one batch per writer iteration.
// A batch that fails without connectionLost is halved on replay until a single row is left; a row
// that still fails `poisonAttempts` times is discarded (counted in `rejected`) so one bad row
// cannot block the spool forever.
#include <atomic>
#include <boost/lockfree/spsc_queue.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "store/records.hpp"
#include "store/repo.hpp"
#include "store/spool.hpp"

namespace llmux::store {

struct SpendWriterOptions {
  size_t producers = 1;              // I/O workers; push() takes an index below this
  size_t queueCapacity = 8192;       // rows per producer ring
  size_t overflowCapacity = 100000;  // rows in the shared overflow beyond that; then dropped
  size_t batchSize = 2000;           // rows per database transaction
  std::chrono::milliseconds flushInterval{500};  // a partial batch waits at most this long
  // The writer polls the rings this often (producers never signal it).
  std::chrono::milliseconds pollInterval{5};
  std::chrono::milliseconds retryMin{200};  // backoff between database retries after a failure
  std::chrono::milliseconds retryMax{10000};
  int poisonAttempts = 3;  // failures (not connection losses) before a single row is discarded
  SpoolOptions spool;
};

// Writes one batch in one transaction (production: repo writeSpendRows on the writer's Db).
// Called on the writer thread only.
using SpendSink = std::function<bool(SpendBatch, RepoError&)>;
// Called on the writer thread before retrying after a failure; false = still down (production:
// Db::healthy() / Db::reconnect()). Optional.
using ReconnectFn = std::function<bool()>;

struct SpendWriterStats {
  uint64_t enqueued = 0;    // rows accepted by push()
  uint64_t overflowed = 0;  // of those, rows that went through the overflow vector
  uint64_t written = 0;     // rows the sink committed
  uint64_t batches = 0;     // successful sink calls
  uint64_t spooled = 0;     // rows in the spool now
  uint64_t spoolBytes = 0;
  uint64_t dropped = 0;   // rows lost: overflow full, pushed after stop, no room at shutdown
  uint64_t rejected = 0;  // poison rows the database refused repeatedly
  uint64_t corrupt = 0;   // damaged spool records skipped at open
  bool dbHealthy = true;  // the last sink call succeeded
  std::string lastError;
};

class SpendWriter {
 public:
  SpendWriter(SpendWriterOptions opts, SpendSink sink, ReconnectFn reconnect = {});
  // Calls flushAndStop(5 s) when still running.
  ~SpendWriter();
  SpendWriter(const SpendWriter&) = delete;
  SpendWriter& operator=(const SpendWriter&) = delete;

  // Opens the spool (its rows are replayed first) and starts the writer thread. False with
  // `error` when the spool directory is unusable.
  bool start(std::string& error);

  // A cleared row for `worker` to fill and push(): a recycled one when its free ring has one.
  // Called by that worker only.
  std::unique_ptr<SpendRow> take(size_t worker);
  // Never blocks. True when the row was accepted (ring or overflow); false when it was dropped
  // (overflow full, worker index out of range, or flushAndStop() has begun).
  bool push(size_t worker, std::unique_ptr<SpendRow> row);
  bool push(size_t worker, SpendRow&& row);

  // Stops accepting rows and returns once every accepted row is in the database or the spool.
  // While the database works the spool is replayed too, until `deadline`; past the deadline, or
  // when the database is down, remaining rows go to the spool without further attempts. Safe to
  // call more than once (and without start(): then rows are spooled on this thread).
  void flushAndStop(std::chrono::milliseconds deadline);

  [[nodiscard]] SpendWriterStats stats() const;
  [[nodiscard]] size_t producers() const { return rings_.size(); }

 private:
  using Clock = std::chrono::steady_clock;
  // One cache line per producer: only its own worker writes it.
  struct alignas(64) Producer {
    std::atomic<bool> inflight{false};     // a push is between its closed-check and its enqueue
    std::atomic<bool> overflowing{false};  // its rows go to the overflow until that is empty
    std::atomic<uint64_t> enqueued{0};
    std::atomic<uint64_t> overflowed{0};
    std::atomic<uint64_t> dropped{0};
  };

  static constexpr uint32_t kNoWorker = UINT32_MAX;  // a node the writer made (overflow rows)

  void run();
  void recycle(uint32_t worker, SpendRow* node);
  void releasePending(size_t n);  // recycles the first n pending nodes
  [[nodiscard]] SpendBatch pending() const { return pending_; }
  bool iterate(Clock::time_point now, bool stopping);  // true when rows moved
  [[nodiscard]] size_t available() const;
  void collect();
  bool dbUp(Clock::time_point now);
  bool writeDb(SpendBatch rows, Clock::time_point now);
  size_t spoolRows(SpendBatch rows, Clock::time_point now, bool stopping);
  void replayOne(Clock::time_point now);
  void setError(std::string e);
  void publishSpool();

  SpendWriterOptions opts_;
  SpendSink sink_;
  ReconnectFn reconnect_;
  Spool spool_;

  // Producer side.
  std::vector<std::unique_ptr<boost::lockfree::spsc_queue<SpendRow*>>> rings_;
  std::vector<std::unique_ptr<boost::lockfree::spsc_queue<SpendRow*>>> free_;  // writer -> worker
  std::unique_ptr<Producer[]> producerState_;
  std::atomic<bool> closed_{false};
  std::mutex overflowMu_;
  std::deque<SpendRow> overflow_;
  std::atomic<size_t> overflowSize_{0};

  // Writer thread.
  std::thread thread_;
  std::mutex wakeMu_;
  std::condition_variable wake_;
  bool stopRequested_ = false;  // guarded by wakeMu_
  Clock::time_point deadline_;  // set before stopRequested_
  bool spoolOpen_ = false;
  bool started_ = false;
  bool stopped_ = false;
  size_t nextRing_ = 0;
  // The batch being built: nodes taken from the rings, with the worker each goes back to.
  std::vector<SpendRow*> pending_;
  std::vector<uint32_t> pendingWorker_;
  Clock::time_point pendingSince_;
  std::vector<SpendRow> replayBuf_;
  std::vector<const SpendRow*> replayRows_;
  size_t replayBatch_ = 0;
  int poisonFailures_ = 0;
  bool healthy_ = true;
  bool lastConnectionLost_ = false;
  bool spoolFullNoted_ = false;
  std::string lastSinkError_;
  bool pastDeadline_ = false;
  Clock::time_point nextRetry_;
  std::chrono::milliseconds backoff_;

  // Metrics.
  std::atomic<uint64_t> written_{0}, batches_{0}, spooled_{0}, spoolBytes_{0}, dropped_{0},
      rejected_{0}, corrupt_{0};
  std::atomic<bool> dbHealthy_{true};
  mutable std::mutex errorMu_;
  std::string lastError_;
};

}  // namespace llmux::store
