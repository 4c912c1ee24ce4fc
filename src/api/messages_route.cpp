#include "api/messages_route.hpp"

#include <array>

namespace llmux::api {

namespace net = boost::asio;

namespace {

// The engine's headers with content-type replaced (at most 8 engine headers plus ours).
struct HeaderCopy {
  std::array<http::Header, 12> items{};
  size_t n = 0;
  HeaderCopy(std::span<const http::Header> in, std::string_view contentType) {
    for (const auto& h : in) {
      if (h.first == "content-type" || n + 1 >= items.size()) continue;
      items[n++] = h;
    }
    items[n++] = {"content-type", contentType};
  }
  [[nodiscard]] std::span<const http::Header> span() const { return {items.data(), n}; }
};

}  // namespace

GatewayError parseOpenAIError(int status, std::string_view body, simdjson::dom::parser& parser) {
  GatewayError e;
  e.status = status;
  e.type = status >= 500 ? "api_error" : "invalid_request_error";
  e.message = "Request failed.";
  simdjson::dom::object err;
  if (parser.parse(body.data(), body.size())["error"].get(err) == simdjson::SUCCESS) {
    std::string_view v;
    if (err["message"].get(v) == simdjson::SUCCESS) e.message = v;
    if (err["type"].get(v) == simdjson::SUCCESS) e.type = v;
    if (err["code"].get(v) == simdjson::SUCCESS) e.code = std::string(v);
    if (err["param"].get(v) == simdjson::SUCCESS) e.param = std::string(v);
  }
  return e;
}

AnthropicWriter::AnthropicWriter(http::ResponseWriter& inner, const messages_api::RequestInfo& info)
    : inner_(inner), info_(info), encoder_(info) {}

net::awaitable<bool> AnthropicWriter::respond(int status, std::span<const http::Header> headers,
                                              std::string_view body) {
  HeaderCopy h(headers, "application/json");
  if (status >= 200 && status < 300) {
    if (auto err = messages_api::fromOpenAIResponse(body, info_, parser_, buf_)) {
      co_return co_await inner_.respond(messages_api::anthropicStatus(*err), h.span(),
                                        messages_api::toAnthropicError(*err));
    }
    co_return co_await inner_.respond(status, h.span(), buf_);
  }
  const GatewayError err = parseOpenAIError(status, body, parser_);
  co_return co_await inner_.respond(status, h.span(), messages_api::toAnthropicError(err));
}

net::awaitable<bool> AnthropicWriter::beginStream(int status,
                                                  std::span<const http::Header> headers) {
  co_return co_await inner_.beginStream(status, headers);
}

net::awaitable<bool> AnthropicWriter::writeChunk(std::string_view data, bool last) {
  buf_.clear();
  const bool fits =
      sse_.feed(data, [&](const providers::SseEvent& ev) { encoder_.onChunk(ev.data, buf_); });
  if (!fits) {
    encoder_.fail(GatewayError::badGateway("The upstream stream sent an oversized event.",
                                           "upstream_protocol_error"),
                  buf_);
  }
  if (last && !encoder_.completed() && !encoder_.failed()) {
    encoder_.fail(
        GatewayError::badGateway("The upstream stream ended early.", "upstream_stream_truncated"),
        buf_);
  }
  if (buf_.empty() && !last) co_return true;
  co_return co_await inner_.writeChunk(buf_, last);
}

net::awaitable<bool> AnthropicWriter::endStream() {
  co_return co_await writeChunk({}, true);
}

net::awaitable<bool> AnthropicErrorWriter::respond(int status,
                                                   std::span<const http::Header> headers,
                                                   std::string_view body) {
  if (status < 400) co_return co_await inner_.respond(status, headers, body);
  HeaderCopy h(headers, "application/json");
  buf_ = messages_api::toAnthropicError(parseOpenAIError(status, body, parser_));
  co_return co_await inner_.respond(status, h.span(), buf_);
}

net::awaitable<bool> AnthropicErrorWriter::writeChunk(std::string_view data, bool last) {
  constexpr std::string_view kEngineError = "data: {\"error\"";
  if (!data.starts_with(kEngineError)) co_return co_await inner_.writeChunk(data, last);
  std::string_view json = data.substr(6);
  while (!json.empty() && (json.back() == '\n' || json.back() == '\r')) json.remove_suffix(1);
  buf_ = "event: error\ndata: ";
  buf_ += messages_api::toAnthropicError(parseOpenAIError(502, json, parser_));
  buf_ += "\n\n";
  co_return co_await inner_.writeChunk(buf_, last);
}

}  // namespace llmux::api
