// OpenAI chat requests as Anthropic Messages calls (wire_formats.md §2.1, §2.2, §2.6). Messages
// are converted in messages.cpp; this file maps the top-level parameters:
//
//  max_completion_tokens, else max_tokens, else opts.defaultMaxTokens → max_tokens (required by
//    Anthropic). With thinking on, max_tokens must exceed budget_tokens: a max_tokens at or below
//    the budget is raised to budget + max_tokens, so the visible answer keeps what the client
//    asked for.
//  reasoning_effort → thinking {"type":"enabled","budget_tokens":B} with B = 1024 for minimal and
//    low (Anthropic's minimum), 2048 medium, 4096 high, 8192 xhigh, 16384 max; "none" sends no
//    thinking, nor does a forced tool_choice (required or named: Anthropic rejects thinking
//    with forced tool use). A native `thinking` object wins over reasoning_effort and is passed
//    as is. (The newest models want {"type":"adaptive"} plus output_config.effort instead;
//    clients that target them send those natively.)
//  response_format json_schema → output_config.format {"type":"json_schema","schema":...}, the
//    structured-output mechanism Anthropic documents (GA; the beta `output_format` it replaced is
//    not used). The answer is ordinary text holding the JSON, so responses and streams need no
//    unwrapping, unlike the older forced-tool workaround. json_object (and a json_schema without a
//    schema) has no Anthropic form: unsupported. "text" is the default and sends nothing.
//  tools[].function {name, description, parameters} → {name, description, input_schema}
//    (parameters default to an empty object schema; `strict` is not forwarded because models
//    without structured outputs reject it); non-function entries (Anthropic server/client tools
//    such as web_search_20250305) pass through verbatim; deprecated `functions` are used when
//    `tools` is absent. cache_control on a tool is carried over.
//  tool_choice auto/none/required/{function} → {"type":"auto"|"none"|"any"|"tool","name"}, and the
//    deprecated function_call likewise; parallel_tool_calls:false → disable_parallel_tool_use
//    (with {"type":"auto"} when no choice was given). No tool_choice is sent without tools.
//  stop (string or list) → stop_sequences; temperature (clamped to Anthropic's 0..1), top_p and
//    the native top_k pass through; user (else safety_identifier) → metadata.user_id; stream.
//  Native Anthropic keys passed through: top_k, thinking, output_config (merged with the format
//    above), stop_sequences (when no stop), cache_control (top-level automatic caching),
//    container, inference_geo.
//  Unsupported, dropped under drop_params or else a 400 naming them: n>1, logprobs,
//    top_logprobs, logit_bias, frequency_penalty, presence_penalty, seed, audio, non-text
//    modalities, prediction, web_search_options, json_object response_format, allowed_tools and
//    custom tool_choice. OpenAI-only bookkeeping (stream_options, store, metadata, service_tier,
//    prompt_cache_key, prompt_cache_retention, verbosity) is ignored.
#include <fmt/format.h>
#include <simdjson.h>

#include <cmath>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "common/text.hpp"
#include "providers/anthropic/anthropic.hpp"
#include "providers/anthropic/request_internal.hpp"

