#include "kv/redis_limiter.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/container/small_vector.hpp>
#include <cstdio>
#include <optional>
#include <random>
#include <unordered_map>
#include <vector>

#include "common/text.hpp"
#include "kv/limiter_scripts.hpp"

namespace llmux::kv {

namespace net = boost::asio;
using governance::AdmitRequest;
using governance::AdmitResult;
using governance::Descriptor;
using governance::LimitKind;
using governance::SettleRequest;
using Clock = std::chrono::steady_clock;

namespace {

// What this limiter holds on one descriptor. Slots and reservation are what Redis should show
// under this instance's id once every command sent so far has run.
struct Local {
  int64_t held = 0;           // parallel slots admitted, not yet settled
  int64_t inflightSlots = 0;  // admits sent whose reply is pending (each may take a slot)
  int64_t outCost = 0;        // budget reserved, not yet settled
  int64_t inflightCost = 0;
  int64_t outTokens = 0;   // tokens reserved, not yet settled (bounds the tpm release)
  int inflightAdmits = 0;  // pins the entry: admit() holds a pointer across its round trip
  bool dirty = false;      // the absolute values must be (re)sent
  [[nodiscard]] bool idle() const {
    return held == 0 && inflightSlots == 0 && outCost == 0 && inflightCost == 0 && outTokens == 0 &&
           inflightAdmits == 0 && !dirty;
  }
};

// The relative part of a settle batch for one descriptor (and budget period).
struct Entry {
  std::string id;
  bool tpm = false;
  int64_t tokAdd = 0;
  int64_t tokRelease = 0;
  bool budget = false;
  int64_t spendAdd = 0;
  int64_t period = 0;
  int64_t dbSpend = 0;
};

struct Batch {
  uint64_t seq = 0;
  std::vector<Entry> entries;
};

std::string randomInstanceId() {
  std::random_device rd;
  const uint64_t v = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

class RedisLimiter::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(std::shared_ptr<RedisConnection> conn, LimiterConfig cfg)
      : conn_(std::move(conn)),
        cfg_(std::move(cfg)),
        id_(randomInstanceId()),
        flushTimer_(conn_->executor()),
        leaseTimer_(conn_->executor()) {}

  void start() {
    hookId_ = conn_->onReady([w = weak_from_this()] {
      if (auto self = w.lock()) self->onConnected();
    });
    if (conn_->healthy()) {
      net::post(conn_->executor(), [w = weak_from_this()] {
        if (auto self = w.lock()) self->onConnected();
      });
    }
    armLeaseTimer();
  }

  void shutdown() {
    stopped_ = true;
    conn_->removeOnReady(hookId_);
    flushTimer_.cancel();
    leaseTimer_.cancel();
  }

  net::awaitable<AdmitResult> admit(const AdmitRequest& req);
  void settle(const SettleRequest& req);
  net::awaitable<bool> flush();

  std::shared_ptr<RedisConnection> conn_;
  LimiterConfig cfg_;
  std::string id_;
  LimiterStats stats_;
  std::unordered_map<std::string, Entry> pending_;  // by id + '\n' + budget period

 private:
  std::string key(std::string_view id, std::string_view suffix) const {
    std::string k;
    k.reserve(cfg_.prefix.size() + id.size() + 8);
    k += '{';
    k += cfg_.prefix;
    k += ':';
    k += id;
    k += "}:";
    k += suffix;
    return k;
  }

  void noteNow(int64_t nowMs) {
    if (nowMs <= 0) return;
    lastNowMs_ = nowMs;
    lastNowAt_ = Clock::now();
  }
  // The callers' clock, extrapolated (background flushes); 0 lets the script use Redis' clock.
  int64_t clockNow() const {
    if (lastNowMs_ <= 0) return 0;
    return lastNowMs_ +
           std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - lastNowAt_).count();
  }

  net::awaitable<Reply> evalScript(std::string_view script, const std::string& sha,
                                   std::vector<std::string>& argv);
  // views[0] and views[1] are filled in here (EVALSHA sha, or EVAL script).
  net::awaitable<Reply> evalViews(std::string_view script, const std::string& sha,
                                  std::vector<std::string_view>& views);

