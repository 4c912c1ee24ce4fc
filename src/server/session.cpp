#include "server/session.hpp"

#include <sys/socket.h>

#include <fmt/format.h>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <cerrno>
#include <charconv>

#include "common/error.hpp"
#include "common/text.hpp"
#include "server/worker.hpp"

namespace llmux::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {
constexpr auto kTok = net::as_tuple(net::use_awaitable);
constexpr size_t kFirstReadBytes = 4096;
constexpr size_t kBodyReadBytes = 64 * 1024;
constexpr size_t kKeepBodyCapacity = 64 * 1024;
constexpr size_t kKeepHeaderCapacity = 32 * 1024;
constexpr size_t kMaxDrainBytes = 1 << 20;

std::string_view reason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Entity";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 529:
      return "Site Overloaded";
    default:
      return "Unknown";
  }
}

std::array<net::const_buffer, 3> threeBuffers(std::string_view a, std::string_view b,
                                              std::string_view c) {
  return {net::buffer(a.data(), a.size()), net::buffer(b.data(), b.size()),
          net::buffer(c.data(), c.size())};
}

}  // namespace

// A handler waiting on its upstream longer than this gets its client socket watched for a
// disconnect; quick requests never pay for the watch.
constexpr auto kWatchDelay = std::chrono::milliseconds(20);

Session::Session(Worker& worker, net::ip::tcp::socket socket)
    : worker_(worker), socket_(std::move(socket)) {
  respHead_.reserve(512);
  registryPos = worker_.add(this);
  worker_.sweep.add(this);
}

Session::~Session() {
  worker_.sweep.remove(this);
}

void Session::armRead(std::chrono::milliseconds d) {
  timedOut_ = false;
  timerKind_ = TimerKind::Read;
  expiresAfter(d);
}

void Session::armIdleWatch() {
  if (watchTarget_ != nullptr && !watching_) {
    timerKind_ = TimerKind::WatchStart;
    expiresAfter(kWatchDelay);
  } else {
    timerKind_ = TimerKind::None;
    expiresNever();
  }
}

void Session::onExpired() {
  switch (timerKind_) {
    case TimerKind::Read: {
      // Cancel (not close) so the session can still answer 408.
      timedOut_ = true;
      boost::system::error_code ec;
      socket_.cancel(ec);
      break;
    }
    case TimerKind::Write:
      timedOut_ = true;  // the client stopped reading: nothing more can be sent
      closeSocket();
      break;
    case TimerKind::WatchStart:
      startWatch();
      break;
    case TimerKind::None:
      break;
  }
  timerKind_ = TimerKind::None;
}

void Session::newRequestId() {
  worker_.nextRequestId(requestId_);
}

