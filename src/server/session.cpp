#include "server/session.hpp"

#include <sys/socket.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <cerrno>
#include <fmt/format.h>

#include "common/error.hpp"
#include "server/worker.hpp"

namespace llmux::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {
constexpr auto kTok = net::as_tuple(net::use_awaitable);
constexpr size_t kFirstReadBytes = 4096;
constexpr size_t kMaxDrainBytes = 1 << 20;

std::string_view reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 529: return "Site Overloaded";
    default: return "Unknown";
  }
}

bool hasToken(std::string_view value, std::string_view token) {
  // Case-insensitive search of a comma-separated header value for `token`.
  size_t i = 0;
  while (i < value.size()) {
    size_t j = value.find(',', i);
    if (j == std::string_view::npos) j = value.size();
    std::string_view part = value.substr(i, j - i);
    while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) part.remove_prefix(1);
    while (!part.empty() && (part.back() == ' ' || part.back() == '\t')) part.remove_suffix(1);
    if (beast::iequals(part, token)) return true;
    i = j + 1;
  }
  return false;
}
}  // namespace

Session::Session(Worker& worker, net::ip::tcp::socket socket)
    : worker_(worker), stream_(std::move(socket)) {
  head_.reserve(512);
  registryPos = worker_.add(this);
}

void Session::newRequestId() { worker_.nextRequestId(requestId_); }

void Session::closeSocket() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ec;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
  stream_.socket().close(ec);
}

void Session::shutdown(bool force) {
  if (force) {
    if (watchTarget_ != nullptr) watchTarget_->abortNow();
    closeSocket();
  } else if (state_ == State::Idle) {
    closeSocket();
  }
}

net::awaitable<void> Session::run() {
  auto self = shared_from_this();  // keeps the session alive while the coroutine runs
  const Options& o = worker_.opts();
  for (;;) {
    state_ = State::Idle;
    if (worker_.draining() || closed_) break;
    if (buf_.size() == 0) {
      // Keep-alive idle wait: a long timeout until the first byte of the next request.
      stream_.expires_after(o.idleTimeout);
      auto [ec, n] = co_await stream_.async_read_some(buf_.prepare(kFirstReadBytes), kTok);
      if (ec) break;
      buf_.commit(n);
    }
    state_ = State::Reading;
    newRequestId();
    parser_.emplace();
    parser_->header_limit(o.maxHeaderBytes);
    parser_->body_limit(o.maxBodyBytes);
    // The whole header must arrive within headerTimeout (slowloris).
    stream_.expires_after(o.headerTimeout);
    auto [hec, hn] = co_await bhttp::async_read_header(stream_, buf_, *parser_, kTok);
    size_t bytesIn = hn;
    if (hec) {
      if (hec == bhttp::error::header_limit) {
        co_await sendErrorAndClose(431, "invalid_request_error", "Request header fields too large.",
                                   "header_too_large");
      } else if (hec == bhttp::error::body_limit) {
        co_await sendErrorAndClose(413, "invalid_request_error",
                                   fmt::format("Request body exceeds the limit of {} bytes.", o.maxBodyBytes),
                                   "request_too_large");
      } else if (hec == beast::error::timeout) {
        co_await sendErrorAndClose(408, "invalid_request_error",
                                   "Timed out reading the request header.", "request_timeout");
      } else if (hec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
                 hec != bhttp::error::end_of_stream && hec != bhttp::error::partial_message) {
        co_await sendErrorAndClose(400, "invalid_request_error",
                                   "Malformed HTTP request: " + hec.message() + ".", "bad_request");
      }
      break;
    }
    auto& msg = parser_->get();
    http10_ = msg.version() < 11;
    if (auto exp = msg[bhttp::field::expect]; !exp.empty()) {
      if (!beast::iequals(exp, "100-continue")) {
        co_await sendErrorAndClose(417, "invalid_request_error", "Unsupported Expect header.",
                                   "expectation_failed");
        break;
      }
      if (!http10_) {
        stream_.expires_after(o.writeTimeout);
        static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
        auto [wec, wn] = co_await net::async_write(stream_, net::buffer(k100.data(), k100.size()), kTok);
        if (wec) break;
      }
    }
    if (!parser_->is_done()) {
      stream_.expires_after(o.bodyTimeout);
      auto [bec, bn] = co_await bhttp::async_read(stream_, buf_, *parser_, kTok);
      bytesIn += bn;
      if (bec) {
        if (bec == bhttp::error::body_limit) {
          co_await sendErrorAndClose(413, "invalid_request_error",
                                     fmt::format("Request body exceeds the limit of {} bytes.", o.maxBodyBytes),
                                     "request_too_large");
        } else if (bec == beast::error::timeout) {
          co_await sendErrorAndClose(408, "invalid_request_error",
                                     "Timed out reading the request body.", "request_timeout");
        } else if (bec != bhttp::error::end_of_stream && bec != bhttp::error::partial_message &&
                   bec.category() == bhttp::make_error_code(bhttp::error::bad_method).category()) {
          co_await sendErrorAndClose(400, "invalid_request_error",
                                     "Malformed HTTP request body: " + bec.message() + ".", "bad_request");
        }
        break;
      }
    }
    state_ = State::Handling;
    stream_.expires_never();
    keepAlive_ = msg.keep_alive() && !http10_;
    streaming_ = false;
    headSent_ = false;
    http::Request req{msg, std::string_view(requestId_, sizeof requestId_),
                      std::chrono::steady_clock::now(), worker_.index(), bytesIn};
    co_await worker_.handler().handle(req, *this);
    unwatchClient();
    if (!headSent_) {
      // A handler that wrote nothing is a bug; answer rather than hang the client.
      co_await respond(500, {}, GatewayError::internal("No response was produced.").toJson());
    }
    parser_.reset();
    if (!keepAlive_ || gone_ || closed_) break;
  }
  unwatchClient();
  closeSocket();
  worker_.remove(registryPos);
}

