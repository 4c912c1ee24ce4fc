// The Anthropic Messages API relayed as it is: for /v1/messages requests whose model group is
// served by Anthropic deployments, the client's body goes upstream with only "model" replaced and
// the answer (JSON or the SSE event sequence) comes back byte for byte. Nothing is lost in
// translation: thinking signatures, stop_sequence, cache usage, server tools, citations.
#include <simdjson.h>

#include <memory>
#include <string>
#include <string_view>

#include "providers/anthropic/anthropic.hpp"
#include "providers/common/adapter.hpp"
#include "providers/common/sse_parser.hpp"

namespace llmux::providers::anthropic {
namespace {

namespace dom = simdjson::dom;

constexpr size_t kMaxEventBytes = size_t{8} << 20;
constexpr int64_t kMaxCount = int64_t{1} << 53;

int64_t count(dom::object o, std::string_view key) {
  int64_t v = 0;
  if (o[key].get(v) != simdjson::SUCCESS || v < 0) return 0;
  return v > kMaxCount ? kMaxCount : v;
}

// Anthropic's usage object in OpenAI's terms (prompt = input + cache reads + cache writes).
void readUsage(dom::object u, Usage& usage, bool output) {
  if (!output) {
    usage.cachedTokens = count(u, "cache_read_input_tokens");
    usage.promptTokens =
        count(u, "input_tokens") + usage.cachedTokens + count(u, "cache_creation_input_tokens");
  } else if (u["input_tokens"].error() == simdjson::SUCCESS) {
    // message_delta repeats the input counts in newer API versions.
    readUsage(u, usage, false);
  }
  if (u["output_tokens"].error() == simdjson::SUCCESS)
    usage.completionTokens = count(u, "output_tokens");
  usage.totalTokens = usage.promptTokens + usage.completionTokens;
  usage.present = true;
}

std::optional<GatewayError> buildRelayed(dom::element req, const RequestOptions& opts,
                                         UpstreamCall& out, std::string_view path) {
  dom::object obj;
  if (req.get(obj) != simdjson::SUCCESS) {
    return GatewayError::invalidRequest("The request body is not a JSON object.");
  }
  out.path = path;
  out.body.assign("{\"model\":");
  appendJsonString(out.body, opts.upstreamModel);
  for (auto [key, value] : obj) {
    if (key == "model" || key == "drop_params")
      continue;  // drop_params is LiteLLM's, not Anthropic's
    out.body += ',';
    appendJsonString(out.body, key);
    out.body += ':';
    out.body += simdjson::minify(value);
  }
  out.body += '}';
  return std::nullopt;
}

std::optional<GatewayError> buildPassthrough(dom::element req, const RequestOptions& opts,
                                             UpstreamCall& out) {
  return buildRelayed(req, opts, out, "/v1/messages");
}

std::optional<GatewayError> buildCountTokens(dom::element req, const RequestOptions& opts,
                                             UpstreamCall& out) {
  return buildRelayed(req, opts, out, "/v1/messages/count_tokens");
}

std::optional<GatewayError> relayResponse(std::string_view body, const ResponseOptions&,
                                          dom::parser& parser, std::string& out, Usage& usage) {
  usage = Usage{};
  dom::object msg;
  if (parser.parse(body.data(), body.size()).get(msg) != simdjson::SUCCESS) {
    return malformedUpstream("anthropic", "the answer is not a JSON object");
  }
  dom::object u;
  if (msg["usage"].get(u) == simdjson::SUCCESS) {
    readUsage(u, usage, false);
    usage.completionTokens = count(u, "output_tokens");
    usage.totalTokens = usage.promptTokens + usage.completionTokens;
  }
  out.assign(body);
  return std::nullopt;
}

// Relays every event's bytes unchanged, reading usage on the way; message_stop ends the stream,
// an error event fails it (relayed too: it is already in the client's format).
class RelayDecoder final : public StreamDecoder {
 public:
  RelayDecoder() : sse_(kMaxEventBytes) {}

  StreamStatus feed(std::string_view bytes, std::string& out) override {
    if (status_ != StreamStatus::Continue) return status_;
    const bool fits = sse_.feed(bytes, [&](const SseEvent& ev) {
      if (status_ != StreamStatus::Continue) return;
      out.append(ev.raw);
      if (ev.event == "message_stop") {
        status_ = StreamStatus::Done;
      } else if (ev.event == "error") {
        status_ = StreamStatus::Failed;
      } else if (ev.event == "message_start" || ev.event == "message_delta") {
        dom::element doc;
        if (parser_.parse(ev.data.data(), ev.data.size()).get(doc) != simdjson::SUCCESS) return;
        dom::object u;
        if (ev.event == "message_start" && doc["message"]["usage"].get(u) == simdjson::SUCCESS) {
          readUsage(u, usage_, false);
        } else if (ev.event == "message_delta" && doc["usage"].get(u) == simdjson::SUCCESS) {
          readUsage(u, usage_, true);
        }
      }
    });
    if (!fits) {
      out +=
          "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\","
          "\"message\":\"The upstream stream sent an oversized event.\"}}\n\n";
      status_ = StreamStatus::Failed;
    }
    return status_;
  }

  StreamStatus finish(std::string&) override {
    return status_ == StreamStatus::Done ? StreamStatus::Done : StreamStatus::Failed;
  }

  [[nodiscard]] Usage usage() const override { return usage_; }

 private:
  SseParser sse_;
  dom::parser parser_;
  StreamStatus status_ = StreamStatus::Continue;
  Usage usage_;
};

std::unique_ptr<StreamDecoder> makeRelay(const ResponseOptions&) {
  return std::make_unique<RelayDecoder>();
}

GatewayError mapPassthroughError(int status, std::string_view body,
                                 std::optional<int64_t> retryAfter) {
  return adapter().mapError(status, body, retryAfter);
}

}  // namespace

const providers::Adapter& countTokensAdapter() {
  static const Adapter kAdapter{"anthropic_count_tokens", buildCountTokens, relayResponse,
                                makeRelay, mapPassthroughError};
  return kAdapter;
}

const providers::Adapter& passthroughAdapter() {
  static const Adapter kAdapter{"anthropic_passthrough", buildPassthrough, relayResponse, makeRelay,
                                mapPassthroughError};
  return kAdapter;
}

}  // namespace llmux::providers::anthropic
