// Fuzzes the tokenizer: any bytes encode without crashing, count() equals encode().size(), every
// id is an ordinary token, decoding gives back the input (its U+FFFD-repaired form when it is not
// valid UTF-8), and the two merge strategies agree on every piece. Inputs that look like JSON also
// go through the chat / prompt counters and the /utils/token_counter builder.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "fuzz_check.hpp"
#include "tokenizer/bpe.hpp"
#include "tokenizer/count.hpp"
#include "tokenizer/encoding.hpp"
#include "tokenizer/token_counter.hpp"

namespace {

using llmux::tokenizer::Encoding;

void checkEncoding(const Encoding& e, std::string_view text) {
  std::string storage;
  const std::string expected(llmux::tokenizer::repairUtf8(text, storage));
  const std::vector<uint32_t> ids = e.encode(text);
  LLMUX_FUZZ_CHECK(e.count(text) == ids.size());
  for (uint32_t id : ids) LLMUX_FUZZ_CHECK(id < e.mergeableCount());
  LLMUX_FUZZ_CHECK(e.decode(ids) == expected);
  // Pieces tile the repaired text, and each merges the same way on both paths.
  size_t covered = 0;
  for (const std::string& piece : e.pieces(text)) {
    LLMUX_FUZZ_CHECK(!piece.empty());
    LLMUX_FUZZ_CHECK(expected.compare(covered, piece.size(), piece) == 0);
    covered += piece.size();
    std::vector<uint32_t> scan;
    std::vector<uint32_t> heap;
    llmux::tokenizer::detail::mergeByScan(e.ranks(), piece, scan);
    llmux::tokenizer::detail::mergeByHeap(e.ranks(), piece, heap);
    LLMUX_FUZZ_CHECK(scan == heap);
  }
  LLMUX_FUZZ_CHECK(covered == expected.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {  // NOLINT: libFuzzer ABI
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const char* name : {"cl100k_base", "o200k_base"}) {
    const Encoding* e = Encoding::get(name);
    LLMUX_FUZZ_CHECK(e != nullptr);
    checkEncoding(*e, text);
  }
  if (!text.empty() && text.front() == '{') {
    auto chat = llmux::tokenizer::countChatBody("gpt-4o", text);
    if (auto* c = std::get_if<llmux::tokenizer::Count>(&chat)) LLMUX_FUZZ_CHECK(c->tokens >= 3);
    (void)llmux::tokenizer::countPromptBody("", text, "input");
    auto response = llmux::tokenizer::tokenCounterResponse(text, "openai/gpt-4.1");
    if (auto* body = std::get_if<std::string>(&response)) {
      LLMUX_FUZZ_CHECK(body->rfind("{\"total_tokens\":", 0) == 0);
    }
  }
  return 0;
}
