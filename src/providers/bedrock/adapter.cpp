// The Bedrock Converse adapter: the four translators behind providers::Adapter.
#include "providers/bedrock/bedrock.hpp"

namespace llmux::providers::bedrock {

const providers::Adapter& adapter() {
  // Immutable after construction: a table of function pointers.
  static const providers::Adapter kAdapter{
      .name = "bedrock",
      .buildRequest = &buildRequest,
      .translateResponse = &translateResponse,
      .makeStreamDecoder = &makeStreamDecoder,
      .mapError = &mapError,
  };
  return kAdapter;
}

}  // namespace llmux::providers::bedrock
