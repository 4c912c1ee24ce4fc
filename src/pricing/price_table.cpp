#include "pricing/price_table.hpp"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <utility>

namespace llmux::pricing {

// Defined in the source cmake/EmbedFile.cmake generates from data/model_prices.json.
extern const char kModelPricesJson[];
extern const std::size_t kModelPricesJsonSize;

namespace {

namespace dom = simdjson::dom;

// ---------- parsing ----------

bool fail(std::string& error, std::string_view key, std::string_view what) {
  error.assign("model price table: \"");
  error.append(key).append("\": ").append(what);
  return false;
}

// Reads an optional non-negative price. False (with `error`) when present but not one.
bool readPrice(dom::object o, std::string_view field, std::optional<double>& out,
               std::string_view key, std::string& error) {
  dom::element e;
  if (o.at_key(field).get(e) != simdjson::SUCCESS || e.is_null()) return true;
  double v = 0;
  if (e.is_bool() || e.get_double().get(v) != simdjson::SUCCESS || !std::isfinite(v) || v < 0) {
    return fail(error, key, std::string(field) + " must be a non-negative number");
  }
  out = v;
  return true;
}

// Reads an optional non-negative token count; integral floats (2000000.0) are accepted.
bool readCount(dom::object o, std::string_view field, std::optional<int64_t>& out,
               std::string_view key, std::string& error) {
  dom::element e;
  if (o.at_key(field).get(e) != simdjson::SUCCESS || e.is_null()) return true;
  int64_t i = 0;
  double d = 0;
  if (e.get_int64().get(i) == simdjson::SUCCESS && i >= 0) {
    out = i;
    return true;
  }
  if (!e.is_bool() && e.is_double() && e.get_double().get(d) == simdjson::SUCCESS && d >= 0 &&
      d < 9.0e18 && std::floor(d) == d) {
    out = static_cast<int64_t>(d);
    return true;
  }
  return fail(error, key, std::string(field) + " must be a non-negative integer");
}

bool readString(dom::object o, std::string_view field, std::string& out, std::string_view key,
                std::string& error) {
  dom::element e;
  if (o.at_key(field).get(e) != simdjson::SUCCESS || e.is_null()) return true;
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS) {
    return fail(error, key, std::string(field) + " must be a string");
  }
  out.assign(s);
  return true;
}

// The rates a tier or an entry carries, under LiteLLM's field names.
struct Rates {
  std::optional<double> input, output, cacheRead, cacheWrite, cacheWrite1h, reasoning;
};

bool readRates(dom::object o, Rates& r, std::string_view key, std::string& error) {
  return readPrice(o, "input_cost_per_token", r.input, key, error) &&
         readPrice(o, "output_cost_per_token", r.output, key, error) &&
         readPrice(o, "cache_read_input_token_cost", r.cacheRead, key, error) &&
         readPrice(o, "cache_creation_input_token_cost", r.cacheWrite, key, error) &&
         readPrice(o, "cache_creation_input_token_cost_above_1hr", r.cacheWrite1h, key, error) &&
         readPrice(o, "output_cost_per_reasoning_token", r.reasoning, key, error);
}

bool readTiers(dom::object o, ModelPrice& m, std::string_view key, std::string& error) {
  dom::element e;
  if (o.at_key("tiers").get(e) != simdjson::SUCCESS || e.is_null()) return true;
  dom::array arr;
  if (e.get_array().get(arr) != simdjson::SUCCESS)
    return fail(error, key, "tiers must be an array");
  for (dom::element te : arr) {
    dom::object t;
    if (te.get_object().get(t) != simdjson::SUCCESS) {
      return fail(error, key, "each tier must be an object");
    }
    std::optional<int64_t> above;
    Rates r;
    if (!readCount(t, "above", above, key, error) || !readRates(t, r, key, error)) return false;
    if (!above) return fail(error, key, "each tier needs \"above\" (prompt tokens)");
    PriceTier tier;
    tier.abovePromptTokens = *above;
    dom::element inc;
    if (t.at_key("inclusive").get(inc) == simdjson::SUCCESS && !inc.is_null() &&
        inc.get_bool().get(tier.inclusive) != simdjson::SUCCESS) {
      return fail(error, key, "tier \"inclusive\" must be a boolean");
    }
    // A rate the tier leaves out is the entry's base rate (as for LiteLLM's *_above_* keys).
    tier.inputPerToken = r.input.value_or(m.inputPerToken);
    tier.outputPerToken = r.output.value_or(m.outputPerToken);
    tier.cacheReadPerToken = r.cacheRead ? r.cacheRead : m.cacheReadPerToken;
    tier.cacheWritePerToken = r.cacheWrite ? r.cacheWrite : m.cacheWritePerToken;
    tier.cacheWrite1hPerToken = r.cacheWrite1h ? r.cacheWrite1h : m.cacheWrite1hPerToken;
    tier.reasoningPerToken = r.reasoning ? r.reasoning : m.reasoningPerToken;
    m.tiers.push_back(tier);
  }
  std::sort(m.tiers.begin(), m.tiers.end(), [](const PriceTier& a, const PriceTier& b) {
    return a.abovePromptTokens < b.abovePromptTokens;
  });
  return true;
}

bool readEntry(std::string_view key, dom::element value, ModelPrice& m, std::string& error) {
  dom::object o;
  if (value.get_object().get(o) != simdjson::SUCCESS) return fail(error, key, "must be an object");
  m.key.assign(key);
  Rates r;
  std::optional<int64_t> legacyMax;
  if (!readString(o, "litellm_provider", m.provider, key, error) ||
      !readString(o, "mode", m.mode, key, error) || !readRates(o, r, key, error) ||
      !readPrice(o, "input_cost_per_image", m.inputPerImage, key, error) ||
      !readPrice(o, "output_cost_per_image", m.outputPerImage, key, error) ||
      !readPrice(o, "input_cost_per_request", m.perRequest, key, error) ||
      !readCount(o, "max_input_tokens", m.maxInputTokens, key, error) ||
      !readCount(o, "max_output_tokens", m.maxOutputTokens, key, error) ||
      !readCount(o, "max_tokens", legacyMax, key, error)) {
    return false;
  }
  // 0 means "unknown" in LiteLLM's data; as a limit it would refuse every request.
  if (m.maxInputTokens == 0) m.maxInputTokens.reset();
  if (m.maxOutputTokens == 0) m.maxOutputTokens.reset();
  if (legacyMax == 0) legacyMax.reset();
  if (!m.maxOutputTokens) m.maxOutputTokens = legacyMax;  // LiteLLM's get_max_tokens
  m.inputPerToken = r.input.value_or(0.0);
  m.outputPerToken = r.output.value_or(0.0);
  m.cacheReadPerToken = r.cacheRead;
  m.cacheWritePerToken = r.cacheWrite;
  m.cacheWrite1hPerToken = r.cacheWrite1h;
  m.reasoningPerToken = r.reasoning;
  return readTiers(o, m, key, error);
}

// ---------- lookup ----------

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equalFolded(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool startsWith(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

bool containsFolded(std::string_view s, std::string_view needle) {
  for (size_t i = 0; i + needle.size() <= s.size(); ++i) {
    if (equalFolded(s.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

// "…:<digits>:<digits>k" -> "…:<digits>" (Bedrock provisioned-throughput suffix).
std::string_view stripThroughputSuffix(std::string_view m) {
  size_t i = m.size();
  if (i == 0 || m[i - 1] != 'k') return m;
  --i;
  const size_t end2 = i;
  while (i > 0 && isDigit(m[i - 1])) --i;
  if (i == end2 || i == 0 || m[i - 1] != ':') return m;
  const size_t colon2 = i - 1;
  i = colon2;
  while (i > 0 && isDigit(m[i - 1])) --i;
  if (i == colon2 || i == 0 || m[i - 1] != ':') return m;
  return m.substr(0, colon2);
}

// "…[<word chars>]" -> "…" (Bedrock context-window suffix such as "[1m]").
std::string_view stripBracketSuffix(std::string_view m) {
  if (m.empty() || m.back() != ']') return m;
  const size_t open = m.rfind('[');
  if (open == std::string_view::npos || open + 2 > m.size() - 1) return m;
  for (size_t i = open + 1; i + 1 < m.size(); ++i) {
    const char c = m[i];
    if (!(isDigit(c) || c == '_' || (lower(c) >= 'a' && lower(c) <= 'z'))) return m;
  }
  return m.substr(0, open);
}

constexpr std::array<std::string_view, 7> kCrossRegionPrefixes = {"global", "us", "eu",    "apac",
                                                                  "jp",     "au", "us-gov"};
constexpr std::array<std::string_view, 23> kAwsRegions = {
    "us-east-1",      "us-east-2",      "us-west-1",  "us-west-2",  "us-gov-east-1",
    "us-gov-west-1",  "eu-west-1",      "eu-west-2",  "eu-west-3",  "eu-central-1",
    "eu-central-2",   "eu-south-1",     "eu-south-2", "eu-north-1", "ap-northeast-1",
    "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-south-2", "ap-southeast-1",
    "ap-southeast-2", "ca-central-1",   "sa-east-1"};

// LiteLLM's Bedrock base model: the foundation-model id behind routes, ARNs and regions.
std::string_view bedrockBaseModel(std::string_view m) {
  for (std::string_view route : {"bedrock/", "converse/", "invoke/"}) {
    if (startsWith(m, route)) m.remove_prefix(route.size());
  }
  if (containsFolded(m, "arn")) m = m.substr(m.rfind('/') + 1);  // npos + 1 == 0
  m = stripBracketSuffix(stripThroughputSuffix(m));
  const size_t dot = m.find('.');
  if (dot != std::string_view::npos) {
    for (std::string_view p : kCrossRegionPrefixes) {
      if (m.substr(0, dot) == p) return m.substr(dot + 1);
    }
  }
  const size_t slash = m.find('/');
  if (slash != std::string_view::npos) {
    for (std::string_view r : kAwsRegions) {
      if (m.substr(0, slash) == r) return m.substr(slash + 1);
    }
  }
  return m;
}

// "gemini-2.0-flash-001" -> "gemini-2.0-flash" (Vertex / Gemini stable version suffix).
std::string_view stripNumericVersion(std::string_view m) {
  size_t i = m.size();
  while (i > 0 && isDigit(m[i - 1])) --i;
  if (i == m.size() || i == 0 || m[i - 1] != '-') return m;
  return m.substr(0, i - 1);
}

// "ft:gpt-4o:org:suffix:id" -> "ft:gpt-4o" (drops the last three non-empty ":" segments).
std::string_view stripFineTune(std::string_view m) {
  size_t end = m.size();
  for (int seg = 0; seg < 3; ++seg) {
    const size_t colon = m.rfind(':', end == 0 ? 0 : end - 1);
    if (colon == std::string_view::npos || colon + 1 >= end) return m;
    end = colon;
  }
  return m.substr(0, end);
}

std::string_view stripModel(std::string_view provider, std::string_view model) {
  if (startsWith(provider, "bedrock")) return bedrockBaseModel(model);
  if (provider == "vertex_ai" || provider == "gemini") return stripNumericVersion(model);
  if (model.find("ft:") != std::string_view::npos) return stripFineTune(model);
  return model;
}

}  // namespace

// A key to look up, as the concatenation of up to four pieces, assembled in stack buffers.
struct PriceTable::Query {
  std::array<std::string_view, 4> parts{};
};

bool providerMatches(std::string_view entryProvider, std::string_view provider) {
  if (provider.empty() || entryProvider.empty() || entryProvider == provider) return true;
  if (provider == "vertex_ai") return startsWith(entryProvider, "vertex_ai");
  if (provider == "fireworks_ai") return startsWith(entryProvider, "fireworks_ai");
  if (startsWith(provider, "bedrock")) return startsWith(entryProvider, "bedrock");
  if (provider == "azure_ai") return entryProvider == "azure" || entryProvider == "openai";
  // llmux's sibling providers: same upstream, LiteLLM keys the entries under the other name.
  auto pair = [&](std::string_view a, std::string_view b) {
    return (provider == a && entryProvider == b) || (provider == b && entryProvider == a);
  };
  return pair("openai", "text-completion-openai") || pair("azure", "azure_text") ||
         pair("cohere", "cohere_chat") || pair("ollama", "ollama_chat");
}

std::optional<double> ModelPrice::perGeneratedImage() const {
  if (outputPerImage) return outputPerImage;
  if (mode == "image_generation" || mode == "image_edit") return inputPerImage;
  return std::nullopt;
}

const PriceTable& PriceTable::builtin() {
  static const PriceTable table = [] {
    std::string error;
    auto t = parse(std::string_view(kModelPricesJson, kModelPricesJsonSize), error);
    if (!t) {
      std::fprintf(stderr, "llmux: embedded model price table is invalid: %s\n", error.c_str());
      std::abort();
    }
    return std::move(*t);
  }();
  return table;
}

std::optional<PriceTable> PriceTable::parse(std::string_view json, std::string& error) {
  error.clear();
  dom::parser parser;
  const simdjson::padded_string input(json);
  dom::element root;
  if (auto ec = parser.parse(input).get(root); ec != simdjson::SUCCESS) {
    error = std::string("model price table: invalid JSON: ") + simdjson::error_message(ec);
    return std::nullopt;
  }
  dom::object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) {
    error = "model price table: the root must be an object";
    return std::nullopt;
  }
  PriceTable t;
  t.models_.reserve(obj.size());
  for (dom::key_value_pair kv : obj) {
    if (kv.key.empty()) {
      error = "model price table: empty model key";
      return std::nullopt;
    }
    if (kv.key.front() == '_' || kv.key == "sample_spec") continue;
    if (kv.key.size() > kMaxKeyLength) {
      fail(error, kv.key.substr(0, 64), "model key is longer than 256 bytes");
      return std::nullopt;
    }
    ModelPrice m;
    if (!readEntry(kv.key, kv.value, m, error)) return std::nullopt;
    t.models_.push_back(std::move(m));
  }
  std::sort(t.models_.begin(), t.models_.end(),
            [](const ModelPrice& a, const ModelPrice& b) { return a.key < b.key; });
  for (size_t i = 1; i < t.models_.size(); ++i) {
    if (t.models_[i - 1].key == t.models_[i].key) {
      fail(error, t.models_[i].key, "listed twice");
      return std::nullopt;
    }
  }
  // Every key under its ASCII-lowercased form: LiteLLM matches case-insensitively when there is
  // no exact match, and one hash lookup serves both (the exact key is among the folded ones).
  t.foldedKeys_.reserve(t.models_.size());
  for (const ModelPrice& m : t.models_) {
    std::string folded(m.key);
    for (char& c : folded) c = lower(c);
    t.foldedKeys_.push_back(std::move(folded));
  }
  t.index_.reserve(t.models_.size());
  for (size_t i = 0; i < t.models_.size(); ++i) {
    t.index_.emplace(t.foldedKeys_[i], static_cast<uint32_t>(i));
  }
  return t;
}

const ModelPrice* PriceTable::lookup(const Query& q, std::string_view provider) const {
  std::array<char, kMaxKeyLength> exact;
  std::array<char, kMaxKeyLength> folded;
  size_t n = 0;
  for (std::string_view part : q.parts) {
    if (part.size() > kMaxKeyLength - n) return nullptr;  // longer than any key
    for (char c : part) {
      exact[n] = c;
      folded[n++] = lower(c);
    }
  }
  const std::string_view want(exact.data(), n);
  auto [first, last] = index_.equal_range(std::string_view(folded.data(), n));
  // An exact key decides alone (a provider mismatch there fails the candidate, as in LiteLLM).
  for (auto it = first; it != last; ++it) {
    const ModelPrice& m = models_[it->second];
    if (m.key == want) return providerMatches(m.provider, provider) ? &m : nullptr;
  }
  for (auto it = first; it != last; ++it) {
    const ModelPrice& m = models_[it->second];
    if (providerMatches(m.provider, provider)) return &m;
  }
  return nullptr;
}

const ModelPrice* PriceTable::findKey(std::string_view key) const {
  if (key.empty()) return nullptr;
  return lookup(Query{{key}}, {});
}

const ModelPrice* PriceTable::find(std::string_view provider, std::string_view model) const {
  // "<provider>/<model>" given whole: LiteLLM splits it off first.
  if (!provider.empty() && model.size() > provider.size() && startsWith(model, provider) &&
      model[provider.size()] == '/') {
    model.remove_prefix(provider.size() + 1);
  }
  if (model.empty()) return nullptr;
  const std::string_view slash = provider.empty() ? "" : "/";
  const std::string_view stripped = stripModel(provider, model);
  const ModelPrice* p = nullptr;
  // LiteLLM's order: combined, bare, combined stripped, bare stripped.
  if ((p = lookup(Query{{provider, slash, model}}, provider))) return p;
  if ((p = lookup(Query{{model}}, provider))) return p;
  if (stripped != model) {
    if ((p = lookup(Query{{provider, slash, stripped}}, provider))) return p;
    if ((p = lookup(Query{{stripped}}, provider))) return p;
  }
  // Sibling providers whose entries LiteLLM keys under the other name ("ollama/llama3" for
  // ollama_chat, "cohere/embed-v4.0" for cohere_chat).
  const std::string_view sibling = provider == "ollama_chat"   ? "ollama/"
                                   : provider == "cohere_chat" ? "cohere/"
                                                               : "";
  if (!sibling.empty() && (p = lookup(Query{{sibling, model}}, provider))) return p;
  if (provider == "vertex_ai") {
    // LiteLLM renames Vertex Llama models to "meta/<model>" and Mistral / AI21 ones to
    // "<model>@latest"; "<model>@<version>" falls back to the unversioned entry (llmux).
    if ((p = lookup(Query{{"vertex_ai/meta/", model}}, provider))) return p;
    if ((p = lookup(Query{{"vertex_ai/", model, "@latest"}}, provider))) return p;
    const size_t at = model.find('@');
    if (at != std::string_view::npos && at > 0) {
      const std::string_view base = model.substr(0, at);
      if ((p = lookup(Query{{"vertex_ai/", base}}, provider))) return p;
      if ((p = lookup(Query{{base}}, provider))) return p;
    }
  }
  return nullptr;
}

// ---------- cost ----------

double costOf(const ModelPrice& p, const Usage& u) {
  const int64_t prompt = std::max<int64_t>(u.promptTokens, 0);
  const int64_t completion = std::max<int64_t>(u.completionTokens, 0);
  const int64_t cacheRead = std::clamp<int64_t>(u.cacheReadTokens, 0, prompt);
  const int64_t cacheWrite = std::clamp<int64_t>(u.cacheWriteTokens, 0, prompt - cacheRead);
  const int64_t cacheWrite1h = std::clamp<int64_t>(u.cacheWrite1hTokens, 0, cacheWrite);
  const int64_t reasoning = std::clamp<int64_t>(u.reasoningTokens, 0, completion);

  double input = p.inputPerToken, output = p.outputPerToken;
  std::optional<double> cacheReadRate = p.cacheReadPerToken, cacheWriteRate = p.cacheWritePerToken,
                        cacheWrite1hRate = p.cacheWrite1hPerToken,
                        reasoningRate = p.reasoningPerToken;
  for (const PriceTier& t : p.tiers) {  // ascending: the last one the prompt reaches wins
    const bool reached = t.inclusive ? prompt >= t.abovePromptTokens : prompt > t.abovePromptTokens;
    if (!reached) break;
    input = t.inputPerToken;
    output = t.outputPerToken;
    cacheReadRate = t.cacheReadPerToken;
    cacheWriteRate = t.cacheWritePerToken;
    cacheWrite1hRate = t.cacheWrite1hPerToken;
    reasoningRate = t.reasoningPerToken;
  }
  const double writeRate = cacheWriteRate.value_or(input);
  double cost = static_cast<double>(prompt - cacheRead - cacheWrite) * input;
  cost += static_cast<double>(cacheRead) * cacheReadRate.value_or(input);
  cost += static_cast<double>(cacheWrite - cacheWrite1h) * writeRate;
  cost += static_cast<double>(cacheWrite1h) * cacheWrite1hRate.value_or(writeRate);
  if (reasoningRate) {
    cost += static_cast<double>(completion - reasoning) * output;
    cost += static_cast<double>(reasoning) * *reasoningRate;
  } else {
    cost += static_cast<double>(completion) * output;
  }
  if (u.inputImages > 0 && p.inputPerImage && p.mode != "image_generation" &&
      p.mode != "image_edit") {
    cost += static_cast<double>(u.inputImages) * *p.inputPerImage;
  }
  if (u.generatedImages > 0) {
    if (auto per = p.perGeneratedImage()) cost += static_cast<double>(u.generatedImages) * *per;
  }
  if (p.perRequest) cost += *p.perRequest;
  return cost;
}

double costOf(const ModelPrice& p, int64_t promptTokens, int64_t completionTokens,
              int64_t cachedTokens, int64_t cacheWriteTokens) {
  Usage u;
  u.promptTokens = promptTokens;
  u.completionTokens = completionTokens;
  u.cacheReadTokens = cachedTokens;
  u.cacheWriteTokens = cacheWriteTokens;
  return costOf(p, u);
}

}  // namespace llmux::pricing
