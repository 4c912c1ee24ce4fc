// OpenAI chat requests as Cohere v2 /v2/chat bodies (wire_formats.md §1.2, §6.3). The messages
// array is translated in messages.cpp; this file handles the top-level parameters.
#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "common/error.hpp"
#include "providers/cohere/cohere.hpp"
#include "providers/cohere/request_internal.hpp"

namespace llmux::providers::cohere {
namespace {

namespace dom = simdjson::dom;

using Elem = std::optional<dom::element>;

// The request's parameters, gathered in one pass over its members (null counts as absent: every
// OpenAI parameter is nullable). Later duplicates win, as in most JSON readers.
struct Params {
  Elem messages, tools, functions, toolChoice, functionCall, responseFormat, stop, temperature,
      topP, topK, seed, maxTokens, maxCompletionTokens, frequencyPenalty, presencePenalty,
      reasoningEffort;
  // Cohere-native keys a client may send directly (passed through as they are).
  Elem k, p, safetyMode, documents, citationOptions, strictTools, thinking;
};

// Cohere's `thinking` for an OpenAI reasoning_effort. Cohere's reasoning models think without a
// limit by default and recommend leaving at least 1K tokens of the output for the answer (31K is
// their suggested budget for "think as much as possible"), so the levels map to budgets:
//   none → {"type":"disabled"}          minimal → 1024      low → 4096      medium → 8192
//   high → 16384       xhigh → 24576    max → {"type":"enabled"} (no budget: unlimited)
// Sent only when the client asks; it is an error on models without reasoning, as upstream.
std::optional<std::string_view> thinkingFor(std::string_view effort) {
  if (effort == "none") return R"({"type":"disabled"})";
  if (effort == "minimal") return R"({"type":"enabled","token_budget":1024})";
  if (effort == "low") return R"({"type":"enabled","token_budget":4096})";
  if (effort == "medium") return R"({"type":"enabled","token_budget":8192})";
  if (effort == "high") return R"({"type":"enabled","token_budget":16384})";
  if (effort == "xhigh") return R"({"type":"enabled","token_budget":24576})";
  if (effort == "max") return R"({"type":"enabled"})";
  return std::nullopt;
}

bool isNumber(dom::element e) {
  return e.is_int64() || e.is_uint64() || e.is_double();
}

// The OpenAI parameters Cohere cannot honour; `detail` (may be empty) says why.
struct Rejecter {
  const RequestOptions& opts;
  UpstreamCall& out;
  std::optional<GatewayError> operator()(std::string_view name, std::string_view detail = {}) {
    if (opts.dropParams) {
      out.dropped.emplace_back(name);
      return std::nullopt;
    }
    return unsupportedParam(name, kProvider, detail);
  }
};

// Records `key`'s value in `p`, or rejects a parameter Cohere cannot honour.
std::optional<GatewayError> readParam(std::string_view key, dom::element v, Params& p,
                                      Rejecter& reject) {
  if (v.is_null()) return std::nullopt;
  if (key == "n") {
    int64_t n = 0;
    if (v.get_int64().get(n) != simdjson::SUCCESS || n != 1) {
      return reject("n", "Cohere returns one choice per request");
    }
  } else if (key == "logit_bias") {
    dom::object o;
    if (v.get_object().get(o) != simdjson::SUCCESS || o.size() != 0) return reject("logit_bias");
  } else if (key == "logprobs") {
    bool b = false;
    if (v.get_bool().get(b) != simdjson::SUCCESS || b) {
      return reject("logprobs", "Cohere's token log probabilities have no OpenAI form here");
    }
  } else if (key == "top_logprobs") {
    int64_t n = 0;
    if (v.get_int64().get(n) != simdjson::SUCCESS || n != 0) return reject("top_logprobs");
  } else if (key == "parallel_tool_calls") {
    bool b = true;
    if (v.get_bool().get(b) != simdjson::SUCCESS || !b) {
      return reject("parallel_tool_calls", "Cohere cannot limit a turn to one tool call");
    }
  } else if (key == "modalities") {
    dom::array a;
    bool textOnly = v.get_array().get(a) == simdjson::SUCCESS;
    if (textOnly) {
      for (dom::element m : a) {
        std::string_view s;
        textOnly = textOnly && m.get_string().get(s) == simdjson::SUCCESS && s == "text";
      }
    }
    if (!textOnly) return reject("modalities", "Cohere answers with text only");
  } else if (key == "audio" || key == "prediction" || key == "web_search_options" ||
             key == "verbosity") {
    return reject(key);
  } else if (key == "tool_choice" || key == "function_call") {
    // Cohere has REQUIRED and NONE (and its default, auto) but cannot force one named function.
    // A dropped one is left out: the model then chooses freely (Cohere's default).
    if (v.is_object()) {
      return reject(key,
                    "Cohere can require some tool (\"required\") or none, not a named function");
    }
    (key == "tool_choice" ? p.toolChoice : p.functionCall) = v;
  } else if (key == "tools") {
    p.tools = v;
    dom::array a;
    if (v.get_array().get(a) != simdjson::SUCCESS) return std::nullopt;  // 400 when emitted
    size_t i = 0;
    for (dom::element t : a) {
      std::string_view type;
      if (t["type"].get_string().get(type) == simdjson::SUCCESS && type != "function") {
        if (auto err = reject(fmt::format("tools[{}]", i), "Cohere takes function tools only")) {
          return err;
        }
      }
      ++i;
    }
  } else if (key == "messages") {
    p.messages = v;
  } else if (key == "functions") {
    p.functions = v;
  } else if (key == "response_format") {
    p.responseFormat = v;
  } else if (key == "stop") {
    p.stop = v;
  } else if (key == "temperature") {
    p.temperature = v;
  } else if (key == "top_p") {
    p.topP = v;
  } else if (key == "top_k") {
    p.topK = v;
  } else if (key == "seed") {
    p.seed = v;
  } else if (key == "max_tokens") {
    p.maxTokens = v;
  } else if (key == "max_completion_tokens") {
    p.maxCompletionTokens = v;
  } else if (key == "frequency_penalty") {
    p.frequencyPenalty = v;
  } else if (key == "presence_penalty") {
    p.presencePenalty = v;
  } else if (key == "reasoning_effort") {
    p.reasoningEffort = v;
  } else if (key == "k") {
    p.k = v;
  } else if (key == "p") {
    p.p = v;
  } else if (key == "safety_mode") {
    p.safetyMode = v;
  } else if (key == "documents") {
    p.documents = v;
  } else if (key == "citation_options") {
    p.citationOptions = v;
  } else if (key == "strict_tools") {
    p.strictTools = v;
  } else if (key == "thinking") {
    p.thinking = v;
  }
  // model and stream come from the options; stream_options, store, metadata, service_tier, user,
  // prompt_cache_key, safety_identifier and unknown keys have no Cohere meaning and are ignored.
  return std::nullopt;
}

// `,"name":<number>` for a numeric parameter; a 400 naming `param` otherwise.
std::optional<GatewayError> appendNumber(std::string& body, std::string_view name, dom::element v,
                                         std::string_view param) {
  if (!isNumber(v)) {
    return GatewayError::invalidRequest(fmt::format("'{}' must be a number.", param),
                                        std::string(param));
  }
  body += ",\"";
  body += name;
  body += "\":";
  body += simdjson::to_string(v);
  return std::nullopt;
}

std::optional<GatewayError> appendInteger(std::string& body, std::string_view name, dom::element v,
                                          std::string_view param, int64_t min) {
  int64_t n = 0;
  if (v.get_int64().get(n) != simdjson::SUCCESS || n < min) {
    return GatewayError::invalidRequest(
        fmt::format("'{}' must be an integer of at least {}.", param, min), std::string(param));
  }
  body += ",\"";
  body += name;
  body += "\":";
  body += simdjson::to_string(v);
  return std::nullopt;
}

// OpenAI's top_p is 0..1 (1 = no nucleus cut); Cohere's p is 0.01..0.99 and rejects 1, the value
// most clients send by default. The nearest value Cohere accepts keeps the client's intent.
std::optional<GatewayError> appendTopP(std::string& body, dom::element v, std::string_view param) {
  double d = 0;
  if (!isNumber(v) || v.get_double().get(d) != simdjson::SUCCESS) {
    return GatewayError::invalidRequest(fmt::format("'{}' must be a number.", param),
                                        std::string(param));
  }
  body += R"(,"p":)";
  if (d > 0.99) {
    body += "0.99";
  } else if (d < 0.01) {
    body += "0.01";
  } else {
    body += simdjson::to_string(v);
  }
  return std::nullopt;
}

std::optional<GatewayError> appendStop(std::string& body, dom::element v) {
  std::string_view s;
  if (v.get_string().get(s) == simdjson::SUCCESS) {
    body += R"(,"stop_sequences":[)";
    appendJsonString(body, s);
    body += "]";
    return std::nullopt;
  }
  dom::array a;
  if (v.get_array().get(a) != simdjson::SUCCESS) {
    return GatewayError::invalidRequest("'stop' must be a string or an array of strings.", "stop");
  }
  if (a.size() == 0) return std::nullopt;
  body += R"(,"stop_sequences":[)";
  bool first = true;
  for (dom::element e : a) {
    if (e.get_string().get(s) != simdjson::SUCCESS) {
      return GatewayError::invalidRequest("'stop' must be a string or an array of strings.",
                                          "stop");
    }
    if (!first) body += ',';
    first = false;
    appendJsonString(body, s);
  }
  body += "]";
  return std::nullopt;
}

std::optional<GatewayError> appendResponseFormat(std::string& body, dom::element v) {
  std::string_view type;
  if (v["type"].get_string().get(type) != simdjson::SUCCESS) {
    return GatewayError::invalidRequest("'response_format.type' must be a string.",
                                        "response_format.type");
  }
  if (type == "text") return std::nullopt;  // Cohere's default
  if (type == "json_object") {
    body += R"(,"response_format":{"type":"json_object"})";
    return std::nullopt;
  }
  if (type != "json_schema") {
    return GatewayError::invalidRequest(
        fmt::format("response_format type '{}' is not supported.", type), "response_format.type");
  }
  dom::element js;
  if (v["json_schema"].get(js) != simdjson::SUCCESS || !js.is_object()) {
    return GatewayError::invalidRequest("'response_format.json_schema' must be an object.",
                                        "response_format.json_schema");
  }
  // Cohere constrains the output with the bare schema; name, description and strict have no
  // Cohere field (its JSON mode always follows a given schema).
  dom::element schema;
  body += R"(,"response_format":{"type":"json_object")";
  if (js["schema"].get(schema) == simdjson::SUCCESS && schema.is_object()) {
    body += R"(,"json_schema":)";
    body += simdjson::to_string(schema);
  }
  body += "}";
  return std::nullopt;
}

// tool_choice (or the deprecated function_call) → Cohere's tool_choice; "auto" is the default.
std::optional<GatewayError> appendToolChoice(std::string& body, dom::element v,
                                             std::string_view param, bool haveTools) {
  std::string_view s;
  if (v.get_string().get(s) != simdjson::SUCCESS) {
    return GatewayError::invalidRequest(fmt::format("'{}' is not a valid tool choice.", param),
                                        std::string(param));
  }
  if (s == "auto") return std::nullopt;
  if (s == "none") {
    // Without tools there is nothing to forbid; Cohere rejects tool_choice without tools.
    if (haveTools) body += R"(,"tool_choice":"NONE")";
    return std::nullopt;
  }
  if (s == "required") {
    body += R"(,"tool_choice":"REQUIRED")";  // without tools Cohere answers 400, as OpenAI does
    return std::nullopt;
  }
  return GatewayError::invalidRequest(fmt::format("'{}' value '{}' is not supported.", param, s),
                                      std::string(param));
}

}  // namespace

namespace {

std::optional<GatewayError> build(dom::element request, const RequestOptions& opts,
                                  UpstreamCall& out) {
  dom::object req;
  if (request.get_object().get(req) != simdjson::SUCCESS) {
    return GatewayError::invalidRequest("The request body must be a JSON object.");
  }
  Params p;
  Rejecter reject{opts, out};
  for (dom::key_value_pair field : req) {
    if (auto err = readParam(field.key, field.value, p, reject)) return err;
  }
  if (!p.messages) return GatewayError::invalidRequest("'messages' is required.", "messages");

  std::string& body = out.body;
  body.reserve(4096);
  body += R"({"model":)";
  appendJsonString(body, opts.upstreamModel);
  body += R"(,"messages":)";
  if (auto err = appendMessages(body, *p.messages)) return err;

  // Tools (the deprecated `functions` only when `tools` is absent).
  bool haveTools = false;
  bool allStrict = true;
  if (p.tools) {
    if (auto err = appendTools(body, *p.tools, false, haveTools, allStrict)) return err;
  } else if (p.functions) {
    if (auto err = appendTools(body, *p.functions, true, haveTools, allStrict)) return err;
  }
  if (p.strictTools) {
    if (!p.strictTools->is_bool()) {
      return GatewayError::invalidRequest("'strict_tools' must be a boolean.", "strict_tools");
    }
    body += R"(,"strict_tools":)";
    body += simdjson::to_string(*p.strictTools);
  } else if (haveTools && allStrict) {
    // Cohere's strictness is per request; it is on only when every tool asked for it.
    body += R"(,"strict_tools":true)";
  }
  if (p.toolChoice) {
    if (auto err = appendToolChoice(body, *p.toolChoice, "tool_choice", haveTools)) return err;
  } else if (p.functionCall && !p.tools) {
    if (auto err = appendToolChoice(body, *p.functionCall, "function_call", haveTools)) {
      return err;
    }
  }
  if (p.responseFormat) {
    if (auto err = appendResponseFormat(body, *p.responseFormat)) return err;
  }
  // max_completion_tokens supersedes the deprecated max_tokens. Cohere needs neither.
  if (p.maxCompletionTokens) {
    if (auto err =
            appendInteger(body, "max_tokens", *p.maxCompletionTokens, "max_completion_tokens", 1)) {
      return err;
    }
  } else if (p.maxTokens) {
    if (auto err = appendInteger(body, "max_tokens", *p.maxTokens, "max_tokens", 1)) return err;
  }
  if (p.stop) {
    if (auto err = appendStop(body, *p.stop)) return err;
  }
  if (p.temperature) {
    if (auto err = appendNumber(body, "temperature", *p.temperature, "temperature")) return err;
  }
  if (p.topP) {
    if (auto err = appendTopP(body, *p.topP, "top_p")) return err;
  } else if (p.p) {
    if (auto err = appendNumber(body, "p", *p.p, "p")) return err;
  }
  if (p.topK || p.k) {
    const bool openAIName = p.topK.has_value();
    if (auto err =
            appendInteger(body, "k", openAIName ? *p.topK : *p.k, openAIName ? "top_k" : "k", 0)) {
      return err;
    }
  }
  if (p.seed) {
    if (auto err = appendInteger(body, "seed", *p.seed, "seed", INT64_MIN)) return err;
  }
  if (p.frequencyPenalty) {
    if (auto err =
            appendNumber(body, "frequency_penalty", *p.frequencyPenalty, "frequency_penalty")) {
      return err;
    }
  }
  if (p.presencePenalty) {
    if (auto err = appendNumber(body, "presence_penalty", *p.presencePenalty, "presence_penalty")) {
      return err;
    }
  }
  if (p.thinking) {
    // A native thinking object is the client's exact wish and wins over reasoning_effort.
    if (!p.thinking->is_object()) {
      return GatewayError::invalidRequest("'thinking' must be an object.", "thinking");
    }
    body += R"(,"thinking":)";
    body += simdjson::to_string(*p.thinking);
  } else if (p.reasoningEffort) {
    std::string_view effort;
    std::optional<std::string_view> thinking;
    if (p.reasoningEffort->get_string().get(effort) == simdjson::SUCCESS) {
      thinking = thinkingFor(effort);
    }
    if (!thinking) {
      return GatewayError::invalidRequest(
          "'reasoning_effort' must be one of none, minimal, low, medium, high, xhigh, max.",
          "reasoning_effort");
    }
    body += R"(,"thinking":)";
    body += *thinking;
  }
  // Other Cohere-native parameters, passed through for clients that know them.
  if (p.safetyMode) {
    std::string_view mode;
    if (p.safetyMode->get_string().get(mode) != simdjson::SUCCESS) {
      return GatewayError::invalidRequest("'safety_mode' must be a string.", "safety_mode");
    }
    body += R"(,"safety_mode":)";
    appendJsonString(body, mode);
  }
  if (p.documents) {
    if (!p.documents->is_array()) {
      return GatewayError::invalidRequest("'documents' must be an array.", "documents");
    }
    body += R"(,"documents":)";
    body += simdjson::to_string(*p.documents);
  }
  if (p.citationOptions) {
    if (!p.citationOptions->is_object()) {
      return GatewayError::invalidRequest("'citation_options' must be an object.",
                                          "citation_options");
    }
    body += R"(,"citation_options":)";
    body += simdjson::to_string(*p.citationOptions);
  }
  if (opts.stream) body += R"(,"stream":true)";
  body += "}";
  out.path = "/v2/chat";
  return std::nullopt;
}

}  // namespace

std::optional<GatewayError> buildRequest(dom::element request, const RequestOptions& opts,
                                         UpstreamCall& out) {
  out.clear();
  auto err = build(request, opts, out);
  if (err) out.clear();  // no half-built call next to an error
  return err;
}

}  // namespace llmux::providers::cohere
