#pragma once
// POST /v1/embeddings translators for the native (non-OpenAI-shaped) providers (wire_formats.md
// §1.8, §3.6, §4, §6). Pure: no I/O, clock, logging or mutable globals. Each is a
// providers::Adapter whose buildRequest takes the client's OpenAI embeddings request
// ({model, input, encoding_format, dimensions, user}) and whose translateResponse answers OpenAI's
// {"object":"list","data":[{"object":"embedding","index":i,"embedding":...}],"model":clientModel,
//  "usage":{"prompt_tokens","total_tokens"}}, the vectors as JSON floats or, when
// ResponseOptions::base64, as the base64 of their little-endian float32 bytes (what OpenAI sends
// and its SDKs decode). makeStreamDecoder is nullptr: embeddings never stream.
//
//   provider             upstream call                                            usage
//   gemini               POST /v1beta/models/{m}:batchEmbedContents               none reported
//   vertex_ai            POST /v1/projects/{p}/locations/{l}/publishers/google/   statistics.
//                             models/{m}:predict                                  token_count
//   bedrock (Titan)      POST /model/{id}/invoke {"inputText",...}, ONE input inputTextTokenCount
//   bedrock (Cohere)     POST /model/{id}/invoke {"texts","input_type"}           none in the body
//   cohere, cohere_chat  POST /v2/embed                                           meta.billed_units
//   ollama, ollama_chat  POST /api/embed                                          prompt_eval_count
//
// What only the engine can do: the origin and auth (x-goog-api-key, OAuth for Vertex, SigV4 or a
// Bedrock API key, Bearer for Cohere), splitting a request larger than maxInputsPerCall() into
// several calls and joining the answers (re-numbering "index" and summing usage), and Bedrock
// Cohere's token count, which Bedrock only sends in the X-Amzn-Bedrock-Input-Token-Count header.
// mistral, azure and openai speak OpenAI's embeddings API and are spliced, not translated.
#include <cstddef>
#include <string_view>

#include "providers/common/adapter.hpp"

namespace llmux::providers::embeddings {

// The embeddings adapter for a LiteLLM provider name and the provider's model id, or nullptr when
// there is none: unknown providers, OpenAI-shaped ones, and Bedrock models that are neither an
// Amazon Titan embedding model ("amazon.titan-embed...") nor a Cohere one ("cohere.embed..."),
// with or without a cross-region prefix ("us.", "eu.", "apac.", "global."...).
const providers::Adapter* embeddingAdapter(std::string_view provider,
                                           std::string_view upstreamModel);

// The most inputs one upstream call may carry for this provider and model (the provider's
// documented limit; buildRequest answers a larger request with a 400 naming it), 0 when none is
// known. The engine may split a larger request into calls of at most this many inputs.
//   bedrock Titan 1, vertex_ai gemini-embedding-001 1 (other Vertex models 250), gemini 100,
//   cohere and bedrock Cohere 96, ollama 0.
size_t maxInputsPerCall(std::string_view provider, std::string_view upstreamModel);

// The adapters behind embeddingAdapter(), for focused tests. All Bedrock ones are named "bedrock".
const providers::Adapter& geminiAdapter();
const providers::Adapter& vertexAdapter();
const providers::Adapter& bedrockTitanAdapter();
const providers::Adapter& bedrockCohereAdapter();
const providers::Adapter& cohereAdapter();
const providers::Adapter& ollamaAdapter();

}  // namespace llmux::providers::embeddings
