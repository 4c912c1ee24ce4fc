// The Mistral adapter: the four translators behind providers::Adapter.
#include "providers/mistral/internal.hpp"
#include "providers/mistral/mistral.hpp"

namespace llmux::providers::mistral {

const providers::Adapter& adapter() {
  static const providers::Adapter kAdapter{
      detail::kProvider,          &detail::buildRequest, &detail::translateResponse,
      &detail::makeStreamDecoder, &detail::mapError,
  };
  return kAdapter;
}

}  // namespace llmux::providers::mistral
