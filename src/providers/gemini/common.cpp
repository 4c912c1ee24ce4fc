// Pieces of GenerateContentResponse translation shared by response.cpp and stream.cpp.
#include <simdjson.h>

#include <iterator>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/text.hpp"
#include "providers/gemini/internal.hpp"

namespace llmux::providers::gemini::detail {
namespace {

// A token count member clamped to [0, 2^53]; 0 when absent (protobuf JSON omits zeros) or odd.
// Usage is bookkeeping: an odd count must not cost the client an otherwise good answer.
int64_t readCount(dom::object obj, std::string_view key) {
  dom::element e;
  if (obj.at_key(key).get(e) != simdjson::SUCCESS) return 0;
  int64_t i = 0;
  double d = 0;
  if (e.get_int64().get(i) == simdjson::SUCCESS)
    return i < 0 ? 0 : (i > kMaxTokens ? kMaxTokens : i);
  if (e.is_uint64()) return kMaxTokens;
  if (e.get_double().get(d) == simdjson::SUCCESS) {
    if (!(d > 0)) return 0;  // also NaN
    return d >= static_cast<double>(kMaxTokens) ? kMaxTokens : static_cast<int64_t>(d);
  }
  return 0;
}

// A JSON number literal for a log probability; "0" when absent (protobuf JSON omits zeros).
void appendLogprob(std::string& out, dom::object cand) {
  dom::element e;
  if (cand["logProbability"].get(e) == simdjson::SUCCESS && e.is_number()) {
    out += simdjson::to_string(e);
  } else {
    out.push_back('0');
  }
}

// {"token":..,"logprob":..,"bytes":[...]} members (without braces) for one candidate token.
void appendTokenFields(std::string& out, dom::object cand) {
  std::string_view token;
  (void)cand["token"].get(token);
  out += R"("token":)";
  appendJsonString(out, token);
  out += R"(,"logprob":)";
  appendLogprob(out, cand);
  out += R"(,"bytes":[)";
  for (size_t i = 0; i < token.size(); ++i) {
    if (i > 0) out.push_back(',');
    appendDecimal(out, static_cast<unsigned char>(token[i]));
  }
  out.push_back(']');
}

}  // namespace

Usage readUsage(dom::element usageMetadata) {
  Usage u;
  dom::object obj;
  if (usageMetadata.get(obj) != simdjson::SUCCESS) return u;
  u.present = true;
  // promptTokenCount includes cached tokens already; tool-use prompts (server-side tools such as
  // Google Search) are billed as input too.
  u.promptTokens = readCount(obj, "promptTokenCount") + readCount(obj, "toolUsePromptTokenCount");
  u.cachedTokens = readCount(obj, "cachedContentTokenCount");
  u.reasoningTokens = readCount(obj, "thoughtsTokenCount");
  // candidatesTokenCount is the visible output only; OpenAI's completion_tokens includes reasoning.
  u.completionTokens = readCount(obj, "candidatesTokenCount") + u.reasoningTokens;
  // prompt + completion, which is Gemini's totalTokenCount whenever its parts add up.
  u.totalTokens = u.promptTokens + u.completionTokens;
  return u;
}

void appendUsage(std::string& out, const Usage& u) {
  fmt::format_to(std::back_inserter(out),
                 R"({{"prompt_tokens":{},"completion_tokens":{},"total_tokens":{},)"
                 R"("prompt_tokens_details":{{"cached_tokens":{}}},)"
                 R"("completion_tokens_details":{{"reasoning_tokens":{}}}}})",
                 u.promptTokens, u.completionTokens, u.totalTokens, u.cachedTokens,
                 u.reasoningTokens);
}

std::string_view finishReason(std::string_view r) {
  if (r == "MAX_TOKENS") return "length";
  if (r == "SAFETY" || r == "RECITATION" || r == "BLOCKLIST" || r == "PROHIBITED_CONTENT" ||
      r == "SPII" || r == "IMAGE_SAFETY" || r == "IMAGE_PROHIBITED_CONTENT" ||
      r == "IMAGE_RECITATION" || r == "LANGUAGE") {
    return "content_filter";
  }
  // STOP, OTHER, MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL, FINISH_REASON_UNSPECIFIED, newer.
  return "stop";
}

void appendToolCallId(std::string& out, std::string_view seed, int64_t candidate, int64_t ordinal,
                      std::string_view thoughtSignature) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a 64
  for (char c : seed) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  std::string id = fmt::format("call_{:016x}_{}_{}", h, candidate, ordinal);
  if (!thoughtSignature.empty()) {
    id += kThoughtSeparator;
    for (char ch : thoughtSignature) {
      if (ch == '=') continue;  // padding; restored when the id comes back
      id.push_back(ch == '+' ? '-' : ch == '/' ? '_' : ch);
    }
  }
  appendJsonString(out, id);
}

bool appendLogprobs(std::string& out, dom::element logprobsResult) {
  dom::array chosen;
  if (logprobsResult["chosenCandidates"].get(chosen) != simdjson::SUCCESS || chosen.size() == 0) {
    return false;
  }
  dom::array tops;
  const bool haveTops = logprobsResult["topCandidates"].get(tops) == simdjson::SUCCESS;
  out += R"({"content":[)";
  size_t i = 0;
  for (dom::element ce : chosen) {
    if (i > 0) out.push_back(',');
    dom::object c;
    out.push_back('{');
    if (ce.get(c) == simdjson::SUCCESS) {
      appendTokenFields(out, c);
    } else {
      out += R"("token":"","logprob":0,"bytes":[])";
    }
    out += R"(,"top_logprobs":[)";
    dom::array alts;
    if (haveTops && tops.at(i)["candidates"].get(alts) == simdjson::SUCCESS) {
      bool first = true;
      for (dom::element ae : alts) {
        dom::object a;
        if (ae.get(a) != simdjson::SUCCESS) continue;
        if (!first) out.push_back(',');
        first = false;
        out.push_back('{');
        appendTokenFields(out, a);
        out.push_back('}');
      }
    }
    out += "]}";
    ++i;
  }
  out += R"(],"refusal":null})";
  return true;
}

std::string blockedPromptMessage(dom::object response) {
  std::string_view reason;
  if (response["promptFeedback"]["blockReason"].get(reason) != simdjson::SUCCESS ||
      reason.empty()) {
    return {};
  }
  std::string msg = fmt::format("The prompt was blocked by the provider (blockReason {})", reason);
  std::string_view detail;
  if (response["promptFeedback"]["blockReasonMessage"].get(detail) == simdjson::SUCCESS &&
      !detail.empty()) {
    msg += ": ";
    msg += detail;
  }
  msg.push_back('.');
  return msg;
}

std::string argumentsJson(dom::object functionCall) {
  dom::element args;
  if (functionCall["args"].get(args) != simdjson::SUCCESS || args.is_null()) return "{}";
  return simdjson::to_string(args);
}

}  // namespace llmux::providers::gemini::detail
