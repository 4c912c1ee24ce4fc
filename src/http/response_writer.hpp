#pragma once
// The seam between the HTTP server and the handlers above it: a handler answers through this
// interface, either whole (respond) or as a chunked stream (beginStream / writeChunk / endStream).
// The server implements it over a client connection; tests implement it in memory.
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

namespace llmux::http {

using Header = std::pair<std::string_view, std::string_view>;

class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  // A complete response. `headers` must not contain Content-Length, Connection or
  // Transfer-Encoding.
  virtual boost::asio::awaitable<bool> respond(int status, std::span<const Header> headers,
                                               std::string_view body) = 0;
  // Starts a chunked response (HTTP/1.0 clients get a close-delimited body instead).
  virtual boost::asio::awaitable<bool> beginStream(int status, std::span<const Header> headers) = 0;
  // Sends bytes to the client at once (with the stream head if not yet sent); `last` also ends
  // the stream in the same write. False when the client is gone.
  virtual boost::asio::awaitable<bool> writeChunk(std::string_view data, bool last = false) = 0;
  // Ends the stream (equivalent to writeChunk({}, true)).
  virtual boost::asio::awaitable<bool> endStream() = 0;
  // While an upstream call is pending, the server watches the client socket; if the client
  // disconnects it sets clientGone() and calls target->abortNow() so the upstream work stops.
  class Abortable {
   public:
    virtual void abortNow() = 0;

   protected:
    ~Abortable() = default;
  };
  virtual void watchClient(Abortable* target) = 0;
  virtual void unwatchClient() = 0;
  [[nodiscard]] virtual bool clientGone() const = 0;
  [[nodiscard]] virtual uint64_t bytesWritten() const = 0;
};

}  // namespace llmux::http
