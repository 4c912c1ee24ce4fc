#pragma once
// Mistral AI chat completions adapter (wire_formats.md §6.1, Mistral row). Mistral speaks
// almost-OpenAI, but its API rejects unknown keys anywhere in the body (422 extra_forbidden, e.g.
// stream_options, messages[].name), renames seed to random_seed, spells tool_choice "required" as
// "any", demands 9-alphanumeric tool-call ids, and answers magistral/reasoning models with content
// chunk arrays. So the body is rebuilt field by field rather than spliced (providers/openai).
// A pure translator: no I/O, no clock, no logging, no globals.
#include <string>
#include <string_view>

#include "providers/common/adapter.hpp"

namespace llmux::providers::mistral {

// The adapter ("mistral"): POST /v1/chat/completions. The engine supplies the origin and the
// "Authorization: Bearer" header, and strips a duplicate "/v1" when api_base already ends with it.
const providers::Adapter& adapter();

// The tool-call id Mistral gets for an OpenAI one. Mistral requires ^[a-zA-Z0-9]{9}$ on assistant
// tool_calls[].id and tool messages' tool_call_id; a conforming id is kept, any other becomes the
// 9-digit base62 form of its 64-bit FNV-1a hash (mod 62^9). A pure function of the id, so a call
// and its result stay paired across every turn of a conversation without any state.
std::string toolCallId(std::string_view openaiId);

}  // namespace llmux::providers::mistral
