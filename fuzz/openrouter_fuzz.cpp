// Fuzzes OpenRouter routing: parse() on arbitrary JSON objects, then, for accepted bodies,
// modelChain(), splitSuffix() and arrange() over a fixed group of deployments (plus one per
// `models` entry, so fuzzed names reach the slug matcher), checking the plan's invariants.
#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "router/openrouter.hpp"

namespace {

namespace dom = simdjson::dom;
namespace orr = llmux::router::openrouter;
using orr::Candidate;
using orr::Sort;

std::vector<Candidate> fixedGroup() {
  return {
      {"openai", "oa-1", 5e-6, 15e-6, 900, 60},
      {"azure", "az-1", 2.5e-6, 10e-6, 400, 90},
      {"together_ai", "tg-1", 0.9e-6, 0.9e-6, std::nullopt, 150},
      {"bedrock", "br-1", std::nullopt, std::nullopt, 300, std::nullopt},
      {"vertex_ai", "vx-1", 1e-6, std::nullopt, 250, 70},
      {"gemini", "gm-1", std::nullopt, 4e-6, std::nullopt, 200},
      {"openai", "oa-2", 1e-6, 2e-6, 200, 40},
      {"xai", "google-vertex/us-east5", 3e-6, 3e-6, 100, 100},
  };
}

bool lastMember(dom::object obj, std::string_view key, dom::element& out) {
  bool found = false;
  for (dom::key_value_pair kv : obj) {
    if (kv.key == key) {
      out = kv.value;
      found = true;
    }
  }
  return found;
}

bool matchesAny(const std::vector<std::string>& slugs, const Candidate& c) {
  return std::any_of(slugs.begin(), slugs.end(),
                     [&](const std::string& s) { return orr::providerMatches(s, c); });
}

void checkNames(const std::vector<std::string>& names, size_t limit) {
  LLMUX_FUZZ_CHECK(names.size() <= limit);
  for (const std::string& n : names) {
    LLMUX_FUZZ_CHECK(!n.empty() && n.size() <= orr::kMaxStringBytes);
  }
}

void checkPlan(const orr::ProviderPrefs& p, const std::vector<Candidate>& cands, Sort suffix,
               const orr::Plan& plan) {
  const Sort sort = p.sort != Sort::None ? p.sort : suffix;
  LLMUX_FUZZ_CHECK(plan.fixed <= plan.candidates.size());
  std::vector<bool> seen(cands.size(), false);
  for (size_t i : plan.candidates) {
    LLMUX_FUZZ_CHECK(i < cands.size() && !seen[i]);
    seen[i] = true;
    const Candidate& c = cands[i];
    LLMUX_FUZZ_CHECK(!matchesAny(p.ignore, c));
    LLMUX_FUZZ_CHECK(p.only.empty() || matchesAny(p.only, c));
    if (p.maxPrice.prompt && c.inputCostPerToken) {
      LLMUX_FUZZ_CHECK(*c.inputCostPerToken * 1e6 <= *p.maxPrice.prompt * 1.000001 + 1e-9);
    }
    if (p.maxPrice.completion && c.outputCostPerToken) {
      LLMUX_FUZZ_CHECK(*c.outputCostPerToken * 1e6 <= *p.maxPrice.completion * 1.000001 + 1e-9);
    }
  }
  // Every allowed candidate appears unless fallbacks are off with an explicit order.
  size_t allowed = 0;
  for (const Candidate& c : cands) {
    const bool ok = !matchesAny(p.ignore, c) && (p.only.empty() || matchesAny(p.only, c));
    allowed += ok ? 1 : 0;
  }
  if (p.allowFallbacks || p.order.empty()) {
    LLMUX_FUZZ_CHECK(plan.candidates.size() <= allowed);
  } else {
    for (size_t i : plan.candidates) LLMUX_FUZZ_CHECK(matchesAny(p.order, cands[i]));
  }
  LLMUX_FUZZ_CHECK(plan.failover == (p.allowFallbacks || !p.order.empty()));
  if (p.order.empty()) {
    LLMUX_FUZZ_CHECK(plan.fixed == (sort == Sort::None ? 0 : plan.candidates.size()));
    if (sort == Sort::None) {
      LLMUX_FUZZ_CHECK(std::is_sorted(plan.candidates.begin(), plan.candidates.end()));
    }
  }
  // The entries after the ordered ones are in input order when there is no sort.
  if (sort == Sort::None) {
    LLMUX_FUZZ_CHECK(std::is_sorted(plan.candidates.begin() + static_cast<ptrdiff_t>(plan.fixed),
                                    plan.candidates.end()));
  } else {
    LLMUX_FUZZ_CHECK(plan.fixed == plan.candidates.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static dom::parser parser;
  dom::element root;
  if (parser.parse(reinterpret_cast<const char*>(data), size).get(root) != simdjson::SUCCESS) {
    return 0;
  }
  dom::object body;
  if (root.get_object().get(body) != simdjson::SUCCESS) return 0;

  orr::Routing routing;
  if (auto err = orr::parse(body, routing)) {
    LLMUX_FUZZ_CHECK(err->status == 400 && err->type == "invalid_request_error");
    LLMUX_FUZZ_CHECK(err->code == "invalid_routing");
    LLMUX_FUZZ_CHECK(err->param &&
                     (err->param->starts_with("models") || err->param->starts_with("provider")));
    LLMUX_FUZZ_CHECK(err->message.starts_with("Invalid " + *err->param + ": "));
    static dom::parser errParser;
    dom::element e;
    LLMUX_FUZZ_CHECK(errParser.parse(err->toJson()).get(e) == simdjson::SUCCESS);
    return 0;
  }

  checkNames(routing.models, orr::kMaxModels);
  dom::element models;
  dom::array arr;
  if (lastMember(body, "models", models) && models.get_array().get(arr) == simdjson::SUCCESS) {
    LLMUX_FUZZ_CHECK(arr.size() == routing.models.size());
  } else {
    LLMUX_FUZZ_CHECK(routing.models.empty());
  }
  dom::element provider;
  const bool hasProvider = lastMember(body, "provider", provider) && !provider.is_null();
  LLMUX_FUZZ_CHECK(routing.provider.has_value() == hasProvider);

  dom::element modelEl;
  std::string_view model;
  if (!lastMember(body, "model", modelEl) || modelEl.get_string().get(model)) model = {};
  const auto chain = orr::modelChain(model, routing);
  LLMUX_FUZZ_CHECK(chain.size() <= routing.models.size() + 1);
  if (!model.empty()) LLMUX_FUZZ_CHECK(chain.front() == model);
  for (size_t i = 0; i < chain.size(); ++i) {
    LLMUX_FUZZ_CHECK(std::find(chain.begin() + static_cast<ptrdiff_t>(i) + 1, chain.end(),
                               chain[i]) == chain.end());
  }

  std::vector<Candidate> cands = fixedGroup();
  for (const std::string& m : routing.models) cands.push_back({m, m, 1e-6, 1e-6, 10, 10});
  const orr::ProviderPrefs prefs = routing.provider.value_or(orr::ProviderPrefs{});
  checkNames(prefs.order, orr::kMaxListEntries);
  checkNames(prefs.only, orr::kMaxListEntries);
  checkNames(prefs.ignore, orr::kMaxListEntries);

  for (std::string_view name : chain) {
    const orr::ModelSuffix s = orr::splitSuffix(name);
    LLMUX_FUZZ_CHECK(name.starts_with(s.base));
    LLMUX_FUZZ_CHECK((s.sort == Sort::None) == (s.base.size() == name.size()));
    checkPlan(prefs, cands, s.sort, orr::arrange(prefs, cands, s.sort));
  }
  for (Sort s : {Sort::None, Sort::Price, Sort::Throughput, Sort::Latency}) {
    checkPlan(prefs, cands, s, orr::arrange(prefs, cands, s));
  }
  return 0;
}
