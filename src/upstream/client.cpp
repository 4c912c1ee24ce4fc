#include "upstream/client.hpp"

#include <sys/socket.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>

namespace llmux::upstream {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

namespace {
constexpr auto kTok = net::as_tuple(net::use_awaitable);
constexpr size_t kReadBufBytes = 16 * 1024;
constexpr uint32_t kMaxResponseHeaderBytes = 64 * 1024;
// Pooled connections idle longer than this are not reused: many servers close idle keep-alive
// connections after 60-75 s, and reusing one that the peer is closing costs a retry.
constexpr auto kMaxIdleAge = std::chrono::seconds(50);
// Connections idle for less than this are reused without a liveness probe: servers do not close
// keep-alive connections that young, and the retry in Exchange::start covers the rare race.
constexpr auto kProbeAfterIdle = std::chrono::seconds(1);
constexpr auto kDnsTtl = std::chrono::seconds(30);
}  // namespace

const char* failureName(Failure f) {
  switch (f) {
    case Failure::None:
      return "none";
    case Failure::Connect:
      return "connect";
    case Failure::Timeout:
      return "timeout";
    case Failure::Reset:
      return "reset";
    case Failure::Protocol:
      return "protocol";
    case Failure::Cancelled:
      return "cancelled";
  }
  return "unknown";
}

class Connection {
 public:
  Connection(net::any_io_executor ex, const Target& t) : tcp(std::move(ex)), target(&t) {
    buffer.reserve(kReadBufBytes);  // read whole response heads in one recv
  }
  tcp::socket& lowest() { return tls ? tls->next_layer() : tcp; }
  void close() {
    boost::system::error_code ec;
    lowest().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close(ec);
  }

  tcp::socket tcp;  // moved into `tls` for https origins
  std::unique_ptr<beast::ssl_stream<tcp::socket>> tls;
  const Target* target;
  beast::flat_buffer buffer;  // raw bytes read but not yet parsed
  Clock::time_point idleSince;
};

Client::Client(net::any_io_executor ex, net::ssl::context& tls, TimeoutSweep& sweep,
               size_t maxIdlePerOrigin)
    : ex_(ex), tls_(tls), sweep_(sweep), maxIdle_(maxIdlePerOrigin) {}

Client::~Client() {
  closeIdle();
}

void Client::closeIdle() {
  for (auto& [target, conns] : idle_) {
    for (auto& c : conns) c->close();
  }
  idle_.clear();
}

std::unique_ptr<Connection> Client::checkout(const Target& t) {
  auto it = idle_.find(std::string_view(t.poolKey));
  if (it == idle_.end()) return nullptr;
  auto& conns = it->second;
  const auto now = TimeoutSweep::coarseNow();  // idle ages need no more than tick resolution
  while (!conns.empty()) {
    auto c = std::move(conns.back());  // LIFO: the warmest connection
    conns.pop_back();
    if (now - c->idleSince > kMaxIdleAge) {
      c->close();
      continue;
    }
    if (now - c->idleSince < kProbeAfterIdle) return c;
    // A peer that closed while the connection sat idle shows as readable EOF; plain-HTTP peers must
    // not send anything unprompted, TLS peers may (session tickets), so only EOF/errors disqualify.
    char probe = 0;
    ssize_t r = ::recv(c->lowest().native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    bool alive = r < 0 ? (errno == EAGAIN || errno == EWOULDBLOCK) : (r > 0 && c->tls != nullptr);
    if (!alive) {
      c->close();
      continue;
    }
    return c;
  }
  return nullptr;
}

void Client::checkin(std::unique_ptr<Connection> c) {
  auto& conns = idle_[std::string_view(c->target->poolKey)];
  if (conns.size() >= maxIdle_) {
    c->close();
    return;
  }
  c->idleSince = TimeoutSweep::coarseNow();
  conns.push_back(std::move(c));
}

net::awaitable<std::pair<boost::system::error_code, std::vector<tcp::endpoint>>> Client::resolve(
    const Target& t, tcp::resolver& resolver) {
  boost::system::error_code ec;
  auto addr = net::ip::make_address(t.host, ec);
  if (!ec)
    co_return std::pair{boost::system::error_code{}, std::vector{tcp::endpoint(addr, t.port)}};
  std::string key = t.host + ":" + std::to_string(t.port);
  auto now = Clock::now();
  if (auto it = dns_.find(key); it != dns_.end() && it->second.expires > now) {
    co_return std::pair{boost::system::error_code{}, it->second.endpoints};
  }
  auto [rec, results] = co_await resolver.async_resolve(t.host, std::to_string(t.port), kTok);
  if (rec) co_return std::pair{rec, std::vector<tcp::endpoint>{}};
  std::vector<tcp::endpoint> eps;
  for (const auto& r : results) eps.push_back(r.endpoint());
  if (eps.empty())
    co_return std::pair{net::error::make_error_code(net::error::host_not_found), eps};
  // Hosts come from configs and from client image URLs: bound the cache.
  if (dns_.size() >= 4096) dns_.clear();
  dns_[key] = DnsEntry{eps, now + kDnsTtl};
  co_return std::pair{boost::system::error_code{}, std::move(eps)};
}

Exchange::Exchange(Client& client, const Target& target, const Timeouts& timeouts,
                   http::HeaderList& headers, std::string& body)
    : client_(client), target_(target), timeouts_(timeouts), headers_(headers), body_(body) {
  client_.sweep_.add(this);
}

Exchange::~Exchange() {
  release();
  client_.sweep_.remove(this);
}

Clock::time_point Exchange::deadlineAfter(std::chrono::milliseconds d) const {
  auto at = TimeoutSweep::coarseNow() + d;
  return timeouts_.deadline < at ? timeouts_.deadline : at;
}

void Exchange::armTimer(std::chrono::milliseconds d) {
  expiresAt(deadlineAfter(d));
}

void Exchange::onExpired() {
  // Closing the socket makes the pending operation complete with an error; timedOut_ says why.
  timedOut_ = true;
  if (resolver_) resolver_->cancel();
  if (conn_) conn_->close();
}

Failure Exchange::classify(const boost::system::error_code& ec, Failure ioDefault) {
  if (aborted_) return Failure::Cancelled;
  if (timedOut_) return Failure::Timeout;
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category()) {
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message)
      return Failure::Reset;
    return Failure::Protocol;
  }
  return ioDefault;
}

