#pragma once
// Ollama native API adapters (wire_formats.md §6.2, §7; ollama docs/api.md). Pure translators: no
// I/O, clock, logging or globals.
//
// Two adapters, matching LiteLLM's two Ollama providers:
//   chatAdapter()      "ollama_chat/<model>": POST /api/chat with the conversation as messages.
//   generateAdapter()  "ollama/<model>":      POST /api/generate with the conversation flattened
//                      into `system` + `prompt` (see request.cpp for the exact flattening).
// Both stream NDJSON (one JSON object per line, the last with "done":true) and always send
// "stream" explicitly, because Ollama streams unless told otherwise.
//
// What the engine still owns: the origin (http://<host>:11434 or api_base), any auth header for
// hosted/proxied Ollama (Authorization: Bearer), and fetching http(s) image URLs: Ollama only takes
// base64 image bytes, so a remote image URL is answered with a 400 unsupported_parameter naming
// messages[i].content[j].image_url until the engine inlines it as a data: URL.
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/error.hpp"
#include "providers/common/adapter.hpp"

namespace llmux::providers::ollama {

// POST /api/chat (provider name "ollama_chat").
const providers::Adapter& chatAdapter();

// POST /api/generate (provider name "ollama").
const providers::Adapter& generateAdapter();

// The chat adapter, under the name every provider module exports.
inline const providers::Adapter& adapter() {
  return chatAdapter();
}

// An Ollama non-2xx answer ({"error":"..."} or not JSON) as the client's error: status kept,
// OpenAI-style type, and the codes clients branch on (model_not_found, context_length_exceeded,
// rate_limit_exceeded, invalid_api_key), router flags set. Shared by both adapters.
GatewayError mapError(int status, std::string_view body, std::optional<int64_t> retryAfterSeconds);

}  // namespace llmux::providers::ollama
