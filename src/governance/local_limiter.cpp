// In-process admission control (local_limiter.hpp has the semantics and the concurrency design).
#include "governance/local_limiter.hpp"

#include <algorithm>
#include <array>
#include <functional>
#include <mutex>
#include <string>

namespace llmux::governance {

struct LocalLimiter::Counters {
  // Windows: high 32 bits = start in deciseconds (modulo 2^32), low 32 bits = count; 0 = none.
  alignas(64) std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> tokens{0};
  std::atomic<int64_t> parallel{0};
  std::atomic<int64_t> spent{0};  // nano-USD, settled
  std::atomic<int64_t> used{0};   // spent + reservations of requests in flight
  std::atomic<int64_t> period{std::numeric_limits<int64_t>::min()};
  std::atomic<bool> ignoreDbSpend{false};  // set by a reset until a newer period arrives
};

namespace {

using Counters = LocalLimiter::Counters;

struct Node {
  Counters counters;
  uint64_t hash = 0;
  std::string id;
};

constexpr int64_t kMsPerDs = 100;
constexpr int64_t kWindowDs = LocalLimiter::kWindowMs / kMsPerDs;
constexpr size_t kInitialSlots = 16;
constexpr size_t kInlineDescriptors = 16;

// Insert-only open addressing: a slot goes from null to a node once, so a reader holding an older
// table either finds the node or reaches a null slot and falls back to the locked path.
struct Table {
  explicit Table(size_t capacity) : mask(capacity - 1), slots(new std::atomic<Node*>[capacity]) {
    for (size_t i = 0; i < capacity; ++i) slots[i].store(nullptr, std::memory_order_relaxed);
  }
  size_t mask;
  std::unique_ptr<std::atomic<Node*>[]> slots;
};

Node* findIn(const Table* t, uint64_t hash, std::string_view id) {
  for (size_t i = (hash >> 6) & t->mask;; i = (i + 1) & t->mask) {
    Node* n = t->slots[i].load(std::memory_order_acquire);
    if (n == nullptr) return nullptr;
    if (n->hash == hash && n->id == id) return n;
  }
}

void placeIn(Table* t, Node* node) {
  size_t i = (node->hash >> 6) & t->mask;
  while (t->slots[i].load(std::memory_order_relaxed) != nullptr) i = (i + 1) & t->mask;
  t->slots[i].store(node, std::memory_order_release);
}

uint64_t hashId(std::string_view id) {
  return std::hash<std::string_view>{}(id);
}

int64_t floorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && (a < 0));
}

// --- windows -------------------------------------------------------------------------------------
uint32_t startOf(uint64_t s) {
  return static_cast<uint32_t>(s >> 32);
}
uint32_t countOf(uint64_t s) {
  return static_cast<uint32_t>(s);
}
uint64_t pack(uint32_t start, uint32_t count) {
  return (uint64_t{start} << 32) | count;
}
// Deciseconds since the window started; negative when another thread read a later clock first.
int32_t ageDs(uint64_t s, int64_t nowDs) {
  return static_cast<int32_t>(static_cast<uint32_t>(nowDs) - startOf(s));
}
bool isLive(uint64_t s, int64_t nowDs) {
  return s != 0 && ageDs(s, nowDs) < kWindowDs;
}
int64_t endMsOf(uint64_t s, int64_t nowDs) {
  return (nowDs - ageDs(s, nowDs) + kWindowDs) * kMsPerDs;
}
int64_t liveCount(uint64_t s, int64_t nowDs) {
  return isLive(s, nowDs) ? countOf(s) : 0;
}

struct WindowTake {
  uint64_t before = 0;
  uint64_t after = 0;
  int64_t current = 0;  // count after taking, or before refusing
  int64_t endMs = 0;
};

bool takeWindow(std::atomic<uint64_t>& a, int64_t n, int64_t limit, int64_t nowDs, WindowTake& w) {
  uint64_t s = a.load(std::memory_order_relaxed);
  for (;;) {
    const bool live = isLive(s, nowDs);
    const int64_t count = live ? countOf(s) : 0;
    w.endMs = live ? endMsOf(s, nowDs) : (nowDs + kWindowDs) * kMsPerDs;
    if (count + n > limit) {
      w.current = count;
      return false;
    }
    const uint32_t start = live ? startOf(s) : static_cast<uint32_t>(nowDs);
    const auto sum = static_cast<uint32_t>(std::min<int64_t>(count + n, UINT32_MAX));
    const uint64_t next = pack(start, sum);
    if (a.compare_exchange_weak(s, next, std::memory_order_relaxed)) {
      w.before = s;
      w.after = next;
      w.current = sum;
      return true;
    }
  }
}

