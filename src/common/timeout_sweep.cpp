#include "common/timeout_sweep.hpp"

#include <time.h>

namespace llmux {

TimeoutSweep::Clock::time_point TimeoutSweep::coarseNow() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return Clock::time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}

TimeoutSweep::TimeoutSweep(boost::asio::any_io_executor ex, std::chrono::milliseconds tick)
    : timer_(std::move(ex)), tick_(tick) {}

TimeoutSweep::~TimeoutSweep() {
  stop();
}

void TimeoutSweep::add(Entry* e) {
  e->prev_ = nullptr;
  e->next_ = head_;
  if (head_ != nullptr) head_->prev_ = e;
  head_ = e;
  ++count_;
  arm();
}

void TimeoutSweep::remove(Entry* e) {
  if (e->prev_ != nullptr) {
    e->prev_->next_ = e->next_;
  } else if (head_ == e) {
    head_ = e->next_;
  } else {
    return;  // not registered
  }
  if (e->next_ != nullptr) e->next_->prev_ = e->prev_;
  e->prev_ = e->next_ = nullptr;
  --count_;
}

void TimeoutSweep::stop() {
  stopped_ = true;
  timer_.cancel();
}

void TimeoutSweep::sweep(Clock::time_point now) {
  for (Entry* e = head_; e != nullptr;) {
    Entry* next = e->next_;  // onExpired may not unlink, but stay safe if it does
    if (e->deadline_ <= now) {
      e->deadline_ = Clock::time_point::max();
      e->onExpired();
    }
    e = next;
  }
}

void TimeoutSweep::arm() {
  if (armed_ || stopped_ || count_ == 0) return;
  armed_ = true;
  timer_.expires_after(tick_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    armed_ = false;
    if (ec || stopped_) return;
    sweep(coarseNow());
    arm();
  });
}

}  // namespace llmux
