#include "server/server.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <system_error>

#include "server/worker.hpp"

namespace llmux::server {

namespace net = boost::asio;

Server::Server(Options opts, HandlerFactory factory)
    : opts_(std::move(opts)), factory_(std::move(factory)) {}

Server::~Server() {
  if (lockFd_ >= 0) ::close(lockFd_);
}

void Server::listen() {
  auto addr = net::ip::make_address(opts_.host);
  net::ip::tcp::endpoint ep(addr, opts_.port);
  if (opts_.port != 0) {
    // Two llmux processes started at the same moment could both pass the plain-bind probe below
    // before either binds with SO_REUSEPORT, and then share the port. A name in the abstract
    // unix-socket namespace, bound for the process's lifetime, makes the claim atomic.
    lockFd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lockFd_ >= 0) {
      sockaddr_un un{};
      un.sun_family = AF_UNIX;
      const std::string name =
          "llmux-listen-" + ep.address().to_string() + "-" + std::to_string(opts_.port);
      const size_t len = std::min(name.size(), sizeof(un.sun_path) - 1);
      std::memcpy(un.sun_path + 1, name.data(), len);  // sun_path[0] == 0: abstract namespace
      const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + len);
      if (::bind(lockFd_, reinterpret_cast<sockaddr*>(&un), size) != 0) {
        const int err = errno;
        ::close(lockFd_);
        lockFd_ = -1;
        if (err == EADDRINUSE) {
          throw std::system_error(std::make_error_code(std::errc::address_in_use),
                                  "bind " + opts_.host + ":" + std::to_string(opts_.port) +
                                      " (another llmux serves it)");
        }
      }
    }
  }
  {
    // The workers bind with SO_REUSEPORT, which would also let this process share a port another
    // llmux already serves (the kernel would split connections between the two). A plain bind
    // first fails on a port in use.
    net::io_context probeCtx;
    net::ip::tcp::acceptor probe(probeCtx);
    probe.open(ep.protocol());
    probe.set_option(net::socket_base::reuse_address(true));
    boost::system::error_code ec;
    probe.bind(ep, ec);
    if (ec) throw std::system_error(ec, "bind " + opts_.host + ":" + std::to_string(opts_.port));
  }
  size_t n = opts_.workers == 0 ? 1 : opts_.workers;
  for (size_t i = 0; i < n; ++i) {
    workers_.push_back(std::make_unique<Worker>(i, opts_, factory_));
    workers_.back()->listen(ep);
  }
}

void Server::run() {
  net::io_context main(1);
  net::signal_set signals(main, SIGINT, SIGTERM);
  net::steady_timer grace(main);
  int signalsSeen = 0;
  std::function<void(const boost::system::error_code&, int)> onSignal;
  onSignal = [&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    ++signalsSeen;
    if (signalsSeen == 1) {
      spdlog::info("signal {}: draining (grace {} ms)", sig, opts_.shutdownGrace.count());
      if (opts_.onDrain) opts_.onDrain();
      for (auto& w : workers_) w->drain();
      grace.expires_after(opts_.shutdownGrace);
      grace.async_wait([&](const boost::system::error_code& tec) {
        if (tec) return;
        spdlog::warn("shutdown grace over: closing remaining connections");
        for (auto& w : workers_) w->forceClose();
      });
    } else {
      spdlog::warn("second signal: closing remaining connections now");
      for (auto& w : workers_) w->forceClose();
    }
    signals.async_wait(onSignal);
  };
  signals.async_wait(onSignal);
  for (auto& w : workers_) w->start();
  spdlog::info("llmux listening on {}:{} ({} I/O threads)", opts_.host, opts_.port,
               workers_.size());
  std::thread signalThread([&] { main.run(); });
  for (auto& w : workers_) w->join();
  main.stop();
  signalThread.join();
}

}  // namespace llmux::server
