// OpenAI chat requests as Ollama /api/chat and /api/generate bodies (wire_formats.md §6.2; ollama
// docs/api.md). The request's top-level members are read in body order (so parameters dropped
// under drop_params are listed in body order), then the body is assembled:
//
//   /api/chat     {"model","messages","tools"?,"stream","format"?,"think"?,"keep_alive"?,
//                  "options"?}
//   /api/generate {"model","prompt","system"?,"images"?,"stream","format"?,"think"?,
//                  "keep_alive"?,"suffix"?,"raw"?,"template"?,"options"?}
//
// Parameter mapping (both endpoints unless noted):
//   temperature, top_p, seed, frequency_penalty, presence_penalty → options.<same name>
//   max_completion_tokens (else max_tokens)                        → options.num_predict
//   stop (string or array)                                         → options.stop (always an array:
//                                                                    Ollama rejects a bare string)
//   response_format json_object → "format":"json"; json_schema → "format":<schema> ("json" when the
//   schema is absent); text → nothing.
//   reasoning_effort → "think". Ollama takes true/false for most thinking models and the levels
//   "low"/"medium"/"high" for gpt-oss (which cannot switch thinking off; older servers and other
//   models reject or ignore levels). So: "none" → false; for an upstream model whose name contains
//   "gpt-oss", minimal/low → "low", medium → "medium", high/xhigh/max → "high"; for every other
//   model any effort but "none" → true. A client's native "think" wins over reasoning_effort.
//   (A model without thinking answers think:true with a 400 "... does not support thinking",
//   which mapError turns into unsupported_parameter for reasoning_effort.)
//   tools (OpenAI shape, which Ollama accepts) → "tools" (chat only); deprecated functions
//   likewise. tool_choice / function_call: "auto" → nothing; "none" → the tools are not sent
//   (exactly what "none" means); "required" or a named function → unsupported (Ollama cannot force
//   a call). parallel_tool_calls false → unsupported (Ollama cannot limit calls); true → nothing.
//   n > 1, logit_bias, logprobs, top_logprobs, audio, non-text modalities, web_search_options →
//   unsupported: dropped under drop_params, else 400 unsupported_parameter.
//   Native passthrough: keep_alive, think, format (when no response_format), options{...} (merged
//   last, so they win), the documented option names sent at top level (top_k, min_p, num_ctx,
//   repeat_penalty, ...) → options; /api/generate also passes suffix, raw and template.
//   Ignored: user, store, metadata, service_tier, prompt_cache_key, safety_identifier,
//   stream_options, prediction, verbosity and unknown keys. "stream" is opts.stream, always sent.
//
// Messages (/api/chat): system and developer → role "system"; content parts' text is joined with
// "\n"; image_url data: URLs → the message's "images" (base64 without the data: prefix); assistant
// tool_calls → tool_calls [{function:{name, arguments: <object parsed from the JSON string>}}];
// assistant reasoning_content → "thinking" (templates such as gpt-oss's need it back for tool
// turns); role tool → {"role":"tool","content","tool_name"} with the name looked up from the
// earlier assistant call with that tool_call_id; deprecated role function likewise.
//
// Flattening (/api/generate, which takes one prompt): every system/developer message, in order,
// joined with "\n\n" → "system" (omitted when empty, keeping the Modelfile's). When the rest is a
// single user message its text is the prompt as is. Otherwise the rest becomes a transcript, one
// block per message joined with "\n\n":
//     "User: <text>"
//     "Assistant: <text>" followed by one line per tool call:
//         "Assistant called tool <name> with arguments <arguments JSON>"
//     "Tool result (<name>): <text>"      ("Tool result: <text>" when the call is not found)
// The server applies the model's template to that prompt, so the model answers it as its next
// turn. Images of all user messages, in order, → the top-level "images". Tools cannot be offered
// on /api/generate: tools/functions are unsupported there. A conversation of system messages only
// sends their text as the prompt (an empty prompt would only load the model).
#include <simdjson.h>

