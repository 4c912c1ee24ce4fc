#pragma once
// A throwaway redis-server for tests: a free loopback port (redis cannot listen on port 0, so a
// port is taken from the kernel and released just before the server binds it), no persistence,
// its own directory under /tmp/redis/. Stop, restart on the same port, SIGSTOP/SIGCONT. Tests call
// LLMUX_REQUIRE_REDIS() first: they are skipped when redis-server is not installed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace llmux::kv::test {

class RedisServer {
 public:
  RedisServer() = default;
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;
  ~RedisServer() { stop(); }

  static std::string binary() {
    for (const char* p : {"/usr/bin/redis-server", "/usr/local/bin/redis-server"}) {
      if (::access(p, X_OK) == 0) return p;
    }
    return "";
  }
  static bool available() { return !binary().empty(); }

  // Starts the server (extra: more options, e.g. {"--requirepass", "pw"}); true once it answers.
  bool start(std::vector<std::string> extra = {}) {
    extra_ = std::move(extra);
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = freePort();
      if (port_ != 0 && launch()) return true;
      stop();
    }
    return false;
  }
  // Starts again on the same port (after stop()).
  bool restart() { return launch(); }
  void stop() {
    std::error_code ec;
    if (pid_ <= 0) {
      if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
      return;
    }
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGTERM);
    int status = 0;
    bool exited = false;
    for (int i = 0; i < 500 && !exited; ++i) {  // 5 s, then SIGKILL
      exited = ::waitpid(pid_, &status, WNOHANG) == pid_;
      if (!exited) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!exited) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
    pid_ = -1;
    std::filesystem::remove_all(dir_, ec);  // restart() creates it again
  }
  void pause() {
    if (pid_ > 0) ::kill(pid_, SIGSTOP);
  }
  void resume() {
    if (pid_ > 0) ::kill(pid_, SIGCONT);
  }
  [[nodiscard]] uint16_t port() const { return port_; }
  [[nodiscard]] bool running() const { return pid_ > 0; }

  // A blocking side connection for assertions (test thread only). Returns the reply as text:
  // integers and strings as is, nil as "(nil)", errors as "-ERR ...".
  std::string query(const std::vector<std::string>& argv, const std::string& password = "") {
    redisContext* c = redisConnect("127.0.0.1", port_);
    if (c == nullptr || c->err) {
      if (c) redisFree(c);
      return "!connect";
    }
    if (!password.empty()) {
      auto* a = static_cast<redisReply*>(redisCommand(c, "AUTH %s", password.c_str()));
      if (a) freeReplyObject(a);
    }
    std::vector<const char*> p;
    std::vector<size_t> l;
    for (const auto& s : argv) {
      p.push_back(s.data());
      l.push_back(s.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(argv.size()), p.data(), l.data()));
    std::string out = "!noreply";
    if (r != nullptr) {
      switch (r->type) {
        case REDIS_REPLY_INTEGER:
          out = std::to_string(r->integer);
          break;
        case REDIS_REPLY_NIL:
          out = "(nil)";
          break;
        case REDIS_REPLY_ERROR:
          out = "-" + std::string(r->str, r->len);
          break;
        case REDIS_REPLY_ARRAY:
          out = "array:" + std::to_string(r->elements);
          break;
        default:
          out.assign(r->str, r->len);
      }
      freeReplyObject(r);
    }
    redisFree(c);
    return out;
  }

 private:
  static uint16_t freePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof(a);
    uint16_t port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port = ntohs(a.sin_port);
    }
    ::close(fd);
    return port;
  }

  bool launch() {
    dir_ = "/tmp/redis/srv-" + std::to_string(::getpid()) + "-" + std::to_string(port_);
    std::filesystem::create_directories(dir_);
    std::vector<std::string> args = {
        binary(), "--port",    std::to_string(port_), "--bind",      "127.0.0.1",
        "--save", "",          "--appendonly",        "no",          "--dir",
        dir_,     "--logfile", dir_ + "/redis.log",   "--daemonize", "no"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    pid_ = ::fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      std::vector<char*> av;
      for (auto& s : args) av.push_back(s.data());
      av.push_back(nullptr);
      // A crashed test must not leave its server behind (the forking thread is the test's main
      // thread, which lives as long as the test process).
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      // Not the test's stdout: a server left behind would hold the test's output pipe open.
      const int devnull = ::open("/dev/null", O_WRONLY);
      if (devnull >= 0) {
        ::dup2(devnull, 1);
        ::dup2(devnull, 2);
      }
      ::execv(av[0], av.data());
      ::_exit(127);
    }
    // Up when any reply comes back (NOAUTH included).
    for (int i = 0; i < 500; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;  // exited: port taken or bad option
        return false;
      }
      timeval tv{0, 200000};
      redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
      if (c != nullptr && c->err == 0) {
        auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
        const bool up = r != nullptr;
        if (r) freeReplyObject(r);
        redisFree(c);
        if (up) return true;
      } else if (c != nullptr) {
        redisFree(c);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string dir_;
  std::vector<std::string> extra_;
};

// Runs `io` until pred() holds or `timeout` passes; returns pred().
template <typename Pred>
bool runUntil(boost::asio::io_context& io, Pred pred,
              std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!pred() && std::chrono::steady_clock::now() < end) {
    io.run_one_for(std::chrono::milliseconds(5));
    if (io.stopped()) io.restart();
  }
  return pred();
}

// Runs the coroutine on `io` to completion (or timeout: nullopt).
template <typename T>
std::optional<T> runCo(boost::asio::io_context& io, boost::asio::awaitable<T> a,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  auto out = std::make_shared<std::optional<T>>();
  boost::asio::co_spawn(io, std::move(a), [out](std::exception_ptr e, T v) {
    if (!e) out->emplace(std::move(v));
  });
  runUntil(
      io, [&] { return out->has_value(); }, timeout);
  return *out;
}

}  // namespace llmux::kv::test

#define LLMUX_REQUIRE_REDIS()                          \
  do {                                                 \
    if (!::llmux::kv::test::RedisServer::available())  \
      GTEST_SKIP() << "redis-server is not installed"; \
  } while (0)
