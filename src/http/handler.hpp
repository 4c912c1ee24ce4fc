#pragma once
// What the server hands to the layer above for each request, and the interface that layer
// implements.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <string_view>

#include "http/request_parser.hpp"
#include "http/response_writer.hpp"

namespace llmux::http {

struct Request {
  RequestHead& head;           // method, target, headers; head.body may be modified (JSON padding)
  std::string_view requestId;  // also sent to the client as x-llmux-request-id
  std::chrono::steady_clock::time_point received;  // when the request was complete
  size_t worker = 0;                               // index of the I/O thread serving it
  size_t bytesIn = 0;                              // header + body bytes read

  [[nodiscard]] std::string_view header(std::string_view name) const {
    return head.headers.get(name);
  }
  [[nodiscard]] std::string_view path() const {
    std::string_view t = head.target;
    auto q = t.find('?');
    return q == std::string_view::npos ? t : t.substr(0, q);
  }
  // The raw query string, without '?' ("" when none).
  [[nodiscard]] std::string_view query() const {
    std::string_view t = head.target;
    auto q = t.find('?');
    // Never a null view: parsers given data() may not expect nullptr.
    return q == std::string_view::npos ? t.substr(t.size()) : t.substr(q + 1);
  }
  std::string& body() { return head.body; }
  [[nodiscard]] const std::string& body() const { return head.body; }
};

class Handler {
 public:
  virtual ~Handler() = default;
  virtual boost::asio::awaitable<void> handle(Request& req, ResponseWriter& out) = 0;
  // Called once on the I/O thread when the worker drains and its last session has ended: the
  // handler lets go of what keeps the io_context busy (timers, background connections).
  virtual void onDrained() {}
};

}  // namespace llmux::http
