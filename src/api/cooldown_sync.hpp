#pragma once
// Deployment cooldowns shared by every instance through Redis. One I/O thread per instance runs
// the loop: every interval it publishes the cooldowns this instance started (wall-clock deadline,
// key expiring with it) and adopts the ones others started, into the router's DeploymentState
// (steady-clock deadlines, so the clocks are converted on the way). One pipelined round trip per
// interval, off the request path; a cooldown reaches the other instances within the interval.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "engine/gateway.hpp"

namespace llmux::kv {
class RedisConnection;
}

namespace llmux::api {

class CooldownSync : public std::enable_shared_from_this<CooldownSync> {
 public:
  CooldownSync(engine::Gateway& gw, std::shared_ptr<kv::RedisConnection> conn,
               boost::asio::any_io_executor ex,
               std::chrono::milliseconds interval = std::chrono::milliseconds(500));
  void start();
  void stop();

  // One exchange (tests and the loop): publish ours, adopt theirs. steadyNow / wallNow in ms.
  boost::asio::awaitable<void> syncOnce(int64_t steadyNow, int64_t wallNow);

  static std::string keyFor(const std::string& deploymentId);

 private:
  boost::asio::awaitable<void> loop();

  engine::Gateway& gw_;
  std::shared_ptr<kv::RedisConnection> conn_;
  boost::asio::steady_timer timer_;
  std::chrono::milliseconds interval_;
  std::vector<int64_t> published_;  // per deployment: the steady deadline last published/adopted
  bool stopped_ = false;
};

}  // namespace llmux::api
