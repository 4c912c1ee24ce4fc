#include "engine/provider_table.hpp"

#include <array>
#include <string>

#include "providers/anthropic/anthropic.hpp"
#ifdef LLMUX_HAS_GEMINI
#include "providers/gemini/gemini.hpp"
#endif
#ifdef LLMUX_HAS_BEDROCK
#include "providers/bedrock/bedrock.hpp"
#endif
#ifdef LLMUX_HAS_COHERE
#include "providers/cohere/cohere.hpp"
#endif
#ifdef LLMUX_HAS_OLLAMA
#include "providers/ollama/ollama.hpp"
#endif
#ifdef LLMUX_HAS_MISTRAL
#include "providers/mistral/mistral.hpp"
#endif

namespace llmux::engine {
namespace {

using providers::Adapter;

const Adapter* anthropicAdapter(std::string_view) {
  return &providers::anthropic::adapter();
}

const Adapter* vertexAdapter(std::string_view model) {
  // Vertex AI serves Anthropic models through rawPredict with Anthropic's body, Gemini natively.
  if (model.starts_with("claude")) return &providers::anthropic::vertexAdapter();
#ifdef LLMUX_HAS_GEMINI
  return &providers::gemini::vertexAdapter();
#else
  return nullptr;
#endif
}

#ifdef LLMUX_HAS_GEMINI
const Adapter* geminiAdapter(std::string_view) {
  return &providers::gemini::adapter();
}
#endif
#ifdef LLMUX_HAS_BEDROCK
const Adapter* bedrockAdapter(std::string_view) {
  return &providers::bedrock::adapter();
}
#endif
#ifdef LLMUX_HAS_COHERE
const Adapter* cohereAdapter(std::string_view) {
  return &providers::cohere::adapter();
}
#endif
#ifdef LLMUX_HAS_OLLAMA
const Adapter* ollamaChatAdapter(std::string_view) {
  return &providers::ollama::chatAdapter();
}
const Adapter* ollamaGenerateAdapter(std::string_view) {
  return &providers::ollama::generateAdapter();
}
#endif
#ifdef LLMUX_HAS_MISTRAL
const Adapter* mistralAdapter(std::string_view) {
  return &providers::mistral::adapter();
}
#endif

ProviderSpec compat(std::string_view name, std::string_view base, std::string_view baseEnv,
                    std::string_view keyEnv, std::string_view keyEnvAlt = {}) {
  ProviderSpec s;
  s.name = name;
  s.kind = ProviderKind::OpenAI;
  s.defaultBase = base;
  s.baseEnv = baseEnv;
  s.keyEnv = keyEnv;
  s.keyEnvAlt = keyEnvAlt;
  return s;
}

ProviderSpec native(std::string_view name, std::string_view base, std::string_view baseEnv,
                    std::string_view keyEnv, AuthKind auth, std::string_view header,
                    const Adapter* (*adapterFor)(std::string_view),
                    std::string_view keyEnvAlt = {}) {
  ProviderSpec s;
  s.name = name;
  s.kind = ProviderKind::Native;
  s.defaultBase = base;
  s.baseEnv = baseEnv;
  s.keyEnv = keyEnv;
  s.keyEnvAlt = keyEnvAlt;
  s.auth = auth;
  s.authHeader = header;
  s.adapterFor = adapterFor;
  return s;
}

// LiteLLM's provider names, default bases and environment variables.
const std::vector<ProviderSpec>& table() {
  static const std::vector<ProviderSpec> specs = [] {
    std::vector<ProviderSpec> v;
    v.push_back(compat("openai", "https://api.openai.com/v1", "OPENAI_API_BASE", "OPENAI_API_KEY"));
    v.push_back(compat("text-completion-openai", "https://api.openai.com/v1", "OPENAI_API_BASE",
                       "OPENAI_API_KEY"));
    {
      // Azure: the path names the deployment; gateway.cpp builds it with the api-version.
      ProviderSpec az = compat("azure", "", "AZURE_API_BASE", "AZURE_API_KEY");
      az.auth = AuthKind::Header;
      az.authHeader = "api-key";
      v.push_back(az);
    }
    v.push_back(compat("groq", "https://api.groq.com/openai/v1", "GROQ_API_BASE", "GROQ_API_KEY"));
    v.push_back(compat("together_ai", "https://api.together.xyz/v1", "TOGETHER_AI_API_BASE",
                       "TOGETHERAI_API_KEY", "TOGETHER_AI_API_KEY"));
    v.push_back(compat("fireworks_ai", "https://api.fireworks.ai/inference/v1",
                       "FIREWORKS_AI_API_BASE", "FIREWORKS_AI_API_KEY", "FIREWORKS_API_KEY"));
    v.push_back(
        compat("deepseek", "https://api.deepseek.com", "DEEPSEEK_API_BASE", "DEEPSEEK_API_KEY"));
    v.push_back(compat("xai", "https://api.x.ai/v1", "XAI_API_BASE", "XAI_API_KEY"));
    v.push_back(compat("openrouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_BASE",
                       "OPENROUTER_API_KEY", "OR_API_KEY"));
    v.push_back(compat("perplexity", "https://api.perplexity.ai", "PERPLEXITY_API_BASE",
                       "PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"));
    v.push_back(compat("deepinfra", "https://api.deepinfra.com/v1/openai", "DEEPINFRA_API_BASE",
                       "DEEPINFRA_API_KEY"));
    v.push_back(
        compat("cerebras", "https://api.cerebras.ai/v1", "CEREBRAS_API_BASE", "CEREBRAS_API_KEY"));
    v.push_back(compat("hosted_vllm", "", "HOSTED_VLLM_API_BASE", "HOSTED_VLLM_API_KEY"));
    v.push_back(
        compat("lm_studio", "http://localhost:1234/v1", "LM_STUDIO_API_BASE", "LM_STUDIO_API_KEY"));
    v.push_back(
        compat("llamafile", "http://127.0.0.1:8080/v1", "LLAMAFILE_API_BASE", "LLAMAFILE_API_KEY"));
    {
      ProviderSpec m;
      m.name = "mock";
      m.kind = ProviderKind::Mock;
      v.push_back(m);
    }
    v.push_back(native("anthropic", "https://api.anthropic.com", "ANTHROPIC_API_BASE",
                       "ANTHROPIC_API_KEY", AuthKind::Header, "x-api-key", anthropicAdapter));
    v.push_back(native("vertex_ai", "https://{location}-aiplatform.googleapis.com", "", "",
                       AuthKind::GoogleOAuth, "", vertexAdapter));
#ifdef LLMUX_HAS_GEMINI
    v.push_back(native("gemini", "https://generativelanguage.googleapis.com", "GEMINI_API_BASE",
                       "GEMINI_API_KEY", AuthKind::Header, "x-goog-api-key", geminiAdapter,
                       "GOOGLE_API_KEY"));
#endif
#ifdef LLMUX_HAS_BEDROCK
    v.push_back(native("bedrock", "https://bedrock-runtime.{region}.amazonaws.com",
                       "AWS_BEDROCK_RUNTIME_ENDPOINT", "AWS_BEARER_TOKEN_BEDROCK",
                       AuthKind::AwsSigV4, "", bedrockAdapter));
#endif
#ifdef LLMUX_HAS_COHERE
    v.push_back(native("cohere", "https://api.cohere.com", "COHERE_API_BASE", "COHERE_API_KEY",
                       AuthKind::Bearer, "", cohereAdapter, "CO_API_KEY"));
    v.push_back(native("cohere_chat", "https://api.cohere.com", "COHERE_API_BASE", "COHERE_API_KEY",
                       AuthKind::Bearer, "", cohereAdapter, "CO_API_KEY"));
#endif
#ifdef LLMUX_HAS_OLLAMA
    v.push_back(native("ollama_chat", "http://localhost:11434", "OLLAMA_API_BASE", "OLLAMA_API_KEY",
                       AuthKind::Bearer, "", ollamaChatAdapter));
    v.push_back(native("ollama", "http://localhost:11434", "OLLAMA_API_BASE", "OLLAMA_API_KEY",
                       AuthKind::Bearer, "", ollamaGenerateAdapter));
#endif
#ifdef LLMUX_HAS_MISTRAL
    v.push_back(native("mistral", "https://api.mistral.ai/v1", "MISTRAL_API_BASE",
                       "MISTRAL_API_KEY", AuthKind::Bearer, "", mistralAdapter));
#endif
    for (auto& s : v) {
      s.fetchImages = s.name == "bedrock" || s.name == "ollama" || s.name == "ollama_chat" ||
                      s.name == "vertex_ai" || s.name == "gemini";
    }
    return v;
  }();
  return specs;
}

}  // namespace

const ProviderSpec* findProvider(std::string_view name) {
  for (const auto& s : table()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::string joinPath(std::string_view basePath, std::string_view target) {
  const size_t q = target.find('?');
  const std::string_view targetPath = target.substr(0, q);
  // The longest tail of the base that is a leading run of whole segments of the target.
  for (size_t k = std::min(basePath.size(), targetPath.size()); k > 0; --k) {
    if (targetPath[0] != '/' || !basePath.ends_with(targetPath.substr(0, k))) continue;
    if (k < targetPath.size() && targetPath[k] != '/' && targetPath[k] != ':') continue;
    const size_t start = basePath.size() - k;
    if (basePath[start] != '/') continue;
    std::string out(basePath.substr(0, start));
    out += target;
    return out;
  }
  std::string out(basePath);
  out += target;
  return out;
}

}  // namespace llmux::engine