#include <fmt/format.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "providers/ollama/request_builder.hpp"

namespace llmux::providers::ollama::detail {
namespace {

namespace dom = simdjson::dom;
using simdjson::SUCCESS;

// Ollama option names a client may send at the top level of its OpenAI request (Modelfile
// parameters, docs/api.md "options"); they are moved into "options".
constexpr std::string_view kNativeOptions[] = {
    "top_k",          "min_p",         "typical_p",    "tfs_z",
    "repeat_penalty", "repeat_last_n", "num_ctx",      "num_keep",
    "num_batch",      "num_gpu",       "main_gpu",     "num_thread",
    "mirostat",       "mirostat_tau",  "mirostat_eta", "penalize_newline",
    "numa",           "low_vram",      "use_mmap",     "use_mlock",
    "num_predict"};

bool isNativeOption(std::string_view key) {
  for (std::string_view k : kNativeOptions) {
    if (k == key) return true;
  }
  return false;
}

char lowerAscii(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// `family` must be lowercase.
bool containsModelFamily(std::string_view model, std::string_view family) {
  if (family.size() > model.size()) return false;
  for (size_t i = 0; i + family.size() <= model.size(); ++i) {
    size_t k = 0;
    while (k < family.size() && lowerAscii(model[i + k]) == family[k]) ++k;
    if (k == family.size()) return true;
  }
  return false;
}

}  // namespace

GatewayError invalidParam(std::string param, std::string_view message) {
  return GatewayError::invalidRequest(fmt::format("Invalid '{}': {}.", param, message),
                                      std::move(param));
}

std::string indexed(std::string_view base, size_t i) {
  return fmt::format("{}[{}]", base, i);
}

Err Builder::unsupported(std::string param, std::string_view detail) {
  if (opts_.dropParams) {
    out_.dropped.push_back(std::move(param));
    return std::nullopt;
  }
  return unsupportedParam(param, providerName(api_), detail);
}

void Builder::setOption(std::string_view key, std::string raw) {
  for (auto& [k, v] : options_) {
    if (k == key) {
      v = std::move(raw);
      return;
    }
  }
  options_.emplace_back(std::string(key), std::move(raw));
}

Err Builder::readNumber(std::string_view key, dom::element v, std::string& dst, bool integer) {
  if (v.is_null()) {
    dst.clear();
    return std::nullopt;
  }
  const bool ok = integer ? (v.is_int64() || v.is_uint64()) : v.is_number();
  if (!ok) {
    return invalidParam(std::string(key), integer ? "expected an integer" : "expected a number");
  }
  dst = simdjson::to_string(v);
  return std::nullopt;
}

Err Builder::run(dom::object request) {
  // "none" anywhere means the tools are not offered, whatever their position in the body.
  for (std::string_view key : {"tool_choice", "function_call"}) {
    std::string_view choice;
    if (request[key].get_string().get(choice) == SUCCESS && choice == "none") toolsOff_ = true;
  }
  for (auto field : request) {
    if (auto err = readParam(field.key, field.value)) return err;
  }
  if (!sawMessages_) return invalidParam("messages", "expected a non-empty array");
  std::string& body = out_.body;
  body.reserve(messages_.size() + 256);
  body += R"({"model":)";
  appendJsonString(body, opts_.upstreamModel);
  if (api_ == Api::Chat) {
    body += R"(,"messages":[)";
    body += messages_;
    body += ']';
    if (!toolsOff_ && (!tools_.empty() || !functions_.empty())) {
      body += R"(,"tools":[)";
      body += tools_;
      if (!tools_.empty() && !functions_.empty()) body += ',';
      body += functions_;
      body += ']';
    }
  } else {
    std::string prompt;
    if (turns_.size() == 1 && turns_[0].user) {
      prompt = std::move(turns_[0].text);
    } else {
      for (size_t i = 0; i < turns_.size(); ++i) {
        if (i > 0) prompt += "\n\n";
        prompt += turns_[i].block;
      }
    }
    body += R"(,"prompt":)";
    appendJsonString(body, prompt);
    if (!system_.empty()) {
      body += R"(,"system":)";
      appendJsonString(body, system_);
    }
    if (!images_.empty()) {
      body += R"(,"images":[)";
      for (size_t i = 0; i < images_.size(); ++i) {
        if (i > 0) body += ',';
        appendJsonString(body, images_[i]);
      }
      body += ']';
    }
  }
  assemble(body);
  out_.path = api_ == Api::Chat ? "/api/chat" : "/api/generate";
  return std::nullopt;
}

Err Builder::readTools(std::string_view key, dom::array arr) {
  // A duplicated key: the last one wins.
  std::string& list = key == "tools" ? tools_ : functions_;
  list.clear();
  size_t i = 0;
  for (dom::element tool : arr) {
    const std::string path = indexed(key, i++);
    dom::object obj;
    if (tool.get_object().get(obj) != SUCCESS) return invalidParam(path, "expected an object");
    if (key == "functions") {  // deprecated: bare function definitions
      std::string_view name;
      if (obj["name"].get_string().get(name) != SUCCESS) {
        return invalidParam(path + ".name", "expected a string");
      }
      if (!list.empty()) list += ',';
      list += R"({"type":"function","function":)";
      list += simdjson::to_string(tool);
      list += '}';
      continue;
    }
    std::string_view type = "function";
    dom::element typeElem;
    if (obj["type"].get(typeElem) == SUCCESS && typeElem.get_string().get(type) != SUCCESS) {
      return invalidParam(path + ".type", "expected a string");
    }
    if (type != "function") {
      if (auto err = unsupported(path, "only function tools are supported")) return err;
      continue;
    }
    std::string_view name;
    if (obj["function"]["name"].get_string().get(name) != SUCCESS) {
      return invalidParam(path + ".function.name", "expected a string");
    }
    // Ollama accepts OpenAI's tool shape as is.
    if (!list.empty()) list += ',';
    list += simdjson::to_string(tool);
  }
  return std::nullopt;
}

void Builder::assemble(std::string& body) {
  body += R"(,"stream":)";
  body += opts_.stream ? "true" : "false";
  const std::string& format = !format_.empty() ? format_ : nativeFormat_;
  if (!format.empty()) {
    body += R"(,"format":)";
    body += format;
  }
  const std::string& think = !nativeThink_.empty() ? nativeThink_ : think_;
  if (!think.empty()) {
    body += R"(,"think":)";
    body += think;
  }
  if (!keepAlive_.empty()) {
    body += R"(,"keep_alive":)";
    body += keepAlive_;
  }
  for (auto& [key, raw] : generateNatives_) {
    body += ",";
    appendJsonString(body, key);
    body += ':';
    body += raw;
  }
  auto set = [&](std::string_view key, const std::string& raw) {
    if (!raw.empty()) setOption(key, raw);
  };
  set("temperature", temperature_);
  set("top_p", topP_);
  set("seed", seed_);
  set("stop", stop_);
  set("num_predict", !maxCompletionTokens_.empty() ? maxCompletionTokens_ : maxTokens_);
  set("frequency_penalty", frequency_);
  set("presence_penalty", presence_);
  for (auto& [k, v] : natives_) setOption(k, std::move(v));
  for (auto& [k, v] : clientOptions_) setOption(k, std::move(v));
  if (options_.empty()) {
    body += '}';
    return;
  }
  body += R"(,"options":{)";
  for (size_t i = 0; i < options_.size(); ++i) {
    if (i > 0) body += ',';
    appendJsonString(body, options_[i].first);
    body += ':';
    body += options_[i].second;
  }
  body += "}}";
}

Err Builder::readParam(std::string_view key, dom::element v) {
  if (key == "messages") return readMessages(v);
  if (key == "temperature") return readNumber(key, v, temperature_, false);
  if (key == "top_p") return readNumber(key, v, topP_, false);
  if (key == "seed") return readNumber(key, v, seed_, true);
  if (key == "max_tokens") return readNumber(key, v, maxTokens_, true);
  if (key == "max_completion_tokens") return readNumber(key, v, maxCompletionTokens_, true);
  if (key == "frequency_penalty") return readNumber(key, v, frequency_, false);
  if (key == "presence_penalty") return readNumber(key, v, presence_, false);
  if (key == "stop") return readStop(v);
  if (key == "response_format") return readResponseFormat(v);
  if (key == "reasoning_effort") return readReasoningEffort(v);
  if (key == "tool_choice" || key == "function_call") return readToolChoice(key, v);
  if (key == "tools" || key == "functions") {
    if (v.is_null()) return std::nullopt;
    if (!v.is_array()) return invalidParam(std::string(key), "expected an array");
    dom::array arr;
    if (v.get_array().get(arr) == SUCCESS && arr.size() == 0) return std::nullopt;
    if (toolsOff_) return std::nullopt;  // tool_choice "none": not offered, so not checked
    if (api_ == Api::Generate) {
      return unsupported(std::string(key), "/api/generate cannot offer tools; use ollama_chat/");
    }
    return readTools(key, arr);
  }
  if (key == "n") {
    int64_t n = 1;
    if (v.is_null()) return std::nullopt;
    if (v.get_int64().get(n) != SUCCESS || n < 1)
      return invalidParam("n", "expected an integer >= 1");
    return n > 1 ? unsupported("n", "Ollama returns one choice") : std::nullopt;
  }
  if (key == "parallel_tool_calls") {
    bool b = true;
    if (v.is_null() || (v.get_bool().get(b) == SUCCESS && b)) return std::nullopt;
    return unsupported("parallel_tool_calls");
  }
  if (key == "logit_bias") {
    dom::object o;
    if (v.is_null() || (v.get_object().get(o) == SUCCESS && o.size() == 0)) return std::nullopt;
    return unsupported("logit_bias");
  }
  if (key == "logprobs") {
    bool b = false;
    if (v.is_null() || (v.get_bool().get(b) == SUCCESS && !b)) return std::nullopt;
    return unsupported("logprobs");
  }
  if (key == "top_logprobs") {
    int64_t n = 0;
    if (v.is_null() || (v.get_int64().get(n) == SUCCESS && n == 0)) return std::nullopt;
    return unsupported("top_logprobs");
  }
  if (key == "audio" || key == "web_search_options") {
    return v.is_null() ? std::nullopt : unsupported(std::string(key));
  }
  if (key == "modalities") {
    dom::array arr;
    if (v.is_null() || v.get_array().get(arr) != SUCCESS) return std::nullopt;
    for (dom::element m : arr) {
      std::string_view s;
      if (m.get_string().get(s) == SUCCESS && s != "text") return unsupported("modalities");
    }
    return std::nullopt;
  }
  // Native Ollama members.
  if (key == "keep_alive") {
    if (!v.is_null()) keepAlive_ = simdjson::to_string(v);
    return std::nullopt;
  }
  if (key == "think") {
    if (!v.is_null()) nativeThink_ = simdjson::to_string(v);
    return std::nullopt;
  }
  if (key == "format") {
    if (!v.is_null()) nativeFormat_ = simdjson::to_string(v);
    return std::nullopt;
  }
  if (key == "options") {
    dom::object o;
    if (v.is_null()) return std::nullopt;
    if (v.get_object().get(o) != SUCCESS) return invalidParam("options", "expected an object");
    for (auto member : o) {
      clientOptions_.emplace_back(std::string(member.key), simdjson::to_string(member.value));
    }
    return std::nullopt;
  }
  if (isNativeOption(key)) {
    if (!v.is_null()) natives_.emplace_back(std::string(key), simdjson::to_string(v));
    return std::nullopt;
  }
  if (api_ == Api::Generate && (key == "suffix" || key == "raw" || key == "template")) {
    if (!v.is_null()) generateNatives_.emplace_back(key, simdjson::to_string(v));
    return std::nullopt;
  }
  return std::nullopt;  // model, stream, user, store, metadata, ... and unknown keys
}

Err Builder::readStop(dom::element v) {
  std::string_view s;
  dom::array arr;
  if (v.is_null()) {
    stop_.clear();
  } else if (v.get_string().get(s) == SUCCESS) {
    stop_ = "[";
    appendJsonString(stop_, s);
    stop_ += ']';
  } else if (v.get_array().get(arr) == SUCCESS) {
    for (dom::element e : arr) {
      if (!e.is_string()) return invalidParam("stop", "expected a string or an array of strings");
    }
    stop_ = arr.size() == 0 ? std::string() : simdjson::to_string(v);
  } else {
    return invalidParam("stop", "expected a string or an array of strings");
  }
  return std::nullopt;
}

Err Builder::readResponseFormat(dom::element v) {
  if (v.is_null()) return std::nullopt;
  std::string_view type;
  if (v["type"].get_string().get(type) != SUCCESS) {
    return invalidParam("response_format.type", "expected a string");
  }
  if (type == "text") {
    format_.clear();
  } else if (type == "json_object") {
    format_ = R"("json")";
  } else if (type == "json_schema") {
    dom::object js;
    if (v["json_schema"].get_object().get(js) != SUCCESS) {
      return invalidParam("response_format.json_schema", "expected an object");
    }
    dom::element schema;
    if (js["schema"].get(schema) == SUCCESS && !schema.is_null()) {
      if (!schema.is_object()) {
        return invalidParam("response_format.json_schema.schema", "expected an object");
      }
      format_ = simdjson::to_string(schema);
    } else {
      format_ = R"("json")";
    }
  } else {
    return invalidParam("response_format.type", "expected text, json_object or json_schema");
  }
  return std::nullopt;
}

Err Builder::readReasoningEffort(dom::element v) {
  std::string_view effort;
  if (v.is_null()) {
    think_.clear();
    return std::nullopt;
  }
  if (v.get_string().get(effort) != SUCCESS)
    return invalidParam("reasoning_effort", "expected a string");
  const bool levels = containsModelFamily(opts_.upstreamModel, "gpt-oss");
  if (effort == "none") {
    think_ = "false";
  } else if (effort == "minimal" || effort == "low") {
    think_ = levels ? R"("low")" : "true";
  } else if (effort == "medium") {
    think_ = levels ? R"("medium")" : "true";
  } else if (effort == "high" || effort == "xhigh" || effort == "max") {
    think_ = levels ? R"("high")" : "true";
  } else {
    return invalidParam("reasoning_effort", "expected none, minimal, low, medium, high or xhigh");
  }
  return std::nullopt;
}

Err Builder::readToolChoice(std::string_view key, dom::element v) {
  std::string_view s;
  if (v.is_null()) return std::nullopt;
  if (v.get_string().get(s) == SUCCESS) {
    if (s == "auto" || s == "none") return std::nullopt;  // "none": see run()
    if (s != "required") return invalidParam(std::string(key), "expected none, auto or required");
  } else if (!v.is_object()) {
    return invalidParam(std::string(key), "expected a string or an object");
  }
  return unsupported(std::string(key), "Ollama cannot force a tool call");
}

std::optional<GatewayError> buildRequest(Api api, dom::element request, const RequestOptions& opts,
                                         UpstreamCall& out) {
  out.clear();
  dom::object obj;
  if (request.get_object().get(obj) != SUCCESS) {
    return GatewayError::invalidRequest("The request body must be a JSON object.");
  }
  Builder builder(api, opts, out);
  if (auto err = builder.run(obj)) {
    out.clear();
    return err;
  }
  return std::nullopt;
}

}  // namespace llmux::providers::ollama::detail
