#pragma once
// OpenRouter's per-request routing fields: the `models` fallback list, the `provider` preferences
// object and the `:floor` / `:nitro` model suffixes. Pure: parses a request body and orders a model
// group's deployments; the engine does the calling.
//
// Facts relied on (OpenRouter docs: guides/routing/provider-selection, model-fallbacks,
// model-variants/{nitro,floor}; SDK reference pages for MaxPrice, ProviderSort, ProviderSortConfig,
// BatchProviderPreferences; API behaviour reported in public issue threads):
// - `models`: model ids in priority order; when the first returns an error (any error: context
//   length, moderation, rate limit, downtime) the next is tried. With both `model` and `models`,
//   `model` is tried first and `models` follow as fallbacks. The live API rejects more than 3
//   entries ("'models' array must have 3 items or fewer"); llmux allows up to kMaxModels.
// - `provider.order`: slugs tried one at a time, in that order; when none is operational the
//   router proceeds to the other providers unless `allow_fallbacks` is false.
// - `provider.allow_fallbacks` (default true): false = use only the primary provider (or the
//   providers in `order`) and return the upstream error when unavailable.
// - `provider.only` / `provider.ignore`: allow-list / skip-list of slugs for this request.
// - `provider.sort`: "price" (lowest first), "throughput" (highest tokens/s first), "latency"
//   (lowest first). Either a string or {"by": ..., "partition": "model"|"none"}. With `sort` or
//   `order` set, load balancing is disabled and providers are tried in order. The SDK describes
//   `sort` as the strategy "if order is not specified".
// - `:nitro` = sort by throughput, `:floor` = sort by price (the docs add that they also make
//   priority / flex service-tier endpoints eligible; llmux has no tiers).
// - `provider.max_price`: {prompt, completion} in USD per million tokens, `request` USD per
//   request, `image` USD per image, `audio` USD per audio unit; values are numbers or numeric
//   strings. Providers above the limit are not used (OpenRouter fails rather than overspend).
// - Slugs are matched case-insensitively; a base slug ("google-vertex") matches all endpoints of
//   the provider, a suffixed slug ("google-vertex/us-east5", "deepinfra/turbo") only that one.
// - Also documented and accepted here (type-checked, not acted on: llmux has no data for them):
//   require_parameters, data_collection ("allow"|"deny"), zdr, enforce_distillable_text,
//   quantizations, preferred_min_throughput, preferred_max_latency.
//
// llmux decisions: unknown keys in `provider` / `max_price` are ignored (OpenRouter keeps adding
// fields; a client written for a newer API must not break); known keys are type-checked strictly.
// JSON null means absent. Duplicate keys: the last wins. A candidate whose price is unknown is kept
// by max_price (self-hosted price tables are often incomplete).
#include <simdjson.h>

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace llmux::router::openrouter {

inline constexpr size_t kMaxModels = 16;        // entries of `models`
inline constexpr size_t kMaxListEntries = 64;   // entries of order / only / ignore / quantizations
inline constexpr size_t kMaxStringBytes = 256;  // any model id or slug

enum class Sort { None, Price, Throughput, Latency };

// Limits in OpenRouter's units: prompt / completion USD per million tokens, request USD per
// request, image USD per image, audio USD per audio unit.
struct MaxPrice {
  std::optional<double> prompt, completion, request, image, audio;
};

struct ProviderPrefs {
  std::vector<std::string> order, only, ignore;
  bool allowFallbacks = true;
  Sort sort = Sort::None;         // None: not given (a model suffix may then supply one)
  bool sortAcrossModels = false;  // sort.partition "none": sort endpoints of all models together
  MaxPrice maxPrice;
  // Accepted for compatibility, not used by arrange(): llmux knows nothing of these properties.
  bool requireParameters = false;
  bool denyDataCollection = false;  // data_collection "deny"
  bool zdr = false;
  std::vector<std::string> quantizations;
};

struct Routing {
  std::vector<std::string> models;        // fallback models, in order (after the body's "model")
  std::optional<ProviderPrefs> provider;  // absent when the body has no (or a null) "provider"
};

// Reads "models" and "provider" from a request body. Other keys are left alone. On error returns
// a 400 invalid_request_error with code "invalid_routing" and `param` naming the field
// ("models[2]", "provider.sort", "provider.max_price.prompt"); `out` is then unspecified.
std::optional<GatewayError> parse(simdjson::dom::object body, Routing& out);

// The models to try, in order: `model` (when non-empty), then each `models` entry not already
// listed (views into the arguments).
std::vector<std::string_view> modelChain(std::string_view model, const Routing& routing);

// "name:floor" -> {"name", Price}; "name:nitro" -> {"name", Throughput}; anything else (no suffix,
// other variants such as ":free", colons inside ids like "llama3:8b") -> {model, None}. The engine
// should prefer an exact model-group match before splitting.
struct ModelSuffix {
  std::string_view base;
  Sort sort = Sort::None;
};
ModelSuffix splitSuffix(std::string_view model);

// One deployment of a model group, as the engine sees it.
struct Candidate {
  std::string_view provider;      // llmux/LiteLLM provider name: "openai", "vertex_ai", ...
  std::string_view deploymentId;  // model_info.id
  std::optional<double> inputCostPerToken, outputCostPerToken;  // USD per token
  std::optional<double> latencyMs;                              // recent latency (TTFT for streams)
  std::optional<double> tokensPerSecond;                        // recent throughput
};

// True when an OpenRouter provider slug names this candidate: equal to its deploymentId (exact),
// or, for a slug without '/', naming its provider. Provider comparison ignores ASCII case and
// treats ' ', '_' and '.' as '-', so OpenRouter slugs ("amazon-bedrock"), display names ("Amazon
// Bedrock") and llmux names ("bedrock", "vertex_ai") all work; OpenRouter slugs are mapped to
// llmux providers (google-vertex -> vertex_ai, google-ai-studio -> gemini, together ->
// together_ai, fireworks -> fireworks_ai, x-ai -> xai, ...).
bool providerMatches(std::string_view slug, const Candidate& c);

// The deployments a request may use and the order to try them in (indexes into `cands`).
struct Plan {
  std::vector<size_t> candidates;
  // The first `fixed` entries are tried in exactly this order, before any other. The rest (when
  // any) are for the group's own routing strategy (load balancing), as OpenRouter does without
  // sort / order.
  size_t fixed = 0;
  // False: allow_fallbacks=false without `order`: try one deployment only (the first when fixed,
  // else the strategy's pick), never another on failure. With `order`, the ordered providers
  // are the whole list and are each tried in turn.
  bool failover = true;
};

// Applies `p` to a group's candidates. Filters: `ignore` (wins over everything), `only`,
// `max_price` prompt/completion (unknown prices kept). Then orders: candidates matching `order`,
// slot by slot; then, when allowFallbacks or there is no `order`, the rest. The sort (p.sort, or
// `suffixSort` when p.sort is None) orders candidates within each order slot and the rest: price
// cheapest input+output per token first, throughput highest first, latency lowest first; unknown
// values last, ties keep the input order. Without a sort the rest are left to the strategy.
// An empty plan means nothing may serve the request (the engine answers with an error).
Plan arrange(const ProviderPrefs& p, std::span<const Candidate> cands,
             Sort suffixSort = Sort::None);

std::string_view sortName(Sort s);  // "price", "throughput", "latency", "" for None

}  // namespace llmux::router::openrouter
