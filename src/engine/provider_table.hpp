#pragma once
// Every provider name a config may use (the text before '/' in litellm_params.model), declared as
// data: how requests reach it (spliced OpenAI body, native adapter, built-in mock), its default
// origin, where its key and base come from in the environment, and how it authenticates.
#include <string_view>

#include "providers/common/adapter.hpp"

namespace llmux::engine {

enum class ProviderKind { OpenAI, Native, Mock, Unsupported };

enum class AuthKind {
  Bearer,       // authorization: Bearer <key> (when a key is set)
  Header,       // <authHeader>: <key>  (anthropic x-api-key, gemini x-goog-api-key, azure api-key)
  AwsSigV4,     // Bedrock: signed per request from the AWS credentials
  GoogleOAuth,  // Vertex AI: bearer token from a service account, refreshed before expiry
};

struct ProviderSpec {
  std::string_view name;
  ProviderKind kind = ProviderKind::Unsupported;
  // Default origin and base path; "{region}" / "{location}" are filled from the deployment.
  std::string_view defaultBase;
  std::string_view baseEnv;  // env var overriding the default base (LiteLLM's names)
  std::string_view keyEnv;   // env var used when api_key is empty
  std::string_view keyEnvAlt;
  AuthKind auth = AuthKind::Bearer;
  std::string_view authHeader;                      // AuthKind::Header
  std::string_view chatPath = "/chat/completions";  // OpenAI-spliced providers
  // The provider takes no image URLs: the gateway downloads them into data: URLs first.
  bool fetchImages = false;
  // Native providers: the adapter for a deployment's upstream model (Vertex AI serves Gemini and
  // Anthropic models with different wire formats).
  const providers::Adapter* (*adapterFor)(std::string_view upstreamModel) = nullptr;
};

// nullptr for a provider name llmux does not know.
const ProviderSpec* findProvider(std::string_view name);

// Joins a base path from api_base and a request target from an adapter, dropping a repeated
// segment ("/v1" + "/v1/messages" → "/v1/messages") and a base that already names the whole
// endpoint ("/v1/messages" + "/v1/messages").
std::string joinPath(std::string_view basePath, std::string_view target);

}  // namespace llmux::engine
