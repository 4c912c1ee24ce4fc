#pragma once
// Adds governance's response headers to whatever the engine writes: x-ratelimit-* (what the
// key's, team's, ... limits have left, or which one refused), x-llmux-response-cost (USD, for
// answers whose usage is known when the headers go out, i.e. not streams) and x-llmux-key-spend.
#include <array>
#include <string>

#include "api/gatekeeper.hpp"
#include "governance/errors.hpp"
#include "http/response_writer.hpp"

namespace llmux::api {

// The storage a GovWriter's headers live in: part of the request's pooled state (api.hpp), so
// writing them allocates nothing and keeps the coroutine frames small.
struct GovBuffers {
  governance::HeaderList extra;
  std::array<http::Header, 48> merged{};
  std::array<char, 32> cost{}, spend{};
};

class GovWriter final : public http::ResponseWriter {
 public:
  GovWriter(http::ResponseWriter& inner, Gatekeeper& gk, RequestGov& st, engine::RequestOutcome& o,
            GovBuffers& buf)
      : inner_(inner), gk_(gk), st_(st), o_(o), b_(buf) {}

  boost::asio::awaitable<bool> respond(int status, std::span<const http::Header> headers,
                                       std::string_view body) override;
  boost::asio::awaitable<bool> beginStream(int status,
                                           std::span<const http::Header> headers) override;
  boost::asio::awaitable<bool> writeChunk(std::string_view data, bool last) override {
    co_return co_await inner_.writeChunk(data, last);
  }
  boost::asio::awaitable<bool> endStream() override { co_return co_await inner_.endStream(); }
  void watchClient(Abortable* target) override { inner_.watchClient(target); }
  void unwatchClient() override { inner_.unwatchClient(); }
  [[nodiscard]] bool clientGone() const override { return inner_.clientGone(); }
  [[nodiscard]] uint64_t bytesWritten() const override { return inner_.bytesWritten(); }

 private:
  // The engine's headers plus ours; views into this object's storage.
  std::span<const http::Header> merge(std::span<const http::Header> headers, bool withCost);

  http::ResponseWriter& inner_;
  Gatekeeper& gk_;
  RequestGov& st_;
  engine::RequestOutcome& o_;
  GovBuffers& b_;
};

}  // namespace llmux::api
