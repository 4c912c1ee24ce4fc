#pragma once
// Model prices (USD) and context windows, for cost-based routing, OpenRouter's price sort and
// max_price, context-window checks before a call, and spend tracking. The built-in table is
// data/model_prices.json (converted from LiteLLM's price map by scripts/gen_model_prices.py, see
// data/NOTICE.md), compiled into the binary; parse() reads the same format (LiteLLM's field names)
// for tables loaded at run time. Tables are immutable once built and safe to share across threads.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace llmux::pricing {

// Rates for prompts above a size (long-context pricing, Dashscope-style tables). Every token of
// such a request, prompt and completion alike, is billed at the tier's rates (LiteLLM's rule).
struct PriceTier {
  int64_t abovePromptTokens = 0;  // applies when prompt tokens > this (>= when inclusive)
  bool inclusive = false;         // xAI bills the higher rate from the threshold itself
  double inputPerToken = 0;
  double outputPerToken = 0;
  std::optional<double> cacheReadPerToken;
  std::optional<double> cacheWritePerToken;
  std::optional<double> cacheWrite1hPerToken;
  std::optional<double> reasoningPerToken;
};

struct ModelPrice {
  std::string key;  // table key, e.g. "azure/gpt-4o" (what spend logs name as the priced model)
  std::string provider;  // litellm_provider: "openai", "vertex_ai-language-models", ...
  std::string mode;      // chat, completion, embedding, image_generation, rerank, ... ("" if unset)
  double inputPerToken = 0;
  double outputPerToken = 0;
  std::optional<double> cacheReadPerToken;     // cached prompt tokens; unset: inputPerToken
  std::optional<double> cacheWritePerToken;    // prompt-cache writes; unset: inputPerToken
  std::optional<double> cacheWrite1hPerToken;  // 1-hour cache writes; unset: cacheWritePerToken
  std::optional<double> reasoningPerToken;     // reasoning tokens; unset: outputPerToken
  // Per input image (vision, multimodal embeddings); for OpenAI image_generation/image_edit
  // entries LiteLLM stores the per generated image price here.
  std::optional<double> inputPerImage;
  std::optional<double> outputPerImage;  // per generated image
  std::optional<double> perRequest;      // flat fee per call (request fee, rerank / search query)
  // Token limits; unset when unknown (the source's 0 counts as unknown).
  std::optional<int64_t> maxInputTokens;   // context window for the prompt
  std::optional<int64_t> maxOutputTokens;  // max_output_tokens, else LiteLLM's legacy max_tokens
  std::vector<PriceTier> tiers;            // ascending abovePromptTokens

  // Price of one generated image: outputPerImage, else inputPerImage on image-generation entries.
  [[nodiscard]] std::optional<double> perGeneratedImage() const;
};

class PriceTable {
 public:
  static constexpr size_t kMaxKeyLength = 256;  // longer keys are refused by parse()

  PriceTable() = default;
  // Move-only: the index points into the model storage, which a move keeps in place.
  PriceTable(PriceTable&&) noexcept = default;
  PriceTable& operator=(PriceTable&&) noexcept = default;
  PriceTable(const PriceTable&) = delete;
  PriceTable& operator=(const PriceTable&) = delete;

  // The compiled-in table, parsed on first use (function-local static; thread-safe). Aborts with
  // a message when the embedded data does not parse: a build defect that every test run catches.
  static const PriceTable& builtin();

  // Parses a table in data/model_prices.json's format (an object of key -> entry with LiteLLM's
  // field names). Keys starting with '_' (e.g. "_attribution") and "sample_spec" are skipped;
  // unknown fields are ignored. nullopt with `error` naming the key and field on bad input.
  static std::optional<PriceTable> parse(std::string_view json, std::string& error);

  // The entry for a deployment, the way LiteLLM's get_model_info finds it. `provider` is llmux's
  // provider ("openai", "azure", "bedrock", "vertex_ai", "gemini", ...); `model` the upstream id
  // (text after the first '/' of litellm_params.model). Candidates, in order, each matched
  // exactly then ignoring ASCII case: "<provider>/<model>", "<model>", then both again with the
  // model stripped (Bedrock: converse/ invoke/ route, ARN, throughput and [1m] suffixes,
  // cross-region prefix us./eu./apac./global./...; Vertex and Gemini: trailing "-<digits>"
  // version; others: "ft:" fine-tune suffix). An entry only counts when its litellm_provider
  // belongs to the provider's family (see providerMatches). ollama_chat / cohere_chat also try
  // "ollama/<model>" / "cohere/<model>"; Vertex AI also tries "meta/<model>", "<model>@latest"
  // and the id without its "@version". Allocation-free (one hash lookup per candidate, keys
  // assembled on the stack); nullptr when unknown. Cache the result per deployment if hot.
  [[nodiscard]] const ModelPrice* find(std::string_view provider, std::string_view model) const;

  // The entry under exactly this key (ASCII case ignored when no exact match), no provider check:
  // for model_info.base_model, which names a table key directly.
  [[nodiscard]] const ModelPrice* findKey(std::string_view key) const;

  [[nodiscard]] size_t size() const { return models_.size(); }
  [[nodiscard]] const std::vector<ModelPrice>& models() const { return models_; }  // sorted by key

 private:
  struct Query;
  [[nodiscard]] const ModelPrice* lookup(const Query& q, std::string_view provider) const;

  std::vector<ModelPrice> models_;                             // sorted by key
  std::vector<std::string> foldedKeys_;                        // models_[i].key, ASCII-lowercased
  std::unordered_multimap<std::string_view, uint32_t> index_;  // folded key -> models_ index
};

// Whether a table entry's litellm_provider may price a deployment of llmux provider `provider`:
// equal, or LiteLLM's families (vertex_ai -> vertex_ai-*, bedrock* <-> bedrock*, fireworks_ai ->
// fireworks_ai-*, azure_ai -> azure / openai), plus llmux's sibling providers that call the same
// API (openai <-> text-completion-openai, azure <-> azure_text, cohere <-> cohere_chat,
// ollama <-> ollama_chat). An empty provider matches everything.
[[nodiscard]] bool providerMatches(std::string_view entryProvider, std::string_view provider);

// What one call consumed, in OpenAI usage terms: the "of which" counts are parts of the totals.
struct Usage {
  int64_t promptTokens = 0;        // all prompt tokens, cache reads and writes included
  int64_t completionTokens = 0;    // all completion tokens, reasoning included
  int64_t cacheReadTokens = 0;     // of promptTokens: served from the prompt cache
  int64_t cacheWriteTokens = 0;    // of promptTokens: written to the prompt cache
  int64_t cacheWrite1hTokens = 0;  // of cacheWriteTokens: written with a 1-hour TTL (Anthropic)
  int64_t reasoningTokens = 0;     // of completionTokens
  int64_t inputImages = 0;         // images in the input, billed per image when the entry says so
  int64_t generatedImages = 0;     // images produced (image generation)
};

// USD for one call, LiteLLM's arithmetic: uncached prompt tokens at the input rate, cache reads
// and writes at their rates, completion tokens at the output rate except reasoning tokens at the
// reasoning rate when the entry has one, the tier chosen by prompt size, plus per-image and
// per-request fees. Negative counts are treated as 0 and parts larger than their total are capped.
[[nodiscard]] double costOf(const ModelPrice& p, const Usage& u);
[[nodiscard]] double costOf(const ModelPrice& p, int64_t promptTokens, int64_t completionTokens,
                            int64_t cachedTokens = 0, int64_t cacheWriteTokens = 0);

}  // namespace llmux::pricing