namespace llmux::providers::anthropic {
namespace {

namespace dom = simdjson::dom;
using Err = std::optional<GatewayError>;

constexpr std::string_view kApiVersion = "2023-06-01";
constexpr std::string_view kVertexVersion = "vertex-2023-10-16";

GatewayError invalid(std::string message, std::string param) {
  return GatewayError::invalidRequest(std::move(message), std::move(param));
}

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

// "YYYY-MM-DD", the shape of every anthropic-version value.
bool isDateVersion(std::string_view v) {
  if (v.size() != 10 || v[4] != '-' || v[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!isDigit(v[i])) return false;
  }
  return true;
}

// Percent-encodes a path segment taken from config (model ids such as "claude-x@20250101" stay
// readable; '/', ':', '?', '#', spaces and control bytes cannot alter the request target).
void appendSegment(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isDigit(ch) ||
                       ch == '-' || ch == '.' || ch == '_' || ch == '~' || ch == '@';
    if (plain) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
}

// A whole number (integral doubles such as 1024.0 included) in [1, 2^53].
std::optional<int64_t> readCount(dom::element e) {
  int64_t i = 0;
  if (e.get_int64().get(i) == simdjson::SUCCESS) {
    if (i >= 1 && i <= (int64_t{1} << 53)) return i;
    return std::nullopt;
  }
  double d = 0;
  if (e.is_double() && e.get_double().get(d) == simdjson::SUCCESS && d >= 1 &&
      d <= static_cast<double>(int64_t{1} << 53) && std::floor(d) == d) {
    return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

std::optional<int64_t> budgetFor(std::string_view effort, bool& known) {
  known = true;
  if (effort == "none") return std::nullopt;
  if (effort == "minimal" || effort == "low") return 1024;
  if (effort == "medium") return 2048;
  if (effort == "high") return 4096;
  if (effort == "xhigh") return 8192;
  if (effort == "max") return 16384;
  known = false;
  return std::nullopt;
}

bool isZeroNumber(dom::element e) {
  double d = 1;
  return e.get_double().get(d) == simdjson::SUCCESS && d == 0;
}

bool isIntEqual(dom::element e, int64_t want) {
  int64_t i = 0;
  return e.get_int64().get(i) == simdjson::SUCCESS && i == want;
}

// The request members this translator reads, null members left out.
struct Params {
  std::optional<dom::element> messages, tools, functions, toolChoice, functionCall, parallel,
      jsonSchema, stop, stopSequences, temperature, topP, topK, maxTokens, maxCompletionTokens,
      reasoningEffort, thinking, outputConfig, user, safetyIdentifier, cacheControl, container,
      inferenceGeo;
};

std::optional<dom::element>* slotFor(Params& p, std::string_view key) {
  if (key == "messages") return &p.messages;
  if (key == "tools") return &p.tools;
  if (key == "functions") return &p.functions;
  if (key == "tool_choice") return &p.toolChoice;
  if (key == "function_call") return &p.functionCall;
  if (key == "parallel_tool_calls") return &p.parallel;
  if (key == "stop") return &p.stop;
  if (key == "stop_sequences") return &p.stopSequences;
  if (key == "temperature") return &p.temperature;
  if (key == "top_p") return &p.topP;
  if (key == "top_k") return &p.topK;
  if (key == "max_tokens") return &p.maxTokens;
  if (key == "max_completion_tokens") return &p.maxCompletionTokens;
  if (key == "reasoning_effort") return &p.reasoningEffort;
  if (key == "thinking") return &p.thinking;
  if (key == "output_config") return &p.outputConfig;
  if (key == "user") return &p.user;
  if (key == "safety_identifier") return &p.safetyIdentifier;
  if (key == "cache_control") return &p.cacheControl;
  if (key == "container") return &p.container;
  if (key == "inference_geo") return &p.inferenceGeo;
  return nullptr;
}

// Why an OpenAI parameter cannot be honoured, or empty when its value is harmless.
std::string_view unsupportedReason(std::string_view key, dom::element v) {
  if (key == "n") return isIntEqual(v, 1) ? "" : "one choice per request";
  if (key == "logprobs") {
    bool on = true;
    return v.get_bool().get(on) == simdjson::SUCCESS && !on ? "" : "no logprobs";
  }
  if (key == "top_logprobs") return isIntEqual(v, 0) ? "" : "no logprobs";
  if (key == "logit_bias") {
    dom::object o;
    return v.get_object().get(o) == simdjson::SUCCESS && o.size() == 0 ? "" : "no logit_bias";
  }
  if (key == "frequency_penalty" || key == "presence_penalty") {
    return isZeroNumber(v) ? "" : "no penalties";
  }
  if (key == "seed") return "no seed";
  if (key == "audio") return "no audio output";
  if (key == "prediction") return "no predicted outputs";
  if (key == "web_search_options") return "send Anthropic's web_search tool instead";
  if (key == "modalities") {
    dom::array a;
    if (v.get_array().get(a) != simdjson::SUCCESS) return "text output only";
    for (dom::element m : a) {
      std::string_view s;
      if (m.get_string().get(s) != simdjson::SUCCESS || s != "text") return "text output only";
    }
    return "";
  }
  return "";
}

// Reads the members in body order, so that out.dropped lists them in that order.
Err readParams(dom::object req, const RequestOptions& opts, std::string_view provider, Params& p,
               UpstreamCall& out) {
  auto unsupported = [&](std::string_view key, std::string_view why) -> Err {
    if (opts.dropParams) {
      out.dropped.emplace_back(key);
      return std::nullopt;
    }
    return unsupportedParam(key, provider, why);
  };
  for (auto [key, value] : req) {
    if (value.is_null()) continue;
    if (key == "tool_choice" && value.is_object()) {
      // allowed_tools / custom tool choices have no Anthropic form.
      std::string_view type;
      (void)value["type"].get_string().get(type);
      if (type == "allowed_tools" || type == "custom") {
        p.toolChoice.reset();
        if (auto err = unsupported(key, "only auto, none, required or a named function")) {
          return err;
        }
        continue;
      }
    }
    if (auto* slot = slotFor(p, key)) {
      *slot = value;
      continue;
    }
    if (key == "response_format") {
      std::string_view type;
      if (value["type"].get_string().get(type) != simdjson::SUCCESS) {
        return invalid("response_format needs a string 'type'.", "response_format.type");
      }
      if (type == "text") continue;
      dom::element schema;
      if (type == "json_schema" &&
          value["json_schema"]["schema"].get(schema) == simdjson::SUCCESS && schema.is_object()) {
        p.jsonSchema = schema;
        continue;
      }
      if (type == "json_schema" || type == "json_object") {
        if (auto err = unsupported(key, "JSON output needs a json_schema with a schema")) {
          return err;
        }
        continue;
      }
      return invalid(fmt::format("Unknown response_format type '{}'.", type),
                     "response_format.type");
    }
    const std::string_view why = unsupportedReason(key, value);
    if (!why.empty()) {
      if (auto err = unsupported(key, why)) return err;
    }
  }
  return std::nullopt;
}

Err appendNumber(std::string& body, std::string_view key, const std::optional<dom::element>& v,
                 double max) {
  if (!v) return std::nullopt;
  double d = 0;
  if (v->get_double().get(d) != simdjson::SUCCESS) {
    return invalid(fmt::format("{} must be a number.", key), std::string(key));
  }
  body += ",\"";
  body += key;
  body += "\":";
  if (d > max) {
    body += "1";
  } else {
    detail::appendRaw(body, *v);
  }
  return std::nullopt;
}

Err build(dom::element request, const RequestOptions& opts, Flavor flavor, UpstreamCall& out) {
  const std::string_view provider = flavor == Flavor::Vertex ? "vertex_ai" : "anthropic";
  dom::object req;
  if (request.get_object().get(req) != simdjson::SUCCESS) {
    return invalid("The request body must be a JSON object.", "body");
  }
  Params p;
  if (auto err = readParams(req, opts, provider, p, out)) return err;

  // max_tokens, and the thinking budget it must exceed.
  int64_t maxTokens = opts.defaultMaxTokens > 0 ? opts.defaultMaxTokens : 4096;
  for (auto [slot, name] : {std::pair{&p.maxCompletionTokens, "max_completion_tokens"},
                            std::pair{&p.maxTokens, "max_tokens"}}) {
    if (!*slot) continue;
    const auto n = readCount(**slot);
    if (!n) return invalid(fmt::format("{} must be a positive integer.", name), name);
    maxTokens = *n;
    break;
  }
  std::optional<int64_t> budget;
  std::string thinking;
  bool thinkingFromEffort = false;
  if (p.thinking) {
    if (!p.thinking->is_object()) return invalid("thinking must be an object.", "thinking");
    detail::appendRaw(thinking, *p.thinking);
    std::string_view type;
    dom::element b;
    if ((*p.thinking)["type"].get_string().get(type) == simdjson::SUCCESS && type == "enabled" &&
        (*p.thinking)["budget_tokens"].get(b) == simdjson::SUCCESS) {
      budget = readCount(b);
    }
  } else if (p.reasoningEffort) {
    std::string_view effort;
    bool known = false;
    if (p.reasoningEffort->get_string().get(effort) == simdjson::SUCCESS) {
      budget = budgetFor(effort, known);
    }
    if (!known) {
      return invalid("reasoning_effort must be none, minimal, low, medium, high, xhigh or max.",
                     "reasoning_effort");
    }
    if (budget) {
      thinkingFromEffort = true;
      thinking = R"({"type":"enabled","budget_tokens":)";
      appendDecimal(thinking, *budget);
      thinking.push_back('}');
    }
  }

  // The conversation.
  dom::array messages;
  if (!p.messages || p.messages->get_array().get(messages) != simdjson::SUCCESS) {
    return invalid("messages must be an array.", "messages");
  }
  dom::parser scratch;
  detail::MessageContext ctx{provider, flavor == Flavor::Direct, &scratch};
  std::string system;
  std::string msgs;
  if (auto err = detail::convertMessages(messages, ctx, system, msgs)) return err;

  // Tools and the choice among them.
  std::string tools;
  const bool legacyTools = !p.tools && p.functions;
  if (const auto& list = legacyTools ? p.functions : p.tools) {
    dom::array arr;
    if (list->get_array().get(arr) != simdjson::SUCCESS) {
      return invalid("tools must be an array.", legacyTools ? "functions" : "tools");
    }
    size_t k = 0;
    for (dom::element t : arr) {
      if (!tools.empty()) tools.push_back(',');
      if (auto err = detail::appendTool(tools, t, legacyTools, k++, provider)) return err;
    }
  }
  std::string toolChoice;
  if (auto err = detail::toolChoiceOf(p.toolChoice, p.functionCall, p.parallel, toolChoice)) {
    return err;
  }
  // Anthropic rejects thinking with a forced tool; OpenAI takes reasoning_effort with any
  // tool_choice. The forced call is what the client cannot do without, so the effort goes.
  if (thinkingFromEffort && !tools.empty() &&
      (toolChoice.starts_with(R"({"type":"any")") || toolChoice.starts_with(R"({"type":"tool")"))) {
    thinking.clear();
    budget.reset();
  }
  if (budget && maxTokens <= *budget) maxTokens += *budget;

  // The body.
  std::string& body = out.body;
  body.reserve(msgs.size() + system.size() + tools.size() + 512);
  if (flavor == Flavor::Vertex) {
    body = R"({"anthropic_version":)";
    appendJsonString(
        body, opts.apiVersion.starts_with("vertex-") && isDateVersion(opts.apiVersion.substr(7))
                  ? opts.apiVersion
                  : kVertexVersion);
  } else {
    body = R"({"model":)";
    appendJsonString(body, opts.upstreamModel);
  }
  body += R"(,"max_tokens":)";
  appendDecimal(body, maxTokens);
  if (!system.empty()) {
    body += R"(,"system":)";
    body += system;
  }
  body += R"(,"messages":)";
  body += msgs;
  if (!tools.empty()) {
    body += R"(,"tools":[)";
    body += tools;
    body += "]";
    if (!toolChoice.empty()) {
      body += R"(,"tool_choice":)";
      body += toolChoice;
    }
  }
  if (p.stop) {
    std::string_view s;
    dom::array arr;
    if (p.stop->get_string().get(s) == simdjson::SUCCESS) {
      body += R"(,"stop_sequences":[)";
      appendJsonString(body, s);
      body += "]";
    } else if (p.stop->get_array().get(arr) == simdjson::SUCCESS) {
      std::string seqs;
      for (dom::element e : arr) {
        if (e.get_string().get(s) != simdjson::SUCCESS) {
          return invalid("stop must be a string or an array of strings.", "stop");
        }
        if (!seqs.empty()) seqs.push_back(',');
        appendJsonString(seqs, s);
      }
      if (!seqs.empty()) body += R"(,"stop_sequences":[)" + seqs + "]";
    } else {
      return invalid("stop must be a string or an array of strings.", "stop");
    }
  } else if (p.stopSequences && p.stopSequences->is_array()) {
    body += R"(,"stop_sequences":)";
    detail::appendRaw(body, *p.stopSequences);
  }
  if (auto err = appendNumber(body, "temperature", p.temperature, 1.0)) return err;
  if (auto err = appendNumber(body, "top_p", p.topP, 1.0)) return err;
  if (p.topK) {
    if (!p.topK->is_int64() && !p.topK->is_uint64()) {
      return invalid("top_k must be an integer.", "top_k");
    }
    body += R"(,"top_k":)";
    detail::appendRaw(body, *p.topK);
  }
  if (!thinking.empty()) {
    body += R"(,"thinking":)";
    body += thinking;
  }
  dom::object nativeOutput;
  const bool hasNativeOutput =
      p.outputConfig && p.outputConfig->get_object().get(nativeOutput) == simdjson::SUCCESS;
  if (p.jsonSchema || hasNativeOutput) {
    std::string cfg;
    if (hasNativeOutput) {
      for (auto [key, value] : nativeOutput) {
        if (key == "format" && p.jsonSchema) continue;
        if (!cfg.empty()) cfg.push_back(',');
        appendJsonString(cfg, key);
        cfg.push_back(':');
        detail::appendRaw(cfg, value);
      }
    }
    if (p.jsonSchema) {
      if (!cfg.empty()) cfg.push_back(',');
      cfg += R"("format":{"type":"json_schema","schema":)";
      detail::appendRaw(cfg, *p.jsonSchema);
      cfg.push_back('}');
    }
    body += R"(,"output_config":{)" + cfg + "}";
  }
  std::string_view userId;
  if ((p.user && p.user->get_string().get(userId) == simdjson::SUCCESS && !userId.empty()) ||
      (p.safetyIdentifier && p.safetyIdentifier->get_string().get(userId) == simdjson::SUCCESS &&
       !userId.empty())) {
    body += R"(,"metadata":{"user_id":)";
    appendJsonString(body, userId);
    body += "}";
  }
  if (p.cacheControl && p.cacheControl->is_object()) {
    body += R"(,"cache_control":)";
    detail::appendRaw(body, *p.cacheControl);
  }
  for (auto [slot, name] :
       {std::pair{&p.container, "container"}, std::pair{&p.inferenceGeo, "inference_geo"}}) {
    if (*slot && (*slot)->is_string()) {
      body += ",\"";
      body += name;
      body += "\":";
      detail::appendRaw(body, **slot);
    }
  }
  if (opts.stream) body += R"(,"stream":true)";
  body.push_back('}');

  // Where it goes.
  if (flavor == Flavor::Vertex) {
    out.path = "/v1/projects/";
    appendSegment(out.path, opts.project);
    out.path += "/locations/";
    appendSegment(out.path, opts.location);
    out.path += "/publishers/anthropic/models/";
    appendSegment(out.path, opts.upstreamModel);
    out.path += opts.stream ? ":streamRawPredict" : ":rawPredict";
  } else {
    out.path = "/v1/messages";
    out.headers = "anthropic-version: ";
    out.headers += isDateVersion(opts.apiVersion) ? opts.apiVersion : kApiVersion;
    out.headers += "\r\n";
  }
  return std::nullopt;
}

}  // namespace

std::optional<GatewayError> buildRequest(dom::element request, const RequestOptions& opts,
                                         Flavor flavor, UpstreamCall& out) {
  out.clear();
  auto err = build(request, opts, flavor, out);
  if (err) out.clear();
  return err;
}

}  // namespace llmux::providers::anthropic
