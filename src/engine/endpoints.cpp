// POST /v1/embeddings and POST /v1/completions (legacy text). Neither is a hot path: their bodies
// are parsed into a DOM and rebuilt, not spliced like chat requests.
#include <fmt/format.h>

#include <ctime>

#include "common/text.hpp"
#include "engine/engine.hpp"
#include "engine/engine_detail.hpp"
#include "providers/mock/mock.hpp"
#ifdef LLMUX_HAS_EMBEDDINGS
#include "providers/embeddings/embeddings.hpp"
#endif

namespace llmux::engine {

using namespace detail;  // NOLINT(google-build-using-namespace): this module's own helpers

namespace {

constexpr int kMockDimensions = 1536;
constexpr size_t kMaxEmbeddingInputs = 2048;  // OpenAI's own limit
constexpr int64_t kMaxDimensions = 65536;

struct Common {
  std::string_view model;
  bool stream = false;
  bool includeUsage = false;
};

std::optional<GatewayError> readCommon(simdjson::dom::object obj, Common& c) {
  if (obj["model"].get(c.model) != simdjson::SUCCESS || c.model.empty()) {
    return GatewayError::invalidRequest("Missing required parameter: 'model'.", "model");
  }
  simdjson::dom::element s;
  if (obj["stream"].get(s) == simdjson::SUCCESS && !s.is_null()) {
    if (s.get(c.stream) != simdjson::SUCCESS) {
      return GatewayError::invalidRequest("Invalid value for 'stream': expected a boolean.",
                                          "stream");
    }
  }
  bool usage = false;
  if (obj["stream_options"]["include_usage"].get(usage) == simdjson::SUCCESS)
    c.includeUsage = usage;
  return std::nullopt;
}

// Captures what the engine answers for one batch instead of sending it.
class CaptureWriter final : public http::ResponseWriter {
 public:
  explicit CaptureWriter(http::ResponseWriter& client) : client_(client) {}
  net::awaitable<bool> respond(int s, std::span<const http::Header> headers,
                               std::string_view b) override {
    status = s;
    body.assign(b);
    for (const auto& [k, v] : headers) {
      if (k == "retry-after") retryAfter.assign(v);
    }
    co_return true;
  }
  net::awaitable<bool> beginStream(int, std::span<const http::Header>) override { co_return false; }
  net::awaitable<bool> writeChunk(std::string_view, bool) override { co_return false; }
  net::awaitable<bool> endStream() override { co_return false; }
  void watchClient(Abortable* t) override { client_.watchClient(t); }
  void unwatchClient() override { client_.unwatchClient(); }
  [[nodiscard]] bool clientGone() const override { return client_.clientGone(); }
  [[nodiscard]] uint64_t bytesWritten() const override { return 0; }

  int status = 0;
  std::string body;
  std::string retryAfter;