// Undoes a take: restores the exact previous state when nothing happened since (so a refused
// request does not anchor a window), else takes the count back out of the same window.
void untakeWindow(std::atomic<uint64_t>& a, const WindowTake& w, int64_t n) {
  uint64_t s = w.after;
  if (a.compare_exchange_strong(s, w.before, std::memory_order_relaxed)) return;
  for (;;) {
    if (startOf(s) != startOf(w.after)) return;  // that window is gone
    const uint32_t c = countOf(s);
    const uint64_t next = pack(startOf(s), c - static_cast<uint32_t>(std::min<int64_t>(c, n)));
    if (a.compare_exchange_weak(s, next, std::memory_order_relaxed)) return;
  }
}

void correctTokens(std::atomic<uint64_t>& a, int64_t delta, int64_t nowDs, int64_t admittedMs) {
  uint64_t s = a.load(std::memory_order_relaxed);
  for (;;) {
    if (!isLive(s, nowDs)) return;  // the reservation's window is over
    const uint32_t c = countOf(s);
    uint32_t next = 0;
    if (delta > 0) {
      next = static_cast<uint32_t>(std::min<int64_t>(c + delta, UINT32_MAX));
    } else {
      if (admittedMs != LocalLimiter::kUnknownAdmitTime) {
        // The live window started after the admission: the reservation died with its window.
        const auto admittedDs = static_cast<uint32_t>(floorDiv(admittedMs, kMsPerDs));
        if (static_cast<int32_t>(startOf(s) - admittedDs) > 0) return;
      }
      next = c - static_cast<uint32_t>(std::min<int64_t>(c, -delta));
    }
    if (a.compare_exchange_weak(s, pack(startOf(s), next), std::memory_order_relaxed)) return;
  }
}

// --- parallel and budget -------------------------------------------------------------------------
bool takeParallel(std::atomic<int64_t>& a, int64_t limit, int64_t& current) {
  int64_t p = a.load(std::memory_order_relaxed);
  do {
    if (p + 1 > limit) {
      current = p;
      return false;
    }
  } while (!a.compare_exchange_weak(p, p + 1, std::memory_order_relaxed));
  current = p + 1;
  return true;
}

// Brings the counters to the descriptor's view of the database (see the header).
void syncBudget(Counters& c, const Descriptor& d) {
  int64_t period = c.period.load(std::memory_order_acquire);
  if (d.budgetPeriod > period) {
    if (c.period.compare_exchange_strong(period, d.budgetPeriod, std::memory_order_acq_rel)) {
      const int64_t old = c.spent.exchange(d.dbSpendNano, std::memory_order_relaxed);
      c.used.fetch_add(d.dbSpendNano - old, std::memory_order_relaxed);
      c.ignoreDbSpend.store(false, std::memory_order_relaxed);
    }
    return;
  }
  if (d.budgetPeriod < period || c.ignoreDbSpend.load(std::memory_order_relaxed)) return;
  int64_t s = c.spent.load(std::memory_order_relaxed);
  while (d.dbSpendNano > s) {
    if (c.spent.compare_exchange_weak(s, d.dbSpendNano, std::memory_order_relaxed)) {
      c.used.fetch_add(d.dbSpendNano - s, std::memory_order_relaxed);
      return;
    }
  }
}

void resetCounters(Counters& c) {
  c.ignoreDbSpend.store(true, std::memory_order_relaxed);
  const int64_t old = c.spent.exchange(0, std::memory_order_relaxed);
  c.used.fetch_sub(old, std::memory_order_relaxed);
}

int64_t divided(int64_t limit, int64_t divisor) {
  if (limit <= 0) return 0;
  return std::max<int64_t>(1, limit / divisor);
}

