#pragma once
// POST /utils/token_counter (LiteLLM's route). Request {"model": str, "messages": [...]} or
// {"model": str, "prompt": str | [str]}; tools/functions next to messages are counted too.
// Response, LiteLLM's TokenCountResponse shape:
//   {"total_tokens":N,"request_model":"<model>","model_used":"<model counted>",
//    "tokenizer_type":"openai_tokenizer"|"estimate"}
// model_used is the resolved deployment's model with its provider prefix removed (LiteLLM drops
// everything up to the first '/': "azure/gpt-4o" -> "gpt-4o"), or the request's model when no
// deployment resolved. tokenizer_type is "openai_tokenizer" when that model has its own OpenAI
// BPE and "estimate" otherwise (counted with cl100k_base). Messages include the chat overhead
// (3 per message, 1 per name, 3 priming); a prompt is counted as plain text (a string, or
// a list of strings sums its items).
#include <string>
#include <string_view>
#include <variant>

#include "common/error.hpp"

namespace llmux::tokenizer {

// `deploymentModel` is the model of the deployment the request's model resolves to ("" when
// none). Bad input is a 400 invalid_request_error naming the field.
std::variant<std::string, GatewayError> tokenCounterResponse(std::string_view requestBody,
                                                             std::string_view deploymentModel);

}  // namespace llmux::tokenizer
