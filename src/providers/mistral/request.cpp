// OpenAI chat requests as Mistral chat completion requests (wire_formats.md §1.2-1.3, §6.1).
//
// Mistral's API validates with extra="forbid": any key it does not know, at any depth (a user
// message's "name", "stream_options", a content part's "detail" in the wrong place...), is a 422.
// So the body is rebuilt from the fields Mistral documents, in the client's key order, and
// everything else is mapped, dropped (drop_params) or refused with a 400 naming the parameter.
//
// Mapping decisions:
//  * seed → random_seed (a client's own random_seed wins); max_completion_tokens → max_tokens
//    (preferred over max_tokens when both are sent).
//  * tool_choice: "required" → "any"; {"type":"function","function":{"name"}} is kept as Mistral
//    documents it; {"type":"allowed_tools"} → its mode ("auto" / "any") with tools filtered to the
//    allowed names. Legacy functions / function_call become tools / tool_choice.
//  * Tool-call ids on assistant tool_calls and tool messages go through toolCallId() (9 base62
//    characters, deterministic); the response side keeps Mistral's ids, which already conform.
//  * developer → system. Message "name" is dropped (Mistral rejects it); tool messages get the
//    function's name from the matching earlier tool call, as Mistral's examples send it.
//  * Content parts: text, image_url ({url, detail}; data: and https URLs alike), input_audio
//    (base64 data), file (file_data → document_url, file_id → file). Assistant and tool content is
//    flattened to a string; system and user arrays stay chunk arrays.
//  * reasoning_effort: magistral models (native reasoners) get prompt_mode "reasoning" (they cannot
//    stop reasoning, so "none" is unsupported there); other models get Mistral's own
//    reasoning_effort, whose documented values are "none" and "high": none/minimal → "none",
//    low/medium/high/xhigh/max → "high".
//  * stream_options is never sent: Mistral rejects it and puts usage on the last chunk anyway.
//  * Unsupported: logprobs, top_logprobs, logit_bias, audio, modalities (other than ["text"]),
//    web_search_options, verbosity. Ignored: store, metadata, service_tier, user,
//    safety_identifier, prompt_cache_retention. Mistral-native keys passed through: random_seed,
//    safe_prompt, prompt_mode, guardrails; prompt_cache_key and prediction are shared with
//    OpenAI.
#include <simdjson.h>

#include <string>
#include <string_view>

#include "common/text.hpp"
#include "providers/mistral/internal.hpp"
#include "providers/mistral/request_builder.hpp"

