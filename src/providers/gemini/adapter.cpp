// The two Gemini adapters: one translator set, two request paths (see gemini.hpp).
#include "providers/gemini/gemini.hpp"

#include "providers/gemini/internal.hpp"

namespace llmux::providers::gemini {
namespace {

std::optional<GatewayError> buildAiStudio(simdjson::dom::element request,
                                          const RequestOptions& opts, UpstreamCall& out) {
  return detail::buildRequest(detail::Api::AiStudio, request, opts, out);
}

std::optional<GatewayError> buildVertex(simdjson::dom::element request, const RequestOptions& opts,
                                        UpstreamCall& out) {
  return detail::buildRequest(detail::Api::Vertex, request, opts, out);
}

}  // namespace

const providers::Adapter& adapter() {
  static const providers::Adapter kAdapter{"gemini", &buildAiStudio, &detail::translateResponse,
                                           &detail::makeStreamDecoder, &detail::mapError};
  return kAdapter;
}

const providers::Adapter& vertexAdapter() {
  static const providers::Adapter kAdapter{"vertex_ai", &buildVertex, &detail::translateResponse,
                                           &detail::makeStreamDecoder, &detail::mapError};
  return kAdapter;
}

}  // namespace llmux::providers::gemini
