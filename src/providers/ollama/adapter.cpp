// The two Ollama adapters (ollama.hpp): the same translators, bound to /api/chat or /api/generate.
#include <simdjson.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "providers/ollama/internal.hpp"
#include "providers/ollama/ollama.hpp"

namespace llmux::providers::ollama {
namespace {

using detail::Api;

template <Api A>
std::optional<GatewayError> buildRequest(simdjson::dom::element request, const RequestOptions& opts,
                                         UpstreamCall& out) {
  return detail::buildRequest(A, request, opts, out);
}

template <Api A>
std::optional<GatewayError> translateResponse(std::string_view body, const ResponseOptions& opts,
                                              simdjson::dom::parser& parser, std::string& out,
                                              Usage& usage) {
  return detail::translateResponse(A, body, opts, parser, out, usage);
}

template <Api A>
std::unique_ptr<StreamDecoder> makeStreamDecoder(const ResponseOptions& opts) {
  return detail::makeStreamDecoder(A, opts);
}

}  // namespace

const providers::Adapter& chatAdapter() {
  static const providers::Adapter kAdapter{detail::providerName(Api::Chat),
                                           &buildRequest<Api::Chat>, &translateResponse<Api::Chat>,
                                           &makeStreamDecoder<Api::Chat>, &mapError};
  return kAdapter;
}

const providers::Adapter& generateAdapter() {
  static const providers::Adapter kAdapter{
      detail::providerName(Api::Generate), &buildRequest<Api::Generate>,
      &translateResponse<Api::Generate>, &makeStreamDecoder<Api::Generate>, &mapError};
  return kAdapter;
}

}  // namespace llmux::providers::ollama
