// OpenAI chat requests as Gemini GenerateContent calls (wire_formats.md §3.2, §3.7): the request
// path and the generation parameters. Tools are translated in tools.cpp, messages in
// messages.cpp.
//
// Mapping decisions (the provider's docs are the final word; these follow them as of 2026):
// * tools[].function.parameters → functionDeclarations[].parametersJsonSchema, verbatim but for a
//   top-level "$schema". Both the Gemini API (v1beta) and Vertex AI (v1) document this field as
//   taking JSON Schema (additionalProperties, $ref/$defs, anyOf... included). The older
//   `parameters` field is a typed OpenAPI-subset proto that rejects any unknown keyword ("Unknown
//   name \"$schema\" ... Cannot find field"), so using it would mean a lossy schema rewrite.
//   "$schema" carries no meaning for the model and is dropped defensively.
// * response_format json_schema → responseMimeType "application/json" + responseJsonSchema (the
//   JSON Schema twin of the OpenAPI-subset responseSchema), same "$schema" handling.
// * reasoning_effort → generationConfig.thinkingConfig, with includeThoughts:true so thought
//   summaries come back as reasoning_content:
//     Gemini 3+ (by model id)  thinkingLevel: none|minimal → MINIMAL (Gemini 3 cannot switch
//                              thinking off; MINIMAL is its "no thinking" level, which some Pro
//                              models reject upstream), low → LOW, medium → MEDIUM,
//                              high|xhigh|max → HIGH.
//     other models             thinkingBudget: none → 0 (thinking off; 2.5 Pro rejects 0
//                              upstream), minimal → 512, low → 1024, medium → 8192,
//                              high|xhigh|max → 24576 (the 2.5 Flash maximum).
//   "none" sends no includeThoughts.
// * n → candidateCount; logprobs/top_logprobs → responseLogprobs/logprobs; stop → stopSequences.
// * parallel_tool_calls:false, logit_bias, audio output, prediction, web_search_options have no
//   Gemini equivalent: dropped under drop_params, else a 400 naming them.
// * Gemini-native extras passed through: top_k/topK, safety_settings/safetySettings (verbatim),
//   cached_content/cachedContent, and native tool objects in `tools` ({"googleSearch":{}},
//   {"codeExecution":{}}, {"urlContext":{}}, ... : entries without "type").
#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/text.hpp"
#include "providers/gemini/internal.hpp"

namespace llmux::providers::gemini::detail {

GatewayError badType(std::string_view param, std::string_view expected) {
  return GatewayError::invalidRequest(
      fmt::format("Invalid type for '{}': expected {}.", param, expected), std::string(param),
      "invalid_type");
}

GatewayError badValue(std::string_view param, std::string_view why) {
  return GatewayError::invalidRequest(fmt::format("Invalid value for '{}': {}.", param, why),
                                      std::string(param), "invalid_value");
}

namespace {

bool isAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// A value from config that goes into the request path: no separators, queries or escapes.
bool isSafePathPart(std::string_view s, bool allowSlash) {
  if (s.empty() || s.find("..") != std::string_view::npos) return false;
  for (char c : s) {
    if (!isAlnum(c) && c != '-' && c != '_' && c != '.' && c != '@' && !(allowSlash && c == '/')) {
      return false;
    }
  }
  return s.front() != '/' && s.back() != '/';
}

bool isNull(const std::optional<dom::element>& e) {
  return !e || e->is_null();
}

struct Params {
  std::optional<dom::element> messages, tools, toolChoice, functions, functionCall, responseFormat,
      stop, temperature, topP, topK, seed, n, maxTokens, maxCompletionTokens, presencePenalty,
      frequencyPenalty, reasoningEffort, logprobs, topLogprobs, safetySettings, cachedContent;
};

class Builder {
 public:
  Builder(Api api, const RequestOptions& opts, UpstreamCall& out)
      : api_(api), opts_(opts), out_(out) {}

  std::optional<GatewayError> run(dom::element request);

 private:
  std::optional<GatewayError> unsupported(std::string_view param, std::string_view detail = {}) {
    if (opts_.dropParams) {
      out_.dropped.emplace_back(param);
      return std::nullopt;
    }
    return unsupportedParam(param, providerName(api_), detail);
  }
  std::optional<GatewayError> readParams(dom::object req);
  std::optional<GatewayError> buildPath();
  std::optional<GatewayError> buildGenerationConfig();
  std::optional<GatewayError> number(std::string_view param, const std::optional<dom::element>& e,
                                     std::string_view field, bool integer);
  std::optional<GatewayError> thinking();

