#include "engine/deployment_setup.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include "common/text.hpp"
#include "engine/google_auth.hpp"

namespace llmux::engine {
namespace {

std::string env(std::string_view name) {
  if (name.empty()) return {};
  const char* v = std::getenv(std::string(name).c_str());
  return v ? std::string(v) : std::string();
}

void replaceAll(std::string& s, std::string_view from, std::string_view to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) {
    s.replace(p, from.size(), to);
  }
}

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\r");
  const auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

void checkHeaderValue(const config::Deployment& d, std::string_view what, std::string_view v) {
  if (!isSafeHeaderValue(v)) {
    throw std::runtime_error(fmt::format("deployment {}: {} has a line break", d.id, what));
  }
}

std::shared_ptr<boost::asio::ssl::context> customTls(const config::Deployment& d,
                                                     std::vector<std::string>& warnings) {
  auto ctx = std::make_shared<boost::asio::ssl::context>(boost::asio::ssl::context::tls_client);
  ctx->set_options(boost::asio::ssl::context::default_workarounds |
                   boost::asio::ssl::context::no_sslv2 | boost::asio::ssl::context::no_sslv3 |
                   boost::asio::ssl::context::no_tlsv1 | boost::asio::ssl::context::no_tlsv1_1);
  if (!d.sslCaFile.empty()) {
    boost::system::error_code ec;
    ctx->load_verify_file(d.sslCaFile, ec);
    if (ec) {
      throw std::runtime_error(fmt::format("deployment {}: ssl_verify: cannot load CA file {}: {}",
                                           d.id, d.sslCaFile, ec.message()));
    }
  }
  if (!d.sslVerify) {
    warnings.push_back(fmt::format(
        "deployment {}: ssl_verify is false: the upstream certificate is not checked", d.id));
  }
  return ctx;
}

void setupAws(const config::Deployment& d, DeploymentRt& rt) {
  rt.awsAccessKeyId = d.awsAccessKeyId.empty() ? env("AWS_ACCESS_KEY_ID") : d.awsAccessKeyId;
  rt.awsSecretAccessKey =
      d.awsSecretAccessKey.empty() ? env("AWS_SECRET_ACCESS_KEY") : d.awsSecretAccessKey;
  const bool explicitKeys = !d.awsAccessKeyId.empty();
  // An environment session token belongs to the environment's keys, not to configured ones.
  rt.awsSessionToken = d.awsSessionToken;
  if (rt.awsSessionToken.empty() && !explicitKeys) rt.awsSessionToken = env("AWS_SESSION_TOKEN");
  if (!explicitKeys && (rt.awsAccessKeyId.empty() || !d.awsProfileName.empty())) {
    // The shared credentials file, as the AWS SDKs read it.
    std::string profile = d.awsProfileName.empty() ? env("AWS_PROFILE") : d.awsProfileName;
    if (profile.empty()) profile = "default";
    std::string file = env("AWS_SHARED_CREDENTIALS_FILE");
    if (file.empty() && !env("HOME").empty()) file = env("HOME") + "/.aws/credentials";
    std::string k, s, t;
    if (!file.empty() && readAwsProfile(file, profile, k, s, t)) {
      rt.awsAccessKeyId = k;
      rt.awsSecretAccessKey = s;
      rt.awsSessionToken = t;
    } else if (!d.awsProfileName.empty()) {
      throw std::runtime_error(
          fmt::format("deployment {}: aws_profile_name '{}' not found in {}", d.id, profile, file));
    }
  }
  rt.awsRegion = d.awsRegionName;
  if (rt.awsRegion.empty()) rt.awsRegion = env("AWS_REGION");
  if (rt.awsRegion.empty()) rt.awsRegion = env("AWS_DEFAULT_REGION");
  if (rt.awsRegion.empty()) rt.awsRegion = "us-east-1";
  for (std::string_view v : {std::string_view(rt.awsAccessKeyId), std::string_view(rt.awsRegion),
                             std::string_view(rt.awsSessionToken)}) {
    checkHeaderValue(d, "an AWS credential", v);
  }
}

void setupVertex(const config::Deployment& d, DeploymentRt& rt) {
  std::string creds = d.vertexCredentials;
  if (creds.empty()) creds = env("VERTEXAI_CREDENTIALS");
  if (creds.empty()) creds = env("GOOGLE_APPLICATION_CREDENTIALS");
  if (creds.empty()) {
    throw std::runtime_error(fmt::format(
        "deployment {}: vertex_ai needs vertex_credentials (a service-account JSON file) or "
        "GOOGLE_APPLICATION_CREDENTIALS",
        d.id));
  }
  std::string err;
  rt.google = GoogleServiceAccount::load(creds, err);
  if (!rt.google) {
    throw std::runtime_error(fmt::format("deployment {}: vertex_credentials: {}", d.id, err));
  }
  rt.project = d.vertexProject;
  if (rt.project.empty()) rt.project = env("VERTEXAI_PROJECT");
  if (rt.project.empty()) rt.project = rt.google->projectId();
  rt.location = d.vertexLocation;
  if (rt.location.empty()) rt.location = env("VERTEXAI_LOCATION");
  if (rt.location.empty()) rt.location = "us-central1";
  if (rt.project.empty()) {
    throw std::runtime_error(fmt::format("deployment {}: vertex_ai needs vertex_project", d.id));
  }
  for (std::string_view v : {std::string_view(rt.project), std::string_view(rt.location)}) {
    if (v.find_first_of("/?#% \r\n") != std::string_view::npos) {
      throw std::runtime_error(fmt::format(
          "deployment {}: vertex_project/vertex_location has invalid characters", d.id));
    }
  }
}

}  // namespace

