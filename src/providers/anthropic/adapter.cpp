// The Anthropic adapters (direct and Vertex AI): request building, response and stream
// translation, error mapping, behind providers::Adapter.
#include <simdjson.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "providers/anthropic/anthropic.hpp"
#include "providers/anthropic/stream.hpp"
#include "providers/common/adapter.hpp"
#include "providers/common/sse_parser.hpp"

namespace llmux::providers::anthropic {
namespace {

// Anthropic events are small; 8 MiB bounds a hostile or broken upstream.
constexpr size_t kMaxEventBytes = size_t{8} << 20;

// SSE framing (providers::SseParser) in front of the event translator (stream.cpp). Done as soon
// as message_stop arrives: the usage chunk and [DONE] follow it at once.
class Decoder final : public StreamDecoder {
 public:
  explicit Decoder(const ResponseOptions& opts)
      : sse_(kMaxEventBytes),
        translator_(std::string(opts.clientModel), std::string(opts.id), opts.created,
                    opts.includeUsage) {}

  StreamStatus feed(std::string_view bytes, std::string& out) override {
    if (status_ != StreamStatus::Continue) return status_;
    const bool ok = sse_.feed(bytes, [&](const SseEvent& ev) {
      if (status_ != StreamStatus::Continue) return;
      if (!translator_.onEvent(ev.event, ev.data, out)) {
        status_ = StreamStatus::Failed;
      } else if (translator_.stopped()) {
        (void)translator_.finish(out);
        status_ = StreamStatus::Done;
      }
    });
    if (!ok && status_ == StreamStatus::Continue) {
      out += "data: ";
      out += malformedUpstream("anthropic", "a stream event exceeds 8 MiB").toJson();
      out += "\n\n";
      status_ = StreamStatus::Failed;
    }
    return status_;
  }

  StreamStatus finish(std::string& /*out*/) override {
    // Without message_stop the answer is truncated; the engine reports that.
    if (status_ == StreamStatus::Continue) status_ = StreamStatus::Failed;
    return status_;
  }

  [[nodiscard]] Usage usage() const override { return translator_.usage(); }

 private:
  SseParser sse_;
  StreamTranslator translator_;
  StreamStatus status_ = StreamStatus::Continue;
};

std::optional<GatewayError> buildDirect(simdjson::dom::element request, const RequestOptions& opts,
                                        UpstreamCall& out) {
  return buildRequest(request, opts, Flavor::Direct, out);
}

std::optional<GatewayError> buildVertex(simdjson::dom::element request, const RequestOptions& opts,
                                        UpstreamCall& out) {
  return buildRequest(request, opts, Flavor::Vertex, out);
}

std::optional<GatewayError> translate(std::string_view body, const ResponseOptions& opts,
                                      simdjson::dom::parser& parser, std::string& out,
                                      Usage& usage) {
  auto err = toOpenAICompletion(body, opts.clientModel, opts.created, parser, out, &usage);
  if (err) out.clear();
  return err;
}

std::unique_ptr<StreamDecoder> makeDecoder(const ResponseOptions& opts) {
  return std::make_unique<Decoder>(opts);
}

GatewayError mapAndClassify(int status, std::string_view body,
                            std::optional<int64_t> retryAfterSeconds) {
  // 529 overloaded_error is >= 500: retryable, and a fallback is allowed.
  GatewayError err = mapError(status, body, retryAfterSeconds);
  classifyUpstreamError(err);
  return err;
}

}  // namespace

const Adapter& adapter() {
  static const Adapter kAdapter{"anthropic", buildDirect, translate, makeDecoder, mapAndClassify};
  return kAdapter;
}

const Adapter& vertexAdapter() {
  static const Adapter kAdapter{"vertex_ai_anthropic", buildVertex, translate, makeDecoder,
                                mapAndClassify};
  return kAdapter;
}

}  // namespace llmux::providers::anthropic