void Session::closeSocket() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ec;
  socket_.shutdown(net::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

void Session::shutdown(bool force) {
  if (force) {
    if (watchTarget_ != nullptr) watchTarget_->abortNow();
    closeSocket();
  } else if (state_ == State::Idle) {
    closeSocket();
  }
}

net::awaitable<boost::system::error_code> Session::readRequest(size_t& bytesIn) {
  const Options& o = worker_.opts();
  bool headerSeen = false;
  for (;;) {
    if (buf_.size() > 0) {
      boost::system::error_code ec;
      size_t n = parser_->put(buf_.data(), ec);
      buf_.consume(n);
      bytesIn += n;
      if (ec && ec != bhttp::error::need_more) co_return ec;
      if (parser_->is_header_done() && !headerSeen) {
        headerSeen = true;
        // Beast applies header_limit only to the unconsumed remainder (each parsed field is
        // consumed), so the header block as a whole is bounded here.
        if (bytesIn > o.maxHeaderBytes) co_return bhttp::error::header_limit;
        parser_->eager(true);  // header parsed on its own (to measure it); the body in bulk
        http10_ = head_.version < 11;
        if (auto exp = head_.headers.get("expect"); !exp.empty()) {
          if (!beast::iequals(exp, "100-continue")) co_return bhttp::error::bad_field;
          if (!http10_) {
            static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
            if (!co_await writeBuffers(k100, {}, {})) co_return net::error::connection_reset;
          }
        }
        armRead(o.bodyTimeout);  // the body gets its own deadline
      }
      if (parser_->is_done()) co_return boost::system::error_code{};
      if (!ec && n > 0) continue;  // progress: parse what is left in the buffer
      // Everything buffered is still header: stop reading once the block is too large.
      if (!headerSeen && bytesIn + buf_.size() > o.maxHeaderBytes)
        co_return bhttp::error::header_limit;
    }
    size_t want = headerSeen ? kBodyReadBytes : kFirstReadBytes;
    auto [ec, n] = co_await socket_.async_read_some(buf_.prepare(want), kTok);
    if (ec) {
      if (ec == net::error::eof && parser_->got_some()) {
        boost::system::error_code pec;
        parser_->put_eof(pec);
        co_return pec ? pec : boost::system::error_code(bhttp::error::partial_message);
      }
      co_return ec;
    }
    buf_.commit(n);
    // The deadline may have passed while this read was completing (the cancel then hit nothing).
    if (timedOut_) co_return net::error::timed_out;
  }
}

net::awaitable<void> Session::run() {
  auto self = shared_from_this();  // keeps the session alive while the coroutine runs
  // Runs on every exit, exceptions included, so the worker never keeps a pointer to a dead session.
  struct Cleanup {
    Session& s;
    ~Cleanup() {
      s.unwatchClient();
      s.closeSocket();
      s.worker_.remove(s.registryPos);
    }
  } cleanup{*this};
  const Options& o = worker_.opts();
  for (;;) {
    state_ = State::Idle;
    if (worker_.draining() || closed_) break;
    if (buf_.size() == 0) {
      // Keep-alive idle wait: a long timeout until the first byte of the next request.
      armRead(o.idleTimeout);
      auto [ec, n] = co_await socket_.async_read_some(buf_.prepare(kFirstReadBytes), kTok);
      if (ec || timedOut_) break;
      buf_.commit(n);
    }
    state_ = State::Reading;
    newRequestId();
    parser_.emplace(head_);
    parser_->eager(false);
    parser_->header_limit(o.maxHeaderBytes);
    parser_->body_limit(o.maxBodyBytes);
    // The whole header must arrive within headerTimeout (slowloris).
    armRead(o.headerTimeout);
    size_t bytesIn = 0;
    auto ec = co_await readRequest(bytesIn);
    if (ec) {
      const bool header = !parser_->is_header_done();
      if (ec == bhttp::error::header_limit) {
        co_await sendErrorAndClose(431, "invalid_request_error", "Request header fields too large.",
                                   "header_too_large");
      } else if (ec == bhttp::error::body_limit) {
        co_await sendErrorAndClose(
            413, "invalid_request_error",
            fmt::format("Request body exceeds the limit of {} bytes.", o.maxBodyBytes),
            "request_too_large");
      } else if (timedOut_) {
        co_await sendErrorAndClose(408, "invalid_request_error",
                                   header ? "Timed out reading the request header."
                                          : "Timed out reading the request body.",
                                   "request_timeout");
      } else if (ec == bhttp::error::bad_field && !header) {
        co_await sendErrorAndClose(417, "invalid_request_error", "Unsupported Expect header.",
                                   "expectation_failed");
      } else if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
                 ec != bhttp::error::partial_message && ec != bhttp::error::end_of_stream) {
        co_await sendErrorAndClose(400, "invalid_request_error",
                                   "Malformed HTTP request: " + ec.message() + ".", "bad_request");
      }
      break;
    }
    state_ = State::Handling;
    timerKind_ = TimerKind::None;
    expiresNever();
    keepAlive_ = parser_->keep_alive() && !http10_;
    parser_.reset();
    streaming_ = false;
    headSent_ = false;
    headPending_ = false;
    http::Request req{head_, std::string_view(requestId_, sizeof requestId_),
                      std::chrono::steady_clock::now(), worker_.index(), bytesIn};
    co_await worker_.handler().handle(req, *this);
    unwatchClient();
    // A stream the handler did not end cannot be followed by another response on this connection.
    if (streaming_) keepAlive_ = false;
    if (!headSent_) {
      // A handler that wrote nothing is a bug; answer rather than hang the client.
      co_await respond(500, {}, GatewayError::internal("No response was produced.").toJson());
    }
    // Do not keep a huge body buffer alive on an idle keep-alive connection.
    if (head_.body.capacity() > kKeepBodyCapacity) std::string().swap(head_.body);
    head_.headers.shrink(kKeepHeaderCapacity);
    if (!keepAlive_ || gone_ || closed_) break;
  }
}

net::awaitable<void> Session::sendErrorAndClose(int status, std::string_view type,
                                                std::string_view message, std::string_view code) {
  keepAlive_ = false;
  GatewayError e{status, std::string(type), std::string(message), {}, std::string(code), {}};
  static constexpr http::Header kJson[] = {{"content-type", "application/json"}};
  bool ok = co_await respond(status, kJson, e.toJson());
  if (!ok) co_return;
  // Half-close and drain what the client is still sending, so it reads our answer instead of a
  // reset.
  boost::system::error_code ec;
  socket_.shutdown(net::ip::tcp::socket::shutdown_send, ec);
  armRead(std::chrono::seconds(2));
  size_t drained = 0;
  std::array<char, 8192> sink{};
  while (drained < kMaxDrainBytes) {
    auto [rec, n] = co_await socket_.async_read_some(net::buffer(sink), kTok);
    if (rec) break;
    drained += n;
  }
}

void Session::startHead(int status) {
  respHead_.assign("HTTP/1.1 ");
  appendDecimal(respHead_, status);
  respHead_ += ' ';
  respHead_ += reason(status);
  respHead_ += "\r\n";
}

