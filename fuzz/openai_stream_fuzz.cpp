// Fuzzes the OpenAI adapter's parsers of upstream bytes: stream chunks, error bodies, Retry-After
// values, and the body splicer with arbitrary (possibly inconsistent) spans. Besides "no crash", it
// checks that every error rendered for a client is valid JSON and that counts are never negative.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "providers/openai/openai.hpp"

namespace {

using namespace llmux::providers::openai;

void check(bool ok) {
  if (!ok) std::abort();
}

// Reference classification with the DOM API (full validation, members in order, last one wins), to
// check the byte-scan shortcut and the on-demand pass of inspectStreamChunk against.
int64_t refTokens(simdjson::dom::element v, bool& valid) {
  constexpr int64_t kMax = int64_t{1} << 53;
  valid = true;
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
  if (v.get_int64().get(i) == simdjson::SUCCESS) return i < 0 ? 0 : (i > kMax ? kMax : i);
  if (v.get_uint64().get(u) == simdjson::SUCCESS) return kMax;
  if (v.get_double().get(d) == simdjson::SUCCESS) {
    if (!(d > 0)) return 0;
    return d >= static_cast<double>(kMax) ? kMax : static_cast<int64_t>(d);
  }
  valid = false;
  return 0;
}

Usage refUsage(simdjson::dom::element v) {
  Usage u;
  simdjson::dom::object obj;
  if (v.get_object().get(obj) != simdjson::SUCCESS) return u;
  u.present = true;
  bool haveTotal = false;
  for (auto [key, value] : obj) {
    bool valid = false;
    const int64_t n = refTokens(value, valid);
    if (key == "prompt_tokens") u.promptTokens = n;
    if (key == "completion_tokens") u.completionTokens = n;
    if (key == "total_tokens") {
      u.totalTokens = n;
      haveTotal = valid;
    }
  }
  if (!haveTotal) u.totalTokens = u.promptTokens + u.completionTokens;
  return u;
}

void checkAgainstReference(std::string_view data, const ChunkInfo& info) {
  // Escaped keys ("\u0075sage") are a documented blind spot of the shortcut.
  if (data.find('\\') != std::string_view::npos) return;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(data.data(), data.size()).get(doc) != simdjson::SUCCESS) return;
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    check(info.kind == ChunkKind::Content && !info.usage.present);
    return;
  }
  Usage usage;
  Usage groq;
  bool hasError = false;
  bool choicesEmpty = false;
  for (auto [key, value] : obj) {
    if (key == "usage") {
      const Usage u = refUsage(value);
      if (u.present) usage = u;  // like the adapter, a non-object usage does not override
    } else if (key == "x_groq") {
      simdjson::dom::object x;
      if (value.get_object().get(x) == simdjson::SUCCESS) {
        for (auto [k, v] : x) {
          if (k == "usage") {
            const Usage u = refUsage(v);
            if (u.present) groq = u;
          }
        }
      }
    } else if (key == "error") {
      hasError = !value.is_null();
    } else if (key == "choices") {
      simdjson::dom::array arr;
      choicesEmpty = value.get_array().get(arr) == simdjson::SUCCESS && arr.size() == 0;
    }
  }
  const Usage want = usage.present ? usage : groq;
  const ChunkKind kind = hasError                       ? ChunkKind::Error
                         : choicesEmpty && want.present ? ChunkKind::UsageOnly
                                                        : ChunkKind::Content;
  check(info.kind == kind);
  check(info.usage.present == want.present);
  if (want.present) {
    check(info.usage.promptTokens == want.promptTokens);
    check(info.usage.completionTokens == want.completionTokens);
    check(info.usage.totalTokens == want.totalTokens);
  }
}

size_t pick(std::string_view data, size_t at, size_t modulo) {
  if (modulo == 0 || data.size() <= at) return 0;
  return static_cast<unsigned char>(data[at]) % modulo;
}

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  const std::string_view data(reinterpret_cast<const char*>(bytes), size);

  const ChunkInfo info = inspectStreamChunk(data);
  check(info.usage.promptTokens >= 0 && info.usage.completionTokens >= 0 &&
        info.usage.totalTokens >= 0);
  if (info.kind == ChunkKind::UsageOnly) check(info.usage.present);
  if (info.kind != ChunkKind::Done) checkAgainstReference(data, info);

  std::string body(data);
  const Usage usage = parseResponseUsage(body);
  check(body == data);
  check(usage.promptTokens >= 0 && usage.completionTokens >= 0 && usage.totalTokens >= 0);

  const int status = 300 + static_cast<int>(size % 300);
  const llmux::GatewayError err = mapUpstreamError(status, data, 5);
  check(err.status >= 400 && err.status <= 599);
  check(!err.message.empty() && !err.type.empty());
  const std::string json = err.toJson();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  check(parser.parse(json).get(doc) == simdjson::SUCCESS);

  constexpr int64_t kNow = 1445412480;
  if (const auto s = parseRetryAfter(data, kNow)) check(*s >= 0);
  if (const auto s = parseRetryAfterMs(data)) check(*s >= 0);

  // Spans chosen from the input itself: the splicer must stay in bounds whatever it is given.
  llmux::types::ChatRequest req;
  const size_t n = data.size() + 1;
  req.modelSpan = {pick(data, 0, n), pick(data, 1, n)};
  req.streamOptionsMember = {pick(data, 2, n), pick(data, 3, n)};
  req.objectEnd = pick(data, 4, n);
  req.stream = pick(data, 5, 2) == 1;
  std::string out;
  buildUpstreamBody(data, req, "model\"x", out);
  check(out.size() <= data.size() + 128);
  return 0;
}
