#include "api/cooldown_sync.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>

#include "common/clock.hpp"
#include "kv/redis_connection.hpp"

namespace llmux::api {

namespace net = boost::asio;

CooldownSync::CooldownSync(engine::Gateway& gw, std::shared_ptr<kv::RedisConnection> conn,
                           net::any_io_executor ex, std::chrono::milliseconds interval)
    : gw_(gw),
      conn_(std::move(conn)),
      timer_(ex),
      interval_(interval),
      published_(gw.deployments.size(), 0) {}

std::string CooldownSync::keyFor(const std::string& deploymentId) {
  // One hash tag for all: the MGET below must hit one slot on a cluster.
  return "{llmux:cooldown}:" + deploymentId;
}

void CooldownSync::start() {
  if (gw_.deployments.empty()) return;
  net::co_spawn(
      timer_.get_executor(), [self = shared_from_this()] { return self->loop(); }, net::detached);
}

void CooldownSync::stop() {
  stopped_ = true;
  timer_.cancel();
}

net::awaitable<void> CooldownSync::loop() {
  auto self = shared_from_this();  // alive until the loop ends
  while (!stopped_) {
    timer_.expires_after(interval_);
    boost::system::error_code ec;
    co_await timer_.async_wait(net::redirect_error(net::use_awaitable, ec));
    if (stopped_) break;
    if (conn_->healthy()) co_await syncOnce(steadyMs(), wallMs());
  }
}

net::awaitable<void> CooldownSync::syncOnce(int64_t steadyNow, int64_t wallNow) {
  auto states = gw_.states();
  const size_t n = gw_.deployments.size();
  std::vector<std::vector<std::string>> cmds;
  std::vector<int64_t> sent(n, 0);
  for (size_t i = 0; i < n; ++i) {
    const int64_t until = states[i].cooldownUntilMs.load(std::memory_order_relaxed);
    if (until > steadyNow && until != published_[i]) {
      const int64_t left = until - steadyNow;
      cmds.push_back({"SET", keyFor(gw_.deployments[i].cfg->id), std::to_string(wallNow + left),
                      "PX", std::to_string(left)});
      sent[i] = until;
    }
  }
  std::vector<std::string> mget{"MGET"};
  for (size_t i = 0; i < n; ++i) mget.push_back(keyFor(gw_.deployments[i].cfg->id));
  cmds.push_back(std::move(mget));
  const std::vector<kv::Reply> replies = co_await conn_->pipeline(cmds);
  if (replies.size() != cmds.size() || replies.back().type != kv::Reply::Type::Array) co_return;
  for (size_t i = 0; i < n; ++i) {
    if (sent[i] != 0 && replies[0].type != kv::Reply::Type::Failed) published_[i] = sent[i];
  }
  const auto& values = replies.back().elements;
  for (size_t i = 0; i < n && i < values.size(); ++i) {
    if (values[i].type != kv::Reply::Type::String) continue;
    int64_t wallUntil = 0;
    const std::string& v = values[i].str;
    if (std::from_chars(v.data(), v.data() + v.size(), wallUntil).ec != std::errc()) continue;
    if (wallUntil <= wallNow) continue;
    const int64_t until = steadyNow + (wallUntil - wallNow);
    int64_t prev = states[i].cooldownUntilMs.load(std::memory_order_relaxed);
    // Another instance's cooldown (ours round-trips within a few ms of what we published).
    if (until <= prev + 50) continue;
    while (prev < until && !states[i].cooldownUntilMs.compare_exchange_weak(
                               prev, until, std::memory_order_relaxed)) {
    }
    published_[i] = until;  // adopted: not ours to publish again
  }
}

}  // namespace llmux::api
