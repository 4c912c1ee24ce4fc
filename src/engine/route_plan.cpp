// Routing plans for the two request dialects that name their own failover: OpenRouter's `models`
// and `provider` preferences, and Portkey-style configs (x-llmux-config / x-portkey-config, inline
// JSON or the id of a routing_configs entry). Both become a list of PlanSteps that
// Engine::routeChat walks; only these requests pay for building one.
#include <fmt/format.h>

#include <algorithm>

#include "common/text.hpp"
#include "engine/engine.hpp"
#include "engine/engine_detail.hpp"
#include "router/openrouter.hpp"
#include "router/portkey_config.hpp"

namespace llmux::engine {

using namespace detail;  // NOLINT(google-build-using-namespace): this module's own helpers

namespace {

namespace openrouter = router::openrouter;
namespace portkey = router::portkey;

constexpr size_t kMaxMetadataBytes = 16 * 1024;

GatewayError invalidConfig(std::string message) {
  return GatewayError::invalidRequest(std::move(message), std::nullopt, "invalid_routing_config");
}

// The deployments of `g` that a provider slug (OpenRouter's, Portkey's "provider" /
// "@name") names: by provider or by deployment id.
std::vector<size_t> deploymentsNamed(const Gateway& gw, const ModelGroup& g,
                                     std::string_view slug) {
  if (slug.starts_with('@')) slug.remove_prefix(1);
  std::vector<size_t> out;
  for (size_t i : g.deployments) {
    const DeploymentRt& d = gw.deployments[i];
    openrouter::Candidate c;
    c.provider = d.cfg->provider;
    c.deploymentId = d.cfg->id;
    if (openrouter::providerMatches(slug, c)) out.push_back(i);
  }
  return out;
}

}  // namespace

std::optional<GatewayError> Engine::buildOpenRouterPlan(Scratch& sc) {
  const RequestRouting& r = sc.routing;
  const openrouter::ProviderPrefs* prefs =
      r.openrouter.provider ? &*r.openrouter.provider : nullptr;
  for (std::string_view name : openrouter::modelChain(sc.chat.model, r.openrouter)) {
    PlanStep& step = sc.plan.emplace_back();
    step.name.assign(name);
    GroupMatch m = gw_.matchGroup(name);
    openrouter::Sort suffixSort = openrouter::Sort::None;
    if (m.group == nullptr) {
      // "model:floor" / "model:nitro": the price / throughput sort of the base model.
      const auto split = openrouter::splitSuffix(name);
      if (split.sort != openrouter::Sort::None) {
        m = gw_.matchGroup(split.base);
        suffixSort = split.sort;
      }
    }
    if (m.group == nullptr) {
      step.error = GatewayError::notFound(
          fmt::format("Model '{}' not found.", utf8Prefix(name, 200)), "model_not_found");
      continue;
    }
    step.group = m.group;
    step.capture.assign(m.capture);
    if (prefs == nullptr && suffixSort == openrouter::Sort::None) continue;
    std::vector<openrouter::Candidate> cands;
    for (size_t i : m.group->deployments) {
      const DeploymentRt& d = gw_.deployments[i];
      const router::DeploymentState& st = gw_.states()[i];
      openrouter::Candidate c;
      c.provider = d.cfg->provider;
      c.deploymentId = d.cfg->id;
      c.inputCostPerToken = d.inputCostPerToken;
      c.outputCostPerToken = d.outputCostPerToken;
      const uint64_t lat = sc.chat.stream ? st.ttftUs.get() : st.latencyUs.get();
      if (lat > 0) c.latencyMs = static_cast<double>(lat) / 1000.0;
      if (const uint64_t perToken = st.usPerOutputToken.get(); perToken > 0) {
        c.tokensPerSecond = 1e6 / static_cast<double>(perToken);
      }
      cands.push_back(c);
    }
    static const openrouter::ProviderPrefs kNoPrefs;
    const openrouter::Plan p = openrouter::arrange(prefs ? *prefs : kNoPrefs, cands, suffixSort);
    if (p.candidates.empty()) {
      step.group = nullptr;
      step.error = GatewayError::invalidRequest(
          fmt::format("No deployment of model '{}' matches the request's provider preferences.",
                      utf8Prefix(name, 200)),
          "provider", "no_matching_provider");
      continue;
    }
    for (size_t k = 0; k < p.candidates.size(); ++k) {
      step.deployments.push_back(m.group->deployments[p.candidates[k]]);
      step.tiers.push_back(static_cast<int>(std::min(k, p.fixed)));
    }
    step.retry = p.failover ? PlanStep::Retry::OpenRouter : PlanStep::Retry::None;
  }
  return std::nullopt;
}

std::optional<GatewayError> Engine::readPortkeyConfig(http::Request& req, Scratch& sc) {
  std::string_view header = req.header("x-llmux-config");
  if (header.empty()) header = req.header("x-portkey-config");
  if (header.empty()) return std::nullopt;
  const size_t first = header.find_first_not_of(" \t");
  if (first != std::string_view::npos && header[first] == '{') {
    sc.portkeyRoot = portkey::Node{};
    if (auto err = portkey::parse(header, sc.portkeyRoot, configParser_)) {
      return invalidConfig(fmt::format("Invalid routing config (x-llmux-config): {}", *err));
    }
    sc.portkey = &sc.portkeyRoot;
    return std::nullopt;
  }
  sc.portkey = gw_.findRoutingConfig(header);
  if (sc.portkey == nullptr) {
    return invalidConfig(
        fmt::format("Unknown routing config '{}' (x-llmux-config): name one of "
                    "routing_configs or send the config as JSON.",
                    utf8Prefix(header, 100)));
  }
  return std::nullopt;
}

std::optional<GatewayError> Engine::buildPortkeyPlan(http::Request& req, Scratch& sc) {
  // Conditions read the request's metadata (x-llmux-metadata or Portkey's x-portkey-metadata, a
  // JSON object) and its body parameters.
  portkey::RequestFacts facts;
  std::string_view meta = req.header("x-llmux-metadata");
  if (meta.empty()) meta = req.header("x-portkey-metadata");
  simdjson::dom::element metaDoc;
  if (!meta.empty()) {
    if (meta.size() > kMaxMetadataBytes ||
        metaParser_.parse(meta.data(), meta.size()).get(metaDoc) != simdjson::SUCCESS ||
        !metaDoc.is_object()) {
      return GatewayError::invalidRequest(
          "The metadata header (x-llmux-metadata / x-portkey-metadata) must be a JSON object of "
          "at most 16 KiB.",
          std::nullopt, "invalid_metadata");
    }
    facts.metadata = metaDoc;
  }
  simdjson::dom::element body;
  if (json_.parse(sc.body.data(), sc.body.size()).get(body) == simdjson::SUCCESS) {
    facts.params = body;
  }

  struct Walker {
    Engine& e;
    Scratch& sc;
    const portkey::RequestFacts& facts;
    int fallbackDepth = 0;
    std::optional<GatewayError> error;

    void leaf(const portkey::Node& n) {
      PlanStep& step = sc.plan.emplace_back();
      step.retry = PlanStep::Retry::Portkey;
      if (n.retry) {
        step.attempts = n.retry->attempts;
        step.retryCodes = n.retry->onStatusCodes;
      }
      step.timeoutMs = n.requestTimeoutMs;
      step.overrideParams = n.overrideParams;
      step.exits.resize(static_cast<size_t>(fallbackDepth));
      const std::string where = n.path.empty() ? "the config" : n.path;
      const Gateway& gw = e.gw_;
      // virtual_key: a deployment id or a model group of this gateway.
      if (!n.virtualKey.empty()) {
        for (const auto& d : gw.deployments) {
          if (d.cfg->id == n.virtualKey) {
            step.group = &gw.groups[d.group];
            step.name = d.cfg->modelName;
            step.deployments.push_back(d.index);
            return;
          }
        }
      }
      std::string_view model = !n.model.empty()        ? std::string_view(n.model)
                               : !n.virtualKey.empty() ? std::string_view(n.virtualKey)
                                                       : sc.chat.model;
      step.name.assign(model);
      const GroupMatch m = gw.matchGroup(model);
      if (m.group == nullptr) {
        error = invalidConfig(fmt::format(
            "Routing config target {}: no model group or deployment named '{}' on this gateway.",
            where, utf8Prefix(model, 200)));
        return;
      }
      step.group = m.group;
      step.capture.assign(m.capture);
      if (!n.provider.empty()) {
        step.deployments = deploymentsNamed(gw, *m.group, n.provider);
        if (step.deployments.empty()) {
          error = invalidConfig(fmt::format(
              "Routing config target {}: no deployment of model group '{}' uses provider '{}'.",
              where, m.group->name, utf8Prefix(n.provider, 100)));
        }
      }
    }

    void walk(const portkey::Node& n) {
      if (error) return;
      if (n.isLeaf()) {
        leaf(n);
        return;
      }
      switch (n.mode) {
        case portkey::Mode::Single:
          walk(n.targets[0]);
          break;
        case portkey::Mode::LoadBalance:
          walk(n.targets[portkey::chooseWeighted(n, e.selector_.rng().uniform())]);
          break;
        case portkey::Mode::Conditional: {
          const int i = portkey::chooseConditional(n, facts);
          if (i < 0) {
            error = invalidConfig(fmt::format(
                "Routing config {}: no condition matched the request and there is no default.",
                n.path.empty() ? "root" : n.path));
            return;
          }
          walk(n.targets[static_cast<size_t>(i)]);
          break;
        }
        case portkey::Mode::Fallback: {
          const size_t depth = static_cast<size_t>(fallbackDepth++);
          for (size_t c = 0; c < n.targets.size() && !error; ++c) {
            const size_t start = sc.plan.size();
            walk(n.targets[c]);
            // The leaves of child c move on to the next child's first leaf (none after the last).
            const int next = c + 1 < n.targets.size() ? static_cast<int>(sc.plan.size()) : -1;
            for (size_t k = start; k < sc.plan.size(); ++k) {
              sc.plan[k].exits[depth] = {&n.onStatusCodes, next};
            }
          }
          --fallbackDepth;
          break;
        }
      }
    }
  };
  Walker w{*this, sc, facts, 0, std::nullopt};
  w.walk(*sc.portkey);
  if (w.error) return w.error;
  return std::nullopt;
}

std::optional<GatewayError> Engine::applyOverrides(http::Request& req, const PlanStep* step,
                                                   Scratch& sc) {
  const bool want = step != nullptr && !step->overrideParams.empty();
  if (!want) {
    if (sc.chatIsOverride) {
      // Back to the client's own body after a step that changed it.
      sc.chatIsOverride = false;
      sc.body = req.body();
      if (auto e = types::parseChatRequest(req.body(), sc.chat)) return e;
    }
    return std::nullopt;
  }
  // The client's members that the overrides do not name, then the overrides.
  simdjson::dom::object client;
  simdjson::dom::object over;
  std::string& out = sc.overrideBody;
  if (json_.parse(req.body().data(), req.body().size()).get(client) != simdjson::SUCCESS) {
    return GatewayError::invalidRequest("The request body is not a valid JSON object.");
  }
  out.assign("{");
  // The overrides' keys, copied out: the client document below is parsed by the same parser.
  simdjson::dom::parser& p = configParser_;
  if (p.parse(step->overrideParams).get(over) != simdjson::SUCCESS) {
    return GatewayError::internal("The routing config's override_params could not be read.");
  }
  for (auto [key, value] : client) {
    simdjson::dom::element ignored;
    if (over[key].get(ignored) == simdjson::SUCCESS) continue;
    if (out.size() > 1) out += ',';
    appendJsonString(out, key);
    out += ':';
    out += simdjson::minify(value);
  }
  for (auto [key, value] : over) {
    if (out.size() > 1) out += ',';
    appendJsonString(out, key);
    out += ':';
    out += simdjson::minify(value);
  }
  out += '}';
  sc.chatIsOverride = true;
  if (auto e = types::parseChatRequest(out, sc.chat)) {
    e->message = "After the routing config's override_params: " + e->message;
    return e;
  }
  sc.body = out;
  return std::nullopt;
}

}  // namespace llmux::engine