namespace llmux::providers::mistral::detail {

Err RequestBuilder::run(dom::object request) {
  for (auto m : request) {
    if (m.value.is_null()) continue;
    if (m.key == "random_seed") hasRandomSeed_ = true;
    if (m.key == "max_completion_tokens") hasMaxCompletionTokens_ = true;
    if (m.key == "tools") hasTools_ = true;
    if (m.key == "tool_choice") hasToolChoice_ = true;
    if (m.key == "prompt_mode") hasPromptMode_ = true;
  }
  dom::object choice;
  if (request["tool_choice"].get_object().get(choice) == simdjson::SUCCESS &&
      stringOr(choice["type"], "") == "allowed_tools") {
    filterTools_ = true;
    dom::array allowed;
    if (choice["allowed_tools"]["tools"].get_array().get(allowed) == simdjson::SUCCESS) {
      for (dom::element t : allowed) {
        std::string_view name;
        if (t["function"]["name"].get_string().get(name) == simdjson::SUCCESS) {
          allowedTools_.push_back(name);
        } else if (t["name"].get_string().get(name) == simdjson::SUCCESS) {
          allowedTools_.push_back(name);
        }
      }
    }
  }

  out_.path = std::string(kPath);
  body() += R"({"model":)";
  appendJsonString(body(), opts_.upstreamModel);
  bool sawMessages = false;
  for (auto m : request) {
    // null means "not set" for every OpenAI parameter; prompt_mode null is Mistral's own opt-out
    // of the default reasoning system prompt, so it is kept.
    if (m.value.is_null() && m.key != "prompt_mode") continue;
    if (m.key == "messages") sawMessages = true;
    if (auto err = field(m.key, m.value)) return err;
  }
  if (!sawMessages) return GatewayError::invalidRequest("'messages' is required.", "messages");
  if (opts_.stream) body() += R"(,"stream":true)";
  body().push_back('}');
  return std::nullopt;
}

Err RequestBuilder::unsupported(const std::string& param, std::string_view detail) {
  if (opts_.dropParams) {
    out_.dropped.push_back(param);
    return std::nullopt;
  }
  return unsupportedParam(param, kProvider, detail);
}

Err RequestBuilder::field(std::string_view k, dom::element v) {
  if (k == "messages") return messages(v);
  if (k == "temperature" || k == "top_p" || k == "presence_penalty" || k == "frequency_penalty") {
    return number(k, k, v, false);
  }
  if (k == "n") return number(k, k, v, true);
  if (k == "max_completion_tokens") return number(k, "max_tokens", v, true);
  if (k == "max_tokens") return hasMaxCompletionTokens_ ? Err() : number(k, "max_tokens", v, true);
  if (k == "random_seed") return number(k, "random_seed", v, true);
  if (k == "seed") return hasRandomSeed_ ? Err() : number(k, "random_seed", v, true);
  if (k == "stop") return stop(v);
  if (k == "tools") return tools(v, "tools", false);
  if (k == "functions") return hasTools_ ? Err() : tools(v, "functions", true);
  if (k == "tool_choice") return toolChoice(v);
  if (k == "function_call") return hasToolChoice_ ? Err() : functionCall(v);
  if (k == "response_format") return responseFormat(v);
  if (k == "reasoning_effort") return reasoningEffort(v);
  if (k == "prediction") return prediction(v);
  if (k == "parallel_tool_calls" || k == "safe_prompt") {
    if (!v.is_bool()) return badField(std::string(k), "expected a boolean");
    key(k);
    body() += simdjson::to_string(v);
    return std::nullopt;
  }
  if (k == "prompt_mode" || k == "prompt_cache_key") {
    if (!v.is_string() && !(k == "prompt_mode" && v.is_null())) {
      return badField(std::string(k), "expected a string");
    }
    key(k);
    body() += simdjson::to_string(v);
    return std::nullopt;
  }
  if (k == "guardrails") {
    key(k);
    body() += simdjson::to_string(v);
    return std::nullopt;
  }
  // OpenAI parameters Mistral has no counterpart for. Values that ask for nothing pass silently.
  if (k == "logprobs") {
    bool on = true;
    return v.get_bool().get(on) == simdjson::SUCCESS && !on ? Err() : unsupported("logprobs");
  }
  if (k == "top_logprobs") {
    int64_t n = 0;
    return v.get_int64().get(n) == simdjson::SUCCESS && n == 0 ? Err()
                                                               : unsupported("top_logprobs");
  }
  if (k == "logit_bias") {
    dom::object o;
    return v.get_object().get(o) == simdjson::SUCCESS && o.size() == 0 ? Err()
                                                                       : unsupported("logit_bias");
  }
  if (k == "modalities") {
    dom::array a;
    bool textOnly = v.get_array().get(a) == simdjson::SUCCESS;
    if (textOnly) {
      for (dom::element e : a) textOnly = textOnly && stringOr(e, "") == "text";
    }
    return textOnly ? Err() : unsupported("modalities", "text output only");
  }
  if (k == "audio" || k == "web_search_options" || k == "verbosity") {
    return unsupported(std::string(k));
  }
  // model (replaced), stream (from the options), stream_options (rejected by Mistral, which sends
  // usage unasked), store, metadata, service_tier, user, safety_identifier,
  // prompt_cache_retention, and unknown keys: Mistral would reject them, so they are not sent.
  return std::nullopt;
}

Err RequestBuilder::number(std::string_view param, std::string_view wireKey, dom::element v,
                           bool integer) {
  if (integer ? !isInteger(v) : !isNumber(v)) {
    return badField(std::string(param), integer ? "expected an integer" : "expected a number");
  }
  key(wireKey);
  body() += simdjson::to_string(v);
  return std::nullopt;
}

Err RequestBuilder::stop(dom::element v) {
  if (v.is_string()) {
    key("stop");
    body() += simdjson::to_string(v);
    return std::nullopt;
  }
  dom::array a;
  if (v.get_array().get(a) != simdjson::SUCCESS) {
    return badField("stop", "expected a string or an array of strings");
  }
  for (dom::element s : a) {
    if (!s.is_string()) return badField("stop", "expected a string or an array of strings");
  }
  if (a.size() == 0) return std::nullopt;
  key("stop");
  body() += simdjson::to_string(v);
  return std::nullopt;
}

Err RequestBuilder::tools(dom::element v, std::string_view param, bool legacyFunctions) {
  dom::array list;
  if (v.get_array().get(list) != simdjson::SUCCESS) {
    return badField(std::string(param), "expected an array");
  }
  const size_t start = body().size();
  key("tools");
  body().push_back('[');
  const size_t open = body().size();
  size_t i = 0;
  for (dom::element tool : list) {
    const std::string path = indexed(param, i++);
    if (!tool.is_object()) return badField(path, "expected an object");
    dom::element fn = tool;
    if (!legacyFunctions) {
      const std::string_view type = stringOr(tool["type"], "function");
      if (type != "function") {
        if (auto err = unsupported(path, "only function tools")) return err;
        continue;
      }
      if (tool["function"].get(fn) != simdjson::SUCCESS || !fn.is_object()) {
        return badField(path + ".function", "expected an object");
      }
    }
    std::string_view name;
    if (fn["name"].get_string().get(name) != simdjson::SUCCESS) {
      return badField(path + (legacyFunctions ? ".name" : ".function.name"), "expected a string");
    }
    if (filterTools_) {
      bool allowed = false;
      for (std::string_view a : allowedTools_) allowed = allowed || a == name;
      if (!allowed) continue;
    }
    if (body().size() > open) body().push_back(',');
    if (auto err = functionTool(fn, path)) return err;
  }
  if (body().size() == open) {
    body().resize(start);  // an empty list tells Mistral nothing and some models reject it
    return std::nullopt;
  }
  body().push_back(']');
  return std::nullopt;
}

Err RequestBuilder::functionTool(dom::element fn, const std::string& path) {
  body() += R"({"type":"function","function":{"name":)";
  appendJsonString(body(), stringOr(fn["name"], ""));
  dom::element v;
  if (member(fn, "description", v)) {
    if (!v.is_string()) return badField(path + ".description", "expected a string");
    body() += R"(,"description":)";
    body() += simdjson::to_string(v);
  }
  body() += R"(,"parameters":)";
  if (member(fn, "parameters", v)) {
    if (!v.is_object()) return badField(path + ".parameters", "expected a JSON schema object");
    body() += simdjson::to_string(v);
  } else {
    body() += R"({"type":"object","properties":{}})";  // Mistral requires parameters
  }
  if (member(fn, "strict", v)) {
    if (!v.is_bool()) return badField(path + ".strict", "expected a boolean");
    body() += R"(,"strict":)";
    body() += simdjson::to_string(v);
  }
  body() += "}}";
  return std::nullopt;
}

Err RequestBuilder::toolChoice(dom::element v) {
  std::string_view s;
  if (v.get_string().get(s) == simdjson::SUCCESS) {
    if (s != "auto" && s != "none" && s != "required" && s != "any") {
      return badField("tool_choice", "expected auto, none, required or a function");
    }
    key("tool_choice");
    appendJsonString(body(), s == "required" ? "any" : s);
    return std::nullopt;
  }
  if (!v.is_object()) return badField("tool_choice", "expected a string or an object");
  const std::string_view type = stringOr(v["type"], "");
  if (type == "function") {
    std::string_view name;
    if (v["function"]["name"].get_string().get(name) != simdjson::SUCCESS) {
      return badField("tool_choice.function.name", "expected a string");
    }
    key("tool_choice");
    body() += R"({"type":"function","function":{"name":)";
    appendJsonString(body(), name);
    body() += "}}";
    return std::nullopt;
  }
  if (type == "allowed_tools") {
    // The tools list was filtered to the allowed names (run); the mode remains.
    const std::string_view mode = stringOr(v["allowed_tools"]["mode"], "auto");
    if (mode != "auto" && mode != "required") {
      return badField("tool_choice.allowed_tools.mode", "expected auto or required");
    }
    key("tool_choice");
    appendJsonString(body(), mode == "required" ? "any" : "auto");
    return std::nullopt;
  }
  return unsupported("tool_choice", "only auto, none, required and function choices");
}

Err RequestBuilder::functionCall(dom::element v) {
  std::string_view s;
  if (v.get_string().get(s) == simdjson::SUCCESS) {
    if (s != "auto" && s != "none") return badField("function_call", "expected auto or none");
    key("tool_choice");
    appendJsonString(body(), s);
    return std::nullopt;
  }
  std::string_view name;
  if (v["name"].get_string().get(name) != simdjson::SUCCESS) {
    return badField("function_call", "expected auto, none or {\"name\": ...}");
  }
  key("tool_choice");
  body() += R"({"type":"function","function":{"name":)";
  appendJsonString(body(), name);
  body() += "}}";
  return std::nullopt;
}

Err RequestBuilder::responseFormat(dom::element v) {
  const std::string_view type = stringOr(v["type"], "");
  if (type == "text" || type == "json_object") {
    key("response_format");
    body() += R"({"type":)";
    appendJsonString(body(), type);
    body().push_back('}');
    return std::nullopt;
  }
  if (type != "json_schema") {
    if (!v.is_object() || type.empty()) {
      return badField("response_format", "expected an object with a type");
    }
    return unsupported("response_format", "type '" + std::string(type) + "'");
  }
  dom::element js;
  std::string_view name;
  if (v["json_schema"].get(js) != simdjson::SUCCESS || !js.is_object()) {
    return badField("response_format.json_schema", "expected an object");
  }
  if (js["name"].get_string().get(name) != simdjson::SUCCESS) {
    return badField("response_format.json_schema.name", "expected a string");
  }
  key("response_format");
  body() += R"({"type":"json_schema","json_schema":{"name":)";
  appendJsonString(body(), name);
  dom::element e;
  if (member(js, "description", e)) {
    if (!e.is_string()) {
      return badField("response_format.json_schema.description", "expected a string");
    }
    body() += R"(,"description":)";
    body() += simdjson::to_string(e);
  }
  // Mistral requires a schema; OpenAI's optional one defaults to "any JSON", which {} says.
  body() += R"(,"schema":)";
  if (member(js, "schema", e)) {
    if (!e.is_object()) return badField("response_format.json_schema.schema", "expected an object");
    body() += simdjson::to_string(e);
  } else {
    body() += "{}";
  }
  if (member(js, "strict", e)) {
    if (!e.is_bool()) return badField("response_format.json_schema.strict", "expected a boolean");
    body() += R"(,"strict":)";
    body() += simdjson::to_string(e);
  }
  body() += "}}";
  return std::nullopt;
}

Err RequestBuilder::reasoningEffort(dom::element v) {
  std::string_view effort;
  if (v.get_string().get(effort) != simdjson::SUCCESS) {
    return badField("reasoning_effort", "expected a string");
  }
  const bool off = effort == "none" || effort == "minimal";
  const bool on = effort == "low" || effort == "medium" || effort == "high" || effort == "xhigh" ||
                  effort == "max";
  if (!off && !on) {
    return badField("reasoning_effort", "expected none, minimal, low, medium, high or xhigh");
  }
  if (containsMagistral(opts_.upstreamModel)) {
    // Magistral always reasons: prompt_mode "reasoning" selects its reasoning system prompt.
    if (off) return unsupported("reasoning_effort", "magistral models always reason");
    if (hasPromptMode_) return std::nullopt;  // the client's own prompt_mode decides
    key("prompt_mode");
    body() += R"("reasoning")";
    return std::nullopt;
  }
  key("reasoning_effort");
  body() += off ? R"("none")" : R"("high")";
  return std::nullopt;
}

Err RequestBuilder::prediction(dom::element v) {
  if (stringOr(v["type"], "") != "content") {
    return badField("prediction", "expected {\"type\":\"content\",\"content\":...}");
  }
  std::string text;
  dom::element content;
  if (v["content"].get(content) != simdjson::SUCCESS) {
    return badField("prediction.content", "expected a string or an array of text parts");
  }
  if (auto err = textContent(content, "prediction.content", false, text)) return err;
  key("prediction");
  body() += R"({"type":"content","content":)";
  appendJsonString(body(), text);
  body().push_back('}');
  return std::nullopt;
}

std::optional<GatewayError> buildRequest(dom::element request, const RequestOptions& opts,
                                         UpstreamCall& out) {
  out.clear();
  dom::object obj;
  if (request.get_object().get(obj) != simdjson::SUCCESS) {
    return GatewayError::invalidRequest("The request body must be a JSON object.");
  }
  RequestBuilder b(opts, out);
  auto err = b.run(obj);
  if (err) out.clear();
  return err;
}

}  // namespace llmux::providers::mistral::detail
