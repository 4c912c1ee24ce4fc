#pragma once
// Background health checks (general_settings.background_health_checks): a thread of its own with
// its own upstream client, so probes never queue behind client traffic, that calls every
// deployment each health_check_interval and takes failing ones out of rotation.
#include <boost/asio/io_context.hpp>
#include <memory>
#include <thread>

#include "common/timeout_sweep.hpp"

namespace llmux::engine {

class Gateway;
class Engine;

class HealthChecker {
 public:
  explicit HealthChecker(Gateway& gw);
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;
  void stop();

 private:
  // An io_context whose shutdown (which destroys pending coroutine frames) can run before the
  // Engine those frames use is destroyed; ~io_context would do it only after.
  struct Context : boost::asio::io_context {
    using boost::asio::io_context::shutdown;
  };
  Gateway& gw_;
  Context ioc_;
  std::unique_ptr<TimeoutSweep> sweep_;
  std::unique_ptr<Engine> engine_;
  std::thread thread_;
};

}  // namespace llmux::engine
