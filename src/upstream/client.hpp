#pragma once
// Outbound HTTP/1.1 client for one I/O thread: keep-alive pools per upstream origin, cached async
// DNS, TLS with the system CA store, SNI and hostname verification. Nothing here is shared between
// threads except the immutable TLS context, so no locks are taken on the request path.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/timeout_sweep.hpp"
#include "http/header_list.hpp"
#include "upstream/response_parser.hpp"
#include "upstream/target.hpp"

namespace llmux::upstream {

using Clock = std::chrono::steady_clock;

enum class Failure {
  None,
  Connect,    // DNS, TCP connect or TLS handshake failed
  Timeout,    // a deadline passed (connect, first byte, idle or total)
  Reset,      // the connection broke after the request was sent
  Protocol,   // the upstream answered something that is not valid HTTP/1.1
  Cancelled,  // abort() was called (the client went away)
};
const char* failureName(Failure f);

// Not loopback, private (RFC 1918, fc00::/7), link-local, CGNAT, multicast or unspecified.
bool isPublicAddress(const boost::asio::ip::address& a);

struct Timeouts {
  std::chrono::milliseconds connect{5000};
  std::chrono::milliseconds firstByte{600000};            // request sent -> first body byte
  std::chrono::milliseconds idle{600000};                 // between body reads
  Clock::time_point deadline = Clock::time_point::max();  // whole exchange
};

class Connection;

// Pools and DNS cache of one I/O thread.
class Client {
 public:
  Client(boost::asio::any_io_executor ex, boost::asio::ssl::context& tls, TimeoutSweep& sweep,
         size_t maxIdlePerOrigin = 256);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  [[nodiscard]] boost::asio::any_io_executor executor() const { return ex_; }
  // Closes every idle pooled connection (shutdown).
  void closeIdle();

 private:
  friend class Exchange;
  std::unique_ptr<Connection> checkout(const Target& t);
  void checkin(std::unique_ptr<Connection> c);
  boost::asio::awaitable<
      std::pair<boost::system::error_code, std::vector<boost::asio::ip::tcp::endpoint>>>
  resolve(const Target& t, boost::asio::ip::tcp::resolver& resolver);

  struct DnsEntry {
    std::vector<boost::asio::ip::tcp::endpoint> endpoints;
    Clock::time_point expires;
  };
  boost::asio::any_io_executor ex_;
  boost::asio::ssl::context& tls_;
  TimeoutSweep& sweep_;
  size_t maxIdle_;
  // Keyed by Target::poolKey (views into Targets, which live as long as the process).
  std::unordered_map<std::string_view, std::vector<std::unique_ptr<Connection>>> idle_;
  std::unordered_map<std::string, DnsEntry> dns_;
};

// One request/response exchange on a pooled or new connection.
class Exchange final : private TimeoutSweep::Entry {
 public:
  // `headers` and `body` are the caller's reusable buffers (kept across requests, so no
  // allocation).
  Exchange(Client& client, const Target& target, const Timeouts& timeouts,
           http::HeaderList& headers, std::string& body);
  ~Exchange();
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // Sends `head` (request line + headers + blank line) and `body`, then reads the response header.
  // A stale pooled connection (closed by the peer while idle) is replaced once, transparently.
  boost::asio::awaitable<Failure> start(std::string_view head, std::string_view body);

  [[nodiscard]] int status() const;
  [[nodiscard]] std::string_view header(std::string_view name) const;
  // Next decoded body bytes (chunked encoding removed). An empty view with Failure::None means the
  // body is complete. The view is valid until the next call of read().
  boost::asio::awaitable<std::pair<Failure, std::string_view>> read();
  [[nodiscard]] bool done() const;

  // Returns the connection to the pool when the response was read completely and may be reused;
  // otherwise closes it. Called by the destructor if not called before.
  void release();
  // Closes the connection at once; a pending operation completes with Failure::Cancelled.
  void abort();
  [[nodiscard]] bool gotBody() const { return gotBody_; }
  [[nodiscard]] const std::string& errorDetail() const { return detail_; }

 private:
  boost::asio::awaitable<Failure> connect();
  boost::asio::awaitable<Failure> sendAndReadHeader(std::string_view head, std::string_view body);
  void armTimer(std::chrono::milliseconds d);
  [[nodiscard]] Clock::time_point deadlineAfter(std::chrono::milliseconds d) const;
  void onExpired() override;
  Failure classify(const boost::system::error_code& ec, Failure ioDefault);

  Client& client_;
  const Target& target_;
  Timeouts timeouts_;
  std::unique_ptr<Connection> conn_;
  // One socket read (readSome), then parsing what arrived into headers_/body_ (afterRead).
  boost::asio::awaitable<std::tuple<boost::system::error_code, size_t>> readSome();
  Failure afterRead(const boost::system::error_code& ec, size_t n);
  std::optional<ResponseParser> parser_;
  std::optional<boost::asio::ip::tcp::resolver> resolver_;  // set while a DNS lookup runs
  http::HeaderList& headers_;
  std::string& body_;  // decoded body bytes not yet handed out by read()
  bool reused_ = false;
  bool aborted_ = false;
  bool bodyDone_ = false;
  bool timedOut_ = false;
  bool handedOut_ = false;
  size_t headerBytes_ = 0;  // response header bytes consumed so far (limit check)
  bool headerDone_ = false;
  bool writeFailed_ = false;  // the request could not be written (safe to replay)
  bool gotBody_ = false;      // a body byte has been received (idle timeout applies from then on)
  Clock::time_point firstByteDeadline_{};  // request sent + firstByte: the first body byte is due
  std::string detail_;
};

}  // namespace llmux::upstream
