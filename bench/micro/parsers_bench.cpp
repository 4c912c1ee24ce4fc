// Micro-benchmarks of the two request-path parsers: a ~300 byte chat request and a typical OpenAI
// completion stream (fed whole, in network-sized reads, and one small read per event).
#include <benchmark/benchmark.h>

#include <string>
#include <variant>

#include "providers/common/sse_parser.hpp"
#include "types/chat_request.hpp"

namespace {

const std::string kSmallRequest =
    R"({"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful )"
    R"(assistant. Answer briefly."},{"role":"user","content":"Write a haiku about the sea, )"
    R"(please. Keep it short and gentle."}],"temperature":0.7,"max_tokens":128,"stream":true,)"
    R"("stream_options":{"include_usage":true},"user":"bench-user-42"})";

std::string conversation(int turns) {
  std::string body = R"({"model":"gpt-4o","messages":[{"role":"system","content":"Be helpful."})";
  for (int i = 0; i < turns; ++i) {
    body += R"(,{"role":"user","content":[{"type":"text","text":"Question number )" +
            std::to_string(i) +
            R"(, with some \"quoted\" words and a unicode \u00e9 escape."}]},)"
            R"({"role":"assistant","content":"An answer of a realistic length that goes on for a )"
            R"(while and describes something in a couple of sentences."})";
  }
  return body + R"(],"stream":false})";
}

std::string openAiStream(int chunks) {
  const std::string prefix =
      R"(data: {"id":"chatcmpl-AbC123","object":"chat.completion.chunk","created":1718000000,)"
      R"("model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0ba0d124f1",)"
      R"("choices":[{"index":0,)";
  std::string s = prefix + R"("delta":{"role":"assistant","content":"","refusal":null},)"
                           R"("logprobs":null,"finish_reason":null}]})"
                           "\n\n";
  for (int i = 0; i < chunks; ++i) {
    s += prefix + R"("delta":{"content":" word)" + std::to_string(i) +
         R"("},"logprobs":null,"finish_reason":null}]})"
         "\n\n";
  }
  s += prefix + R"("delta":{},"logprobs":null,"finish_reason":"stop"}]})"
                "\n\n";
  s += "data: [DONE]\n\n";
  return s;
}

void benchParseSmallRequest(benchmark::State& state) {
  std::string body = kSmallRequest;
  for (auto _ : state) {
    auto result = llmux::types::parseChatRequest(body);
    benchmark::DoNotOptimize(result);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(benchParseSmallRequest);

void benchParseConversation(benchmark::State& state) {
  std::string body = conversation(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto result = llmux::types::parseChatRequest(body);
    benchmark::DoNotOptimize(result);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(benchParseConversation)->Arg(10)->Arg(200);

// Feeds the stream in reads of state.range(0) bytes (0 = one read per event).
void benchSseStream(benchmark::State& state) {
  const std::string stream = openAiStream(200);
  const auto readSize = static_cast<size_t>(state.range(0));
  size_t events = 0;
  for (auto _ : state) {
    llmux::providers::SseParser parser;
    auto onEvent = [&](const llmux::providers::SseEvent& ev) {
      benchmark::DoNotOptimize(ev.data.data());
      ++events;
    };
    if (readSize == 0) {
      for (size_t pos = 0; pos < stream.size();) {
        const size_t end = stream.find("\n\n", pos) + 2;
        parser.feed(std::string_view(stream).substr(pos, end - pos), onEvent);
        pos = end;
      }
    } else {
      for (size_t pos = 0; pos < stream.size(); pos += readSize) {
        parser.feed(std::string_view(stream).substr(pos, readSize), onEvent);
      }
    }
  }
  benchmark::DoNotOptimize(events);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
  state.SetItemsProcessed(static_cast<int64_t>(events));
}
BENCHMARK(benchSseStream)->Arg(0)->Arg(1400)->Arg(16384)->Arg(1 << 30);

}  // namespace
