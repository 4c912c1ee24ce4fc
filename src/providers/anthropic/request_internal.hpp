#pragma once
// Internals shared by request.cpp (top-level parameters), messages.cpp (the conversation) and
// content.cpp (content parts).
#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace llmux::providers::anthropic::detail {

struct MessageContext {
  std::string_view provider;         // in unsupportedParam errors: "anthropic", "vertex_ai"
  bool urlSources = true;            // the host fetches {"source":{"type":"url"}} images itself
  simdjson::dom::parser* scratch{};  // parses tool-call argument strings
};

// The OpenAI `messages` array as Anthropic's top-level `system` value (`system` is left empty when
// there is no system text) and the `messages` array value in `out` ("[...]").
std::optional<GatewayError> convertMessages(simdjson::dom::array messages, MessageContext& ctx,
                                            std::string& system, std::string& out);

// Where a content part appears: which part types are accepted depends on it.
enum class Site { System, User, Assistant, Tool };

// Message `i`'s `content` (a string or content parts) appended to `list` as comma-separated
// Anthropic blocks. `lastCached` tells whether the last block appended carries its own
// cache_control; `plain` receives a string content (appended as one text block).
std::optional<GatewayError> appendContent(std::string& list, simdjson::dom::element content,
                                          Site site, const MessageContext& ctx, size_t i,
                                          bool& lastCached, std::optional<std::string_view>& plain);

// Appends ',' when `list` already holds a block.
void separate(std::string& list);

// Marks the last block of `list` (it ends in '}') with a cache_control value.
void markLastBlock(std::string& list, simdjson::dom::element cacheControl);

// One OpenAI tool (a deprecated `functions` entry when `legacy`) appended as an Anthropic tool;
// `k` is its index, for errors.
std::optional<GatewayError> appendTool(std::string& out, simdjson::dom::element tool, bool legacy,
                                       size_t k, std::string_view provider);

// tool_choice (else the deprecated function_call) and parallel_tool_calls as Anthropic's
// tool_choice object in `out`, left empty when nothing needs to be sent.
std::optional<GatewayError> toolChoiceOf(
    const std::optional<simdjson::dom::element>& toolChoice,
    const std::optional<simdjson::dom::element>& functionCall,
    const std::optional<simdjson::dom::element>& parallelToolCalls, std::string& out);

// Appends `,"cache_control":<value>` when `obj` carries a non-null cache_control; returns whether
// it did.
bool appendCacheControl(std::string& out, simdjson::dom::object obj);

// Appends an opaque JSON value compactly.
void appendRaw(std::string& out, simdjson::dom::element value);

}  // namespace llmux::providers::anthropic::detail
