#include "engine/gateway.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <stdexcept>

#include "common/error.hpp"
#include "common/text.hpp"
#include "engine/deployment_setup.hpp"

namespace llmux::engine {

namespace {

std::vector<size_t> groupIndexOf(const config::Config& cfg, const std::vector<std::string>& names) {
  std::vector<size_t> out;
  for (const auto& d : cfg.deployments) {
    out.push_back(
        static_cast<size_t>(std::find(names.begin(), names.end(), d.modelName) - names.begin()));
  }
  return out;
}

std::vector<std::string> deploymentIdsOf(const config::Config& cfg) {
  std::vector<std::string> ids;
  for (const auto& d : cfg.deployments) ids.push_back(d.id);
  return ids;
}

std::chrono::milliseconds seconds(double s) {
  return std::chrono::milliseconds(static_cast<int64_t>(s * 1000.0));
}

}  // namespace

Gateway::Gateway(const config::Config& c, size_t workers)
    : cfg(c),
      metrics(c.modelGroups(), deploymentIdsOf(c), groupIndexOf(c, c.modelGroups()), workers) {
  startedUnix = static_cast<int64_t>(std::time(nullptr));
  tls.set_default_verify_paths();
  tls.set_verify_mode(boost::asio::ssl::verify_peer);
  tls.set_options(boost::asio::ssl::context::default_workarounds |
                  boost::asio::ssl::context::no_sslv2 | boost::asio::ssl::context::no_sslv3 |
                  boost::asio::ssl::context::no_tlsv1 | boost::asio::ssl::context::no_tlsv1_1);

  auto names = c.modelGroups();
  for (const auto& n : names) {
    groupByName.emplace(n, groups.size());
    ModelGroup g;
    g.name = n;
    groups.push_back(std::move(g));
  }
  for (size_t i = 0; i < c.deployments.size(); ++i) {
    const auto& d = c.deployments[i];
    // Both are written into response headers (x-llmux-deployment, x-llmux-model-group).
    if (!isSafeHeaderValue(d.id) || !isSafeHeaderValue(d.modelName)) {
      throw std::runtime_error(
          fmt::format("deployment {}: model_name and model_info.id must not contain "
                      "CR, LF or NUL",
                      d.id.substr(0, d.id.find_first_of("\r\n"))));
    }
    DeploymentRt rt;
    rt.cfg = &d;
    rt.index = i;
    rt.group = groupByName.at(d.modelName);
    rt.timeout = d.timeoutSeconds ? seconds(*d.timeoutSeconds) : c.server.defaultTimeout;
    rt.streamTimeout = d.streamTimeoutSeconds ? seconds(*d.streamTimeoutSeconds) : rt.timeout;
    rt.streamIdleTimeout = d.streamIdleTimeoutMs ? std::chrono::milliseconds(*d.streamIdleTimeoutMs)
                                                 : c.server.streamIdleTimeout;
    setupDeployment(c, d, rt, warnings);
    groups[rt.group].deployments.push_back(i);
    deployments.push_back(std::move(rt));
  }

  setupRouting();

  for (size_t i = 0; i < groups.size(); ++i) {
    if (i) availableModels += ", ";
    availableModels += groups[i].name;
  }
  modelsJson = R"({"object":"list","data":[)";
  std::vector<std::string_view> listed;
  for (const auto& g : groups) listed.push_back(g.name);
  for (const auto& a : c.router.modelGroupAlias) {
    if (!a.hidden && findGroup(a.alias) != nullptr &&
        std::find(listed.begin(), listed.end(), a.alias) == listed.end()) {
      listed.push_back(a.alias);
    }
  }
  for (size_t i = 0; i < listed.size(); ++i) {
    if (i) modelsJson += ',';
    modelsJson += R"({"id":)";
    appendJsonString(modelsJson, listed[i]);
    modelsJson +=
        fmt::format(R"(,"object":"model","created":{},"owned_by":"llmux"}})", startedUnix);
  }
  modelsJson += "]}";
  accessLog = std::make_unique<observability::AccessLog>(c.server.accessLog, workers);
}

}  // namespace llmux::engine