  // One request's answer from an admit batch: the script's integers for it (see
  // limiter_scripts.hpp), or why there are none. Inline storage: no allocation per request.
  struct AdmitAnswer {
    boost::container::small_vector<int64_t, 32> values;
    bool failed = false;  // no reply (connection); otherwise an error reply when values is empty
  };

  // Admits queued in one turn of the loop go to Redis as one script call: the request's keys
  // and arguments are appended here by admit(), then queueAdmit() waits for its answer.
  // Descriptors are sent once per batch (their keys and limits), requests refer to them by index.
  // Batches are recycled (their vectors keep their capacity).
  struct AdmitBatch {
    std::vector<const Descriptor*> descriptors;  // valid while their requests wait
    std::vector<std::string> keys;               // 3 per descriptor
    std::vector<std::string> descriptorArgs;     // 6 per descriptor
    std::vector<std::string> requestArgs;        // 5 + n per request
    std::vector<net::any_completion_handler<void(AdmitAnswer)>> waiters;
    // 1-based index of `d` in this batch, added when no equal descriptor is there yet.
    size_t indexOf(const Descriptor& d);
    void clear() {
      descriptors.clear();
      keys.clear();
      descriptorArgs.clear();
      requestArgs.clear();
      waiters.clear();
    }
  };
  template <typename Token>
  auto queueAdmit(Token&& token) {
    return net::async_initiate<Token, void(AdmitAnswer)>(
        [this](auto handler) {
          queued_.waiters.emplace_back(std::move(handler));
          if (queued_.waiters.size() >= kMaxAdmitBatch) {
            sendAdmits();
          } else if (!admitsPosted_) {
            admitsPosted_ = true;
            net::post(conn_->executor(), [self = shared_from_this()] {
              self->admitsPosted_ = false;
              self->sendAdmits();
            });
          }
        },
        token);
  }
  void sendAdmits();
  void sendAdmitBatch(std::shared_ptr<AdmitBatch> batch, bool bySha);
  static void answerAdmits(AdmitBatch& batch, const Reply& r);
  void recycle(std::shared_ptr<AdmitBatch> batch);
  static constexpr size_t kMaxAdmitBatch = 128;
  net::awaitable<bool> flushOnce();
  net::awaitable<void> flushLoop();
  [[nodiscard]] bool hasFlushWork() const;
  void kickFlush();
  void armFlushTimer();
  void armLeaseTimer();
  void onConnected();
  void eraseIfIdle(const std::string& id);

