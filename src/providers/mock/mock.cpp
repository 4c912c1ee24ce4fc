// The mock provider renders OpenAI's exact shapes by string appends: it backs load tests, where it
// must cost far less than the gateway path it is measuring.
#include "providers/mock/mock.hpp"

#include <fmt/format.h>

#include "common/error.hpp"

namespace llmux::providers::mock {
namespace {

constexpr std::string_view kFingerprint = "fp_llmux_mock";
constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

// Heuristic used by OpenAI's own guidance: about 4 bytes of English text per token. Never 0, so a
// reply always accounts for something.
int64_t estimateTokens(size_t bytes) {
  const auto tokens = static_cast<int64_t>((bytes + 3) / 4);
  return tokens < 1 ? 1 : tokens;
}

// The reply must be valid UTF-8 to be valid JSON; the deployment's configured text is not otherwise
// checked, so invalid sequences become U+FFFD.
std::string toValidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = 0;
    uint32_t cp = 0;
    uint32_t minCp = 0;
    if (c < 0x80) {
      len = 1;
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
      minCp = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
      minCp = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
      minCp = 0x10000;
    }
    bool valid = len != 0 && i + len <= s.size();
    for (size_t k = 1; valid && k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      valid = (b & 0xC0) == 0x80;
      cp = (cp << 6) | (b & 0x3F);
    }
    valid = valid && cp >= minCp && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (valid) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += kReplacementChar;
      ++i;
    }
  }
  return out;
}

bool isWordSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void appendUsage(std::string& out, const MockReply& reply) {
  fmt::format_to(std::back_inserter(out),
                 R"("usage":{{"prompt_tokens":{},"completion_tokens":{},"total_tokens":{},)"
                 R"("prompt_tokens_details":{{"cached_tokens":0}},)"
                 R"("completion_tokens_details":{{"reasoning_tokens":0}}}})",
                 reply.promptTokens, reply.completionTokens,
                 reply.promptTokens + reply.completionTokens);
}

}  // namespace

MockReply makeReply(const types::ChatRequest& req, const std::optional<std::string>& deploymentMock,
                    size_t requestBodyBytes) {
  MockReply reply;
  if (req.mockResponse) {
    reply.content = toValidUtf8(*req.mockResponse);
  } else if (deploymentMock) {
    reply.content = toValidUtf8(*deploymentMock);
  } else {
    reply.content = toValidUtf8(req.lastUserText);
  }
  // The whole body stands in for the prompt: it over-counts JSON syntax, which is fine for a mock.
  reply.promptTokens = estimateTokens(requestBodyBytes);
  reply.completionTokens = estimateTokens(reply.content.size());
  return reply;
}

std::string completionBody(const MockReply& reply, std::string_view model, std::string_view id,
                           int64_t created) {
  std::string out;
  out.reserve(reply.content.size() + model.size() + id.size() + 400);
  out += R"({"id":)";
  appendJsonString(out, id);
  out += R"(,"object":"chat.completion","created":)";
  fmt::format_to(std::back_inserter(out), "{}", created);
  out += R"(,"model":)";
  appendJsonString(out, model);
  out += R"(,"choices":[{"index":0,"message":{"role":"assistant","content":)";
  appendJsonString(out, reply.content);
  out += R"(,"refusal":null},"logprobs":null,"finish_reason":"stop"}],)";
  appendUsage(out, reply);
  out += R"(,"system_fingerprint":)";
  appendJsonString(out, kFingerprint);
  out += "}";
  return out;
}

std::vector<std::string> streamEvents(const MockReply& reply, std::string_view model,
                                      std::string_view id, int64_t created, bool includeUsage) {
  // Every chunk shares this prefix; only the choices/usage tail differs.
  std::string prefix = R"(data: {"id":)";
  appendJsonString(prefix, id);
  prefix += R"(,"object":"chat.completion.chunk","created":)";
  fmt::format_to(std::back_inserter(prefix), "{}", created);
  prefix += R"(,"model":)";
  appendJsonString(prefix, model);
  prefix += R"(,"system_fingerprint":)";
  appendJsonString(prefix, kFingerprint);
  prefix += R"(,"choices":)";
  const std::string_view tail = includeUsage ? R"(,"usage":null})"
                                               "\n\n"
                                             : "}\n\n";

  auto choiceChunk = [&](std::string_view delta, std::string_view finishReason) {
    std::string ev;
    ev.reserve(prefix.size() + delta.size() + 96);
    ev += prefix;
    ev += R"([{"index":0,"delta":)";
    ev += delta;
    ev += R"(,"logprobs":null,"finish_reason":)";
    ev += finishReason;
    ev += "}]";
    ev += tail;
    return ev;
  };

  std::vector<std::string> events;
  events.reserve(reply.content.size() / 4 + 5);
  events.push_back(choiceChunk(R"({"role":"assistant","content":""})", "null"));

  const std::string_view content = reply.content;
  std::string delta;
  size_t i = 0;
  while (i < content.size()) {
    const size_t start = i;
    while (i < content.size() && !isWordSpace(content[i])) ++i;
    while (i < content.size() && isWordSpace(content[i])) ++i;
    delta.assign(R"({"content":)");
    appendJsonString(delta, content.substr(start, i - start));
    delta += "}";
    events.push_back(choiceChunk(delta, "null"));
  }

  events.push_back(choiceChunk("{}", R"("stop")"));
  if (includeUsage) {
    std::string ev = prefix;
    ev += "[],";
    appendUsage(ev, reply);
    ev += "}\n\n";
    events.push_back(std::move(ev));
  }
  events.emplace_back("data: [DONE]\n\n");
  return events;
}

}  // namespace llmux::providers::mock
