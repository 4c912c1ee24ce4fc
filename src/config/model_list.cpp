// model_list: one Deployment per entry (model_name, litellm_params, model_info).
#include <fmt/format.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string_view>

#include "common/text.hpp"
#include "config/parse_context.hpp"

namespace llmux::config::detail {
namespace {

constexpr double kMaxSeconds = 1e9;  // keeps every duration far from overflowing when converted
constexpr int64_t kMaxMillis = 1'000'000'000'000;
constexpr double kMaxWeight = 1e9;
constexpr int64_t kMaxRetries = 100;
// USD per token: far above any real price; only catches nonsense.
constexpr double kMaxCostPerToken = 1e6;

// litellm_params.tags: a list of non-empty strings.
void parseTags(ParseContext& ctx, const Entry& entry, Deployment& d) {
  if (entry.value.IsNull()) return;
  if (!entry.value.IsSequence()) {
    ctx.addProblem(entry.path, entry.line,
                   "must be a list of strings, got " + describe(entry.value));
    return;
  }
  size_t i = 0;
  for (const YAML::Node& item : entry.value) {
    const int line = lineOf(item);
    Entry tag{entry.key, item, fmt::format("{}[{}]", entry.path, i++),
              line > 0 ? line : entry.line};
    if (!item.IsScalar()) {
      ctx.addProblem(tag.path, tag.line, "must be a string, got " + describe(item));
      continue;
    }
    std::optional<std::string> v = ctx.readString(tag);
    if (v && v->empty()) {
      ctx.addProblem(tag.path, tag.line, "must not be empty");
    } else if (v) {
      d.tags.push_back(std::move(*v));
    }
  }
}

// RFC 9110 token characters: what an HTTP header name may contain.
bool isHeaderName(std::string_view name) {
  if (name.empty()) return false;
  for (unsigned char c : name) {
    const bool ok =
        (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool isHttpUrl(std::string_view url) {
  return (url.starts_with("http://") && url.size() > 7) ||
         (url.starts_with("https://") && url.size() > 8);
}

void parseExtraHeaders(ParseContext& ctx, const Entry& entry, Deployment& d) {
  if (entry.value.IsNull()) return;
  if (!entry.value.IsMap()) {
    ctx.addProblem(entry.path, entry.line,
                   "must be a mapping of header name to value, got " + describe(entry.value));
    return;
  }
  for (const Entry& header : ctx.entries(entry.value, entry.path)) {
    if (!isHeaderName(header.key)) {
      ctx.addProblem(header.path, header.line, "not a valid HTTP header name");
      continue;
    }
    std::optional<std::string> value = ctx.readString(header);
    if (!value) {
      if (header.value.IsNull()) d.extraHeaders.emplace_back(header.key, "");
      continue;
    }
    if (!isSafeHeaderValue(*value)) {
      ctx.addProblem(header.path, header.line, "header value must not contain CR, LF or NUL");
      continue;
    }
    d.extraHeaders.emplace_back(header.key, std::move(*value));
  }
}

// "<provider>/<model-id>"; without a '/', LiteLLM infers openai.
void parseModel(ParseContext& ctx, const Entry& entry, Deployment& d) {
  std::optional<std::string> model = ctx.readString(entry);
  if (!model) {
    if (entry.value.IsNull()) ctx.addProblem(entry.path, entry.line, "required field is empty");
    return;
  }
  const size_t slash = model->find('/');
  if (slash == std::string::npos) {
    d.provider = "openai";
    d.upstreamModel = *model;
  } else {
    d.provider = model->substr(0, slash);
    d.upstreamModel = model->substr(slash + 1);
  }
  if (model->empty()) {
    ctx.addProblem(entry.path, entry.line, "must not be empty");
  } else if (d.provider.empty()) {
    ctx.addProblem(entry.path, entry.line, "provider before '/' is empty");
  } else if (d.upstreamModel.empty()) {
    ctx.addProblem(entry.path, entry.line, "model id after '/' is empty");
  }
}

void parseApiBase(ParseContext& ctx, const Entry& entry, Deployment& d) {
  std::optional<std::string> base = ctx.readString(entry);
  if (!base || base->empty()) return;  // empty (e.g. an unset env var) = provider default
  if (!isHttpUrl(*base)) {
    ctx.addProblem(entry.path, entry.line, "must be an http:// or https:// URL");
    return;
  }
  // The engine appends "/chat/completions"; a trailing '/' would double it.
  while (base->ends_with('/')) base->pop_back();
  d.apiBase = std::move(*base);
}

// String-valued credential and placement keys, by their LiteLLM names.
std::string* credentialField(Deployment& d, const std::string& k) {
  if (k == "vertex_project") return &d.vertexProject;
  if (k == "vertex_location") return &d.vertexLocation;
  if (k == "vertex_credentials") return &d.vertexCredentials;
  if (k == "aws_access_key_id") return &d.awsAccessKeyId;
  if (k == "aws_secret_access_key") return &d.awsSecretAccessKey;
  if (k == "aws_session_token") return &d.awsSessionToken;
  if (k == "aws_region_name") return &d.awsRegionName;
  if (k == "aws_profile_name") return &d.awsProfileName;
  if (k == "aws_bedrock_runtime_endpoint") return &d.awsBedrockRuntimeEndpoint;
  if (k == "azure_ad_token") return &d.azureAdToken;
  return nullptr;
}

void parseLitellmParams(ParseContext& ctx, const Entry& params, Deployment& d) {
  const Entry* model = nullptr;
  const std::vector<Entry> entries = ctx.entries(params.value, params.path);
  for (const Entry& e : entries) {
    const std::string& k = e.key;
    if (k == "model") {
      model = &e;
      parseModel(ctx, e, d);
    } else if (k == "api_base") {
      parseApiBase(ctx, e, d);
    } else if (k == "api_key") {
      if (auto v = ctx.readString(e)) {
        if (isSafeHeaderValue(*v)) {
          d.apiKey = std::move(*v);
        } else {
          ctx.addProblem(e.path, e.line, "must not contain CR, LF or NUL (it is sent as a header)");
        }
      }
    } else if (k == "api_version") {
      if (auto v = ctx.readString(e)) d.apiVersion = std::move(*v);
    } else if (k == "timeout") {
      d.timeoutSeconds = ctx.readNumber(e, 0, kMaxSeconds, true);
    } else if (k == "stream_timeout") {
      d.streamTimeoutSeconds = ctx.readNumber(e, 0, kMaxSeconds, true);
    } else if (k == "max_retries") {
      if (auto v = ctx.readInteger(e, 0, kMaxRetries)) d.maxRetries = static_cast<int>(*v);
    } else if (k == "rpm") {
      d.rpm = ctx.readInteger(e, 0, INT64_MAX);
    } else if (k == "tpm") {
      d.tpm = ctx.readInteger(e, 0, INT64_MAX);
    } else if (k == "weight") {
      if (auto v = ctx.readNumber(e, 0, kMaxWeight)) d.weight = *v;
    } else if (k == "order") {
      if (auto v = ctx.readInteger(e, 0, INT32_MAX)) d.order = static_cast<int>(*v);
    } else if (k == "extra_headers") {
      parseExtraHeaders(ctx, e, d);
    } else if (k == "mock_response") {
      d.mockResponse = ctx.readString(e);
    } else if (k == "mock_latency_ms") {
      if (auto v = ctx.readInteger(e, 0, kMaxMillis)) d.mockLatencyMs = *v;
    } else if (k == "mock_chunk_delay_ms") {
      if (auto v = ctx.readInteger(e, 0, kMaxMillis)) d.mockChunkDelayMs = *v;
    } else if (k == "stream_idle_timeout_ms") {
      if (auto v = ctx.readInteger(e, 1, kMaxMillis)) d.streamIdleTimeoutMs = *v;
    } else if (k == "ssl_verify") {
      // LiteLLM: true (system CAs), false (no verification) or a CA bundle path.
      if (auto b = ParseContext::plainBool(e.value)) {
        d.sslVerify = *b;
      } else if (auto path = ctx.readString(e)) {
        d.sslVerify = true;
        d.sslCaFile = std::move(*path);
      }
    } else if (k == "drop_params") {
      if (auto b = ParseContext::plainBool(e.value)) {
        d.dropParams = b;
      } else if (!e.value.IsNull()) {
        ctx.addProblem(e.path, e.line, "must be true or false");
      }
    } else if (k == "max_parallel_requests") {
      d.maxParallelRequests = ctx.readInteger(e, 1, INT32_MAX);  // 0 would refuse every request
    } else if (k == "input_cost_per_token") {
      d.inputCostPerToken = ctx.readNumber(e, 0, kMaxCostPerToken);
    } else if (k == "output_cost_per_token") {
      d.outputCostPerToken = ctx.readNumber(e, 0, kMaxCostPerToken);
    } else if (k == "tags") {
      parseTags(ctx, e, d);
    } else if (std::string* field = credentialField(d, k)) {
      if (auto v = ctx.readString(e)) {
        if (isSafeHeaderValue(*v) || k == "vertex_credentials") {
          *field = std::move(*v);
        } else {
          ctx.addProblem(e.path, e.line, "must not contain CR, LF or NUL");
        }
      }
    } else {
      ctx.notImplemented(e);
    }
  }
  const int line = params.line;  // missing keys: point at "litellm_params:"
  if (model == nullptr) {
    ctx.addProblem(params.path + ".model", line, "required field is missing");
  }
  if (d.provider == "hosted_vllm" && d.apiBase.empty()) {
    ctx.addProblem(params.path + ".api_base", line, "required for provider hosted_vllm");
  }
}

struct IdSite {
  std::string path;
  int line = 0;
};

// Returns where model_info.id is when it is given (and valid); sets d.id.
std::optional<IdSite> parseModelInfo(ParseContext& ctx, const Entry& info, Deployment& d) {
  std::optional<IdSite> site;
  for (const Entry& e : ctx.entries(info.value, info.path)) {
    if (e.key == "id") {
      std::optional<std::string> id = ctx.readString(e);  // "id:" with no value = not given
      if (id && id->empty()) {
        ctx.addProblem(e.path, e.line, "must not be empty");
      } else if (id) {
        d.id = *id;
        d.modelInfo[e.key] = std::move(*id);
        site = IdSite{e.path, e.line};
      }
      continue;
    }
    // Routing reads these; litellm_params prices, parsed before, win over model_info's.
    std::optional<std::string> typedText;  // for modelInfo, without resolving (and warning) twice
    if (e.key == "input_cost_per_token" || e.key == "output_cost_per_token") {
      std::optional<double>& price =
          e.key == "input_cost_per_token" ? d.inputCostPerToken : d.outputCostPerToken;
      std::optional<double> v = ctx.readNumber(e, 0, kMaxCostPerToken);
      if (v) typedText = fmt::format("{}", *v);
      if (!price) price = v;
    } else if (e.key == "max_input_tokens") {
      // Not max_tokens: in LiteLLM's price map that is a legacy field, usually the output limit.
      d.maxInputTokens = ctx.readInteger(e, 1, INT64_MAX);
      if (d.maxInputTokens) typedText = fmt::format("{}", *d.maxInputTokens);
    } else if (e.key == "base_model") {
      if (auto v = ctx.readString(e)) {
        d.baseModel = *v;
        d.modelInfo[e.key] = std::move(*v);
      }
      continue;
    } else if (e.key == "access_groups") {
      // Named sets of model groups that keys' `models` lists may grant at once.
      if (!e.value.IsSequence()) {
        if (!e.value.IsNull()) ctx.addProblem(e.path, e.line, "must be a list of names");
        continue;
      }
      for (size_t i = 0; i < e.value.size(); ++i) {
        Entry item{"", e.value[i], fmt::format("{}[{}]", e.path, i), lineOf(e.value[i])};
        if (auto v = ctx.readString(item)) {
          if (!v->empty()) d.accessGroups.push_back(std::move(*v));
        }
      }
      continue;
    } else {
      // Nested values (lists of tags, metadata maps) belong to later issues; keep only scalars.
      if (!e.value.IsScalar()) continue;
      if (auto v = ctx.readString(e)) d.modelInfo[e.key] = std::move(*v);
      continue;
    }
    if (typedText && e.value.IsScalar()) {
      const std::string& raw = e.value.Scalar();
      d.modelInfo[e.key] = raw.starts_with("os.environ/") ? std::move(*typedText) : raw;
    }
  }
  return site;
}

void parseDeployment(ParseContext& ctx, const YAML::Node& item, size_t index, Config& config,
                     std::map<std::string, IdSite>& ids) {
  const std::string path = fmt::format("model_list[{}]", index);
  const int line = lineOf(item);
  if (!item.IsMap()) {
    ctx.addProblem(path, line,
                   "must be a mapping with model_name and litellm_params, got " + describe(item));
    return;
  }
  Deployment d;
  const Entry* name = nullptr;
  const Entry* params = nullptr;
  const Entry* info = nullptr;
  const std::vector<Entry> entries = ctx.entries(item, path);
  for (const Entry& e : entries) {
    if (e.key == "model_name") {
      name = &e;
    } else if (e.key == "litellm_params") {
      params = &e;
    } else if (e.key == "model_info") {
      info = &e;
    } else {
      ctx.notImplemented(e);
    }
  }

  if (name == nullptr || name->value.IsNull()) {
    ctx.addProblem(path + ".model_name", name ? name->line : line, "required field is missing");
  } else if (auto v = ctx.readString(*name)) {
    if (v->empty()) ctx.addProblem(name->path, name->line, "must not be empty");
    d.modelName = std::move(*v);
  }

  if (params == nullptr || params->value.IsNull()) {
    ctx.addProblem(path + ".litellm_params", params ? params->line : line,
                   "required field is missing");
  } else if (!params->value.IsMap()) {
    ctx.addProblem(params->path, params->line, "must be a mapping, got " + describe(params->value));
  } else {
    parseLitellmParams(ctx, *params, d);
  }

  std::optional<IdSite> site;
  if (info != nullptr && ctx.expectMapOrNull(*info) && info->value.IsMap()) {
    site = parseModelInfo(ctx, *info, d);
  }
  if (!site) {
    d.id = fmt::format("{}/{}", d.modelName, index);
    site = IdSite{path, line};
  }
  auto [it, inserted] = ids.emplace(d.id, *site);
  if (!inserted) {
    ctx.addProblem(site->path, site->line,
                   fmt::format("duplicate deployment id '{}' (also {}, line {})", d.id,
                               it->second.path, it->second.line));
  }
  config.deployments.push_back(std::move(d));
}

}  // namespace

void parseModelList(ParseContext& ctx, const Entry* section, Config& config) {
  if (section == nullptr || section->value.IsNull() ||
      (section->value.IsSequence() && section->value.size() == 0)) {
    // LiteLLM can start without models (they may come from its database); llmux has no database,
    // so every request would fail, but the file is still valid.
    ctx.addWarning("model_list", section ? section->line : 0,
                   "no deployments configured; every model request will fail");
    return;
  }
  if (!section->value.IsSequence()) {
    ctx.addProblem(section->path, section->line,
                   "must be a sequence of deployments, got " + describe(section->value));
    return;
  }
  std::map<std::string, IdSite> ids;
  size_t index = 0;
  for (const auto& item : section->value) {
    parseDeployment(ctx, item, index++, config, ids);
  }
}

}  // namespace llmux::config::detail
