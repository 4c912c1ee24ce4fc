#include "common/timeout_sweep.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

namespace llmux {
namespace {

class Probe final : public TimeoutSweep::Entry {
 public:
  int fired = 0;
  void onExpired() override { ++fired; }
};

TEST(TimeoutSweep, FiresOnlyPastDueEntriesOnce) {
  boost::asio::io_context ioc;
  TimeoutSweep sweep(ioc.get_executor());
  Probe a, b, never;
  sweep.add(&a);
  sweep.add(&b);
  sweep.add(&never);
  const auto now = TimeoutSweep::Clock::now();
  a.expiresAt(now - std::chrono::milliseconds(1));
  b.expiresAt(now + std::chrono::seconds(10));
  sweep.sweep(now);
  EXPECT_EQ(a.fired, 1);
  EXPECT_EQ(b.fired, 0);
  EXPECT_EQ(never.fired, 0);
  EXPECT_EQ(a.deadline(), TimeoutSweep::Clock::time_point::max());  // disarmed after firing
  sweep.sweep(now + std::chrono::seconds(11));
  EXPECT_EQ(a.fired, 1);
  EXPECT_EQ(b.fired, 1);
  sweep.remove(&a);
  sweep.remove(&b);
  sweep.remove(&never);
  sweep.remove(&never);  // removing twice is harmless
}

TEST(TimeoutSweep, TicksOnTheIoContextAndStops) {
  boost::asio::io_context ioc;
  TimeoutSweep sweep(ioc.get_executor(), std::chrono::milliseconds(5));
  Probe p;
  sweep.add(&p);
  p.expiresAfter(std::chrono::milliseconds(1));
  // The tick re-arms while entries exist; stop() lets run() return.
  boost::asio::steady_timer stopper(ioc, std::chrono::milliseconds(100));
  stopper.async_wait([&](const boost::system::error_code&) { sweep.stop(); });
  ioc.run_for(std::chrono::seconds(5));
  EXPECT_EQ(p.fired, 1);
  EXPECT_TRUE(ioc.stopped());
  sweep.remove(&p);
}

TEST(TimeoutSweep, CoarseClockTracksSteadyClock) {
  auto coarse = TimeoutSweep::coarseNow();
  auto fine = TimeoutSweep::Clock::now();
  EXPECT_LT(std::chrono::abs(fine - coarse), std::chrono::milliseconds(50));
}

}  // namespace
}  // namespace llmux
