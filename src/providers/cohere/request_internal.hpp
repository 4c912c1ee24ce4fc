#pragma once
// Pieces of the Cohere request translator shared by request.cpp and messages.cpp.
#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace llmux::providers::cohere {

inline constexpr std::string_view kProvider = "cohere";

// Appends the Cohere messages array for the OpenAI `messages` value; a 400 naming the offending
// path (messages[i]...) when its shape is wrong or a part has no Cohere form.
std::optional<GatewayError> appendMessages(std::string& body, simdjson::dom::element messages);

// Appends `,"tools":[...]` for OpenAI `tools` (or the deprecated `functions` when `legacy`).
// Non-function tools are skipped (the caller already rejected or dropped them). `haveTools` tells
// whether any tool was written; `allStrict` whether every one asked for strict schemas.
std::optional<GatewayError> appendTools(std::string& body, simdjson::dom::element tools,
                                        bool legacy, bool& haveTools, bool& allStrict);

}  // namespace llmux::providers::cohere
