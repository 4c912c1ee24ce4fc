#include "server/worker.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <random>

#include "server/session.hpp"

namespace llmux::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;

Worker::Worker(size_t index, const Options& opts, const HandlerFactory& factory)
    : index_(index), opts_(opts), acceptor_(ioc) {
  handler_ = factory(WorkerContext{index, ioc.get_executor(), &sweep});
  std::random_device rd;
  idPrefix_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

void Worker::listen(const tcp::endpoint& ep) {
  acceptor_.open(ep.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  // One acceptor per thread on the same port; the kernel spreads connections across them.
  int one = 1;
  if (::setsockopt(acceptor_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    throw std::system_error(errno, std::generic_category(), "setsockopt(SO_REUSEPORT)");
  }
  acceptor_.bind(ep);
  acceptor_.listen(net::socket_base::max_listen_connections);
}

void Worker::start() {
  net::co_spawn(ioc, acceptLoop(), [](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("accept loop failed: {}", ex.what());
      }
    }
  });
  thread_ = std::thread([this] { ioc.run(); });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::nextRequestId(char out[32]) {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t a = idPrefix_;
  uint64_t b = ++idCounter_;
  for (int i = 15; i >= 0; --i, a >>= 4) out[i] = kHex[a & 15];
  for (int i = 31; i >= 16; --i, b >>= 4) out[i] = kHex[b & 15];
}

net::awaitable<void> Worker::acceptLoop() {
  for (;;) {
    auto [ec, sock] = co_await acceptor_.async_accept(net::as_tuple(net::use_awaitable));
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor_.is_open()) co_return;
      // EMFILE and friends: back off briefly instead of spinning.
      net::steady_timer t(ioc, std::chrono::milliseconds(50));
      co_await t.async_wait(net::as_tuple(net::use_awaitable));
      continue;
    }
    if (draining_) continue;
    boost::system::error_code ignored;
    sock.set_option(tcp::no_delay(true), ignored);
    auto session = std::make_shared<Session>(*this, std::move(sock));
    net::co_spawn(ioc, session->run(), [](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("session ended by exception: {}", ex.what());
        }
      }
    });
  }
}

void Worker::drain() {
  net::post(ioc, [this] {
    draining_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    // Copy: shutdown may not erase synchronously, but be safe against iterator invalidation.
    std::vector<Session*> snapshot(sessions_.begin(), sessions_.end());
    for (Session* s : snapshot) s->shutdown(false);
    stopSweepWhenIdle();
  });
}

void Worker::remove(std::list<Session*>::iterator it) {
  sessions_.erase(it);
  stopSweepWhenIdle();
}

void Worker::stopSweepWhenIdle() {
  // The sweep's tick keeps the io_context busy; once draining and empty, let run() return.
  if (draining_ && sessions_.empty()) {
    sweep.stop();
    if (!drainedNotified_) {
      drainedNotified_ = true;
      handler_->onDrained();
    }
  }
}

void Worker::forceClose() {
  net::post(ioc, [this] {
    std::vector<Session*> snapshot(sessions_.begin(), sessions_.end());
    for (Session* s : snapshot) s->shutdown(true);
  });
}

}  // namespace llmux::server
