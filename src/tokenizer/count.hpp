#pragma once
// Prompt token counts for the governance checks (pre-call TPM, context window, budgets) and for
// POST /utils/token_counter.
//
// Exactness: a model that OpenAI tokenizes (encodingForModel() non-empty) is counted with its own
// BPE, and `exact` is true unless part of the prompt had to be estimated (images, audio, files).
// Any other model (Claude, Gemini, Llama, ...) is counted with cl100k_base as an approximation:
// `exact` is false and `tokenizer` still says "cl100k_base", the encoding that produced the number.
//
// Chat formula (OpenAI cookbook, "How to count tokens with tiktoken"; matches the API's
// prompt_tokens for its examples): 3 per message, plus the tokens of every string field of the
// message (role, content, name, tool_call_id, ...), plus 1 when it has a name, plus 3 once for the
// reply priming. Beyond the cookbook:
//  - content parts: "text" parts count their text, "refusal" parts their refusal; image_url parts
//    are estimated at 85 tokens (detail "low", "auto" or absent: LiteLLM's figure, as no image is
//    fetched) or 765 ("high": a 1024x1024 image, two 512-px tiles a side); other parts
//    (input_audio, file, ...) count 0. Any of these makes the count inexact.
//  - tool_calls / function_call count the function's name and arguments strings.
//  - tools (or legacy functions), cookbook formula: per function 7 (o200k models; 10 otherwise)
//    + tokens of "name:description"; when it has properties, 3 + per property 3 + tokens of
//    "key:type:description" (+ for an enum: -3, then 3 + tokens per item); 12 once at the end.
//    A trailing '.' of a description is dropped. Nested schemas are not expanded (an estimate, as
//    in the cookbook). tool_choice and response_format are not counted.
#include <simdjson.h>
#include <cstdint>

#include <string_view>
#include <variant>

#include "common/error.hpp"

namespace llmux::tokenizer {

struct Count {
  int64_t tokens = 0;
  bool exact = false;
  std::string_view tokenizer;  // encoding used: "o200k_base" / "cl100k_base"
};

// "o200k_base" or "cl100k_base" for an OpenAI model, "" for any other. Provider prefixes
// ("openai/", "azure/", "openrouter/openai/") and fine-tune names ("ft:gpt-4o-mini:org::id") are
// resolved to the base model. o200k: gpt-4o*, chatgpt-4o*, gpt-4.1*, gpt-4.5*, gpt-5*, o1*, o3*,
// o4*, gpt-oss* (o200k_harmony, whose ordinary-text ranks are o200k_base's). cl100k: gpt-4,
// gpt-4-*, gpt-3.5*, gpt-35-turbo*, text-embedding-3-small/large, text-embedding-ada-002,
// davinci-002, babbage-002.
std::string_view encodingForModel(std::string_view model);

// Plain text, no overhead.
Count countText(std::string_view model, std::string_view text);

// A Chat Completions body (JSON text). Its texts are counted through the thread's CountCache
// (count_cache.hpp): prompts repeat across requests, and a cached count is exact. `model` picks the
// tokenizer; empty means the body's "model". Errors (400) for malformed JSON or wrong types:
// messages not an array of objects, content neither string, array nor null, a content part or tool
// that is not an object.
std::variant<Count, GatewayError> countChatBody(std::string_view model, std::string_view body);
// The same for a body already parsed (the caller's DOM stays valid while this runs).
std::variant<Count, GatewayError> countChatObject(std::string_view model,
                                                  simdjson::dom::object root);

// The `field` ("prompt" for /v1/completions, "input" for /v1/embeddings) of a JSON body: a
// string, an array of strings, an array of token ids (counted as given) or an array of such
// arrays. No per-item overhead.
std::variant<Count, GatewayError> countPromptBody(std::string_view model, std::string_view body,
                                                  std::string_view field);

}  // namespace llmux::tokenizer
