#pragma once
// One I/O thread: its io_context, its acceptor, its handler and the sessions it serves.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <list>
#include <memory>
#include <thread>

#include "server/server.hpp"

namespace llmux::server {

class Session;

class Worker {
 public:
  Worker(size_t index, const Options& opts, const HandlerFactory& factory);
  void listen(const boost::asio::ip::tcp::endpoint& ep);
  void start();
  void join();
  // Posted from the signal thread.
  void drain();
  void forceClose();

  [[nodiscard]] const Options& opts() const { return opts_; }
  [[nodiscard]] size_t index() const { return index_; }
  [[nodiscard]] bool draining() const { return draining_; }
  http::Handler& handler() { return *handler_; }
  std::list<Session*>::iterator add(Session* s) { return sessions_.insert(sessions_.end(), s); }
  void remove(std::list<Session*>::iterator it);
  // 32 hex chars, unique per process and, with overwhelming probability, across instances.
  void nextRequestId(char out[32]);

  boost::asio::io_context ioc{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  TimeoutSweep sweep{ioc.get_executor()};

 private:
  boost::asio::awaitable<void> acceptLoop();
  void stopSweepWhenIdle();

  size_t index_;
  const Options& opts_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::unique_ptr<http::Handler> handler_;
  std::list<Session*> sessions_;
  bool draining_ = false;
  bool drainedNotified_ = false;  // handler_->onDrained() was called
  uint64_t idPrefix_ = 0;
  uint64_t idCounter_ = 0;
  std::thread thread_;
};

}  // namespace llmux::server