  int hookId_ = 0;
  std::string admitSha_;
  std::string settleSha_;
  AdmitBatch queued_;
  std::vector<std::shared_ptr<AdmitBatch>> spareBatches_;
  bool admitsPosted_ = false;
  std::string settleKey_;
  std::unordered_map<std::string, Local> local_;
  std::optional<Batch> unacked_;  // sent, reply lost: re-sent as is before anything newer
  uint64_t seq_ = 0;
  uint64_t flushSends_ = 0;
  size_t settlesSinceFlush_ = 0;
  bool flushing_ = false;
  bool timerArmed_ = false;
  bool stopped_ = false;
  int64_t lastNowMs_ = 0;
  Clock::time_point lastNowAt_{};
  net::steady_timer flushTimer_;
  net::steady_timer leaseTimer_;
};

net::awaitable<Reply> RedisLimiter::Impl::evalScript(std::string_view script,
                                                     const std::string& sha,
                                                     std::vector<std::string>& argv) {
  std::vector<std::string_view> views(argv.begin(), argv.end());
  co_return co_await evalViews(script, sha, views);
}

net::awaitable<Reply> RedisLimiter::Impl::evalViews(std::string_view script,
                                                    const std::string& shaRef,
                                                    std::vector<std::string_view>& views) {
  const std::string sha = shaRef;  // may be replaced while we wait
  if (!sha.empty()) {
    views[0] = "EVALSHA";
    views[1] = sha;
    Reply r = co_await conn_->command(views);
    // After a server restart or SCRIPT FLUSH: one EVAL, which also caches the script again.
    if (!r.errorIs("NOSCRIPT")) co_return r;
    ++stats_.evalFallbacks;
  }
  views[0] = "EVAL";
  views[1] = script;
  co_return co_await conn_->command(views);
}

void RedisLimiter::Impl::onConnected() {
  if (stopped_) return;
  net::co_spawn(
      conn_->executor(),
      [self = shared_from_this()]() -> net::awaitable<void> {
        std::vector<std::vector<std::string>> cmds = {
            {"SCRIPT", "LOAD", std::string(kAdmitScript)},
            {"SCRIPT", "LOAD", std::string(kSettleScript)}};
        auto replies = co_await self->conn_->pipeline(cmds);
        if (replies.size() == 2 && replies[0].type == Reply::Type::String &&
            replies[1].type == Reply::Type::String) {
          self->admitSha_ = replies[0].str;
          self->settleSha_ = replies[1].str;
        }
      },
      net::detached);
  // Unknown outcomes before the disconnect, or a restarted Redis: re-send what this instance holds.
  for (auto& [id, l] : local_) {
    if (l.held > 0 || l.outCost > 0) l.dirty = true;
  }
  kickFlush();
}

net::awaitable<AdmitResult> RedisLimiter::Impl::admit(const AdmitRequest& req) {
  auto keep = shared_from_this();
  AdmitResult res;
  ++stats_.admits;
  const std::vector<Descriptor>* ds = req.descriptors;
  if (ds == nullptr || ds->empty()) {
    res.ok = true;
    co_return res;
  }
  noteNow(req.nowMs);
  if (stopped_ || !conn_->healthy()) {
    ++stats_.unavailable;
    res.unavailable = true;
    co_return res;
  }
  const size_t n = ds->size();
  const int64_t cost = std::max<int64_t>(req.costNano, 0);
  const int64_t tokens = std::max<int64_t>(req.tokens, 0);
  auto& args = queued_.requestArgs;
  args.push_back(std::to_string(std::max<int64_t>(req.nowMs, 0)));
  args.push_back(std::to_string(tokens));
  args.push_back(std::to_string(cost));
  args.emplace_back(req.reserveBudget ? "1" : "0");
  args.push_back(std::to_string(n));
  for (const auto& d : *ds) {
    const size_t before = queued_.descriptors.size();
    const size_t idx = queued_.indexOf(d);
    if (queued_.descriptors.size() != before) {
      queued_.keys.push_back(key(d.id, "win"));
      queued_.keys.push_back(key(d.id, "in"));
      queued_.keys.push_back(key(d.id, "bg"));
      auto& da = queued_.descriptorArgs;
      da.push_back(std::to_string(d.rpm.value_or(-1)));
      da.push_back(std::to_string(d.tpm.value_or(-1)));
      da.push_back(std::to_string(d.parallel.value_or(-1)));
      da.push_back(std::to_string(d.maxBudgetNano.value_or(-1)));
      da.push_back(std::to_string(d.dbSpendNano));
      da.push_back(std::to_string(d.budgetPeriod));
    }
    args.push_back(std::to_string(idx));
  }

  // Count this admit as in flight where it may take something, so a flush sent meanwhile includes
  // it in the absolute values (an upper bound until the reply says).
  struct Touch {
    Local* l = nullptr;
    bool slot = false;
    bool res = false;
    bool tok = false;
  };
  boost::container::small_vector<Touch, 8> touch(n);
  for (size_t i = 0; i < n; ++i) {
    const auto& d = (*ds)[i];
    Touch& t = touch[i];
    t.slot = d.parallel.has_value();
    t.res = d.maxBudgetNano.has_value() && req.reserveBudget && cost > 0;
    t.tok = d.tpm.has_value() && tokens > 0;
    if (!t.slot && !t.res && !t.tok) continue;
    t.l = &local_[d.id];
    ++t.l->inflightAdmits;
    if (t.slot) ++t.l->inflightSlots;
    if (t.res) t.l->inflightCost += cost;
  }
  const uint64_t mark = flushSends_;

  const AdmitAnswer a = co_await queueAdmit(net::use_awaitable);

  const auto& el = a.values;
  const bool ok = !el.empty() && el[0] == 1 && el.size() == 2 + 4 * n;
  const bool refused = !el.empty() && el[0] == 0 && el.size() == 7;
  bool anyDirty = false;
  for (size_t i = 0; i < n; ++i) {
    Touch& t = touch[i];
    if (t.l == nullptr) continue;
    Local& l = *t.l;
    --l.inflightAdmits;
    if (t.slot) --l.inflightSlots;
    if (t.res) l.inflightCost -= cost;
    if (ok) {
      if (t.slot) ++l.held;
      if (t.res) l.outCost += cost;
      if (t.tok) l.outTokens += tokens;
    }
    if ((t.slot || t.res) && ((!ok && !refused) || flushSends_ != mark)) {
      // The outcome is unknown, or a flush sent meanwhile may have counted this admit wrongly (as
      // holding when refused; twice when a NOSCRIPT retry ran after it): re-send the truth.
      l.dirty = true;
      anyDirty = true;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (touch[i].l != nullptr) eraseIfIdle((*ds)[i].id);
  }
  if (anyDirty) armFlushTimer();

  if (ok) {
    res.ok = true;
    res.remaining.requests.resize(n);
    res.remaining.tokens.resize(n);
    res.remaining.parallel.resize(n);
    res.remaining.budgetNano.resize(n);
    for (size_t i = 0; i < n; ++i) {
      res.remaining.requests[i] = el[2 + 4 * i];
      res.remaining.tokens[i] = el[3 + 4 * i];
      res.remaining.parallel[i] = el[4 + 4 * i];
      res.remaining.budgetNano[i] = el[5 + 4 * i];
    }
    co_return res;
  }
  if (refused && el[1] >= 0 && static_cast<size_t>(el[1]) < n && el[2] >= 0 && el[2] <= 3) {
    ++stats_.refused;
    res.failed = static_cast<size_t>(el[1]);
    res.kind = static_cast<LimitKind>(el[2]);
    res.limit = el[3];
    res.current = el[4];
    res.retryAfterS = el[5];
    res.windowResetMs = el[6];
    co_return res;
  }
  if (!a.failed) ++stats_.scriptErrors;  // an error reply or a malformed answer
  ++stats_.unavailable;
  res.unavailable = true;
  co_return res;
}

size_t RedisLimiter::Impl::AdmitBatch::indexOf(const Descriptor& d) {
  for (size_t i = 0; i < descriptors.size(); ++i) {
    const Descriptor& o = *descriptors[i];
    if (&o == &d || (o.id == d.id && o.rpm == d.rpm && o.tpm == d.tpm && o.parallel == d.parallel &&
                     o.maxBudgetNano == d.maxBudgetNano && o.dbSpendNano == d.dbSpendNano &&
                     o.budgetPeriod == d.budgetPeriod)) {
      return i + 1;
    }
  }
  descriptors.push_back(&d);
  return descriptors.size();
}

void RedisLimiter::Impl::sendAdmits() {
  if (queued_.waiters.empty()) return;
  std::shared_ptr<AdmitBatch> batch;
  if (spareBatches_.empty()) {
    batch = std::make_shared<AdmitBatch>();
  } else {
    batch = std::move(spareBatches_.back());
    spareBatches_.pop_back();
  }
  // Swap the vectors (not the structs: the waiters' handlers are only ever move-constructed).
  std::swap(batch->descriptors, queued_.descriptors);
  std::swap(batch->keys, queued_.keys);
  std::swap(batch->descriptorArgs, queued_.descriptorArgs);
  std::swap(batch->requestArgs, queued_.requestArgs);
  std::swap(batch->waiters, queued_.waiters);
  sendAdmitBatch(std::move(batch), true);
}

void RedisLimiter::Impl::recycle(std::shared_ptr<AdmitBatch> batch) {
  constexpr size_t kSpares = 16;
  batch->clear();
  if (spareBatches_.size() < kSpares) spareBatches_.push_back(std::move(batch));
}

void RedisLimiter::Impl::sendAdmitBatch(std::shared_ptr<AdmitBatch> batch, bool bySha) {
  AdmitBatch& b = *batch;
  bySha = bySha && !admitSha_.empty();
  const std::string numKeys = std::to_string(b.keys.size());
  const std::string lease = std::to_string(cfg_.lease.count());
  const std::string count = std::to_string(b.waiters.size());
  const std::string unique = std::to_string(b.descriptors.size());
  std::vector<std::string_view> views;
  views.reserve(7 + b.keys.size() + b.descriptorArgs.size() + b.requestArgs.size());
  views.emplace_back(bySha ? std::string_view("EVALSHA") : std::string_view("EVAL"));
  views.emplace_back(bySha ? std::string_view(admitSha_) : kAdmitScript);
  views.emplace_back(numKeys);
  views.insert(views.end(), b.keys.begin(), b.keys.end());
  views.emplace_back(id_);
  views.emplace_back(lease);
  views.emplace_back(count);
  views.emplace_back(unique);
  views.insert(views.end(), b.descriptorArgs.begin(), b.descriptorArgs.end());
  views.insert(views.end(), b.requestArgs.begin(), b.requestArgs.end());
  // The command is copied into hiredis' buffer here; the views need not outlive this call. The
  // completion runs as a handler of its own (never inside hiredis).
  conn_->asyncCommand(views, [self = shared_from_this(), batch, bySha](Reply r) mutable {
    // After a server restart or SCRIPT FLUSH: one EVAL, which also caches the script again.
    if (bySha && r.errorIs("NOSCRIPT")) {
      ++self->stats_.evalFallbacks;
      self->sendAdmitBatch(std::move(batch), false);
      return;
    }
    answerAdmits(*batch, r);
    self->recycle(std::move(batch));
  });
}

// Each waiter gets its own answer: its slice of the reply (length-prefixed), or, when the reply
// is not such an array (connection failure, error), none. Waiters are resumed here, in order; a
// resumed admit only queues work, so the batch stays valid throughout.
void RedisLimiter::Impl::answerAdmits(AdmitBatch& b, const Reply& r) {
  const auto& el = r.elements;
  const bool shaped = r.type == Reply::Type::Array &&
                      std::all_of(el.begin(), el.end(),
                                  [](const Reply& e) { return e.type == Reply::Type::Integer; });
  size_t pos = 0;
  for (auto& h : b.waiters) {
    AdmitAnswer mine;
    mine.failed = r.failed();
    if (shaped && pos < el.size() && el[pos].integer >= 0 &&
        static_cast<size_t>(el[pos].integer) <= el.size() - pos - 1) {
      const auto len = static_cast<size_t>(el[pos].integer);
      for (size_t i = 0; i < len; ++i) mine.values.push_back(el[pos + 1 + i].integer);
      pos += 1 + len;
    } else {
      pos = el.size();  // a malformed reply answers nobody after this point
    }
    std::move(h)(std::move(mine));
  }
}

void RedisLimiter::Impl::settle(const SettleRequest& req) {
  ++stats_.settles;
  if (req.descriptors == nullptr || stopped_) return;
  noteNow(req.nowMs);
  for (const auto& d : *req.descriptors) {
    auto it = local_.find(d.id);
    Local* l = it == local_.end() ? nullptr : &it->second;
    Entry* e = nullptr;
    auto entry = [&]() -> Entry& {
      if (e == nullptr) {
        // The key is built in a reused string: no allocation once the entry exists.
        settleKey_.assign(d.id);
        settleKey_ += '\n';
        appendDecimal(settleKey_, d.budgetPeriod);
        auto it = pending_.find(settleKey_);
        if (it == pending_.end()) it = pending_.emplace(settleKey_, Entry{}).first;
        e = &it->second;
        if (e->id.empty()) e->id = d.id;
      }
      return *e;
    };
    // Releases are bounded by what this limiter holds: a request admitted while Redis was down
    // (fail_open) took nothing, so it gives nothing back.
    int64_t tokRelease = 0;
    if (l != nullptr) {
      tokRelease = std::min(std::max<int64_t>(req.reservedTokens, 0), l->outTokens);
      l->outTokens -= tokRelease;
      if (req.reserveBudget) {
        const int64_t c = std::min(std::max<int64_t>(req.reservedCostNano, 0), l->outCost);
        if (c > 0) {
          l->outCost -= c;
          l->dirty = true;
        }
      }
      if (l->held > 0) {
        --l->held;
        l->dirty = true;
      }
    }
    if (d.tpm.has_value() && (req.actualTokens != 0 || tokRelease != 0)) {
      Entry& x = entry();
      x.tpm = true;
      x.tokAdd += std::max<int64_t>(req.actualTokens, 0);
      x.tokRelease += tokRelease;
    }
    if (d.maxBudgetNano.has_value() && req.actualCostNano > 0) {
      Entry& x = entry();
      x.budget = true;
      x.spendAdd += req.actualCostNano;
      x.period = d.budgetPeriod;
      x.dbSpend = d.dbSpendNano;
    }
    if (l != nullptr) eraseIfIdle(d.id);
  }
  if (++settlesSinceFlush_ >= cfg_.flushAfter) {
    kickFlush();
  } else {
    armFlushTimer();
  }
}

void RedisLimiter::Impl::eraseIfIdle(const std::string& id) {
  // Idle entries are kept until there are many: a busy key's next request then finds its entry
  // instead of allocating it again.
  constexpr size_t kKeepIdle = 1024;
  if (local_.size() <= kKeepIdle) return;
  auto it = local_.find(id);
  if (it != local_.end() && it->second.idle()) local_.erase(it);
}

bool RedisLimiter::Impl::hasFlushWork() const {
  if (unacked_ || !pending_.empty()) return true;
  return std::any_of(local_.begin(), local_.end(), [](const auto& kv) { return kv.second.dirty; });
}

void RedisLimiter::Impl::armFlushTimer() {
  if (timerArmed_ || stopped_) return;
  timerArmed_ = true;
  flushTimer_.expires_after(cfg_.flushInterval);
  flushTimer_.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
    auto self = w.lock();
    if (!self) return;
    self->timerArmed_ = false;
    if (!ec) self->kickFlush();
  });
}

