#pragma once
// Shared between request.cpp (top-level parameters) and messages.cpp (the conversation). Not part
// of the adapter's interface.
#include <simdjson.h>

#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "providers/common/adapter.hpp"

namespace llmux::providers::bedrock::detail {

inline constexpr std::string_view kProvider = "bedrock";

// What happens to something the client sent that Converse cannot honour: with drop_params it is
// recorded in out.dropped (and the caller skips it), otherwise it is a 400 naming it.
struct DropContext {
  const RequestOptions& opts;
  UpstreamCall& out;
  // nullopt after recording the drop, else the error to return.
  [[nodiscard]] std::optional<GatewayError> unsupported(std::string param,
                                                        std::string_view detail) const {
    if (opts.dropParams) {
      out.dropped.push_back(std::move(param));
      return std::nullopt;
    }
    return unsupportedParam(param, kProvider, detail);
  }
};

// A 400 for a client value of the wrong shape, naming the parameter.
inline GatewayError badValue(std::string param, std::string_view what) {
  return GatewayError::invalidRequest(fmt::format("Invalid '{}': {}.", param, what),
                                      std::move(param));
}

struct ToolChoice {
  std::string json;         // the toolChoice member, "" for none given (Bedrock's default: auto)
  bool none = false;        // "none" without tool history: leave toolConfig out
  bool needsTools = false;  // "required" or a named tool: meaningless without tools
};

// OpenAI "tools" → comma-separated Converse {"toolSpec":...} entries in `out`.
std::optional<GatewayError> readTools(simdjson::dom::element v, const DropContext& ctx,
                                      std::string& out);

// OpenAI "tool_choice" → `tc`. `toolHistory`: the conversation holds tool calls or results.
std::optional<GatewayError> readToolChoice(simdjson::dom::element v, const DropContext& ctx,
                                           bool toolHistory, ToolChoice& tc);

struct Conversation {
  std::string system;    // comma-separated SystemContentBlocks: {"text":...}
  std::string messages;  // comma-separated Messages: {"role":...,"content":[...]}
};

// True when the OpenAI conversation carries assistant tool_calls or role:"tool" results, i.e. the
// Converse body will hold toolUse/toolResult blocks (and then needs toolConfig).
bool hasToolHistory(simdjson::dom::element messages);

// The OpenAI messages as Converse system blocks and strictly alternating turns (consecutive
// same-role turns merged, empty ones skipped). `toolResultStatus`: write toolResult.status (only
// Claude and Nova accept it).
std::optional<GatewayError> translateMessages(simdjson::dom::element messages,
                                              const DropContext& ctx, bool toolResultStatus,
                                              Conversation& conv);

}  // namespace llmux::providers::bedrock::detail
