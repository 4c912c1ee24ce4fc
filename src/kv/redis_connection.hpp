#pragma once
// One asynchronous Redis connection (hiredis 0.14 redisAsyncContext) living on one io_context
// thread. Commands are sent in argv form (binary-safe) and awaited as coroutines; several may be
// in flight at once (pipelining: commands queued in the same handler go out in one write, replies
// come back in order). The connection reconnects in the background with exponential backoff and
// runs AUTH / SELECT / PING before it reports healthy(). A command that gets no reply within the
// command timeout fails, and since replies are ordered it also means the connection is stuck: it
// is closed (every other pending command fails too) and re-established.
//
// Threading: every member function except healthy() and stats() must be called on the
// executor's thread, and that executor must be run by a single thread. Nothing blocks that thread:
// the connect is non-blocking (redisAsyncConnect) and host names go through asio's resolver.
#include <array>
#include <atomic>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kv/reply.hpp"

struct redisAsyncContext;

namespace llmux::kv {

struct ConnectionConfig {
  std::string host = "127.0.0.1";  // IP literal or name (resolved asynchronously)
  uint16_t port = 6379;
  std::string username;  // Redis 6 ACL user: AUTH <username> <password>; empty: AUTH <password>
  std::string password;  // empty: no AUTH
  int db = 0;            // SELECT when not 0
  std::chrono::milliseconds connectTimeout{1000};  // TCP connect + AUTH/SELECT/PING replies
  std::chrono::milliseconds commandTimeout{500};
  std::chrono::milliseconds reconnectMin{50};    // backoff doubles from here...
  std::chrono::milliseconds reconnectMax{2000};  // ...up to here (with +-20 % jitter)
};

struct ConnectionStats {
  std::atomic<uint64_t> connects{0};  // handshakes completed
  std::atomic<uint64_t> connectFailures{0};
  std::atomic<uint64_t> disconnects{0};  // healthy connections lost
  std::atomic<uint64_t> timeouts{0};     // commands that got no reply in time
  std::atomic<uint64_t> commands{0};
};

class RedisConnection : public std::enable_shared_from_this<RedisConnection> {
 public:
  using Clock = std::chrono::steady_clock;

  static std::shared_ptr<RedisConnection> create(boost::asio::any_io_executor ex,
                                                 ConnectionConfig cfg);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Starts connecting in the background (returns at once).
  void start();
  // Closes the connection: pending commands fail, no reconnect until start() is called again.
  void stop();

  // Connected and handshake done. Readable from any thread (readiness probes, metrics).
  [[nodiscard]] bool healthy() const { return healthy_.load(std::memory_order_relaxed); }
  [[nodiscard]] const ConnectionStats& stats() const { return stats_; }
  [[nodiscard]] const ConnectionConfig& config() const { return cfg_; }
  [[nodiscard]] boost::asio::any_io_executor executor() const { return ex_; }
  [[nodiscard]] size_t inFlight() const { return pending_.size(); }
  // Why the last connection attempt or connection failed ("" when none did).
  [[nodiscard]] const std::string& lastError() const { return lastError_; }

  // Sends one command. The strings `argv` points to must stay valid until the returned awaitable
  // is co_awaited (it is initiated then), as with any asio buffer; `co_await c->command(v)` is
  // always fine. Fails at once (Reply::Type::Failed) while not healthy().
  template <typename Token = boost::asio::use_awaitable_t<>>
  auto asyncCommand(std::span<const std::string_view> argv, Token&& token = {}) {
    return boost::asio::async_initiate<Token, void(Reply)>(
        [self = shared_from_this(), argv](auto handler) {
          self->submit(argv, boost::asio::any_completion_handler<void(Reply)>(std::move(handler)));
        },
        token);
  }
  boost::asio::awaitable<Reply> command(std::span<const std::string_view> argv) {
    return asyncCommand(argv, boost::asio::use_awaitable);
  }
  // Convenience: co_await c->cmd("SET", key, value).
  template <typename... A>
  boost::asio::awaitable<Reply> cmd(const A&... args) {
    const std::array<std::string_view, sizeof...(A)> argv{std::string_view(args)...};
    co_return co_await command(argv);
  }
  // Sends every command at once and waits for all replies (in order).
  template <typename Token = boost::asio::use_awaitable_t<>>
  auto asyncPipeline(std::span<const std::vector<std::string>> cmds, Token&& token = {}) {
    return boost::asio::async_initiate<Token, void(std::vector<Reply>)>(
        [self = shared_from_this(), cmds](auto handler) {
          self->submitPipeline(cmds, boost::asio::any_completion_handler<void(std::vector<Reply>)>(
                                         std::move(handler)));
        },
        token);
  }
  boost::asio::awaitable<std::vector<Reply>> pipeline(
      std::span<const std::vector<std::string>> cmds) {
    return asyncPipeline(cmds, boost::asio::use_awaitable);
  }

  // `fn` runs (posted, on the executor) each time the connection becomes healthy. Returns an id
  // for removeOnReady().
  int onReady(std::function<void()> fn);
  void removeOnReady(int id);

 private:
  RedisConnection(boost::asio::any_io_executor ex, ConnectionConfig cfg);
  struct Pending {
    Clock::time_point deadline;
    boost::asio::any_completion_handler<void(Reply)> handler;  // empty for handshake commands
    bool handshake = false;
  };
  enum class State { Stopped, Resolving, Connecting, Ready, Backoff };

  void submit(std::span<const std::string_view> argv,
              boost::asio::any_completion_handler<void(Reply)> handler);
  void submitPipeline(std::span<const std::vector<std::string>> cmds,
                      boost::asio::any_completion_handler<void(std::vector<Reply>)> handler);
  bool send(std::span<const std::string_view> argv, Pending&& p);
  void complete(boost::asio::any_completion_handler<void(Reply)> h, Reply r);
  static void replyCallback(redisAsyncContext* ac, void* reply, void* privdata);
  void onReply(Reply r);
  void onHandshakeReply(const Reply& r);
  void startConnect();
  void connectTo(const std::string& ip);
  void contextGone(std::string_view err);
  void teardown(std::string why);
  void scheduleReconnect();
  void armTimeout();
  void onTimer();

  boost::asio::any_io_executor ex_;
  ConnectionConfig cfg_;
  redisAsyncContext* ac_ = nullptr;
  State state_ = State::Stopped;
  uint64_t generation_ = 0;  // per connection attempt; stale posted work checks it
  std::deque<Pending> pending_;
  std::string resp_;                   // the command being sent, in RESP (reused)
  boost::asio::steady_timer timer_;    // command / handshake deadlines
  boost::asio::steady_timer backoff_;  // reconnect delay
  std::optional<boost::asio::ip::tcp::resolver> resolver_;
  bool timerArmed_ = false;
  Clock::time_point timerAt_{};
  int handshakeLeft_ = 0;
  bool handshakeFailed_ = false;
  std::string handshakeError_;
  int attempts_ = 0;
  uint64_t jitter_;
  std::string failReason_;  // given to commands failed by the next context teardown
  std::string lastError_;
  std::atomic<bool> healthy_{false};
  ConnectionStats stats_;
  std::vector<std::pair<int, std::function<void()>>> readyHooks_;
  int nextHookId_ = 1;
};

}  // namespace llmux::kv