void RedisLimiter::Impl::armLeaseTimer() {
  if (stopped_) return;
  leaseTimer_.expires_after(std::max(cfg_.lease / 3, std::chrono::milliseconds(1)));
  leaseTimer_.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
    auto self = w.lock();
    if (!self || ec) return;
    // Renew the lease wherever this instance holds something.
    for (auto& [id, l] : self->local_) {
      if (l.held > 0 || l.outCost > 0) l.dirty = true;
    }
    self->kickFlush();
    self->armLeaseTimer();
  });
}

void RedisLimiter::Impl::kickFlush() {
  if (flushing_ || stopped_ || !conn_->healthy() || !hasFlushWork()) return;
  flushing_ = true;
  net::co_spawn(
      conn_->executor(), [self = shared_from_this()]() { return self->flushLoop(); },
      net::detached);
}

net::awaitable<void> RedisLimiter::Impl::flushLoop() {
  auto keep = shared_from_this();
  while (hasFlushWork() && conn_->healthy()) {
    if (!co_await flushOnce()) break;  // the connection is down: onConnected() resumes
    // More settles arrived meanwhile: at once when many, else after the interval.
    if (settlesSinceFlush_ < cfg_.flushAfter) {
      if (hasFlushWork()) armFlushTimer();
      break;
    }
  }
  flushing_ = false;
}

