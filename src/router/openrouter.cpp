#include "router/openrouter.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>

#include "common/text.hpp"

namespace llmux::router::openrouter {
namespace {

namespace dom = simdjson::dom;
using simdjson::SUCCESS;

constexpr size_t kQuoteBytes = 64;  // of a client value quoted in an error message

GatewayError invalid(std::string param, std::string_view message) {
  return GatewayError::invalidRequest(fmt::format("Invalid {}: {}", param, message),
                                      std::move(param), "invalid_routing");
}

std::string quoted(std::string_view s) {
  std::string out;
  appendJsonString(out, utf8Prefix(s, kQuoteBytes));
  return out;
}

std::string_view typeName(dom::element v) {
  switch (v.type()) {
    case dom::element_type::ARRAY:
      return "an array";
    case dom::element_type::OBJECT:
      return "an object";
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
      return "a number";
    case dom::element_type::STRING:
      return "a string";
    case dom::element_type::BOOL:
      return "a boolean";
    case dom::element_type::NULL_VALUE:
      return "null";
  }
  return "a value";
}

std::optional<GatewayError> expected(const std::string& param, std::string_view what,
                                     dom::element v) {
  return invalid(param, fmt::format("expected {}, got {}.", what, typeName(v)));
}

// A model id or slug: a non-empty string of at most kMaxStringBytes.
std::optional<GatewayError> readName(dom::element v, const std::string& param,
                                     std::string_view& out) {
  if (v.get_string().get(out) != SUCCESS) return expected(param, "a string", v);
  if (out.empty()) return invalid(param, "must not be empty.");
  if (out.size() > kMaxStringBytes) {
    return invalid(param, fmt::format("must be at most {} bytes.", kMaxStringBytes));
  }
  return std::nullopt;
}

// An array of names, at most `limit` entries; null reads as empty.
std::optional<GatewayError> readNames(dom::element v, const std::string& param, size_t limit,
                                      std::vector<std::string>& out) {
  out.clear();
  if (v.is_null()) return std::nullopt;
  dom::array arr;
  if (v.get_array().get(arr) != SUCCESS) return expected(param, "an array of strings", v);
  if (arr.size() > limit) {
    return invalid(param,
                   fmt::format("at most {} entries are allowed, got {}.", limit, arr.size()));
  }
  out.reserve(arr.size());
  size_t i = 0;
  for (dom::element item : arr) {
    std::string_view s;
    if (auto err = readName(item, fmt::format("{}[{}]", param, i), s)) return err;
    out.emplace_back(s);
    ++i;
  }
  return std::nullopt;
}

std::optional<GatewayError> readBool(dom::element v, const std::string& param, bool& out,
                                     bool ifNull) {
  if (v.is_null()) {
    out = ifNull;
    return std::nullopt;
  }
  if (v.get_bool().get(out) != SUCCESS) return expected(param, "a boolean", v);
  return std::nullopt;
}

// A finite number >= 0, given as a JSON number or a numeric string (OpenRouter's SDKs send
// prices as strings to keep their precision).
std::optional<GatewayError> readPrice(dom::element v, const std::string& param,
                                      std::optional<double>& out) {
  out.reset();
  if (v.is_null()) return std::nullopt;
  double d = 0;
  std::string_view s;
  if (v.get_string().get(s) == SUCCESS) {
    const char* end = s.data() + s.size();
    auto r = std::from_chars(s.data(), end, d);
    if (s.empty() || r.ec != std::errc() || r.ptr != end) {
      return invalid(param, fmt::format("expected a number, got the string {}.", quoted(s)));
    }
  } else if (v.get_double().get(d) != SUCCESS) {
    return expected(param, "a number", v);
  }
  if (!std::isfinite(d) || d < 0) return invalid(param, "must be a non-negative number.");
  out = d;
  return std::nullopt;
}

std::optional<GatewayError> readMaxPrice(dom::element v, MaxPrice& out) {
  out = {};
  if (v.is_null()) return std::nullopt;
  dom::object obj;
  if (v.get_object().get(obj) != SUCCESS) return expected("provider.max_price", "an object", v);
  for (dom::key_value_pair kv : obj) {
    std::optional<double>* field = nullptr;
    if (kv.key == "prompt") field = &out.prompt;
    if (kv.key == "completion") field = &out.completion;
    if (kv.key == "request") field = &out.request;
    if (kv.key == "image") field = &out.image;
    if (kv.key == "audio") field = &out.audio;
    if (field == nullptr) continue;  // forward compatible
    if (auto err = readPrice(kv.value, fmt::format("provider.max_price.{}", kv.key), *field)) {
      return err;
    }
  }
  return std::nullopt;
}

std::optional<Sort> sortFromName(std::string_view s) {
  if (s == "price") return Sort::Price;
  if (s == "throughput") return Sort::Throughput;
  if (s == "latency") return Sort::Latency;
  return std::nullopt;
}

std::optional<GatewayError> readSortName(dom::element v, const std::string& param, Sort& out) {
  out = Sort::None;
  if (v.is_null()) return std::nullopt;
  std::string_view s;
  if (v.get_string().get(s) != SUCCESS) return expected(param, "a string", v);
  const auto sort = sortFromName(s);
  if (!sort) {
    return invalid(
        param, fmt::format(R"(expected "price", "throughput" or "latency", got {}.)", quoted(s)));
  }
  out = *sort;
  return std::nullopt;
}

// "price" or {"by": "price", "partition": "model" | "none"}.
std::optional<GatewayError> readSort(dom::element v, ProviderPrefs& out) {
  out.sort = Sort::None;
  out.sortAcrossModels = false;
  if (v.is_null() || v.is_string()) return readSortName(v, "provider.sort", out.sort);
  dom::object obj;
  if (v.get_object().get(obj) != SUCCESS) {
    return expected("provider.sort", "a string or an object", v);
  }
  for (dom::key_value_pair kv : obj) {
    if (kv.key == "by") {
      if (auto err = readSortName(kv.value, "provider.sort.by", out.sort)) return err;
    } else if (kv.key == "partition") {
      out.sortAcrossModels = false;
      if (kv.value.is_null()) continue;
      std::string_view s;
      if (kv.value.get_string().get(s) != SUCCESS) {
        return expected("provider.sort.partition", "a string", kv.value);
      }
      if (s != "model" && s != "none") {
        return invalid("provider.sort.partition",
                       fmt::format(R"(expected "model" or "none", got {}.)", quoted(s)));
      }
      out.sortAcrossModels = s == "none";
    }
  }
  return std::nullopt;
}

// preferred_min_throughput / preferred_max_latency: a number, or an object of percentile cutoffs
// (p50, p75, p90, p99) that are numbers. Checked only.
std::optional<GatewayError> checkThreshold(dom::element v, const std::string& param) {
  if (v.is_null() || v.is_number()) return std::nullopt;
  dom::object obj;
  if (v.get_object().get(obj) != SUCCESS) return expected(param, "a number or an object", v);
  for (dom::key_value_pair kv : obj) {
    if (!kv.value.is_null() && !kv.value.is_number()) {
      return expected(fmt::format("{}.{}", param, kv.key), "a number", kv.value);
    }
  }
  return std::nullopt;
}

std::optional<GatewayError> readProvider(dom::object obj, ProviderPrefs& out) {
  for (dom::key_value_pair kv : obj) {
    const std::string_view key = kv.key;
    const dom::element v = kv.value;
    const auto param = [&] { return fmt::format("provider.{}", key); };
    std::optional<GatewayError> err;
    if (key == "order") {
      err = readNames(v, param(), kMaxListEntries, out.order);
    } else if (key == "only") {
      err = readNames(v, param(), kMaxListEntries, out.only);
    } else if (key == "ignore") {
      err = readNames(v, param(), kMaxListEntries, out.ignore);
    } else if (key == "quantizations") {
      err = readNames(v, param(), kMaxListEntries, out.quantizations);
    } else if (key == "allow_fallbacks") {
      err = readBool(v, param(), out.allowFallbacks, true);
    } else if (key == "require_parameters") {
      err = readBool(v, param(), out.requireParameters, false);
    } else if (key == "zdr") {
      err = readBool(v, param(), out.zdr, false);
    } else if (key == "enforce_distillable_text") {
      bool ignored = false;
      err = readBool(v, param(), ignored, false);
    } else if (key == "sort") {
      err = readSort(v, out);
    } else if (key == "max_price") {
      err = readMaxPrice(v, out.maxPrice);
    } else if (key == "data_collection") {
      out.denyDataCollection = false;
      std::string_view s;
      if (v.is_null()) continue;
      if (v.get_string().get(s) != SUCCESS) {
        err = expected(param(), "a string", v);
      } else if (s != "allow" && s != "deny") {
        err = invalid(param(), fmt::format(R"(expected "allow" or "deny", got {}.)", quoted(s)));
      } else {
        out.denyDataCollection = s == "deny";
      }
    } else if (key == "preferred_min_throughput" || key == "preferred_max_latency") {
      err = checkThreshold(v, param());
    }
    if (err) return err;
  }
  return std::nullopt;
}

// --- provider slugs -------------------------------------------------------------------------

char foldSlugChar(char c) {
  if (c >= 'A' && c <= 'Z') return static_cast<char>(c - 'A' + 'a');
  if (c == ' ' || c == '_' || c == '.') return '-';
  return c;
}

// Equal after folding case and separators (no allocation: runs on every candidate).
bool slugEq(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (foldSlugChar(a[i]) != foldSlugChar(b[i])) return false;
  }
  return true;
}

struct SlugAlias {
  std::string_view slug;      // OpenRouter slug or display name, folded form
  std::string_view provider;  // llmux provider name
};

// OpenRouter names whose llmux provider is spelled differently. Identical names ("openai",
// "anthropic", "azure", "groq", "mistral", "deepseek", "deepinfra", "cerebras", "perplexity",
// "cohere", "bedrock", ...) need no entry.
constexpr std::array kAliases{
    SlugAlias{"openai", "text-completion-openai"},
    SlugAlias{"amazon-bedrock", "bedrock"},
    SlugAlias{"google-vertex", "vertex-ai"},
    SlugAlias{"google", "vertex-ai"},  // display name of google-vertex
    SlugAlias{"google-ai-studio", "gemini"},
    SlugAlias{"together", "together-ai"},
    SlugAlias{"fireworks", "fireworks-ai"},
    SlugAlias{"x-ai", "xai"},
    SlugAlias{"cohere", "cohere-chat"},
};

// --- sorting --------------------------------------------------------------------------------

std::optional<double> known(const std::optional<double>& v) {
  if (v && std::isfinite(*v)) return v;
  return std::nullopt;
}

// Input + output USD per token; a missing half counts as 0, unknown when both are missing.
std::optional<double> priceOf(const Candidate& c) {
  const auto in = known(c.inputCostPerToken);
  const auto out = known(c.outputCostPerToken);
  if (!in && !out) return std::nullopt;
  return in.value_or(0) + out.value_or(0);
}

// Key where smaller is better; unknown sorts last.
std::optional<double> sortKey(Sort s, const Candidate& c) {
  switch (s) {
    case Sort::Price:
      return priceOf(c);
    case Sort::Throughput: {
      const auto t = known(c.tokensPerSecond);
      if (!t) return std::nullopt;
      return -*t;
    }
    case Sort::Latency:
      return known(c.latencyMs);
    case Sort::None:
      break;
  }
  return std::nullopt;
}

void sortRange(Sort s, std::span<const Candidate> cands, std::vector<size_t>::iterator first,
               std::vector<size_t>::iterator last) {
  if (s == Sort::None) return;
  std::stable_sort(first, last, [&](size_t a, size_t b) {
    const auto ka = sortKey(s, cands[a]);
    const auto kb = sortKey(s, cands[b]);
    if (!kb) return ka.has_value();
    return ka && *ka < *kb;
  });
}

// USD per token against a USD-per-million limit, with slack for the decimal->binary rounding
// of prices like 0.000001.
bool withinLimit(const std::optional<double>& perToken, const std::optional<double>& perMillion) {
  const auto cost = known(perToken);
  if (!perMillion || !cost) return true;
  return *cost * 1e6 <= *perMillion * (1 + 1e-9) + 1e-12;
}

bool matchesAny(const std::vector<std::string>& slugs, const Candidate& c) {
  return std::any_of(slugs.begin(), slugs.end(),
                     [&](const std::string& s) { return providerMatches(s, c); });
}

}  // namespace