// Asio resolves on one internal thread per execution context, and a getaddrinfo() in progress
// cannot be interrupted. Names from clients (image URLs) are resolved in a context of their own,
// so a name server that never answers delays only other client-supplied lookups, never the
// deployments'. Deliberately never destroyed: its thread may be stuck in getaddrinfo() at exit.
net::any_io_executor untrustedResolverExecutor() {
  static auto* pool = new net::thread_pool(1);
  return pool->get_executor();
}

bool isPublicAddress(const net::ip::address& a) {
  if (a.is_unspecified() || a.is_loopback() || a.is_multicast()) return false;
  if (a.is_v4()) {
    const auto b = a.to_v4().to_bytes();
    if (b[0] == 10 || b[0] == 0 || b[0] == 127) return false;
    if (b[0] == 172 && (b[1] & 0xf0) == 16) return false;
    if (b[0] == 192 && b[1] == 168) return false;
    if (b[0] == 169 && b[1] == 254) return false;          // link-local, cloud metadata
    if (b[0] == 100 && (b[1] & 0xc0) == 64) return false;  // carrier-grade NAT
    if (b[0] >= 224) return false;                         // multicast, reserved, broadcast
    return true;
  }
  const auto v6 = a.to_v6();
  if (v6.is_link_local() || v6.is_site_local()) return false;
  if (v6.is_v4_mapped()) return isPublicAddress(net::ip::make_address_v4(net::ip::v4_mapped, v6));
  const auto b = v6.to_bytes();
  if ((b[0] & 0xfe) == 0xfc) return false;  // unique local fc00::/7
  return true;
}

