#pragma once
// Coarse timeouts for one I/O thread. Arming a deadline is a plain store: no timer objects, no
// timer-queue updates and no timerfd syscalls per I/O operation. A periodic tick (default 50 ms)
// walks the registered entries and calls onExpired() for those past due, which cancels or closes
// the socket so the pending operation completes with an error. Granularity is one tick, which is
// plenty for timeouts measured in seconds (and still fine for the hundreds of milliseconds used in
// tests).
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>

namespace llmux {

class TimeoutSweep {
 public:
  using Clock = std::chrono::steady_clock;
  // CLOCK_MONOTONIC_COARSE (the clock steady_clock uses, at tick resolution): a few ns instead of a
  // full clock read, and deadlines only need the sweep's granularity anyway.
  static Clock::time_point coarseNow();

  class Entry {
   public:
    Entry() = default;
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;
    void expiresAt(Clock::time_point t) { deadline_ = t; }
    void expiresAfter(Clock::duration d) { deadline_ = coarseNow() + d; }
    void expiresNever() { deadline_ = Clock::time_point::max(); }
    [[nodiscard]] Clock::time_point deadline() const { return deadline_; }

   protected:
    ~Entry() = default;
    // Runs on the I/O thread; the entry stays registered (set a new deadline or expiresNever()).
    virtual void onExpired() = 0;

   private:
    friend class TimeoutSweep;
    Clock::time_point deadline_ = Clock::time_point::max();
    Entry* prev_ = nullptr;
    Entry* next_ = nullptr;
  };

  explicit TimeoutSweep(boost::asio::any_io_executor ex,
                        std::chrono::milliseconds tick = std::chrono::milliseconds(50));
  ~TimeoutSweep();
  TimeoutSweep(const TimeoutSweep&) = delete;
  TimeoutSweep& operator=(const TimeoutSweep&) = delete;

  void add(Entry* e);
  void remove(Entry* e);
  // Starts ticking while entries exist; stop() ends it so the io_context can run out of work.
  void stop();
  // Runs one sweep now (tests).
  void sweep(Clock::time_point now);

 private:
  void arm();

  boost::asio::steady_timer timer_;
  std::chrono::milliseconds tick_;
  Entry* head_ = nullptr;
  size_t count_ = 0;
  bool armed_ = false;
  bool stopped_ = false;
};

}  // namespace llmux
