#include "kv/redis_connection.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>

#include "kv/hiredis_asio.hpp"
#include "kv/resp.hpp"

namespace llmux::kv {

namespace net = boost::asio;

namespace {
// Commands with at most this many arguments build their argv on the stack.
// The reused command buffer is given back after a command larger than this.
constexpr size_t kKeepRespBytes = size_t{1} << 20;

// Posts the completion to the handler's own executor (the awaiting coroutine's). Not via
// net::append, which hands the handler on as an lvalue: Boost 1.81's any_completion_handler then
// wraps itself recursively.
template <typename T>
void deliver(const net::any_io_executor& fallback, net::any_completion_handler<void(T)> h, T v) {
  auto ex = net::get_associated_executor(h, fallback);
  net::post(fallback, net::bind_executor(ex, [h = std::move(h), v = std::move(v)]() mutable {
              std::move(h)(std::move(v));
            }));
}
}  // namespace

std::shared_ptr<RedisConnection> RedisConnection::create(net::any_io_executor ex,
                                                         ConnectionConfig cfg) {
  return std::shared_ptr<RedisConnection>(new RedisConnection(std::move(ex), std::move(cfg)));
}

RedisConnection::RedisConnection(net::any_io_executor ex, ConnectionConfig cfg)
    : ex_(ex),
      cfg_(std::move(cfg)),
      timer_(ex),
      backoff_(ex),
      jitter_(reinterpret_cast<uintptr_t>(this) ^
              static_cast<uint64_t>(Clock::now().time_since_epoch().count())) {}

RedisConnection::~RedisConnection() {
  stop();
}

void RedisConnection::start() {
  if (state_ != State::Stopped) return;
  attempts_ = 0;
  startConnect();
}

void RedisConnection::stop() {
  state_ = State::Stopped;
  healthy_.store(false, std::memory_order_relaxed);
  timer_.cancel();
  backoff_.cancel();
  timerArmed_ = false;
  if (resolver_) resolver_->cancel();
  if (ac_ != nullptr) {
    failReason_ = "connection closed";
    redisAsyncFree(ac_);  // fails every pending command; contextGone() sees state_ == Stopped
  }
  ac_ = nullptr;
  while (!pending_.empty()) {  // not expected: hiredis completed them all above
    Pending p = std::move(pending_.front());
    pending_.pop_front();
    if (p.handler) complete(std::move(p.handler), Reply::failure("connection closed"));
  }
}

int RedisConnection::onReady(std::function<void()> fn) {
  readyHooks_.emplace_back(nextHookId_, std::move(fn));
  return nextHookId_++;
}

void RedisConnection::removeOnReady(int id) {
  std::erase_if(readyHooks_, [id](const auto& h) { return h.first == id; });
}

void RedisConnection::startConnect() {
  state_ = State::Resolving;
  ++generation_;
  boost::system::error_code ec;
  net::ip::make_address(cfg_.host, ec);
  if (!ec) {
    connectTo(cfg_.host);
    return;
  }
  if (!resolver_) resolver_.emplace(ex_);
  resolver_->async_resolve(
      cfg_.host, std::to_string(cfg_.port),
      [w = weak_from_this(), gen = generation_](const boost::system::error_code& rec,
                                                net::ip::tcp::resolver::results_type results) {
        auto self = w.lock();
        if (!self || self->generation_ != gen || self->state_ != State::Resolving) return;
        if (rec || results.empty()) {
          self->lastError_ = "resolve " + self->cfg_.host + ": " +
                             (rec ? rec.message() : std::string("no address"));
          ++self->stats_.connectFailures;
          self->scheduleReconnect();
          return;
        }
        self->connectTo(results.begin()->endpoint().address().to_string());
      });
}

void RedisConnection::connectTo(const std::string& ip) {
  redisAsyncContext* ac = redisAsyncConnect(ip.c_str(), cfg_.port);
  if (ac == nullptr || ac->err != 0) {
    lastError_ = ac ? std::string("connect: ") + ac->errstr : "connect: out of memory";
    if (ac) redisAsyncFree(ac);  // nothing attached yet: no hooks, no callbacks
    ++stats_.connectFailures;
    scheduleReconnect();
    return;
  }
  if (!attachAsio(ac, ex_, [this](std::string_view err) { contextGone(err); })) {
    redisAsyncFree(ac);
    lastError_ = "connect: cannot register the socket";
    ++stats_.connectFailures;
    scheduleReconnect();
    return;
  }
  buildOwnedReplies(ac->c.reader);
  ac_ = ac;
  state_ = State::Connecting;
  handshakeFailed_ = false;
  failReason_.clear();
  // The handshake is queued before the TCP connect completes; hiredis sends it once it does.
  const auto deadline = Clock::now() + cfg_.connectTimeout;
  handshakeLeft_ = 0;
  auto queue = [&](std::span<const std::string_view> argv) {
    if (send(argv, Pending{deadline, {}, true})) ++handshakeLeft_;
  };
  if (!cfg_.password.empty()) {
    if (cfg_.username.empty()) {
      const std::array<std::string_view, 2> a{"AUTH", cfg_.password};
      queue(a);
    } else {
      const std::array<std::string_view, 3> a{"AUTH", cfg_.username, cfg_.password};
      queue(a);
    }
  }
  const std::string db = std::to_string(cfg_.db);
  if (cfg_.db != 0) {
    const std::array<std::string_view, 2> a{"SELECT", db};
    queue(a);
  }
  const std::array<std::string_view, 1> ping{"PING"};
  queue(ping);
  if (ac_ != nullptr && handshakeLeft_ == 0) teardown("connect: cannot queue the handshake");
}

bool RedisConnection::send(std::span<const std::string_view> argv, Pending&& p) {
  if (ac_ == nullptr || argv.empty()) return false;
  // Formatted here (kv/resp.hpp); hiredis copies the bytes into its output buffer.
  resp_.clear();
  appendResp(resp_, argv);
  const int rc = redisAsyncFormattedCommand(ac_, &RedisConnection::replyCallback, this,
                                            resp_.data(), resp_.size());
  if (resp_.capacity() > kKeepRespBytes) std::string().swap(resp_);
  if (rc != REDIS_OK) return false;
  pending_.push_back(std::move(p));
  armTimeout();
  return true;
}

void RedisConnection::submit(std::span<const std::string_view> argv,
                             net::any_completion_handler<void(Reply)> handler) {
  if (state_ != State::Ready || ac_ == nullptr) {
    complete(std::move(handler),
             Reply::failure(lastError_.empty() ? "redis not connected"
                                               : "redis not connected: " + lastError_));
    return;
  }
  if (argv.empty()) {
    complete(std::move(handler), Reply::failure("empty command"));
    return;
  }
  ++stats_.commands;
  Pending p{Clock::now() + cfg_.commandTimeout, std::move(handler), false};
  // send() only moves from `p` when it succeeds; on failure the handler is still ours.
  if (!send(argv, std::move(p))) {
    if (p.handler) complete(std::move(p.handler), Reply::failure("redis command not queued"));
  }
}

void RedisConnection::submitPipeline(
    std::span<const std::vector<std::string>> cmds,
    net::any_completion_handler<void(std::vector<Reply>)> handler) {
  // Boost 1.81's any_completion_handler move *assignment* recurses forever (it copies from an
  // lvalue through its converting constructor): handlers are only ever move-constructed here.
  struct Batch {
    Batch(size_t n, net::any_completion_handler<void(std::vector<Reply>)> h, net::any_io_executor e)
        : replies(n), left(n), handler(std::move(h)), ex(std::move(e)) {}
    std::vector<Reply> replies;
    size_t left;
    net::any_completion_handler<void(std::vector<Reply>)> handler;
    net::any_io_executor ex;
  };
  auto b = std::make_shared<Batch>(cmds.size(), std::move(handler), ex_);
  if (cmds.empty()) {
    deliver(ex_, std::move(b->handler), std::vector<Reply>{});
    return;
  }
  std::vector<std::string_view> argv;
  for (size_t i = 0; i < cmds.size(); ++i) {
    argv.assign(cmds[i].begin(), cmds[i].end());
    submit(argv, net::any_completion_handler<void(Reply)>([b, i](Reply r) {
             b->replies[i] = std::move(r);
             if (--b->left == 0) deliver(b->ex, std::move(b->handler), std::move(b->replies));
           }));
  }
}

void RedisConnection::complete(net::any_completion_handler<void(Reply)> h, Reply r) {
  // Never resume the awaiting coroutine from inside hiredis (or from inside the initiation): it
  // could queue commands or destroy this connection there.
  deliver(ex_, std::move(h), std::move(r));
}

void RedisConnection::replyCallback(redisAsyncContext*, void* reply, void* privdata) {
  auto* self = static_cast<RedisConnection*>(privdata);
  if (reply == nullptr) {
    self->onReply(
        Reply::failure(self->failReason_.empty() ? "redis connection lost" : self->failReason_));
  } else {
    self->onReply(takeOwnedReply(reply));
  }
}

void RedisConnection::onReply(Reply r) {
  if (pending_.empty()) return;  // cannot happen: one callback per queued command, in order
  Pending p = std::move(pending_.front());
  pending_.pop_front();
  if (p.handshake) {
    onHandshakeReply(r);
    return;
  }
  complete(std::move(p.handler), std::move(r));
}

void RedisConnection::onHandshakeReply(const Reply& r) {
  if (r.failed()) return;  // the context is being torn down; contextGone() follows
  if (r.isError() && !handshakeFailed_) {
    handshakeFailed_ = true;
    handshakeError_ = r.str;  // e.g. WRONGPASS, NOAUTH, ERR DB index is out of range
  }
  if (--handshakeLeft_ > 0) return;
  if (handshakeFailed_) {
    // Inside a hiredis callback: close from a fresh handler.
    net::post(ex_, [w = weak_from_this(), gen = generation_] {
      auto self = w.lock();
      if (self && self->generation_ == gen && self->ac_ != nullptr) {
        self->teardown("handshake failed: " + self->handshakeError_);
      }
    });
    return;
  }
  state_ = State::Ready;
  attempts_ = 0;
  lastError_.clear();
  healthy_.store(true, std::memory_order_relaxed);
  ++stats_.connects;
  for (const auto& [id, fn] : readyHooks_) net::post(ex_, fn);
}

void RedisConnection::teardown(std::string why) {
  if (ac_ == nullptr) return;
  failReason_ = std::move(why);
  redisAsyncFree(ac_);  // completes every pending command with a null reply, then contextGone()
}

void RedisConnection::contextGone(std::string_view err) {
  // Called from inside hiredis while it frees the context: only bookkeeping here.
  ac_ = nullptr;
  healthy_.store(false, std::memory_order_relaxed);
  if (state_ == State::Stopped) return;
  if (state_ == State::Ready) ++stats_.disconnects;
  if (state_ == State::Connecting) ++stats_.connectFailures;
  lastError_ = !failReason_.empty() ? failReason_
               : !err.empty()       ? std::string(err)
                                    : std::string("connection lost");
  scheduleReconnect();
}

void RedisConnection::scheduleReconnect() {
  state_ = State::Backoff;
  healthy_.store(false, std::memory_order_relaxed);
  const int shift = attempts_ < 16 ? attempts_ : 16;
  ++attempts_;
  int64_t ms = cfg_.reconnectMin.count() << shift;
  if (ms > cfg_.reconnectMax.count() || ms <= 0) ms = cfg_.reconnectMax.count();
  jitter_ ^= jitter_ << 13;  // xorshift: spread reconnects of many threads/instances
  jitter_ ^= jitter_ >> 7;
  jitter_ ^= jitter_ << 17;
  ms = ms * (80 + static_cast<int64_t>(jitter_ % 41)) / 100;
  backoff_.expires_after(std::chrono::milliseconds(ms < 1 ? 1 : ms));
  backoff_.async_wait(
      [w = weak_from_this(), gen = generation_](const boost::system::error_code& ec) {
        auto self = w.lock();
        if (ec || !self || self->generation_ != gen || self->state_ != State::Backoff) return;
        self->startConnect();
      });
}

void RedisConnection::armTimeout() {
  if (pending_.empty()) return;
  // Deadlines only grow along the queue except for the handshake, which is queued first, so the
  // front is always the earliest deadline.
  const auto at = pending_.front().deadline;
  if (timerArmed_ && timerAt_ <= at) return;
  timerArmed_ = true;
  timerAt_ = at;
  timer_.expires_at(at);
  timer_.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
    auto self = w.lock();
    if (!self || ec == net::error::operation_aborted) return;
    self->onTimer();
  });
}

void RedisConnection::onTimer() {
  timerArmed_ = false;
  if (pending_.empty() || ac_ == nullptr) return;
  if (pending_.front().deadline <= Clock::now()) {
    const bool handshake = pending_.front().handshake;
    if (!handshake) ++stats_.timeouts;
    teardown(handshake ? "connect timeout" : "redis command timeout");
    return;
  }
  armTimeout();
}

}  // namespace llmux::kv