  Api api_;
  const RequestOptions& opts_;
  UpstreamCall& out_;
  Params p_;
  int major_ = 0;
  ToolsBody tools_;
  std::string gen_;  // generationConfig members, comma-separated
};

std::optional<GatewayError> Builder::readParams(dom::object req) {
  for (dom::key_value_pair field : req) {
    const std::string_view k = field.key;
    const dom::element v = field.value;
    if (k == "messages") {
      p_.messages = v;
    } else if (k == "tools") {
      p_.tools = v;
    } else if (k == "tool_choice") {
      p_.toolChoice = v;
    } else if (k == "functions") {
      p_.functions = v;
    } else if (k == "function_call") {
      p_.functionCall = v;
    } else if (k == "response_format") {
      p_.responseFormat = v;
    } else if (k == "stop") {
      p_.stop = v;
    } else if (k == "temperature") {
      p_.temperature = v;
    } else if (k == "top_p") {
      p_.topP = v;
    } else if (k == "top_k" || k == "topK") {
      p_.topK = v;
    } else if (k == "seed") {
      p_.seed = v;
    } else if (k == "n") {
      p_.n = v;
    } else if (k == "max_tokens") {
      p_.maxTokens = v;
    } else if (k == "max_completion_tokens") {
      p_.maxCompletionTokens = v;
    } else if (k == "presence_penalty") {
      p_.presencePenalty = v;
    } else if (k == "frequency_penalty") {
      p_.frequencyPenalty = v;
    } else if (k == "reasoning_effort") {
      p_.reasoningEffort = v;
    } else if (k == "logprobs") {
      p_.logprobs = v;
    } else if (k == "top_logprobs") {
      p_.topLogprobs = v;
    } else if (k == "safety_settings" || k == "safetySettings") {
      p_.safetySettings = v;
    } else if (k == "cached_content" || k == "cachedContent") {
      p_.cachedContent = v;
    } else if (k == "parallel_tool_calls") {
      // Gemini decides on its own how many calls to make; only the default can be honoured.
      bool parallel = true;
      if (!v.is_null() && v.get(parallel) != simdjson::SUCCESS) return badType(k, "a boolean");
      dom::array tools;
      if (!parallel && req["tools"].get(tools) == simdjson::SUCCESS && tools.size() > 0) {
        if (auto e = unsupported(k, "Gemini cannot be told to make at most one tool call")) {
          return e;
        }
      }
    } else if (k == "logit_bias") {
      dom::object bias;
      if (!v.is_null() && (v.get(bias) != simdjson::SUCCESS || bias.size() > 0)) {
        if (auto e = unsupported(k)) return e;
      }
    } else if (k == "modalities") {
      dom::array mods;
      if (v.is_null()) continue;
      if (v.get(mods) != simdjson::SUCCESS) return badType(k, "an array of strings");
      for (dom::element m : mods) {
        std::string_view s;
        if (m.get(s) != simdjson::SUCCESS || s != "text") {
          if (auto e = unsupported(k, "only text output is supported")) return e;
          break;
        }
      }
    } else if (k == "audio" || k == "prediction" || k == "web_search_options") {
      if (!v.is_null()) {
        if (auto e = unsupported(k)) return e;
      }
    }
    // Everything else (stream, stream_options, user, store, metadata, service_tier,
    // prompt_cache_key, safety_identifier, verbosity, unknown keys...) has no Gemini form.
  }
  return std::nullopt;
}

std::optional<GatewayError> Builder::buildPath() {
  const bool vertex = api_ == Api::Vertex;
  std::string_view version =
      opts_.apiVersion.empty() ? (vertex ? "v1" : "v1beta") : opts_.apiVersion;
  std::string_view model = opts_.upstreamModel;
  if (!isSafePathPart(version, false)) return badValue("api_version", "not an API version");
  // Tuned models and explicit "models/..." ids keep their collection; bare ids are models/<id>.
  const bool hasCollection =
      !vertex && (model.starts_with("models/") || model.starts_with("tunedModels/"));
  if (!isSafePathPart(model, hasCollection)) {
    return badValue("model", "the upstream model id is empty or has characters a path cannot hold");
  }
  std::string& path = out_.path;
  path = "/";
  path += version;
  if (vertex) {
    if (opts_.project.empty() || opts_.location.empty()) {
      return GatewayError::internal(
          "This Vertex AI deployment has no vertex_project or vertex_location configured.");
    }
    if (!isSafePathPart(opts_.project, false) || !isSafePathPart(opts_.location, false)) {
      return GatewayError::internal(
          "The deployment's vertex_project or vertex_location is invalid.");
    }
    path += "/projects/";
    path += opts_.project;
    path += "/locations/";
    path += opts_.location;
    path += "/publishers/google/models/";
  } else {
    path += hasCollection ? "/" : "/models/";
  }
  path += model;
  path += opts_.stream ? ":streamGenerateContent?alt=sse" : ":generateContent";
  return std::nullopt;
}

// Appends `"field":<number>` to generationConfig for a numeric parameter (nothing when null).
std::optional<GatewayError> Builder::number(std::string_view param,
                                            const std::optional<dom::element>& e,
                                            std::string_view field, bool integer) {
  if (isNull(e)) return std::nullopt;
  if (integer ? !e->is_int64() : !e->is_number()) {
    return badType(param, integer ? "an integer" : "a number");
  }
  if (!gen_.empty()) gen_.push_back(',');
  appendJsonString(gen_, field);
  gen_.push_back(':');
  gen_ += simdjson::to_string(*e);
  return std::nullopt;
}

std::optional<GatewayError> Builder::thinking() {
  if (isNull(p_.reasoningEffort)) return std::nullopt;
  std::string_view effort;
  if (p_.reasoningEffort->get(effort) != simdjson::SUCCESS) {
    return badType("reasoning_effort", "a string");
  }
  struct Level {
    std::string_view effort, level;
    int budget;
  };
  static constexpr Level kLevels[] = {
      {"none", "MINIMAL", 0},     {"minimal", "MINIMAL", 512}, {"low", "LOW", 1024},
      {"medium", "MEDIUM", 8192}, {"high", "HIGH", 24576},     {"xhigh", "HIGH", 24576},
      {"max", "HIGH", 24576},
  };
  const Level* found = nullptr;
  for (const Level& l : kLevels) {
    if (l.effort == effort) found = &l;
  }
  if (found == nullptr) {
    return badValue("reasoning_effort", "expected none, minimal, low, medium, high or xhigh");
  }
  if (!gen_.empty()) gen_.push_back(',');
  gen_ += R"("thinkingConfig":{)";
  if (major_ >= 3) {
    gen_ += R"("thinkingLevel":")";
    gen_ += found->level;
    gen_.push_back('"');
  } else {
    gen_ += R"("thinkingBudget":)";
    appendDecimal(gen_, found->budget);
  }
  if (effort != "none") gen_ += R"(,"includeThoughts":true)";
  gen_.push_back('}');
  return std::nullopt;
}

std::optional<GatewayError> Builder::buildGenerationConfig() {
  if (!isNull(p_.stop)) {
    std::string seqs;
    std::string_view s;
    dom::array arr;
    if (p_.stop->get(s) == simdjson::SUCCESS) {
      if (!s.empty()) appendJsonString(seqs, s);
    } else if (p_.stop->get(arr) == simdjson::SUCCESS) {
      for (dom::element e : arr) {
        if (e.get(s) != simdjson::SUCCESS) return badType("stop", "a string or array of strings");
        if (s.empty()) continue;
        if (!seqs.empty()) seqs.push_back(',');
        appendJsonString(seqs, s);
      }
    } else {
      return badType("stop", "a string or array of strings");
    }
    if (!seqs.empty()) {
      gen_ += R"("stopSequences":[)";
      gen_ += seqs;
      gen_.push_back(']');
    }
  }
  if (auto e = number("temperature", p_.temperature, "temperature", false)) return e;
  if (auto e = number("top_p", p_.topP, "topP", false)) return e;
  if (auto e = number("top_k", p_.topK, "topK", true)) return e;
  if (auto e = number("n", p_.n, "candidateCount", true)) return e;
  // max_completion_tokens supersedes the deprecated max_tokens when both are sent.
  const bool mct = !isNull(p_.maxCompletionTokens);
  if (auto e = number(mct ? "max_completion_tokens" : "max_tokens",
                      mct ? p_.maxCompletionTokens : p_.maxTokens, "maxOutputTokens", true)) {
    return e;
  }
  if (auto e = number("presence_penalty", p_.presencePenalty, "presencePenalty", false)) return e;
  if (auto e = number("frequency_penalty", p_.frequencyPenalty, "frequencyPenalty", false)) {
    return e;
  }
  if (auto e = number("seed", p_.seed, "seed", true)) return e;

  if (!isNull(p_.responseFormat)) {
    dom::object rf;
    std::string_view type;
    if (p_.responseFormat->get(rf) != simdjson::SUCCESS ||
        rf["type"].get(type) != simdjson::SUCCESS) {
      return badType("response_format", R"(an object with a "type")");
    }
    if (type == "json_object" || type == "json_schema") {
      if (!gen_.empty()) gen_.push_back(',');
      gen_ += R"("responseMimeType":"application/json")";
      dom::object schema;
      if (type == "json_schema" && rf["json_schema"]["schema"].get(schema) == simdjson::SUCCESS) {
        gen_ += R"(,"responseJsonSchema":)";
        appendSchema(gen_, schema);
      }
    } else if (type != "text") {
      return badValue("response_format.type", R"(expected "text", "json_object" or "json_schema")");
    }
  }

  bool logprobs = false;
  if (!isNull(p_.logprobs) && p_.logprobs->get(logprobs) != simdjson::SUCCESS) {
    return badType("logprobs", "a boolean");
  }
  if (logprobs) {
    if (!gen_.empty()) gen_.push_back(',');
    gen_ += R"("responseLogprobs":true)";
    if (auto e = number("top_logprobs", p_.topLogprobs, "logprobs", true)) return e;
  }
  return thinking();
}

std::optional<GatewayError> Builder::run(dom::element request) {
  dom::object req;
  if (request.get(req) != simdjson::SUCCESS) {
    return GatewayError::invalidRequest("The request body must be a JSON object.");
  }
  if (auto e = readParams(req)) return e;
  if (auto e = buildPath()) return e;
  major_ = geminiMajorVersion(opts_.upstreamModel);

  dom::array messages;
  if (isNull(p_.messages) || p_.messages->get(messages) != simdjson::SUCCESS ||
      messages.size() == 0) {
    return GatewayError::invalidRequest("'messages' must be a non-empty array.", "messages");
  }
  std::string contents;
  std::string systemParts;
  if (auto e = buildContents(messages, major_, contents, systemParts)) return e;

  if (auto e = buildTools(api_, opts_.dropParams,
                          {p_.tools, p_.toolChoice, p_.functions, p_.functionCall}, tools_,
                          out_.dropped)) {
    return e;
  }
  if (auto e = buildGenerationConfig()) return e;

  std::string& body = out_.body;
  body.reserve(contents.size() + systemParts.size() + tools_.declarations.size() + gen_.size() +
               256);
  body = R"({"contents":)";
  body += contents;
  if (!systemParts.empty()) {
    body += R"(,"systemInstruction":{"parts":[)";
    body += systemParts;
    body += "]}";
  }
  if (!tools_.declarations.empty() || !tools_.nativeTools.empty()) {
    body += R"(,"tools":[)";
    if (!tools_.declarations.empty()) {
      body += R"({"functionDeclarations":[)";
      body += tools_.declarations;
      body += "]}";
      if (!tools_.nativeTools.empty()) body.push_back(',');
    }
    body += tools_.nativeTools;
    body.push_back(']');
  }
  // A function-calling mode without declarations is an upstream 400; nothing to configure then.
  if (!tools_.toolConfig.empty() && !tools_.declarations.empty()) {
    body += R"(,"toolConfig":{"functionCallingConfig":)";
    body += tools_.toolConfig;
    body.push_back('}');
  }
  if (!isNull(p_.safetySettings)) {
    if (!p_.safetySettings->is_array()) return badType("safety_settings", "an array");
    body += R"(,"safetySettings":)";
    body += simdjson::to_string(*p_.safetySettings);
  }
  if (!isNull(p_.cachedContent)) {
    std::string_view name;
    if (p_.cachedContent->get(name) != simdjson::SUCCESS) {
      return badType("cached_content", "a string");
    }
    body += R"(,"cachedContent":)";
    appendJsonString(body, name);
  }
  if (!gen_.empty()) {
    body += R"(,"generationConfig":{)";
    body += gen_;
    body.push_back('}');
  }
  body.push_back('}');
  return std::nullopt;
}

}  // namespace

std::string_view providerName(Api api) {
  return api == Api::Vertex ? "vertex_ai" : "gemini";
}

int geminiMajorVersion(std::string_view model) {
  const size_t slash = model.rfind('/');
  if (slash != std::string_view::npos) model.remove_prefix(slash + 1);
  if (!model.starts_with("gemini-")) return 0;
  model.remove_prefix(7);
  int major = 0;
  size_t i = 0;
  for (; i < model.size() && i < 3 && model[i] >= '0' && model[i] <= '9'; ++i) {
    major = major * 10 + (model[i] - '0');
  }
  // "gemini-3-pro", "gemini-2.5-flash"; anything else ("gemini-exp-1206") is unknown.
  if (i == 0 || (i < model.size() && model[i] != '.' && model[i] != '-')) return 0;
  return major;
}

std::optional<GatewayError> buildRequest(Api api, dom::element request, const RequestOptions& opts,
                                         UpstreamCall& out) {
  out.clear();
  Builder b(api, opts, out);
  auto err = b.run(request);
  if (err) out.clear();
  return err;
}

}  // namespace llmux::providers::gemini::detail