std::optional<GatewayError> parse(dom::object body, Routing& out) {
  out = {};
  // One pass; a repeated key overrides the earlier one (last wins, like the body's other keys).
  for (dom::key_value_pair kv : body) {
    if (kv.key == "models") {
      if (auto err = readNames(kv.value, "models", kMaxModels, out.models)) return err;
    } else if (kv.key == "provider") {
      out.provider.reset();
      if (kv.value.is_null()) continue;
      dom::object obj;
      if (kv.value.get_object().get(obj) != SUCCESS) {
        return expected("provider", "an object", kv.value);
      }
      if (auto err = readProvider(obj, out.provider.emplace())) return err;
    }
  }
  return std::nullopt;
}

std::vector<std::string_view> modelChain(std::string_view model, const Routing& routing) {
  std::vector<std::string_view> chain;
  chain.reserve(routing.models.size() + 1);
  if (!model.empty()) chain.push_back(model);
  for (const std::string& m : routing.models) {
    if (std::find(chain.begin(), chain.end(), m) == chain.end()) chain.push_back(m);
  }
  return chain;
}

ModelSuffix splitSuffix(std::string_view model) {
  constexpr std::string_view kFloor = ":floor";
  constexpr std::string_view kNitro = ":nitro";
  if (model.size() > kFloor.size() && model.ends_with(kFloor)) {
    return {model.substr(0, model.size() - kFloor.size()), Sort::Price};
  }
  if (model.size() > kNitro.size() && model.ends_with(kNitro)) {
    return {model.substr(0, model.size() - kNitro.size()), Sort::Throughput};
  }
  return {model, Sort::None};
}

