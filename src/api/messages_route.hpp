#pragma once
// POST /v1/messages and /v1/messages/count_tokens: Anthropic's Messages schema in front of every
// configured model. The request is translated to an OpenAI chat request and run through the same
// engine path as /v1/chat/completions; AnthropicWriter translates what the engine writes back.
#include <simdjson.h>

#include <string>

#include "http/response_writer.hpp"
#include "messages_api/messages_api.hpp"
#include "providers/common/sse_parser.hpp"

namespace llmux::api {

class AnthropicWriter final : public http::ResponseWriter {
 public:
  AnthropicWriter(http::ResponseWriter& inner, const messages_api::RequestInfo& info);

  boost::asio::awaitable<bool> respond(int status, std::span<const http::Header> headers,
                                       std::string_view body) override;
  boost::asio::awaitable<bool> beginStream(int status,
                                           std::span<const http::Header> headers) override;
  boost::asio::awaitable<bool> writeChunk(std::string_view data, bool last) override;
  boost::asio::awaitable<bool> endStream() override;
  void watchClient(Abortable* target) override { inner_.watchClient(target); }
  void unwatchClient() override { inner_.unwatchClient(); }
  [[nodiscard]] bool clientGone() const override { return inner_.clientGone(); }
  [[nodiscard]] uint64_t bytesWritten() const override { return inner_.bytesWritten(); }

 private:
  http::ResponseWriter& inner_;
  const messages_api::RequestInfo& info_;
  messages_api::StreamEncoder encoder_;
  providers::SseParser sse_;
  simdjson::dom::parser parser_;
  std::string buf_;
};

// For /v1/messages relayed to Anthropic as it is: successes and the upstream's events pass
// through untouched; the OpenAI-shaped errors the engine itself writes (before or during a
// stream) are turned into Anthropic's.
class AnthropicErrorWriter final : public http::ResponseWriter {
 public:
  explicit AnthropicErrorWriter(http::ResponseWriter& inner) : inner_(inner) {}
  boost::asio::awaitable<bool> respond(int status, std::span<const http::Header> headers,
                                       std::string_view body) override;
  boost::asio::awaitable<bool> beginStream(int status,
                                           std::span<const http::Header> headers) override {
    co_return co_await inner_.beginStream(status, headers);
  }
  boost::asio::awaitable<bool> writeChunk(std::string_view data, bool last) override;
  boost::asio::awaitable<bool> endStream() override { co_return co_await inner_.endStream(); }
  void watchClient(Abortable* target) override { inner_.watchClient(target); }
  void unwatchClient() override { inner_.unwatchClient(); }
  [[nodiscard]] bool clientGone() const override { return inner_.clientGone(); }
  [[nodiscard]] uint64_t bytesWritten() const override { return inner_.bytesWritten(); }

 private:
  http::ResponseWriter& inner_;
  simdjson::dom::parser parser_;
  std::string buf_;
};

// The error body an OpenAI-shaped error JSON (what the engine sends) becomes for Anthropic clients.
GatewayError parseOpenAIError(int status, std::string_view body, simdjson::dom::parser& parser);

}  // namespace llmux::api