net::awaitable<Failure> Exchange::connect() {
  // The connect timeout covers DNS too; a timeout or abort cancels the lookup.
  armTimer(timeouts_.connect);
  resolver_.emplace(target_.publicOnly ? untrustedResolverExecutor() : client_.ex_);
  auto [rec, endpoints] = co_await client_.resolve(target_, *resolver_);
  resolver_.reset();
  if (aborted_) co_return Failure::Cancelled;
  if (timedOut_) {
    detail_ = "DNS lookup of " + target_.host + " timed out";
    co_return Failure::Connect;
  }
  if (rec) {
    detail_ = "DNS lookup of " + target_.host + " failed: " + rec.message();
    co_return Failure::Connect;
  }
  if (target_.publicOnly) {
    std::erase_if(endpoints, [](const tcp::endpoint& e) { return !isPublicAddress(e.address()); });
    if (endpoints.empty()) {
      detail_ = target_.host + " resolves to a private, loopback or link-local address";
      co_return Failure::Connect;
    }
  }
  conn_ = std::make_unique<Connection>(client_.ex_, target_);
  auto [cec, ep] = co_await net::async_connect(conn_->tcp, endpoints, kTok);
  if (cec) {
    Failure f = classify(cec, Failure::Connect);
    if (f == Failure::Timeout)
      f = Failure::Connect;  // a connect timeout is a connect failure (502)
    detail_ = "connect to " + target_.origin + " failed: " + cec.message();
    co_return f;
  }
  boost::system::error_code ignored;
  conn_->tcp.set_option(tcp::no_delay(true), ignored);
  if (target_.tls) {
    conn_->tls = std::make_unique<beast::ssl_stream<tcp::socket>>(
        std::move(conn_->tcp), target_.tlsContext ? *target_.tlsContext : client_.tls_);
    boost::system::error_code ipec;
    net::ip::make_address(target_.host, ipec);
    if (ipec) {  // SNI only for DNS names (RFC 6066 forbids IP literals)
      SSL_set_tlsext_host_name(conn_->tls->native_handle(), target_.host.c_str());
    }
    if (target_.tlsVerify) {
      conn_->tls->set_verify_mode(net::ssl::verify_peer);
      conn_->tls->set_verify_callback(net::ssl::host_name_verification(target_.host));
    } else {
      conn_->tls->set_verify_mode(net::ssl::verify_none);
    }
    armTimer(timeouts_.connect);
    auto [hec] = co_await conn_->tls->async_handshake(net::ssl::stream_base::client, kTok);
    if (hec) {
      if (timedOut_) {
        detail_ = "TLS handshake with " + target_.origin + " timed out";
        co_return Failure::Connect;
      }
      detail_ = "TLS handshake with " + target_.origin + " failed: " + hec.message();
      co_return aborted_ ? Failure::Cancelled : Failure::Connect;
    }
  }
  co_return Failure::None;
}

net::awaitable<Failure> Exchange::sendAndReadHeader(std::string_view head, std::string_view body) {
  armTimer(timeouts_.firstByte);
  firstByteDeadline_ = deadlineAfter(timeouts_.firstByte);
  writeFailed_ = false;
  std::array<net::const_buffer, 2> bufs{net::buffer(head.data(), head.size()),
                                        net::buffer(body.data(), body.size())};
  boost::system::error_code ec;
  if (conn_->tls) {
    std::tie(ec, std::ignore) = co_await net::async_write(*conn_->tls, bufs, kTok);
  } else {
    std::tie(ec, std::ignore) = co_await net::async_write(conn_->tcp, bufs, kTok);
  }
  if (ec) {
    writeFailed_ = true;
    detail_ = "sending the request to " + target_.origin + " failed: " + ec.message();
    co_return classify(ec, Failure::Reset);
  }
  for (;;) {
    body_.clear();
    headerBytes_ = 0;
    headerDone_ = false;
    parser_.emplace(headers_, body_);
    parser_->eager(false);  // header first, alone, so its size can be bounded
    parser_->header_limit(kMaxResponseHeaderBytes);
    parser_->body_limit(boost::none);  // the engine bounds what it buffers; streams are unbounded
    while (!parser_->is_header_done()) {
      auto [ec, n] = co_await readSome();
      Failure f = afterRead(ec, n);
      if (f != Failure::None) {
        if (detail_.empty())
          detail_ = "reading the response header from " + target_.origin + " failed";
        co_return f;
      }
    }
    // 1xx interim responses (100 Continue, 103 Early Hints) precede the real one: skip them.
    const int st = parser_->status();
    if (st >= 100 && st < 200 && st != 101) continue;
    break;
  }
  if (parser_->status() < 200) {
    detail_ = "upstream " + target_.origin + " switched protocols";
    co_return Failure::Protocol;
  }
  bodyDone_ = parser_->is_done();
  gotBody_ = !body_.empty();
  co_return Failure::None;
}

net::awaitable<std::tuple<boost::system::error_code, size_t>> Exchange::readSome() {
  // A plain function handing back the socket operation's awaitable: no coroutine frame of our own
  // per read (each frame is a malloc and a free).
  auto space = conn_->buffer.prepare(kReadBufBytes);
  if (conn_->tls) return conn_->tls->async_read_some(space, kTok);
  return conn_->tcp.async_read_some(space, kTok);
}