net::awaitable<bool> RedisLimiter::Impl::flushOnce() {
  Batch b;
  if (unacked_) {
    b.seq = unacked_->seq;
    b.entries = std::move(unacked_->entries);
    unacked_.reset();
  } else {
    b.seq = ++seq_;
    for (auto it = pending_.begin();
         it != pending_.end() && b.entries.size() < cfg_.maxBatchEntries;) {
      b.entries.push_back(std::move(it->second));
      it = pending_.erase(it);
    }
  }
  settlesSinceFlush_ = 0;

  // Rows: the batch's entries, then absolute-only rows for other descriptors marked dirty.
  struct Row {
    const Entry* e;
    std::string id;
    int64_t absSlots = -1;
    int64_t absReserved = -1;
  };
  std::vector<Row> rows;
  std::vector<std::string> sentAbs;
  auto absFor = [&](const std::string& id, Row& row) {
    auto it = local_.find(id);
    if (it == local_.end() || !it->second.dirty) return;
    Local& l = it->second;
    row.absSlots = l.held + l.inflightSlots;
    row.absReserved = l.outCost + l.inflightCost;
    l.dirty = false;
    sentAbs.push_back(id);
  };
  for (const Entry& e : b.entries) {
    rows.push_back(Row{&e, e.id});
    absFor(e.id, rows.back());
  }
  for (auto& [id, l] : local_) {
    if (!l.dirty || rows.size() >= cfg_.maxBatchEntries + b.entries.size()) continue;
    rows.push_back(Row{nullptr, id});
    absFor(id, rows.back());
  }
  if (rows.empty()) co_return true;

  std::vector<std::string> argv;
  argv.reserve(3 + 3 * rows.size() + 5 + 9 * rows.size());
  argv.emplace_back();
  argv.emplace_back();
  argv.push_back(std::to_string(3 * rows.size()));
  for (const Row& row : rows) {
    argv.push_back(key(row.id, "win"));
    argv.push_back(key(row.id, "in"));
    argv.push_back(key(row.id, "bg"));
  }
  argv.push_back(std::to_string(clockNow()));
  argv.push_back(id_);
  argv.push_back(std::to_string(cfg_.lease.count()));
  argv.push_back(std::to_string(b.seq));
  argv.push_back(std::to_string(rows.size()));
  static const Entry kNone{};
  for (const Row& row : rows) {
    const Entry& e = row.e != nullptr ? *row.e : kNone;
    argv.push_back(e.tpm ? "1" : "0");
    argv.push_back(std::to_string(e.tokAdd));
    argv.push_back(std::to_string(e.tokRelease));
    argv.push_back(e.budget ? "1" : "0");
    argv.push_back(std::to_string(e.spendAdd));
    argv.push_back(std::to_string(e.period));
    argv.push_back(std::to_string(e.dbSpend));
    argv.push_back(std::to_string(row.absSlots));
    argv.push_back(std::to_string(row.absReserved));
  }
  ++flushSends_;
  Reply r = co_await evalScript(kSettleScript, settleSha_, argv);
  if (r.type == Reply::Type::Integer) {
    ++stats_.flushes;
    for (const auto& id : sentAbs) eraseIfIdle(id);
    co_return true;
  }
  for (const auto& id : sentAbs) {
    if (auto it = local_.find(id); it != local_.end()) it->second.dirty = true;
  }
  if (r.failed()) {
    // Applied or not, we cannot tell: re-send the same batch (same seq) first.
    ++stats_.flushFailures;
    if (!b.entries.empty()) unacked_.emplace(Batch{b.seq, std::move(b.entries)});
    co_return false;
  }
  // An error reply would repeat forever: the relative part is dropped (the spend log keeps it).
  ++stats_.scriptErrors;
  co_return true;
}

