// The mock provider's /v1/embeddings and /v1/completions answers.
#include <fmt/format.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>

#include "common/error.hpp"
#include "providers/mock/mock.hpp"

namespace llmux::providers::mock {
namespace {

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

void appendFloat(std::string& out, float f) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, f);
  out.append(buf, static_cast<size_t>(r.ptr - buf));
}

std::vector<float> vectorFor(std::string_view text, int dims) {
  std::vector<float> v(static_cast<size_t>(dims));
  uint64_t x = fnv1a(text) | 1;
  double norm = 0;
  for (auto& f : v) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    f = static_cast<float>(static_cast<double>(x >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    norm += static_cast<double>(f) * f;
  }
  norm = std::sqrt(norm);
  if (norm > 0) {
    for (auto& f : v) f = static_cast<float>(f / norm);
  }
  return v;
}

int64_t tokens(std::string_view s) {
  return std::max<int64_t>(1, (s.size() + 3) / 4);
}

}  // namespace

std::string base64Encode(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t v = uint8_t(in[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string embeddingsBody(const std::vector<std::string_view>& inputs, int dimensions, bool base64,
                           std::string_view model) {
  std::string out = R"({"object":"list","data":[)";
  int64_t used = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    used += tokens(inputs[i]);
    const auto v = vectorFor(inputs[i], dimensions);
    if (i) out += ',';
    out += fmt::format(R"({{"object":"embedding","index":{},"embedding":)", i);
    if (base64) {
      std::string bytes(v.size() * 4, '\0');
      for (size_t k = 0; k < v.size(); ++k) {
        auto bits = std::bit_cast<uint32_t>(v[k]);
        for (int b = 0; b < 4; ++b) bytes[k * 4 + b] = static_cast<char>((bits >> (8 * b)) & 0xff);
      }
      out += '"';
      out += base64Encode(bytes);
      out += '"';
    } else {
      out += '[';
      for (size_t k = 0; k < v.size(); ++k) {
        if (k) out += ',';
        appendFloat(out, v[k]);
      }
      out += ']';
    }
    out += '}';
  }
  out += R"(],"model":)";
  appendJsonString(out, model);
  out += fmt::format(R"(,"usage":{{"prompt_tokens":{},"total_tokens":{}}}}})", used, used);
  return out;
}

std::string textCompletionBody(const MockReply& reply, std::string_view model, std::string_view id,
                               int64_t created) {
  std::string out = R"({"id":)";
  appendJsonString(out, id);
  out += fmt::format(R"(,"object":"text_completion","created":{},"model":)", created);
  appendJsonString(out, model);
  out += R"(,"choices":[{"text":)";
  appendJsonString(out, reply.content);
  out += fmt::format(
      R"(,"index":0,"logprobs":null,"finish_reason":"stop"}}],"usage":{{"prompt_tokens":{},)"
      R"("completion_tokens":{},"total_tokens":{}}}}})",
      reply.promptTokens, reply.completionTokens, reply.promptTokens + reply.completionTokens);
  return out;
}

std::vector<std::string> textCompletionEvents(const MockReply& reply, std::string_view model,
                                              std::string_view id, int64_t created,
                                              bool includeUsage) {
  std::string head = R"(data: {"id":)";
  appendJsonString(head, id);
  head += fmt::format(R"(,"object":"text_completion","created":{},"model":)", created);
  appendJsonString(head, model);
  std::vector<std::string> events;
  auto chunk = [&](std::string_view text, std::string_view finish) {
    std::string e = head + R"(,"choices":[{"text":)";
    appendJsonString(e, text);
    e += R"(,"index":0,"logprobs":null,"finish_reason":)";
    e += finish.empty() ? std::string("null") : "\"" + std::string(finish) + "\"";
    e += "}]}\n\n";
    events.push_back(std::move(e));
  };
  std::string_view rest = reply.content;
  while (!rest.empty()) {
    size_t cut = rest.find(' ', 1);
    cut = cut == std::string_view::npos ? rest.size() : cut;
    chunk(rest.substr(0, cut), {});
    rest.remove_prefix(cut);
  }
  chunk("", "stop");
  if (includeUsage) {
    events.push_back(head + fmt::format(R"(,"choices":[],"usage":{{"prompt_tokens":{},)"
                                        R"("completion_tokens":{},"total_tokens":{}}}}})"
                                        "\n\n",
                                        reply.promptTokens, reply.completionTokens,
                                        reply.promptTokens + reply.completionTokens));
  }
  events.emplace_back("data: [DONE]\n\n");
  return events;
}

}  // namespace llmux::providers::mock
