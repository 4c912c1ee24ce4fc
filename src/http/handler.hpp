#pragma once
// What the server hands to the layer above for each request, and the interface that layer implements.
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstddef>
#include <string_view>

#include "http/response_writer.hpp"

namespace llmux::http {

using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;

struct Request {
  BeastRequest& msg;             // method, target, headers; body() may be modified (JSON padding)
  std::string_view requestId;    // also sent to the client as x-llmux-request-id
  std::chrono::steady_clock::time_point received;  // when the header was complete
  size_t worker = 0;             // index of the I/O thread serving it
  size_t bytesIn = 0;            // header + body bytes read
};

class Handler {
 public:
  virtual ~Handler() = default;
  virtual boost::asio::awaitable<void> handle(Request& req, ResponseWriter& out) = 0;
};

}  // namespace llmux::http
