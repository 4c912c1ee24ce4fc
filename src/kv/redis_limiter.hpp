#pragma once
// Admission control shared by every llmux instance (governance/limits.hpp semantics, counters in
// Redis). admit() is exactly one round trip: one EVALSHA of the admit script covering every
// descriptor of the request (check all, then take all, atomically in Redis). settle() never waits:
// settles are aggregated per descriptor on this thread and flushed as one script call every
// flushInterval, or at once when flushAfter settles are pending.
//
// Deployment: one RedisLimiter per I/O thread, each with its own RedisConnection on that thread's
// io_context. Each limiter is one "instance" in Redis (random id): its parallel slots and budget
// reservations are stored under its id and count only while its lease is renewed, so a crashed
// process cannot leak them (see limiter_scripts.hpp for the key layout and the lease rules).
// Nothing is shared between limiters; all members except stats()/available() must be called on
// the connection's executor thread.
//
// Ordering and exactly-once of settles (why a release is never lost nor doubled):
//  - one connection per limiter, so Redis runs this limiter's commands in the order they were
//    sent: a settle flush always runs after the admits it settles;
//  - the parallel slots and the budget reservation this instance holds on a descriptor are sent as
//    absolute values (held + admits still in flight, an upper bound), which are idempotent: a flush
//    whose reply is lost can be re-sent, and any unknown outcome (admit or flush whose reply was
//    lost) is corrected by re-sending the absolute values after the reconnect;
//  - the token and spend true-ups are relative: each flush carries a sequence number, Redis keeps
//    the last one applied per (descriptor, instance) and skips a re-sent batch it already applied;
//    a failed flush is re-sent as is, before anything newer, and only one flush is in flight.
//  - releases are bounded by what this limiter holds, so a settle of a request that was admitted
//    while Redis was down (fail_open) releases nothing.
// Shutdown: co_await flush() before destroying the limiter, or pending settles are lost (Redis
// then frees the slots and reservations when the lease ends; the spend true-up is only lost in the
// counter, the spend log still has it).
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "governance/limits.hpp"
#include "kv/redis_connection.hpp"

namespace llmux::kv {

struct LimiterConfig {
  std::string prefix = "llmux";  // keys are "{<prefix>:<descriptor id>}:win" etc.
  std::chrono::milliseconds flushInterval{20};
  size_t flushAfter = 64;  // pending settles that trigger a flush at once
  std::chrono::milliseconds lease{30000};
  size_t maxBatchEntries = 512;  // descriptors per settle script call
};

struct LimiterStats {
  std::atomic<uint64_t> admits{0};
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> unavailable{0};    // admits answered with unavailable=true
  std::atomic<uint64_t> scriptErrors{0};   // error replies from a script (not NOSCRIPT)
  std::atomic<uint64_t> evalFallbacks{0};  // NOSCRIPT answered by a full EVAL
  std::atomic<uint64_t> settles{0};
  std::atomic<uint64_t> flushes{0};        // settle batches applied
  std::atomic<uint64_t> flushFailures{0};  // batches kept for a re-send
};

class RedisLimiter {
 public:
  // `conn` should already be start()ed (or be started by the caller); the limiter loads its
  // scripts each time the connection becomes ready.
  explicit RedisLimiter(std::shared_ptr<RedisConnection> conn, LimiterConfig cfg = {});
  ~RedisLimiter();
  RedisLimiter(const RedisLimiter&) = delete;
  RedisLimiter& operator=(const RedisLimiter&) = delete;

  // One round trip. req.nowMs == 0 uses Redis' clock (TIME); tests inject their own. While the
  // connection is known to be down, returns {unavailable = true} at once; a command that gets no
  // reply returns it after the connection's command timeout. `req` and its descriptors must stay
  // valid until the awaitable completes.
  boost::asio::awaitable<governance::AdmitResult> admit(const governance::AdmitRequest& req);
  // Never blocks nor waits: aggregated and flushed in the background.
  void settle(const governance::SettleRequest& req);
  // Sends everything pending now and waits for it; true when Redis applied it all (shutdown,
  // tests).
  boost::asio::awaitable<bool> flush();

  [[nodiscard]] bool available() const;
  [[nodiscard]] const std::string& instanceId() const;
  [[nodiscard]] const LimiterStats& stats() const;
  [[nodiscard]] size_t pendingSettleEntries() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace llmux::kv