void Session::finishHead(std::span<const http::Header> headers) {
  for (const auto& [k, v] : headers) {
    respHead_ += k;
    respHead_ += ": ";
    respHead_ += v;
    respHead_ += "\r\n";
  }
  respHead_ += "x-llmux-request-id: ";
  respHead_.append(requestId_, sizeof requestId_);
  respHead_ += "\r\n";
  if (!keepAlive_ || worker_.draining()) {
    keepAlive_ = false;
    respHead_ += "connection: close\r\n";
  }
  respHead_ += "\r\n";
}

bool Session::beginWrite() {
  if (closed_ || gone_) return false;
  timerKind_ = TimerKind::Write;
  expiresAfter(worker_.opts().writeTimeout);
  return true;
}

bool Session::afterWrite(const boost::system::error_code& ec, size_t n) {
  armIdleWatch();
  bytesOut_ += n;
  if (ec) {
    gone_ = true;
    if (watchTarget_ != nullptr) watchTarget_->abortNow();
    return false;
  }
  return true;
}

net::awaitable<bool> Session::writeBuffers(std::string_view a, std::string_view b,
                                           std::string_view c) {
  if (!beginWrite()) co_return false;
  auto [ec, n] = co_await net::async_write(socket_, threeBuffers(a, b, c), kTok);
  co_return afterWrite(ec, n);
}

net::awaitable<bool> Session::respond(int status, std::span<const http::Header> headers,
                                      std::string_view body) {
  startHead(status);
  respHead_ += "content-length: ";
  appendDecimal(respHead_, static_cast<int64_t>(body.size()));
  respHead_ += "\r\n";
  finishHead(headers);
  headSent_ = true;
  if (!beginWrite()) co_return false;
  auto [ec, n] = co_await net::async_write(socket_, threeBuffers(respHead_, body, {}), kTok);
  co_return afterWrite(ec, n);
}

net::awaitable<bool> Session::beginStream(int status, std::span<const http::Header> headers) {
  startHead(status);
  if (http10_) {
    keepAlive_ = false;  // HTTP/1.0 has no chunked encoding: the body ends when we close
  } else {
    respHead_ += "transfer-encoding: chunked\r\n";
  }
  finishHead(headers);
  headSent_ = true;
  streaming_ = true;
  headPending_ = true;  // sent together with the first chunk: one write instead of two
  co_return !gone_ && !closed_;
}

net::awaitable<bool> Session::writeChunk(std::string_view data, bool last) {
  // One write per call: [pending head] [chunk size] data [CRLF + terminating chunk if last].
  std::string_view head = headPending_ ? std::string_view(respHead_) : std::string_view();
  headPending_ = false;
  if (last) streaming_ = false;
  if (http10_) {
    if (last) keepAlive_ = false;
    if (head.empty() && data.empty()) co_return !gone_;
    co_return co_await writeBuffers(head, data, {});
  }
  chunkPrefix_.assign(head);
  if (!data.empty()) {
    char hex[20];
    auto r = std::to_chars(hex, hex + sizeof hex, data.size(), 16);
    chunkPrefix_.append(hex, static_cast<size_t>(r.ptr - hex));
    chunkPrefix_ += "\r\n";
  }
  std::string_view tail =
      data.empty() ? (last ? "0\r\n\r\n" : "") : (last ? "\r\n0\r\n\r\n" : "\r\n");
  if (chunkPrefix_.empty() && data.empty() && tail.empty()) co_return !gone_;
  if (!beginWrite()) co_return false;
  auto [ec, n] = co_await net::async_write(socket_, threeBuffers(chunkPrefix_, data, tail), kTok);
  co_return afterWrite(ec, n);
}

net::awaitable<bool> Session::endStream() {
  co_return co_await writeChunk({}, true);
}

void Session::watchClient(Abortable* target) {
  watchTarget_ = target;
  armIdleWatch();
}

void Session::startWatch() {
  if (watchTarget_ == nullptr || watching_ || closed_ || gone_) return;
  watching_ = true;
  auto self = shared_from_this();
  uint64_t gen = ++watchGen_;
  socket_.async_wait(
      net::ip::tcp::socket::wait_read,
      net::bind_cancellation_slot(watchCancel_.slot(), [self, gen](boost::system::error_code ec) {
        if (gen != self->watchGen_) return;  // a cancelled earlier watch completing late
        self->watching_ = false;
        if (ec || self->closed_) return;
        // Readable while we wait on the upstream: either pipelined bytes (fine) or EOF/reset.
        char probe = 0;
        ssize_t r = ::recv(self->socket_.native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
          self->gone_ = true;
          if (self->watchTarget_ != nullptr) self->watchTarget_->abortNow();
        }
      }));
}

void Session::unwatchClient() {
  watchTarget_ = nullptr;
  if (timerKind_ == TimerKind::WatchStart) {
    timerKind_ = TimerKind::None;
    expiresNever();
  }
  if (watching_) {
    watching_ = false;
    ++watchGen_;
    watchCancel_.emit(net::cancellation_type::terminal);
  }
}

}  // namespace llmux::server
