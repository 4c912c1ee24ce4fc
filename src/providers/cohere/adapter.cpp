// The Cohere v2 Chat adapter: the four translators as one providers::Adapter.
#include "providers/cohere/cohere.hpp"

namespace llmux::providers::cohere {

const providers::Adapter& adapter() {
  // Immutable: function pointers and a name only.
  static const providers::Adapter kAdapter{
      "cohere", &buildRequest, &translateResponse, &makeStreamDecoder, &mapError,
  };
  return kAdapter;
}

}  // namespace llmux::providers::cohere
