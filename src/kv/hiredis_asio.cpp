#include "kv/hiredis_asio.hpp"

#include <hiredis/async.h>
#include <poll.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <memory>
#include <string>

namespace llmux::kv {

namespace net = boost::asio;

namespace {

// Events handled per pump before yielding to other handlers on the thread.
constexpr int kMaxRoundsPerPump = 64;

// Asio's reactor is edge-triggered (EPOLLET) and async_wait never tries the operation first, so a
// wait started while the socket is already readable (hiredis reads at most 16 KiB per call) or
// writable (the usual state) may never complete. The adapter therefore asks poll() (level-
// triggered, zero timeout) what is ready, lets hiredis handle it, and only waits when poll() says
// nothing is ready; any edge after that poll is reported to the wait, since the reactor only runs
// between handlers on this single thread.
//
// Two cases skip the first poll, since they are one per command on the request path: a queued
// command is written at once (a connected socket is nearly always writable; EAGAIN leaves write
// interest on and the wait catches the edge, which comes after the EAGAIN), and a read wait that
// completed reads at once (the reactor said the socket is readable). A read is followed by the
// poll loop, since hiredis reads at most 16 KiB per call and the edge for the rest is spent.
class Adapter : public std::enable_shared_from_this<Adapter> {
 public:
  Adapter(const net::any_io_executor& ex, redisAsyncContext* ac,
          std::function<void(std::string_view)> onGone)
      : sd_(ex), ac_(ac), fd_(ac->c.fd), onGone_(std::move(onGone)) {}

  bool assign() {
    boost::system::error_code ec;
    sd_.assign(fd_, ec);
    return !ec;
  }

  static void addRead(void* p) { static_cast<Adapter*>(p)->want(&Adapter::wantRead_, true); }
  static void delRead(void* p) { static_cast<Adapter*>(p)->want(&Adapter::wantRead_, false); }
  static void addWrite(void* p) { static_cast<Adapter*>(p)->want(&Adapter::wantWrite_, true); }
  static void delWrite(void* p) { static_cast<Adapter*>(p)->want(&Adapter::wantWrite_, false); }
  static void cleanup(void* p) { static_cast<Adapter*>(p)->detach(); }

  std::shared_ptr<Adapter> self;  // the reference hiredis holds through ev.data

 private:
  enum class Trigger { Poll, Queued, Readable };

  void want(bool Adapter::*flag, bool on) {
    this->*flag = on;
    // Interest raised outside a pump (a command was queued): handle it after the current handler,
    // which also coalesces every command queued in this handler into one write.
    if (on && !inPump_ && !pumpPosted_ && ac_ != nullptr) {
      pumpPosted_ = true;
      const Trigger t = flag == &Adapter::wantWrite_ ? Trigger::Queued : Trigger::Poll;
      net::post(sd_.get_executor(), [s = shared_from_this(), t] {
        s->pumpPosted_ = false;
        s->pump(t);
      });
    }
  }

  void pump(Trigger trigger = Trigger::Poll) {
    if (ac_ == nullptr) return;
    auto keep = shared_from_this();  // hiredis may free the context (and drop `self`) in a call
    inPump_ = true;
    // Connecting sockets go through poll(): hiredis' connect check needs the socket to be ready.
    const bool connected = (ac_->c.flags & REDIS_CONNECTED) != 0;
    if (connected && trigger == Trigger::Queued && wantWrite_) {
      redisAsyncHandleWrite(ac_);
      inPump_ = false;
      if (ac_ != nullptr) arm();
      return;
    }
    if (connected && trigger == Trigger::Readable && wantRead_) redisAsyncHandleRead(ac_);
    bool more = false;
    for (int round = 0; ac_ != nullptr; ++round) {
      const short events =
          static_cast<short>((wantRead_ ? POLLIN : 0) | (wantWrite_ ? POLLOUT : 0));
      if (events == 0) break;
      pollfd p{fd_, events, 0};
      if (::poll(&p, 1, 0) <= 0) break;
      if (round == kMaxRoundsPerPump) {
        more = true;
        break;
      }
      bool handled = false;
      if (wantRead_ && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        redisAsyncHandleRead(ac_);
        handled = true;
      }
      if (ac_ != nullptr && wantWrite_ && (p.revents & (POLLOUT | POLLHUP | POLLERR)) != 0) {
        redisAsyncHandleWrite(ac_);
        handled = true;
      }
      if (!handled) break;
    }
    inPump_ = false;
    if (ac_ == nullptr) return;
    if (more) {
      pumpPosted_ = true;
      net::post(sd_.get_executor(), [s = shared_from_this()] {
        s->pumpPosted_ = false;
        s->pump();
      });
      return;
    }
    arm();
  }

  void arm() {
    if (wantRead_ && !readArmed_) {
      readArmed_ = true;
      sd_.async_wait(net::posix::descriptor_base::wait_read,
                     [s = shared_from_this()](const boost::system::error_code& ec) {
                       s->readArmed_ = false;
                       // Errors show as POLLERR/POLLHUP in the poll loop.
                       s->pump(ec ? Trigger::Poll : Trigger::Readable);
                     });
    }
    if (wantWrite_ && !writeArmed_) {
      writeArmed_ = true;
      sd_.async_wait(net::posix::descriptor_base::wait_write,
                     [s = shared_from_this()](const boost::system::error_code&) {
                       s->writeArmed_ = false;
                       s->pump();
                     });
    }
  }

  // hiredis is freeing the context: stop touching it, give the socket back without closing it
  // (redisFree closes it) and let pending waits finish with operation_aborted.
  void detach() {
    if (ac_ == nullptr) return;
    const std::string err = ac_->errstr != nullptr ? ac_->errstr : "";
    ac_->ev.addRead = nullptr;
    ac_->ev.delRead = nullptr;
    ac_->ev.addWrite = nullptr;
    ac_->ev.delWrite = nullptr;
    ac_->ev.cleanup = nullptr;
    ac_->ev.data = nullptr;
    ac_ = nullptr;
    wantRead_ = wantWrite_ = false;
    boost::system::error_code ec;
    sd_.cancel(ec);
    sd_.release();
    auto gone = std::move(onGone_);
    auto last = std::move(self);  // may be the last reference: nothing touches `this` after
    if (gone) gone(err);
  }

  net::posix::stream_descriptor sd_;
  redisAsyncContext* ac_;
  int fd_;
  std::function<void(std::string_view)> onGone_;
  bool wantRead_ = false;
  bool wantWrite_ = false;
  bool readArmed_ = false;
  bool writeArmed_ = false;
  bool pumpPosted_ = false;
  bool inPump_ = false;
};

}  // namespace

bool attachAsio(redisAsyncContext* ac, const net::any_io_executor& ex,
                std::function<void(std::string_view)> onGone) {
  if (ac == nullptr || ac->ev.data != nullptr || ac->c.fd < 0) return false;
  auto a = std::make_shared<Adapter>(ex, ac, std::move(onGone));
  if (!a->assign()) return false;
  a->self = a;
  ac->ev.data = a.get();
  ac->ev.addRead = &Adapter::addRead;
  ac->ev.delRead = &Adapter::delRead;
  ac->ev.addWrite = &Adapter::addWrite;
  ac->ev.delWrite = &Adapter::delWrite;
  ac->ev.cleanup = &Adapter::cleanup;
  return true;
}

}  // namespace llmux::kv