 private:
  http::ResponseWriter& client_;
};

}  // namespace

net::awaitable<void> Engine::embedInBatches(http::Request& req, http::ResponseWriter& out,
                                            RequestOutcome& outcome, Scratch& sc,
                                            const DeploymentRt& d,
                                            const std::vector<std::string>& inputs,
                                            const std::string& common, size_t perCall,
                                            const std::string& token) {
  // Providers that embed few inputs per call (Bedrock Titan: one) get one call per batch, in
  // order; the answers are merged into one list with the indexes renumbered and usage summed.
  // `common` holds the request members other than "input" (",key:value..."), kept for every batch.
  std::string merged = R"({"object":"list","data":[)";
  std::string batchBody;
  int64_t promptTokens = 0;
  size_t index = 0;
  const http::Header ids[] = {{"x-llmux-model-group", d.cfg->modelName},
                              {"x-llmux-deployment", d.cfg->id}};
  for (size_t start = 0; start < inputs.size(); start += perCall) {
    batchBody.assign(R"({"input":[)");
    for (size_t i = start; i < std::min(inputs.size(), start + perCall); ++i) {
      if (i > start) batchBody += ',';
      appendJsonString(batchBody, inputs[i]);
    }
    batchBody += ']';
    batchBody += common;
    batchBody += '}';
    if (auto e = buildNativeHead(batchBody, false, d, sc, token)) {
      co_await sendError(out, *e, outcome, ids);
      co_return;
    }
    CaptureWriter capture(out);
    RequestOutcome batch;
    co_await runUpstream(req, sc.chat, d, capture, batch, sc);
    outcome.upstreamUs += batch.upstreamUs;
    if (sc.failure) {
      // The first failing batch is the answer.
      auto e = std::move(*sc.failure);
      sc.failure.reset();
      co_await sendError(out, e, outcome, ids);
      co_return;
    }
    if (capture.status == 0 || out.clientGone()) {
      outcome.status = batch.status;
      outcome.errorType = batch.errorType;
      co_return;
    }
    if (capture.status != 200) {
      // The first failing batch is the answer, as the provider gave it.
      outcome.status = capture.status;
      outcome.errorType = batch.errorType;
      Headers h;
      h.add(ids[0].first, ids[0].second);
      h.add(ids[1].first, ids[1].second);
      h.add("content-type", "application/json");
      if (!capture.retryAfter.empty()) h.add("retry-after", capture.retryAfter);
      co_await out.respond(capture.status, h.span(), capture.body);
      co_return;
    }
    promptTokens += batch.promptTokens;
    simdjson::dom::array data;
    if (json_.parse(capture.body)["data"].get(data) != simdjson::SUCCESS) {
      co_await sendError(out,
                         GatewayError::badGateway("An embeddings batch answer had no data list.",
                                                  "upstream_protocol_error"),
                         outcome, ids);
      co_return;
    }
    for (simdjson::dom::element item : data) {
      simdjson::dom::element emb;
      if (item["embedding"].get(emb) != simdjson::SUCCESS) continue;
      if (index > 0) merged += ',';
      merged += fmt::format(R"({{"object":"embedding","index":{},"embedding":)", index++);
      merged += simdjson::minify(emb);
      merged += '}';
    }
  }
  merged += R"(],"model":)";
  appendJsonString(merged, sc.chat.model);
  merged += fmt::format(R"(,"usage":{{"prompt_tokens":{},"total_tokens":{}}}}})", promptTokens,
                        promptTokens);
  outcome.promptTokens = promptTokens;
  outcome.status = 200;
  Headers h;
  h.add(ids[0].first, ids[0].second);
  h.add(ids[1].first, ids[1].second);
  h.add("content-type", "application/json");
  co_await out.respond(200, h.span(), merged);
}

const ModelGroup* Engine::routeSimple(http::Request& req, RequestOutcome& outcome, Scratch& sc,
                                      simdjson::dom::object& obj,
                                      std::optional<GatewayError>& err) {
  simdjson::dom::element doc;
  const std::string_view body = req.body();
  if (json_.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS ||
      doc.get(obj) != simdjson::SUCCESS) {
    err = GatewayError::invalidRequest("The request body is not a valid JSON object.");
    return nullptr;
  }
  Common c;
  if ((err = readCommon(obj, c))) return nullptr;
  sc.chat.reset();
  sc.chat.modelStorage.assign(c.model);
  sc.chat.model = sc.chat.modelStorage;
  sc.chat.stream = c.stream;
  sc.chat.includeUsage = c.includeUsage;
  outcome.stream = c.stream;
  const GroupMatch match = gw_.matchGroup(sc.chat.model);
  const ModelGroup* g = match.group;
  sc.capture = match.capture;
  if (g == nullptr) {
    err = GatewayError::notFound(fmt::format("Model '{}' not found. Available models: {}.",
                                             utf8Prefix(sc.chat.model, 200), gw_.availableModels),
                                 "model_not_found");
    err->param = "model";
  }
  return g;
}

net::awaitable<void> Engine::embedNative(http::Request& req, http::ResponseWriter& out,
                                         RequestOutcome& outcome, Scratch& sc,
                                         const DeploymentRt& d, simdjson::dom::object obj,
                                         const std::vector<std::string_view>& texts,
                                         bool tokenInput) {
  const http::Header ids[] = {{"x-llmux-model-group", d.cfg->modelName},
                              {"x-llmux-deployment", d.cfg->id}};
  const providers::Adapter* adapter = nullptr;
#ifdef LLMUX_HAS_EMBEDDINGS
  adapter = providers::embeddings::embeddingAdapter(d.cfg->provider, d.upstreamModel);
#endif
  if (adapter == nullptr) {
    co_await sendError(out,
                       GatewayError::invalidRequest(
                           fmt::format("Provider '{}' (deployment '{}') does not offer embeddings.",
                                       d.cfg->provider, d.cfg->id),
                           "model", "unsupported_endpoint"),
                       outcome, ids);
    co_return;
  }
  sc.answerId.assign("emb-");
  sc.answerId += req.requestId;
  size_t perCall = 0;
#ifdef LLMUX_HAS_EMBEDDINGS
  perCall = providers::embeddings::maxInputsPerCall(d.cfg->provider, d.upstreamModel);
#endif
  const bool batched = perCall != 0 && texts.size() > perCall && !tokenInput;
  // Other requests on this thread reuse the parser at every co_await: copy what the batches
  // need out of the DOM first.
  std::vector<std::string> inputs;
  std::string common;
  if (batched) {
    inputs.assign(texts.begin(), texts.end());
    for (auto [key, value] : obj) {
      if (key == "input") continue;
      common += ',';
      appendJsonString(common, key);
      common += ':';
      common += simdjson::minify(value);
    }
  }
  std::string token;
  if (d.google) {
    if (auto e = co_await googleToken(d, token)) {
      co_await sendError(out, *e, outcome, ids);
      co_return;
    }
  }
  sc.adapter = adapter;
  if (!batched) {
    if (auto e = buildNativeHead(req.body(), false, d, sc, token)) {
      co_await sendError(out, *e, outcome, ids);
      co_return;
    }
    const auto t0 = Clock::now();
    co_await runUpstream(req, sc.chat, d, out, outcome, sc);
    co_await finishSimple(out, outcome, sc, d, t0);
    co_return;
  }
  co_await embedInBatches(req, out, outcome, sc, d, inputs, common, perCall, token);
  co_return;
}

net::awaitable<void> Engine::embeddings(http::Request& req, http::ResponseWriter& out,
                                        RequestOutcome& outcome) {
  auto sc = scratch_.get();
  simdjson::dom::object obj;
  std::optional<GatewayError> err;
  const ModelGroup* g = routeSimple(req, outcome, *sc, obj, err);
  if (g == nullptr) {
    co_await sendError(out, *err, outcome);
    co_return;
  }
  if (sc->chat.stream) {
    co_await sendError(
        out, GatewayError::invalidRequest("Embeddings cannot be streamed.", "stream"), outcome);
    co_return;
  }
  // Validate the input the way OpenAI does before any provider sees it.
  std::vector<std::string_view> texts;
  bool tokenInput = false;
  simdjson::dom::element input;
  if (obj["input"].get(input) != simdjson::SUCCESS || input.is_null()) {
    err = GatewayError::invalidRequest("Missing required parameter: 'input'.", "input");
  } else if (std::string_view s; input.get(s) == simdjson::SUCCESS) {
    texts.push_back(s);
  } else if (simdjson::dom::array arr; input.get(arr) == simdjson::SUCCESS) {
    size_t inputs = 0;  // strings and token arrays; a flat array of ints is one input
    for (auto item : arr) {
      std::string_view t;
      if (!item.is_int64() && ++inputs > kMaxEmbeddingInputs) {
        err = GatewayError::invalidRequest(
            fmt::format("Invalid 'input': at most {} inputs per request.", kMaxEmbeddingInputs),
            "input");
        break;
      }
      if (item.get(t) == simdjson::SUCCESS) {
        texts.push_back(t);
      } else if (item.is_int64() || item.is_array()) {
        tokenInput = true;
      } else {
        err = GatewayError::invalidRequest(
            "Invalid 'input': expected a string, an array of strings or token arrays.", "input");
        break;
      }
    }
    if (!err && texts.empty() && !tokenInput) {
      err = GatewayError::invalidRequest("Invalid 'input': the array is empty.", "input");
    }
  } else {
    err = GatewayError::invalidRequest(
        "Invalid 'input': expected a string, an array of strings or token arrays.", "input");
  }
  for (auto t : texts) {
    if (!err && t.empty()) {
      err = GatewayError::invalidRequest("Invalid 'input': strings must not be empty.", "input");
    }
  }
  std::string_view format = "float";
  if (!err && obj["encoding_format"].get(format) == simdjson::SUCCESS && format != "float" &&
      format != "base64") {
    err = GatewayError::invalidRequest("Invalid 'encoding_format': expected 'float' or 'base64'.",
                                       "encoding_format");
  }
  sc->base64 = format == "base64";
  int64_t dims = kMockDimensions;
  if (!err && obj["dimensions"].get(dims) == simdjson::SUCCESS &&
      (dims < 1 || dims > kMaxDimensions)) {
    err = GatewayError::invalidRequest("Invalid 'dimensions': expected a positive integer.",
                                       "dimensions");
  }
  if (err) {
    co_await sendError(out, *err, outcome);
    co_return;
  }
  const DeploymentRt& d = pick(*g);
  outcome.group = static_cast<int>(d.group);
  outcome.deployment = static_cast<int>(d.index);
  beginSimple(d, *sc, req.body());
  const http::Header ids[] = {{"x-llmux-model-group", d.cfg->modelName},
                              {"x-llmux-deployment", d.cfg->id}};
  switch (d.kind) {
    case ProviderKind::Mock: {
      if (tokenInput) {
        co_await sendError(out,
                           GatewayError::invalidRequest(
                               "The mock provider embeds text only, not token arrays.", "input"),
                           outcome, ids);
        co_return;
      }
      const std::string body = providers::mock::embeddingsBody(texts, static_cast<int>(dims),
                                                               sc->base64, sc->chat.model);
      int64_t used = 0;
      for (auto t : texts) used += std::max<int64_t>(1, (static_cast<int64_t>(t.size()) + 3) / 4);
      outcome.promptTokens = used;
      outcome.status = 200;
      Headers h;
      h.add(ids[0].first, ids[0].second);
      h.add(ids[1].first, ids[1].second);
      h.add("content-type", "application/json");
      co_await out.respond(200, h.span(), body);
      co_return;
    }
    case ProviderKind::Native:
      if (d.embeddingsLine.empty()) {
        co_await embedNative(req, out, outcome, *sc, d, obj, texts, tokenInput);
        co_return;
      }
      [[fallthrough]];  // OpenAI-shaped embeddings (Mistral)
    case ProviderKind::OpenAI: {
      rewriteBody(obj, sc->upstreamModel, false, sc->upBody);
      sc->upHead.assign(d.embeddingsLine);
      sc->upHead += "content-type: application/json\r\ncontent-length: ";
      appendDecimal(sc->upHead, static_cast<int64_t>(sc->upBody.size()));
      sc->upHead += "\r\n";
      sc->upHead += d.fixedHeaders;
      sc->upHead += "\r\n";
      sc->dropped.clear();
      sc->adapter = nullptr;
      const auto t0 = Clock::now();
      co_await runUpstream(req, sc->chat, d, out, outcome, *sc);
      co_await finishSimple(out, outcome, *sc, d, t0);
      co_return;
    }
    case ProviderKind::Unsupported:
      break;
  }
  co_await sendError(out,
                     GatewayError::invalidRequest(
                         fmt::format("Deployment '{}' uses provider '{}', which this build of "
                                     "llmux does not support yet.",
                                     d.cfg->id, d.cfg->provider),
                         "model", "unsupported_provider"),
                     outcome, ids);
}

net::awaitable<void> Engine::completions(http::Request& req, http::ResponseWriter& out,
                                         RequestOutcome& outcome) {
  auto sc = scratch_.get();
  simdjson::dom::object obj;
  std::optional<GatewayError> err;
  const ModelGroup* g = routeSimple(req, outcome, *sc, obj, err);
  if (g == nullptr) {
    co_await sendError(out, *err, outcome);
    co_return;
  }
  simdjson::dom::element prompt;
  std::string_view promptText;
  if (obj["prompt"].get(prompt) != simdjson::SUCCESS || prompt.is_null()) {
    co_await sendError(
        out, GatewayError::invalidRequest("Missing required parameter: 'prompt'.", "prompt"),
        outcome);
    co_return;
  }
  if (prompt.get(promptText) != simdjson::SUCCESS) {
    simdjson::dom::array arr;
    if (prompt.get(arr) == simdjson::SUCCESS && arr.size() > 0) {
      (void)arr.at(0).get(promptText);
    }
  }
  const DeploymentRt& d = pick(*g);
  outcome.group = static_cast<int>(d.group);
  outcome.deployment = static_cast<int>(d.index);
  beginSimple(d, *sc, req.body());
  const http::Header ids[] = {{"x-llmux-model-group", d.cfg->modelName},
                              {"x-llmux-deployment", d.cfg->id}};
  if (d.kind == ProviderKind::OpenAI) {
    rewriteBody(obj, sc->upstreamModel, sc->chat.stream, sc->upBody, d.forceStreamUsage);
    sc->upHead.assign(d.completionsLine);
    sc->upHead += "content-type: application/json\r\ncontent-length: ";
    appendDecimal(sc->upHead, static_cast<int64_t>(sc->upBody.size()));
    sc->upHead += "\r\n";
    sc->upHead += d.fixedHeaders;
    sc->upHead += "\r\n";
    sc->dropped.clear();
    sc->adapter = nullptr;
    const auto t0 = Clock::now();
    co_await runUpstream(req, sc->chat, d, out, outcome, *sc);
    co_await finishSimple(out, outcome, *sc, d, t0);
    co_return;
  }
  if (d.kind == ProviderKind::Mock) {
    providers::mock::MockReply reply;
    std::string_view mock;
    if (obj["mock_response"].get(mock) == simdjson::SUCCESS) {
      reply.content = mock;
    } else if (d.cfg->mockResponse) {
      reply.content = *d.cfg->mockResponse;
    } else {
      reply.content = "This is a mock completion of: ";
      reply.content += promptText.substr(0, 2000);
    }
    reply.promptTokens = std::max<int64_t>(1, (static_cast<int64_t>(promptText.size()) + 3) / 4);
    reply.completionTokens =
        std::max<int64_t>(1, (static_cast<int64_t>(reply.content.size()) + 3) / 4);
    outcome.promptTokens = reply.promptTokens;
    outcome.completionTokens = reply.completionTokens;
    const std::string id = "cmpl-" + std::string(req.requestId);
    const auto created = static_cast<int64_t>(std::time(nullptr));
    Headers h;
    h.add(ids[0].first, ids[0].second);
    h.add(ids[1].first, ids[1].second);
    outcome.status = 200;
    if (!sc->chat.stream) {
      h.add("content-type", "application/json");
      co_await out.respond(200, h.span(),
                           providers::mock::textCompletionBody(reply, sc->chat.model, id, created));
      co_return;
    }
    h.add("content-type", "text/event-stream");
    h.add("cache-control", "no-cache");
    std::string all;
    for (const auto& e : providers::mock::textCompletionEvents(reply, sc->chat.model, id, created,
                                                               sc->chat.includeUsage)) {
      all += e;
    }
    if (!co_await out.beginStream(200, h.span())) co_return;
    outcome.ttftUs = usSince(req.received);
    co_await out.writeChunk(all, true);
    co_return;
  }
  co_await sendError(
      out,
      GatewayError::invalidRequest(
          fmt::format("Legacy /v1/completions is served by OpenAI-compatible providers only; "
                      "deployment '{}' uses '{}'. Use /v1/chat/completions.",
                      d.cfg->id, d.cfg->provider),
          "model", "unsupported_endpoint"),
      outcome, ids);
}

}  // namespace llmux::engine