int64_t effectiveMaxBudget(const Descriptor& d, int64_t divisor) {
  const int64_t max = *d.maxBudgetNano;
  if (divisor <= 1 || max <= 0) return max;
  const int64_t base = std::clamp<int64_t>(d.dbSpendNano, 0, max);
  return base + (max - base) / divisor;
}

int64_t ceilSeconds(int64_t ms) {
  return ms <= 0 ? 0 : (ms + 999) / 1000;
}

// What one admission took from one descriptor, for rollback.
struct Taken {
  WindowTake req;
  WindowTake tok;
  bool tookReq = false;
  bool tookTok = false;
  bool tookPar = false;
  int64_t budgetReserved = 0;
};

void rollback(std::span<const Taken> taken, std::span<Counters* const> counters, int64_t tokens) {
  for (size_t i = taken.size(); i-- > 0;) {
    const Taken& t = taken[i];
    Counters& c = *counters[i];
    if (t.budgetReserved != 0) c.used.fetch_sub(t.budgetReserved, std::memory_order_relaxed);
    if (t.tookPar) c.parallel.fetch_sub(1, std::memory_order_relaxed);
    if (t.tookTok) untakeWindow(c.tokens, t.tok, tokens);
    if (t.tookReq) untakeWindow(c.requests, t.req, 1);
  }
}

}  // namespace

struct LocalLimiter::Shard {
  alignas(64) std::atomic<Table*> table{nullptr};
  mutable std::mutex mu;
  std::vector<std::unique_ptr<Table>> tables;  // current last; older ones stay for readers
  std::vector<std::unique_ptr<Node>> nodes;
};

LocalLimiter::LocalLimiter(int64_t divisor)
    : shards_(new Shard[kShards]), divisor_(std::max<int64_t>(1, divisor)) {
  for (size_t i = 0; i < kShards; ++i) {
    shards_[i].tables.push_back(std::make_unique<Table>(kInitialSlots));
    shards_[i].table.store(shards_[i].tables.back().get(), std::memory_order_release);
  }
}

LocalLimiter::~LocalLimiter() = default;

void LocalLimiter::setDivisor(int64_t divisor) {
  divisor_.store(std::max<int64_t>(1, divisor), std::memory_order_relaxed);
}

LocalLimiter::Counters* LocalLimiter::find(std::string_view id, uint64_t hash) const {
  const Shard& s = shards_[hash % kShards];
  Node* n = findIn(s.table.load(std::memory_order_acquire), hash, id);
  return n ? &n->counters : nullptr;
}

LocalLimiter::Handle LocalLimiter::resolve(std::string_view id) {
  const uint64_t hash = hashId(id);
  if (Counters* c = find(id, hash)) return Handle(c);
  Shard& s = shards_[hash % kShards];
  const std::lock_guard lock(s.mu);
  Table* t = s.table.load(std::memory_order_relaxed);
  if (Node* n = findIn(t, hash, id)) return Handle(&n->counters);
  if ((s.nodes.size() + 1) * 2 > t->mask + 1) {  // keep the load factor <= 1/2
    auto bigger = std::make_unique<Table>((t->mask + 1) * 2);
    for (const auto& n : s.nodes) placeIn(bigger.get(), n.get());
    t = bigger.get();
    s.tables.push_back(std::move(bigger));
    s.table.store(t, std::memory_order_release);
  }
  auto node = std::make_unique<Node>();
  node->hash = hash;
  node->id = std::string(id);
  placeIn(t, node.get());
  s.nodes.push_back(std::move(node));
  return Handle(&s.nodes.back()->counters);
}

void LocalLimiter::resolve(std::span<const Descriptor> descriptors, std::vector<Handle>& out) {
  out.clear();
  out.reserve(descriptors.size());
  for (const Descriptor& d : descriptors) out.push_back(resolve(d.id));
}

AdmitResult LocalLimiter::admit(const AdmitRequest& req) {
  AdmitResult out;
  admit(req, {}, out);  // no handles: each id is resolved
  return out;
}