Failure Exchange::afterRead(const boost::system::error_code& ec, size_t n) {
  if (ec) {
    if ((ec == net::error::eof || ec == net::ssl::error::stream_truncated) &&
        parser_->is_header_done() && !aborted_ && !timedOut_) {
      // A body delimited by connection close ends here; otherwise the message is truncated.
      boost::system::error_code pec;
      parser_->put_eof(pec);
      if (!pec) {
        bodyDone_ = true;
        return Failure::None;
      }
    }
    detail_ = "reading from " + target_.origin + " failed: " + ec.message();
    return classify(ec, Failure::Reset);
  }
  conn_->buffer.commit(n);
  for (;;) {
    boost::system::error_code pec;
    size_t used = parser_->put(conn_->buffer.data(), pec);
    conn_->buffer.consume(used);
    const bool wasHeaderDone = headerDone_;
    headerDone_ = parser_->is_header_done();
    if (!wasHeaderDone) {
      // Beast bounds only the unparsed remainder; bound the whole header block here.
      headerBytes_ += used;
      if (headerBytes_ + (headerDone_ ? 0 : conn_->buffer.size()) > kMaxResponseHeaderBytes) {
        detail_ = "response header from " + target_.origin + " is larger than 64 KiB";
        return Failure::Protocol;
      }
      if (headerDone_) parser_->eager(true);
    }
    if (pec == bhttp::error::need_more) break;
    if (pec) {
      detail_ = "invalid HTTP from " + target_.origin + ": " + pec.message();
      return Failure::Protocol;
    }
    if (parser_->is_done() || used == 0 || conn_->buffer.size() == 0) break;
  }
  bodyDone_ = parser_->is_done();
  return Failure::None;
}

net::awaitable<Failure> Exchange::start(std::string_view head, std::string_view body) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    // A retry always opens a fresh connection: the pool may hold more connections the peer closed.
    conn_ = attempt == 0 ? client_.checkout(target_) : nullptr;
    reused_ = conn_ != nullptr;
    if (!conn_) {
      Failure f = co_await connect();
      if (f != Failure::None) {
        if (conn_) conn_->close();
        conn_.reset();
        co_return f;
      }
    }
    Failure f = co_await sendAndReadHeader(head, body);
    if (f == Failure::None) co_return f;
    conn_->close();
    conn_.reset();
    // Only a request that could not even be written to a pooled connection (closed by the peer
    // while idle) is replayed: once written, a POST may have been processed, and replaying it could
    // run (and bill) a completion twice.
    if (!(reused_ && writeFailed_ && f == Failure::Reset && attempt == 0)) co_return f;
    detail_.clear();
    timedOut_ = false;
  }
  co_return Failure::Reset;
}

int Exchange::status() const {
  return parser_ ? parser_->status() : 0;
}

std::string_view Exchange::header(std::string_view name) const {
  return headers_.get(name);
}

bool Exchange::done() const {
  return bodyDone_;
}

net::awaitable<std::pair<Failure, std::string_view>> Exchange::read() {
  if (handedOut_) {
    body_.clear();
    handedOut_ = false;
  }
  while (body_.empty() && !bodyDone_) {
    if (!conn_) co_return std::pair{Failure::Cancelled, std::string_view{}};
    // Until the first body byte the first-byte deadline (from sending) applies: SSE servers send
    // headers at once and then think; after that, the idle gap between chunks.
    if (gotBody_) {
      armTimer(timeouts_.idle);
    } else {
      expiresAt(firstByteDeadline_);
    }
    auto [ec, n] = co_await readSome();
    Failure f = afterRead(ec, n);
    if (f != Failure::None) co_return std::pair{f, std::string_view{}};
  }
  gotBody_ = true;
  // While the caller works on (or writes out) these bytes, the upstream is not the one waiting.
  expiresNever();
  handedOut_ = true;
  co_return std::pair{Failure::None, std::string_view(body_)};
}

void Exchange::release() {
  if (!conn_) return;
  if (!aborted_ && !timedOut_ && bodyDone_ && parser_ && parser_->status() >= 200 &&
      parser_->keep_alive() && conn_->buffer.size() == 0) {
    expiresNever();
    client_.checkin(std::move(conn_));
    return;
  }
  conn_->close();
  conn_.reset();
}

void Exchange::abort() {
  aborted_ = true;
  if (resolver_) resolver_->cancel();
  if (conn_) conn_->close();
}

}  // namespace llmux::upstream