net::awaitable<bool> RedisLimiter::Impl::flush() {
  auto keep = shared_from_this();
  net::steady_timer wait(conn_->executor());
  while (flushing_) {  // a background flush is running: let it finish first
    wait.expires_after(std::chrono::milliseconds(1));
    co_await wait.async_wait(net::use_awaitable);
  }
  if (!conn_->healthy()) co_return !hasFlushWork();
  flushing_ = true;
  bool ok = true;
  while (ok && hasFlushWork() && conn_->healthy()) ok = co_await flushOnce();
  flushing_ = false;
  co_return ok && !hasFlushWork();
}

RedisLimiter::RedisLimiter(std::shared_ptr<RedisConnection> conn, LimiterConfig cfg)
    : impl_(std::make_shared<Impl>(std::move(conn), std::move(cfg))) {
  impl_->start();
}

RedisLimiter::~RedisLimiter() {
  impl_->shutdown();
}

net::awaitable<AdmitResult> RedisLimiter::admit(const AdmitRequest& req) {
  return impl_->admit(req);
}

void RedisLimiter::settle(const SettleRequest& req) {
  impl_->settle(req);
}

net::awaitable<bool> RedisLimiter::flush() {
  return impl_->flush();
}

bool RedisLimiter::available() const {
  return impl_->conn_->healthy();
}

const std::string& RedisLimiter::instanceId() const {
  return impl_->id_;
}

const LimiterStats& RedisLimiter::stats() const {
  return impl_->stats_;
}

size_t RedisLimiter::pendingSettleEntries() const {
  return impl_->pending_.size();
}

}  // namespace llmux::kv
