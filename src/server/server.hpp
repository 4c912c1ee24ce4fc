#pragma once
// HTTP/1.1 front end: N I/O threads, each with its own io_context and SO_REUSEPORT acceptor, so a
// connection lives on one thread for its whole life and the request path takes no locks.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "common/timeout_sweep.hpp"
#include "http/handler.hpp"

namespace llmux::server {

struct Options {
  std::string host = "0.0.0.0";
  uint16_t port = 4000;
  size_t workers = 1;
  uint64_t maxBodyBytes = 32ull << 20;
  uint32_t maxHeaderBytes = 16u << 10;
  std::chrono::milliseconds headerTimeout{10000};
  std::chrono::milliseconds bodyTimeout{30000};
  std::chrono::milliseconds idleTimeout{60000};
  std::chrono::milliseconds writeTimeout{60000};
  std::chrono::milliseconds shutdownGrace{30000};
  std::function<void()> onDrain;  // called once, on the first shutdown signal
};

struct WorkerContext {
  size_t index = 0;
  boost::asio::any_io_executor executor;
  TimeoutSweep* sweep = nullptr;  // this thread's coarse timeouts, shared with the handler
};

using HandlerFactory = std::function<std::unique_ptr<http::Handler>(const WorkerContext&)>;

class Worker;

class Server {
 public:
  Server(Options opts, HandlerFactory factory);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listening sockets (throws std::system_error on failure: startup, not request path).
  void listen();
  // Serves until SIGTERM/SIGINT, then drains: stop accepting, finish in-flight requests up to the
  // shutdown grace, close the rest. Returns when every I/O thread has stopped.
  void run();

 private:
  Options opts_;
  HandlerFactory factory_;
  std::vector<std::unique_ptr<Worker>> workers_;
  int lockFd_ = -1;  // abstract unix socket claiming host:port among llmux processes
};

}  // namespace llmux::server
