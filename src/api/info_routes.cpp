// GET /health/readiness, /model/info, /model_group/info and POST /utils/token_counter.
#include <fmt/format.h>

#include <boost/url/parse_query.hpp>

#include <simdjson.h>
#include "api/api.hpp"
#include "api/governance_runtime.hpp"
#include "common/error.hpp"
#include "governance/access.hpp"
#include "pricing/price_table.hpp"
#include "store/store.hpp"
#include "tokenizer/token_counter.hpp"

namespace llmux::api {

namespace net = boost::asio;

namespace {

constexpr http::Header kJson[] = {{"content-type", "application/json"}};

void appendOptNumber(std::string& out, std::string_view key, std::optional<double> v) {
  out += ',';
  appendJsonString(out, key);
  out += ':';
  if (v) {
    out += fmt::format("{}", *v);
  } else {
    out += "null";
  }
}

void appendOptInt(std::string& out, std::string_view key, std::optional<int64_t> v) {
  out += ',';
  appendJsonString(out, key);
  out += ':';
  out += v ? std::to_string(*v) : std::string("null");
}

// May this caller see the group? Admins see all; keys see what their allow-lists let them call.
bool visible(const RequestGov& st, const std::string& group,
             const governance::AccessGroups& groups) {
  const auth::Principal& p = *st.principal;
  if (p.kind != auth::Principal::Kind::VirtualKey || p.role == governance::Role::ProxyAdmin ||
      p.role == governance::Role::ProxyAdminViewer) {
    return true;
  }
  if (!governance::modelAllowed(p.keyModels, group, groups)) return false;
  return p.teamId.empty() || governance::modelAllowed(p.teamModels, group, groups);
}

}  // namespace

net::awaitable<void> Api::readiness(http::ResponseWriter& out, engine::RequestOutcome& o) {
  GovernanceRuntime& rt = gk_.runtime();
  const bool draining = gw_.draining.load(std::memory_order_relaxed);
  const bool db = rt.store().readerStats().dbHealthy;
  std::string redis = "not_configured";
  bool redisOk = true;
  if (rt.redisConfigured()) {
    redisOk = rt.redisUp();
    redis = redisOk                       ? "connected"
            : rt.settings().redisFailOpen ? "unreachable: per-instance limits (fail_open)"
                                          : "unreachable: refusing requests (fail_closed)";
  }
  std::string status = "healthy";
  int code = 200;
  if (draining) {
    status = "draining";
    code = 503;
  } else if (!redisOk && !rt.settings().redisFailOpen) {
    status = "unhealthy";
    code = 503;
  } else if (!redisOk || !db) {
    status = "degraded";
  }
  std::string body = "{\"status\":";
  appendJsonString(body, status);
  body += ",\"version\":\"" LLMUX_VERSION "\",\"db\":";
  appendJsonString(body, db ? "connected" : "disconnected");
  body += ",\"redis\":";
  appendJsonString(body, redis);
  body += '}';
  o.status = code;
  co_await out.respond(code, kJson, body);
}

net::awaitable<void> Api::info(http::Request& req, http::ResponseWriter& out,
                               engine::RequestOutcome& o, Route r, RequestGov& st) {
  const governance::AccessGroups& ag = gk_.runtime().accessGroups();
  if (r == Route::TokenCounter) {
    // The deployment the request's model resolves to decides the tokenizer.
    std::string deploymentModel;
    simdjson::dom::parser parser;
    simdjson::dom::object obj;
    std::string_view model;
    if (parser.parse(req.body()).get(obj) == simdjson::SUCCESS &&
        obj["model"].get(model) == simdjson::SUCCESS) {
      const engine::GroupMatch m = gw_.matchGroup(model);
      if (m.group != nullptr && !m.group->deployments.empty()) {
        const engine::DeploymentRt& d = gw_.deployments[m.group->deployments.front()];
        deploymentModel = d.cfg->provider + "/" + std::string(d.upstreamModel);
      }
    }
    auto r = tokenizer::tokenCounterResponse(req.body(), deploymentModel);
    if (auto* e = std::get_if<GatewayError>(&r)) {
      co_await engine::Engine::sendError(out, *e, o);
      co_return;
    }
    o.status = 200;
    co_await out.respond(200, kJson, std::get<std::string>(r));
    co_return;
  }
  std::string filter;
  if (auto q = boost::urls::parse_query(req.query()); q) {
    for (const auto& param : *q) {
      if (param.key == "model_group") filter = param.value;
    }
  }
  std::string body = "{\"data\":[";
  bool first = true;
  if (r == Route::ModelInfo) {
    for (const engine::DeploymentRt& d : gw_.deployments) {
      const config::Deployment& c = *d.cfg;
      if (!visible(st, c.modelName, ag)) continue;
      if (!first) body += ',';
      first = false;
      body += "{\"model_name\":";
      appendJsonString(body, c.modelName);
      body += ",\"litellm_params\":{\"model\":";
      appendJsonString(body, c.provider + "/" + c.upstreamModel);
      if (!c.apiBase.empty()) {
        body += ",\"api_base\":";
        appendJsonString(body, c.apiBase);
      }
      appendOptInt(body, "rpm", c.rpm);
      appendOptInt(body, "tpm", c.tpm);
      body += "},\"model_info\":{\"id\":";
      appendJsonString(body, c.id);
      body += ",\"db_model\":false,\"key\":";
      appendJsonString(body, d.price ? d.price->key : c.upstreamModel);
      body += ",\"litellm_provider\":";
      appendJsonString(body, c.provider);
      body += ",\"mode\":";
      appendJsonString(body, d.price && !d.price->mode.empty() ? d.price->mode : "chat");
      appendOptNumber(body, "input_cost_per_token",
                      d.inputCostPerToken ? d.inputCostPerToken
                      : d.price           ? std::optional<double>(d.price->inputPerToken)
                                          : std::nullopt);
      appendOptNumber(body, "output_cost_per_token",
                      d.outputCostPerToken ? d.outputCostPerToken
                      : d.price            ? std::optional<double>(d.price->outputPerToken)
                                           : std::nullopt);
      appendOptInt(
          body, "max_input_tokens",
          c.maxInputTokens ? c.maxInputTokens : (d.price ? d.price->maxInputTokens : std::nullopt));
      appendOptInt(body, "max_output_tokens", d.price ? d.price->maxOutputTokens : std::nullopt);
      body += ",\"access_groups\":[";
      for (size_t i = 0; i < c.accessGroups.size(); ++i) {
        if (i > 0) body += ',';
        appendJsonString(body, c.accessGroups[i]);
      }
      body += "]}}";
    }
  } else {
    for (const engine::ModelGroup& g : gw_.groups) {
      if (!filter.empty() && g.name != filter) continue;
      if (!visible(st, g.name, ag)) continue;
      if (!first) body += ',';
      first = false;
      std::vector<std::string> providers;
      std::optional<int64_t> maxIn, maxOut, tpm, rpm;
      std::optional<double> inCost, outCost;
      std::string mode = "chat";
      for (size_t idx : g.deployments) {
        const engine::DeploymentRt& d = gw_.deployments[idx];
        const config::Deployment& c = *d.cfg;
        if (std::find(providers.begin(), providers.end(), c.provider) == providers.end()) {
          providers.push_back(c.provider);
        }
        auto in = c.maxInputTokens ? c.maxInputTokens
                                   : (d.price ? d.price->maxInputTokens : std::nullopt);
        if (in) maxIn = std::max(maxIn.value_or(0), *in);
        if (d.price && d.price->maxOutputTokens) {
          maxOut = std::max(maxOut.value_or(0), *d.price->maxOutputTokens);
        }
        if (c.tpm) tpm = tpm.value_or(0) + *c.tpm;
        if (c.rpm) rpm = rpm.value_or(0) + *c.rpm;
        auto ic = d.inputCostPerToken
                      ? d.inputCostPerToken
                      : (d.price ? std::optional<double>(d.price->inputPerToken) : std::nullopt);
        auto oc = d.outputCostPerToken
                      ? d.outputCostPerToken
                      : (d.price ? std::optional<double>(d.price->outputPerToken) : std::nullopt);
        if (ic && (!inCost || *ic < *inCost)) inCost = ic;
        if (oc && (!outCost || *oc < *outCost)) outCost = oc;
        if (d.price && !d.price->mode.empty()) mode = d.price->mode;
      }
      body += "{\"model_group\":";
      appendJsonString(body, g.name);
      body += ",\"providers\":[";
      for (size_t i = 0; i < providers.size(); ++i) {
        if (i > 0) body += ',';
        appendJsonString(body, providers[i]);
      }
      body += ']';
      appendOptInt(body, "max_input_tokens", maxIn);
      appendOptInt(body, "max_output_tokens", maxOut);
      appendOptNumber(body, "input_cost_per_token", inCost);
      appendOptNumber(body, "output_cost_per_token", outCost);
      body += ",\"mode\":";
      appendJsonString(body, mode);
      appendOptInt(body, "tpm", tpm);
      appendOptInt(body, "rpm", rpm);
      body += '}';
    }
  }
  body += "]}";
  o.status = 200;
  co_await out.respond(200, kJson, body);
}

}  // namespace llmux::api
