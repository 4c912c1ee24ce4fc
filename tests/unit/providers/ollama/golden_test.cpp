// Golden files under tests/data/golden/ollama_chat/ and tests/data/golden/ollama_generate/ (layout
// in tests/unit/adapter_golden.hpp). LLMUX_UPDATE_GOLDEN=1 rewrites the expected files.
#include "providers/ollama/ollama.hpp"
#include "unit/adapter_golden.hpp"

namespace llmux::providers::ollama {

LLMUX_ADAPTER_GOLDEN_TESTS(OllamaChat, chatAdapter(), "ollama_chat")
LLMUX_ADAPTER_GOLDEN_TESTS(OllamaGenerate, generateAdapter(), "ollama_generate")

}  // namespace llmux::providers::ollama