bool readAwsProfile(const std::string& path, const std::string& profile, std::string& keyId,
                    std::string& secret, std::string& token) {
  std::ifstream in(path);
  if (!in) return false;
  std::string line;
  bool inProfile = false, found = false;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      std::string name = trim(line.substr(1, line.size() - 2));
      if (name.starts_with("profile ")) name = trim(name.substr(8));
      inProfile = name == profile;
      found = found || inProfile;
      continue;
    }
    if (!inProfile) continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string k = trim(line.substr(0, eq));
    const std::string v = trim(line.substr(eq + 1));
    if (k == "aws_access_key_id") keyId = v;
    if (k == "aws_secret_access_key") secret = v;
    if (k == "aws_session_token") token = v;
  }
  return found && !keyId.empty() && !secret.empty();
}

void setupDeployment(const config::Config& cfg, const config::Deployment& d, DeploymentRt& rt,
                     std::vector<std::string>& warnings) {
  rt.spec = findProvider(d.provider);
  rt.kind = rt.spec ? rt.spec->kind : ProviderKind::Unsupported;
  rt.dropParams = d.dropParams.value_or(cfg.dropParams);
  rt.upstreamModel = d.upstreamModel;
  // LiteLLM's "bedrock/converse/<model>" names the API explicitly; Converse is the only one used.
  if (d.provider == "bedrock" && rt.upstreamModel.starts_with("converse/")) {
    rt.upstreamModel.remove_prefix(9);
  }
  if (rt.kind == ProviderKind::Native) {
    rt.adapter = rt.spec->adapterFor(rt.upstreamModel);
    if (rt.adapter == nullptr) rt.kind = ProviderKind::Unsupported;
  }
  if (rt.kind == ProviderKind::Unsupported) {
    warnings.push_back(fmt::format(
        "deployment {}: provider '{}' is not supported by this build; requests to it get a 400",
        d.id, d.provider));
    return;
  }
  if (rt.kind == ProviderKind::Mock) return;
  const ProviderSpec& spec = *rt.spec;

  if (spec.auth == AuthKind::AwsSigV4) setupAws(d, rt);
  if (spec.auth == AuthKind::GoogleOAuth) setupVertex(d, rt);

  std::string base = d.apiBase;
  if (base.empty()) base = d.awsBedrockRuntimeEndpoint;
  if (base.empty()) base = env(spec.baseEnv);
  if (base.empty()) base = std::string(spec.defaultBase);
  replaceAll(base, "{region}", rt.awsRegion);
  if (rt.location == "global") {
    replaceAll(base, "{location}-aiplatform", "aiplatform");
  }
  replaceAll(base, "{location}", rt.location);
  while (base.size() > 8 && base.back() == '/') base.pop_back();
  if (base.empty()) {
    throw std::runtime_error(
        fmt::format("deployment {}: provider '{}' needs api_base{}", d.id, d.provider,
                    spec.baseEnv.empty() ? std::string() : fmt::format(" (or {})", spec.baseEnv)));
  }
  auto parsed = upstream::parseTarget(base);
  if (auto* err = std::get_if<std::string>(&parsed)) {
    throw std::runtime_error(fmt::format("deployment {}: api_base: {}", d.id, *err));
  }
  rt.target = std::get<upstream::Target>(std::move(parsed));
  if (rt.target.tls && (!d.sslVerify || !d.sslCaFile.empty())) {
    rt.target.tlsContext = customTls(d, warnings);
    rt.target.tlsVerify = d.sslVerify;
    rt.target.poolKey += "|tls:" + (d.sslVerify ? d.sslCaFile : std::string("noverify"));
  }
  rt.hostLine = fmt::format("host: {}\r\n", rt.target.hostHeader);

  // The key: api_key, else the provider's environment variables.
  std::string key = d.apiKey;
  if (key.empty()) key = env(spec.keyEnv);
  if (key.empty()) key = env(spec.keyEnvAlt);
  checkHeaderValue(d, "api_key", key);
  // Bedrock API keys are bearer tokens that replace SigV4.
  if ((spec.auth == AuthKind::Bearer || spec.auth == AuthKind::AwsSigV4) && !key.empty()) {
    rt.authHeaders = "authorization: Bearer " + key + "\r\n";
  } else if (spec.auth == AuthKind::Header) {
    std::string adToken = d.azureAdToken;
    if (spec.name == "azure" && adToken.empty() && key.empty()) adToken = env("AZURE_AD_TOKEN");
    checkHeaderValue(d, "azure_ad_token", adToken);
    if (!key.empty()) {
      rt.authHeaders = fmt::format("{}: {}\r\n", spec.authHeader, key);
    } else if (!adToken.empty()) {
      rt.authHeaders = "authorization: Bearer " + adToken + "\r\n";
    }
  }

  for (const auto& [k, v] : d.extraHeaders) {
    if (!isSafeHeaderValue(k) || !isSafeHeaderValue(v) || k.find(':') != std::string::npos) {
      throw std::runtime_error("deployment " + d.id + ": extra_headers." + k +
                               " is not a valid header");
    }
    rt.fixedHeaders += k + ": " + v + "\r\n";
  }
  rt.fixedHeaders +=
      "user-agent: llmux/" LLMUX_VERSION "\r\naccept: application/json, text/event-stream\r\n";

  if (rt.kind == ProviderKind::OpenAI) {
    // Azure's classic data plane names the deployment in the path and wants api-version; the v1
    // API (a base ending in /openai/v1) is plain OpenAI.
    std::string azureVersion;
    const bool azureClassic = spec.name == "azure" && !rt.target.basePath.ends_with("/openai/v1");
    if (azureClassic) {
      azureVersion = d.apiVersion;
      if (azureVersion.empty()) azureVersion = env("AZURE_API_VERSION");
      if (azureVersion.empty()) azureVersion = "2024-10-21";
      if (azureVersion.find_first_of("&#? \r\n") != std::string::npos) {
        throw std::runtime_error("deployment " + d.id + ": api_version has invalid characters");
      }
      // stream_options arrived with 2024-09-01-preview (GA 2024-10-21); older versions reject it.
      rt.forceStreamUsage = azureVersion.substr(0, 10) >= "2024-09-01";
    }
    auto lineFor = [&](std::string_view endpoint) {
      std::string target;
      if (azureClassic) {
        target =
            joinPath(rt.target.basePath, fmt::format("/openai/deployments/{}{}?api-version={}",
                                                     rt.upstreamModel, endpoint, azureVersion));
      } else {
        target = rt.target.basePath + std::string(endpoint);
      }
      if (target.find_first_of(" \r\n") != std::string::npos) {
        throw std::runtime_error("deployment " + d.id +
                                 ": the upstream path has invalid characters");
      }
      return fmt::format("POST {} HTTP/1.1\r\n{}", target, rt.hostLine);
    };
    rt.requestLinePrefix = lineFor(spec.chatPath);
    rt.completionsLine = lineFor("/completions");
    rt.embeddingsLine = lineFor("/embeddings");
    // Spliced requests send auth with the fixed headers: one append per request.
    rt.fixedHeaders = rt.authHeaders + rt.fixedHeaders;
    rt.authHeaders.clear();
  } else if (spec.name == "mistral") {
    // Mistral's chat needs an adapter, but its embeddings are OpenAI-shaped: spliced like OpenAI's,
    // with the auth header in front of the fixed ones.
    rt.embeddingsLine =
        fmt::format("POST {} HTTP/1.1\r\n{}{}", joinPath(rt.target.basePath, "/v1/embeddings"),
                    rt.hostLine, rt.authHeaders);
  }
}

}  // namespace llmux::engine