void LocalLimiter::admit(const AdmitRequest& req, std::span<const Handle> handles,
                         AdmitResult& out) {
  static const std::vector<Descriptor> kNone;
  const std::vector<Descriptor>& descs = req.descriptors ? *req.descriptors : kNone;
  const size_t n = descs.size();
  const int64_t div = divisor();
  const int64_t nowDs = floorDiv(req.nowMs, kMsPerDs);
  const int64_t tokens = std::max<int64_t>(0, req.tokens);
  const int64_t cost = std::max<int64_t>(0, req.costNano);

  std::array<Taken, kInlineDescriptors> inlineTaken;
  std::array<Counters*, kInlineDescriptors> inlineCounters;
  std::vector<Taken> heapTaken;
  std::vector<Counters*> heapCounters;
  std::span<Taken> taken(inlineTaken.data(), std::min(n, kInlineDescriptors));
  std::span<Counters*> counters(inlineCounters.data(), taken.size());
  if (n > kInlineDescriptors) {
    heapTaken.resize(n);
    heapCounters.resize(n);
    taken = heapTaken;
    counters = heapCounters;
  }

  out.ok = false;
  out.unavailable = false;
  out.failed = 0;
  out.limit = out.current = out.retryAfterS = out.windowResetMs = 0;
  Remaining& rem = out.remaining;
  rem.requests.assign(n, -1);
  rem.tokens.assign(n, -1);
  rem.parallel.assign(n, -1);
  rem.budgetNano.assign(n, -1);

  auto refuse = [&](size_t i, LimitKind kind, int64_t limit, int64_t current, int64_t resetMs) {
    rollback(taken.first(i + 1), counters.first(i + 1), tokens);
    out.failed = i;
    out.kind = kind;
    out.limit = limit;
    out.current = current;
    out.windowResetMs = resetMs;
    out.retryAfterS = kind == LimitKind::Parallel ? 1 : ceilSeconds(resetMs - req.nowMs);
    if (kind != LimitKind::Budget) out.retryAfterS = std::max<int64_t>(1, out.retryAfterS);
    rem.requests.clear();
    rem.tokens.clear();
    rem.parallel.clear();
    rem.budgetNano.clear();
  };

  int64_t tightestReq = std::numeric_limits<int64_t>::max();
  int64_t tightestTok = std::numeric_limits<int64_t>::max();
  int64_t reqResetMs = 0;
  int64_t tokResetMs = 0;
  for (size_t i = 0; i < n; ++i) {
    const Descriptor& d = descs[i];
    Taken& t = taken[i];
    t = Taken{};
    // A missing or unresolved handle is resolved here rather than skipping the descriptor.
    counters[i] = i < handles.size() && handles[i] ? handles[i].c_ : resolve(d.id).c_;
    Counters& c = *counters[i];
    if (d.rpm) {
      const int64_t lim = divided(*d.rpm, div);
      if (!takeWindow(c.requests, 1, lim, nowDs, t.req)) {
        return refuse(i, LimitKind::Requests, lim, t.req.current, t.req.endMs);
      }
      t.tookReq = true;
      rem.requests[i] = std::max<int64_t>(0, lim - t.req.current);
      if (rem.requests[i] < tightestReq) {
        tightestReq = rem.requests[i];
        reqResetMs = t.req.endMs;
      }
    }
    if (d.tpm) {
      const int64_t lim = divided(*d.tpm, div);
      if (!takeWindow(c.tokens, tokens, lim, nowDs, t.tok)) {
        return refuse(i, LimitKind::Tokens, lim, t.tok.current, t.tok.endMs);
      }
      t.tookTok = true;
      rem.tokens[i] = std::max<int64_t>(0, lim - t.tok.current);
      if (rem.tokens[i] < tightestTok) {
        tightestTok = rem.tokens[i];
        tokResetMs = t.tok.endMs;
      }
    }
    if (d.parallel) {
      const int64_t lim = divided(*d.parallel, div);
      int64_t current = 0;
      if (!takeParallel(c.parallel, lim, current)) {
        return refuse(i, LimitKind::Parallel, lim, current, 0);
      }
      t.tookPar = true;
      rem.parallel[i] = std::max<int64_t>(0, lim - current);
    }
    if (d.maxBudgetNano) {
      syncBudget(c, d);
      const int64_t max = effectiveMaxBudget(d, div);
      const int64_t resetMs = d.budgetPeriod > req.nowMs ? d.budgetPeriod : 0;
      int64_t used = c.used.load(std::memory_order_relaxed);
      if (req.reserveBudget) {
        int64_t next = 0;
        do {
          // An exhausted budget refuses even a free request (spend >= max, LiteLLM's rule).
          if (used >= max || __builtin_add_overflow(used, cost, &next) || next > max) {
            return refuse(i, LimitKind::Budget, max, used, resetMs);
          }
        } while (!c.used.compare_exchange_weak(used, next, std::memory_order_relaxed));
        t.budgetReserved = cost;
        used = next;
      } else {
        const int64_t spent = c.spent.load(std::memory_order_relaxed);
        if (spent >= max) return refuse(i, LimitKind::Budget, max, spent, resetMs);
      }
      rem.budgetNano[i] = std::max<int64_t>(0, max - used);
    }
  }
  out.ok = true;
  out.windowResetMs = reqResetMs != 0 ? reqResetMs : tokResetMs;
}

