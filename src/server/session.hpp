#pragma once
// One client connection: reads requests under header/body/idle timeouts and size limits, hands each
// to the handler, and implements ResponseWriter over the socket with hand-built response heads
// (no per-request header containers on the write side).
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <list>
#include <memory>
#include <optional>
#include <string>

#include "common/timeout_sweep.hpp"
#include "http/handler.hpp"
#include "server/server.hpp"

namespace llmux::server {

class Worker;

class Session final : public http::ResponseWriter,
                      public std::enable_shared_from_this<Session>,
                      private TimeoutSweep::Entry {
 public:
  Session(Worker& worker, boost::asio::ip::tcp::socket socket);
  ~Session();
  boost::asio::awaitable<void> run();

  // ResponseWriter
  boost::asio::awaitable<bool> respond(int status, std::span<const http::Header> headers,
                                       std::string_view body) override;
  boost::asio::awaitable<bool> beginStream(int status,
                                           std::span<const http::Header> headers) override;
  boost::asio::awaitable<bool> writeChunk(std::string_view data, bool last = false) override;
  boost::asio::awaitable<bool> endStream() override;
  void watchClient(Abortable* target) override;
  void unwatchClient() override;
  [[nodiscard]] bool clientGone() const override { return gone_; }
  [[nodiscard]] uint64_t bytesWritten() const override { return bytesOut_; }

  // Shutdown: close now if idle between requests; `force` closes even mid-request.
  void shutdown(bool force);
  std::list<Session*>::iterator registryPos;

 private:
  enum class State { Idle, Reading, Handling };
  // What the single sweep deadline currently guards.
  enum class TimerKind { None, Read, Write, WatchStart };
  void onExpired() override;
  void armRead(std::chrono::milliseconds d);
  void armIdleWatch();
  void startWatch();
  void startHead(int status);
  void finishHead(std::span<const http::Header> headers);
  boost::asio::awaitable<bool> writeBuffers(std::string_view a, std::string_view b,
                                            std::string_view c);
  // The bookkeeping around every write, shared by the coroutines that write inline.
  bool beginWrite();
  bool afterWrite(const boost::system::error_code& ec, size_t n);
  boost::asio::awaitable<boost::system::error_code> readRequest(size_t& bytesIn);
  boost::asio::awaitable<void> sendErrorAndClose(int status, std::string_view type,
                                                 std::string_view message, std::string_view code);
  void newRequestId();
  void closeSocket();

  Worker& worker_;
  boost::asio::ip::tcp::socket socket_;
  TimerKind timerKind_ = TimerKind::None;
  bool timedOut_ = false;
  boost::beast::flat_buffer buf_;
  http::RequestHead head_;  // reused across the connection's requests
  std::optional<http::RequestParser> parser_;
  std::string respHead_;  // reused response head
  std::string chunkPrefix_;
  State state_ = State::Idle;
  bool keepAlive_ = true;
  bool http10_ = false;
  bool streaming_ = false;
  bool headPending_ = false;  // stream head not yet written: it goes out with the first chunk
  bool headSent_ = false;
  bool gone_ = false;
  bool closed_ = false;
  uint64_t bytesOut_ = 0;
  char requestId_[32] = {};
  Abortable* watchTarget_ = nullptr;
  bool watching_ = false;
  uint64_t watchGen_ = 0;
  boost::asio::cancellation_signal watchCancel_;
};

}  // namespace llmux::server