bool providerMatches(std::string_view slug, const Candidate& c) {
  if (slug.empty()) return false;
  if (slug == c.deploymentId) return true;
  // "google-vertex/us-east5", "deepinfra/turbo": one endpoint of a provider, not all of them.
  if (slug.find('/') != std::string_view::npos) return false;
  if (slugEq(slug, c.provider)) return true;
  return std::any_of(kAliases.begin(), kAliases.end(), [&](const SlugAlias& a) {
    return slugEq(slug, a.slug) && slugEq(c.provider, a.provider);
  });
}

Plan arrange(const ProviderPrefs& p, std::span<const Candidate> cands, Sort suffixSort) {
  const Sort sort = p.sort != Sort::None ? p.sort : suffixSort;
  Plan plan;
  std::vector<size_t> allowed;
  allowed.reserve(cands.size());
  for (size_t i = 0; i < cands.size(); ++i) {
    const Candidate& c = cands[i];
    if (matchesAny(p.ignore, c)) continue;
    if (!p.only.empty() && !matchesAny(p.only, c)) continue;
    if (!withinLimit(c.inputCostPerToken, p.maxPrice.prompt)) continue;
    if (!withinLimit(c.outputCostPerToken, p.maxPrice.completion)) continue;
    allowed.push_back(i);
  }

  // Without `order`, allow_fallbacks=false means "the top provider only": the engine makes one
  // attempt. With `order` the ordered providers are each tried, and nothing else.
  plan.failover = p.allowFallbacks || !p.order.empty();

  if (p.order.empty()) {
    plan.candidates = std::move(allowed);
    sortRange(sort, cands, plan.candidates.begin(), plan.candidates.end());
    plan.fixed = sort == Sort::None ? 0 : plan.candidates.size();
    return plan;
  }

  std::vector<bool> placed(cands.size(), false);
  plan.candidates.reserve(allowed.size());
  for (const std::string& slug : p.order) {
    const size_t slotBegin = plan.candidates.size();
    for (size_t i : allowed) {
      if (!placed[i] && providerMatches(slug, cands[i])) {
        placed[i] = true;
        plan.candidates.push_back(i);
      }
    }
    sortRange(sort, cands, plan.candidates.begin() + static_cast<ptrdiff_t>(slotBegin),
              plan.candidates.end());
  }
  plan.fixed = plan.candidates.size();
  if (!p.allowFallbacks) return plan;

  const size_t restBegin = plan.candidates.size();
  for (size_t i : allowed) {
    if (!placed[i]) plan.candidates.push_back(i);
  }
  if (sort != Sort::None) {
    sortRange(sort, cands, plan.candidates.begin() + static_cast<ptrdiff_t>(restBegin),
              plan.candidates.end());
    plan.fixed = plan.candidates.size();
  }
  return plan;
}

std::string_view sortName(Sort s) {
  switch (s) {
    case Sort::Price:
      return "price";
    case Sort::Throughput:
      return "throughput";
    case Sort::Latency:
      return "latency";
    case Sort::None:
      break;
  }
  return "";
}

}  // namespace llmux::router::openrouter