void LocalLimiter::settle(const SettleRequest& req, int64_t admittedMs) {
  settle(req, {}, admittedMs);
}

void LocalLimiter::settle(const SettleRequest& req, std::span<const Handle> handles,
                          int64_t admittedMs) {
  if (req.descriptors == nullptr) return;
  const std::vector<Descriptor>& descs = *req.descriptors;
  const size_t n = descs.size();
  const int64_t nowDs = floorDiv(req.nowMs, kMsPerDs);
  const int64_t tokenDelta =
      std::max<int64_t>(0, req.actualTokens) - std::max<int64_t>(0, req.reservedTokens);
  const int64_t actual = std::max<int64_t>(0, req.actualCostNano);
  const int64_t reserved = req.reserveBudget ? std::max<int64_t>(0, req.reservedCostNano) : 0;
  for (size_t i = 0; i < n; ++i) {
    const Descriptor& d = descs[i];
    Counters& c = i < handles.size() && handles[i] ? *handles[i].c_ : *resolve(d.id).c_;
    if (d.tpm && tokenDelta != 0) correctTokens(c.tokens, tokenDelta, nowDs, admittedMs);
    if (d.parallel) c.parallel.fetch_sub(1, std::memory_order_relaxed);
    if (d.maxBudgetNano) {
      c.used.fetch_add(actual - reserved, std::memory_order_relaxed);
      c.spent.fetch_add(actual, std::memory_order_relaxed);
    }
  }
}

int64_t LocalLimiter::recordSpend(const Descriptor& d, int64_t costNano) {
  Counters& c = *resolve(d.id).c_;
  syncBudget(c, d);
  const int64_t add = std::max<int64_t>(0, costNano);
  c.used.fetch_add(add, std::memory_order_relaxed);
  return c.spent.fetch_add(add, std::memory_order_relaxed) + add;
}

void LocalLimiter::resetAll() {
  for (size_t i = 0; i < kShards; ++i) {
    const std::lock_guard lock(shards_[i].mu);
    for (const auto& node : shards_[i].nodes) resetCounters(node->counters);
  }
}

bool LocalLimiter::resetBudget(std::string_view id) {
  Counters* c = find(id, hashId(id));
  if (c == nullptr) return false;
  resetCounters(*c);
  return true;
}

size_t LocalLimiter::size() const {
  size_t total = 0;
  for (size_t i = 0; i < kShards; ++i) {
    const std::lock_guard lock(shards_[i].mu);
    total += shards_[i].nodes.size();
  }
  return total;
}

LocalLimiter::Snapshot LocalLimiter::peek(std::string_view id, int64_t nowMs) const {
  Snapshot snap;
  const Counters* found = find(id, hashId(id));
  if (found == nullptr) return snap;
  const Counters& c = *found;
  const int64_t nowDs = floorDiv(nowMs, kMsPerDs);
  const uint64_t r = c.requests.load(std::memory_order_relaxed);
  snap.exists = true;
  snap.requests = liveCount(r, nowDs);
  snap.windowEndMs = isLive(r, nowDs) ? endMsOf(r, nowDs) : 0;
  snap.tokens = liveCount(c.tokens.load(std::memory_order_relaxed), nowDs);
  snap.parallel = c.parallel.load(std::memory_order_relaxed);
  snap.spentNano = c.spent.load(std::memory_order_relaxed);
  snap.reservedNano = c.used.load(std::memory_order_relaxed) - snap.spentNano;
  return snap;
}

}  // namespace llmux::governance