net::awaitable<void> Session::sendErrorAndClose(int status, std::string_view type,
                                                std::string_view message, std::string_view code) {
  keepAlive_ = false;
  GatewayError e{status, std::string(type), std::string(message), {}, std::string(code), {}};
  static constexpr http::Header kJson[] = {{"content-type", "application/json"}};
  bool ok = co_await respond(status, kJson, e.toJson());
  if (!ok) co_return;
  // Half-close and drain what the client is still sending, so it reads our answer instead of a reset.
  boost::system::error_code ec;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
  stream_.expires_after(std::chrono::seconds(2));
  size_t drained = 0;
  std::array<char, 8192> sink{};
  while (drained < kMaxDrainBytes) {
    auto [rec, n] = co_await stream_.async_read_some(net::buffer(sink), kTok);
    if (rec) break;
    drained += n;
  }
}

void Session::startHead(int status) {
  head_.clear();
  fmt::format_to(std::back_inserter(head_), "HTTP/1.1 {} {}\r\n", status, reason(status));
}

void Session::finishHead(std::span<const http::Header> headers) {
  for (const auto& [k, v] : headers) {
    head_ += k;
    head_ += ": ";
    head_ += v;
    head_ += "\r\n";
  }
  head_ += "x-llmux-request-id: ";
  head_.append(requestId_, sizeof requestId_);
  head_ += "\r\n";
  if (!keepAlive_ || worker_.draining()) {
    keepAlive_ = false;
    head_ += "connection: close\r\n";
  }
  head_ += "\r\n";
}

net::awaitable<bool> Session::writeBuffers(std::string_view a, std::string_view b, std::string_view c) {
  if (closed_ || gone_) co_return false;
  std::array<net::const_buffer, 3> bufs{net::buffer(a.data(), a.size()), net::buffer(b.data(), b.size()),
                                        net::buffer(c.data(), c.size())};
  stream_.expires_after(worker_.opts().writeTimeout);
  auto [ec, n] = co_await net::async_write(stream_, bufs, kTok);
  stream_.expires_never();
  bytesOut_ += n;
  if (ec) {
    gone_ = true;
    if (watchTarget_ != nullptr) watchTarget_->abortNow();
    co_return false;
  }
  co_return true;
}

net::awaitable<bool> Session::respond(int status, std::span<const http::Header> headers,
                                      std::string_view body) {
  startHead(status);
  fmt::format_to(std::back_inserter(head_), "content-length: {}\r\n", body.size());
  finishHead(headers);
  headSent_ = true;
  co_return co_await writeBuffers(head_, body, {});
}

net::awaitable<bool> Session::beginStream(int status, std::span<const http::Header> headers) {
  startHead(status);
  if (http10_) {
    keepAlive_ = false;  // HTTP/1.0 has no chunked encoding: the body ends when we close
  } else {
    head_ += "transfer-encoding: chunked\r\n";
  }
  finishHead(headers);
  headSent_ = true;
  streaming_ = true;
  co_return co_await writeBuffers(head_, {}, {});
}

net::awaitable<bool> Session::writeChunk(std::string_view data) {
  if (data.empty()) co_return !gone_;
  if (http10_) co_return co_await writeBuffers(data, {}, {});
  chunkPrefix_.clear();
  fmt::format_to(std::back_inserter(chunkPrefix_), "{:x}\r\n", data.size());
  co_return co_await writeBuffers(chunkPrefix_, data, "\r\n");
}

net::awaitable<bool> Session::endStream() {
  streaming_ = false;
  if (http10_) {
    keepAlive_ = false;
    co_return !gone_;
  }
  co_return co_await writeBuffers("0\r\n\r\n", {}, {});
}

void Session::watchClient(Abortable* target) {
  watchTarget_ = target;
  if (watching_ || closed_ || gone_) return;
  watching_ = true;
  auto self = shared_from_this();
  uint64_t gen = ++watchGen_;
  stream_.socket().async_wait(
      net::ip::tcp::socket::wait_read,
      net::bind_cancellation_slot(watchCancel_.slot(), [self, gen](boost::system::error_code ec) {
        if (gen != self->watchGen_) return;  // a cancelled earlier watch completing late
        self->watching_ = false;
        if (ec || self->closed_) return;
        // Readable while we wait on the upstream: either pipelined bytes (fine) or EOF/reset.
        char probe = 0;
        ssize_t r = ::recv(self->stream_.socket().native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
          self->gone_ = true;
          if (self->watchTarget_ != nullptr) self->watchTarget_->abortNow();
        }
      }));
}

void Session::unwatchClient() {
  watchTarget_ = nullptr;
  if (watching_) {
    watching_ = false;
    ++watchGen_;
    watchCancel_.emit(net::cancellation_type::terminal);
  }
}

}  // namespace llmux::server
