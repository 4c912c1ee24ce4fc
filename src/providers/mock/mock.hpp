#pragma once
// The built-in `mock/` provider: answers like OpenAI without any network, so quickstart, tests and
// load tests run anywhere. Pure: ids and timestamps are passed in; delays are applied by the
// engine.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "types/chat_request.hpp"

namespace llmux::providers::mock {

struct MockReply {
  std::string content;
  int64_t promptTokens = 0;
  int64_t completionTokens = 0;
};

// Reply text: the request's "mock_response" if set, else the deployment's mock_response, else an
// echo of the last user message. Token counts are estimated (about 4 bytes per token, at least 1).
MockReply makeReply(const types::ChatRequest& req, const std::optional<std::string>& deploymentMock,
                    size_t requestBodyBytes);

// A chat.completion JSON body.
std::string completionBody(const MockReply& reply, std::string_view model, std::string_view id,
                           int64_t created);

// The SSE events of a stream, each a complete "data: ...\n\n" string: a role chunk, the content
// split into word-sized deltas, a finish_reason chunk, the usage chunk when `includeUsage`, then
// [DONE].
std::vector<std::string> streamEvents(const MockReply& reply, std::string_view model,
                                      std::string_view id, int64_t created, bool includeUsage);

}  // namespace llmux::providers::mock

namespace llmux::providers::mock {

// A /v1/embeddings answer: one deterministic unit vector of `dimensions` floats per input (the
// same text always gives the same vector, so similarity-based code can be tested), as floats or
// as base64 of little-endian float32 (encoding_format "base64", the SDKs' default).
std::string embeddingsBody(const std::vector<std::string_view>& inputs, int dimensions, bool base64,
                           std::string_view model);

// A legacy /v1/completions answer (object "text_completion") for `reply`.
std::string textCompletionBody(const MockReply& reply, std::string_view model, std::string_view id,
                               int64_t created);
// Its stream: text deltas, a finish_reason chunk, the usage chunk when `includeUsage`, [DONE].
std::vector<std::string> textCompletionEvents(const MockReply& reply, std::string_view model,
                                              std::string_view id, int64_t created,
                                              bool includeUsage);

// Standard base64 (with padding) of `bytes`.
std::string base64Encode(std::string_view bytes);

}  // namespace llmux::providers::mock
