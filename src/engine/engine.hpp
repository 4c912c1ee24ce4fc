#pragma once
// The per-I/O-thread request engine: picks the deployment, calls the provider (the built-in mock or
// an OpenAI-compatible upstream) under the deployment's timeouts, and relays the answer, streamed
// or not. It owns this thread's upstream connection pools, so nothing here is shared or locked.
#include <simdjson.h>
#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/error.hpp"
#include "engine/gateway.hpp"
#include "http/handler.hpp"
#include "providers/common/adapter.hpp"
#include "providers/common/sse_parser.hpp"
#include "router/openrouter.hpp"
#include "router/portkey_config.hpp"
#include "router/select.hpp"
#include "types/chat_request.hpp"
#include "upstream/client.hpp"

namespace llmux::engine {

struct RequestOutcome;

// Admission control for one request (virtual keys, model access, rate limits, budgets; see
// api::Gatekeeper). The engine calls it once the body is parsed and before routing; it may
// rewrite the model (key aliases) and answers with the error to send when it refuses.
class AdmissionHook {
 public:
  virtual boost::asio::awaitable<std::optional<GatewayError>> admitChat(
      http::Request& req, types::ChatRequest& chat, RequestOutcome& outcome) = 0;

 protected:
  ~AdmissionHook() = default;
};

// What the access log and metrics need to know about one request.
struct RequestOutcome {
  int status = 0;
  int attempts = 0;           // upstream attempts made (0 = none, e.g. rejected before routing)
  bool fallbackUsed = false;  // answered by a model group other than the one asked for
  std::string attemptLog;     // "dep-a:429,dep-b:200" when there was more than one attempt
  int group = -1;
  int deployment = -1;
  bool stream = false;
  uint64_t upstreamUs = 0;
  uint64_t ttftUs = 0;
  int64_t promptTokens = 0;
  int64_t completionTokens = 0;
  int64_t cachedTokens = 0;     // of promptTokens: read from the provider's prompt cache
  int64_t reasoningTokens = 0;  // of completionTokens
  std::string errorType;  // OpenAI error type, or a gateway reason such as client_closed_request
  AdmissionHook* admission = nullptr;  // set by the API layer when governance is on
  // The prompt's token count from admission (exact for OpenAI models), -1 when not counted: the
  // router's tpm reservation and context-window checks use it instead of an estimate.
  int64_t countedPromptTokens = -1;
};

// One failed attempt: which deployment, and why.
struct AttemptRecord {
  size_t deployment = 0;
  int status = 0;
  std::string code;  // error code, else type
  std::string message;
};

// Routing fields a request may carry (LiteLLM's body keys, OpenRouter's models / provider).
struct RequestRouting {
  std::optional<int> numRetries;
  std::optional<double> timeoutSeconds, streamTimeoutSeconds;
  bool hasFallbacks = false;  // `fallbacks` given (an empty list disables the configured ones)
  std::vector<std::string> fallbacks, contextFallbacks, contentFallbacks;
  bool disableFallbacks = false;
  enum class MockFault : uint8_t { None, Generic, ContextWindow, ContentPolicy, RateLimit };
  MockFault mockFault = MockFault::None;
  // OpenRouter: `models` to try in order after `model`, `provider` preferences.
  bool hasOpenRouter = false;
  router::openrouter::Routing openrouter;
  void clear() {
    numRetries.reset();
    timeoutSeconds.reset();
    streamTimeoutSeconds.reset();
    hasFallbacks = false;
    fallbacks.clear();
    contextFallbacks.clear();
    contentFallbacks.clear();
    disableFallbacks = false;
    mockFault = MockFault::None;
    hasOpenRouter = false;
    openrouter.models.clear();
    openrouter.provider.reset();
  }
};

// One model group (or part of one) that a request's routing plan tries, with its retry rules.
// Plans are built for OpenRouter and Portkey requests; LiteLLM-style requests (the hot path)
// follow the configured fallbacks without one.
struct PlanStep {
  const ModelGroup* group = nullptr;  // null: nothing serves `name` (the step fails at once)
  std::string name;                   // the model name asked for
  std::string capture;                // what a wildcard group's '*' matched
  std::optional<GatewayError> error;  // why the step cannot run (with group == null)
  std::vector<size_t> deployments;    // a subset or preference order; empty = the whole group
  std::vector<int> tiers;             // preference tiers of `deployments`; empty = `order`
  // LiteLLM: retry_policy / num_retries. OpenRouter: also every listed provider once. Portkey:
  // the target's retry spec. None: one attempt (OpenRouter allow_fallbacks=false).
  enum class Retry : uint8_t { LiteLLM, OpenRouter, Portkey, None };
  Retry retry = Retry::LiteLLM;
  int attempts = 0;                  // Portkey: retries after the first call
  std::vector<int> retryCodes;       // Portkey: the statuses retried
  std::optional<int64_t> timeoutMs;  // Portkey request_timeout
  std::string overrideParams;        // Portkey override_params (a JSON object), "" = none
  // Portkey fallback nodes above this leaf, outermost first: after a failure, the deepest one
  // whose next child exists (next >= 0) and whose status list accepts the failure moves there.
  struct Exit {
    const std::vector<int>* codes = nullptr;  // empty list: any failure moves on
    int next = -1;                            // index into the plan of the next child's first leaf
  };
  std::vector<Exit> exits;
};

// Where a request's routing stands (route.cpp): kept in the Scratch, not in the coroutine frame,
// so that the attempt loop's frame stays small (malloc's per-thread cache serves up to 1 KiB).
struct RouteCursor {
  GroupMatch match;                                 // the current group (no plan)
  const ModelGroup* primary = nullptr;              // the group asked for
  const ModelGroup* group = nullptr;                // the group of the current step
  std::span<const size_t> deployments;              // the current step's candidates
  const std::vector<std::string>* chain = nullptr;  // LiteLLM fallbacks, once chosen
  size_t chainPos = 0;
  size_t stepIdx = 0;  // plan index
  int fallbacksUsed = 0;
  int attemptNo = 0;
  int retries = 0;  // in the current step
  bool fallback = false;
  std::string_view groupName;
  std::optional<GatewayError> primaryError;  // the first step's final error
  router::PickInput pick;
};

// Small fixed list of response headers (no allocation).
struct Headers {
  std::array<http::Header, 12> items{};
  size_t n = 0;
  void add(std::string_view k, std::string_view v) {
    if (n < items.size()) items[n++] = {k, v};
  }
  [[nodiscard]] std::span<const http::Header> span() const { return {items.data(), n}; }
};

// Buffers one request needs while it is in flight. Requests on one I/O thread interleave at every
// co_await, so nothing per-request may live in the Engine itself; scratch sets are recycled through
// a free list instead, keeping their capacity, so the steady state allocates nothing.
struct Scratch {
  types::ChatRequest chat;  // the parsed client request
  std::string upHead;
  std::string upBody;
  std::string respBody;
  std::string outBuf;
  http::HeaderList upHeaders;  // upstream response header fields
  std::string upRead;          // upstream body bytes as read
  std::string contentType;     // upstream content-type, copied
  providers::SseParser sse;
  std::optional<upstream::Exchange> exchange;        // the current upstream attempt
  std::optional<boost::asio::steady_timer> backoff;  // the wait between attempts
  Headers headers;                                   // x-llmux-* and content-type of the answer
  // Native providers (adapters): the translated call, the parameters dropped under drop_params
  // ("a, b" for x-llmux-dropped-params), the id of our answer and the stream decoder.
  providers::UpstreamCall call;
  std::string dropped;
  std::string answerId;
  std::string inlinedBody;  // the request with remote images inlined (providers without URLs)
  std::unique_ptr<providers::StreamDecoder> decoder;
  const providers::Adapter* adapter = nullptr;  // translator of this request; null = OpenAI splice
  bool base64 = false;                          // embeddings: encoding_format "base64"

  // Routing of this request (route.cpp).
  RequestRouting routing;      // per-request fields (LiteLLM, OpenRouter, Portkey)
  std::vector<PlanStep> plan;  // OpenRouter / Portkey requests (route_plan.cpp)
  RouteCursor route;
  router::portkey::Node portkeyRoot;               // a config sent inline in x-llmux-config
  const router::portkey::Node* portkey = nullptr;  // the request's Portkey config, if any
  std::string overrideBody;             // the body with a step's override_params merged in
  bool chatIsOverride = false;          // sc.chat was parsed from overrideBody
  std::vector<size_t> tried;            // deployments that failed for this request
  std::vector<AttemptRecord> attempts;  // every failed attempt, for the final error and the log
  std::string attemptLog;               // access-log summary of the attempts
  // Set by an attempt that failed before anything reached the client (the router may retry or
  // fall back); unset when the attempt answered (or the client left).
  std::optional<GatewayError> failure;
  std::optional<int64_t> failureRetryAfterMs;  // the provider's Retry-After of that failure
  router::Reservation reservation;
  std::string_view body;      // the request body the attempt sends (override_params)
  std::string upstreamModel;  // the provider model (wildcard groups fill in '*')
  std::chrono::milliseconds timeout{0}, streamTimeout{0};  // this attempt's limits
  char attemptsValue[12] = {};                             // x-llmux-attempts
  std::string_view capture;  // what a wildcard group's '*' matched (into chat.model)
  void trim();               // drops unusually large buffers before the set goes back to the pool
};

class ScratchPool {
 public:
  class Lease {
   public:
    Lease(ScratchPool& pool, std::unique_ptr<Scratch> s) : pool_(pool), s_(std::move(s)) {}
    ~Lease() { pool_.put(std::move(s_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Scratch* operator->() { return s_.get(); }
    Scratch& operator*() { return *s_; }

   private:
    ScratchPool& pool_;
    std::unique_ptr<Scratch> s_;
  };
  Lease get();

 private:
  void put(std::unique_ptr<Scratch> s);
  std::vector<std::unique_ptr<Scratch>> free_;
};

class Engine {
 public:
  Engine(Gateway& gw, boost::asio::any_io_executor ex, size_t worker, TimeoutSweep& sweep);

  boost::asio::awaitable<void> chatCompletions(http::Request& req, http::ResponseWriter& out,
                                               RequestOutcome& outcome);

  boost::asio::awaitable<void> embeddings(http::Request& req, http::ResponseWriter& out,
                                          RequestOutcome& outcome);
  // /v1/messages for a model group served only by Anthropic deployments: the client's Anthropic
  // request and the upstream's answer are relayed as they are (model replaced). Errors the engine
  // itself produces are OpenAI-shaped; the caller's writer converts them.
  [[nodiscard]] bool servesAnthropicNatively(std::string_view model) const;
  boost::asio::awaitable<void> messagesPassthrough(http::Request& req, http::ResponseWriter& out,
                                                   RequestOutcome& outcome,
                                                   bool countTokens = false);
  boost::asio::awaitable<void> completions(http::Request& req, http::ResponseWriter& out,
                                           RequestOutcome& outcome);

  // GET /health: every deployment's health (the background checks' last results, or a check run
  // now when they are off) and routing state, in LiteLLM's shape.
  boost::asio::awaitable<void> health(http::Request& req, http::ResponseWriter& out,
                                      RequestOutcome& outcome);
  // Calls every deployment once (concurrently) and stores the results; with `route`, failing
  // deployments leave the rotation and passing ones return (background checks).
  boost::asio::awaitable<void> checkAll(bool route);

  // Sends `err` as an OpenAI error response and records it in `outcome`.
  static boost::asio::awaitable<void> sendError(http::ResponseWriter& out, const GatewayError& err,
                                                RequestOutcome& outcome,
                                                std::span<const http::Header> extra = {});

  Gateway& gateway() { return gw_; }
  [[nodiscard]] size_t worker() const { return worker_; }
  upstream::Client& client() { return client_; }

 private:
  boost::asio::awaitable<void> runMock(http::Request& req, const types::ChatRequest& chat,
                                       const DeploymentRt& d, http::ResponseWriter& out,
                                       RequestOutcome& outcome, Scratch& sc);
  // One health probe: a minimal chat call to `d` (health.cpp).
  boost::asio::awaitable<void> checkDeployment(const DeploymentRt& d,
                                               Gateway::HealthResult& result);
  // Routing (route.cpp): per-request fields, the attempt loop, and the final error.
  std::optional<GatewayError> readRequestRouting(Scratch& sc);
  // route_plan.cpp: the plans of OpenRouter and Portkey requests.
  std::optional<GatewayError> readPortkeyConfig(http::Request& req, Scratch& sc);
  std::optional<GatewayError> buildOpenRouterPlan(Scratch& sc);
  std::optional<GatewayError> buildPortkeyPlan(http::Request& req, Scratch& sc);
  std::optional<GatewayError> applyOverrides(http::Request& req, const PlanStep* step, Scratch& sc);
  boost::asio::awaitable<void> routeChat(http::Request& req, http::ResponseWriter& out,
                                         RequestOutcome& outcome, Scratch& sc);
  // The attempt loop's steps (route.cpp), plain functions so that the coroutine stays small:
  // the request's routing input and first group (an error ends the request); the current step's
  // group (null when it cannot run: sc.failure says why); the next deployment (null: the step is
  // spent); what follows a failed attempt (-1: the step is spent, else the wait in ms); the next
  // step (false: none).
  std::optional<GatewayError> prepareChat(http::Request& req, Scratch& sc);
  std::optional<GatewayError> startRoute(http::Request& req, Scratch& sc);
  const ModelGroup* beginStep(http::Request& req, Scratch& sc, RequestOutcome& outcome);
  const DeploymentRt* pickNext(Scratch& sc, RequestOutcome& outcome);
  int64_t afterFailure(const DeploymentRt& d, Scratch& sc);
  bool nextStep(Scratch& sc);
  void noteSuccess(const DeploymentRt& d, Scratch& sc, RequestOutcome& outcome);
  boost::asio::awaitable<void> attemptChat(http::Request& req, const DeploymentRt& d,
                                           http::ResponseWriter& out, RequestOutcome& outcome,
                                           Scratch& sc);
  void prepareAttempt(const DeploymentRt& d, std::string_view capture, Scratch& sc, int attemptNo,
                      bool fallback);
  void recordResult(const DeploymentRt& d, const ModelGroup& g, Scratch& sc,
                    RequestOutcome& outcome, uint64_t attemptUs);
  static GatewayError mockFault(RequestRouting::MockFault f, std::string_view group);
  void noteAttempt(const DeploymentRt& d, Scratch& sc);
  static void noteUnavailable(const GatewayError& e, Scratch& sc);
  void summarizeAttempts(Scratch& sc, RequestOutcome& outcome);
  // The single-attempt endpoints: prepare the attempt, and afterwards record it and send a
  // failure that remained.
  void beginSimple(const DeploymentRt& d, Scratch& sc, std::string_view body);
  boost::asio::awaitable<void> finishSimple(http::ResponseWriter& out, RequestOutcome& outcome,
                                            Scratch& sc, const DeploymentRt& d,
                                            std::chrono::steady_clock::time_point t0);
  boost::asio::awaitable<void> sendFinalError(http::ResponseWriter& out, RequestOutcome& outcome,
                                              Scratch& sc, std::string_view group);
  // Parses a DOM-handled request (embeddings, completions): model, stream, the group. nullptr
  // with `err` set when it cannot be routed.
  const ModelGroup* routeSimple(http::Request& req, RequestOutcome& outcome, Scratch& sc,
                                simdjson::dom::object& obj, std::optional<GatewayError>& err);
  boost::asio::awaitable<void> embedNative(http::Request& req, http::ResponseWriter& out,
                                           RequestOutcome& outcome, Scratch& sc,
                                           const DeploymentRt& d, simdjson::dom::object obj,
                                           const std::vector<std::string_view>& texts,
                                           bool tokenInput);
  boost::asio::awaitable<void> embedInBatches(http::Request& req, http::ResponseWriter& out,
                                              RequestOutcome& outcome, Scratch& sc,
                                              const DeploymentRt& d,
                                              const std::vector<std::string>& inputs,
                                              const std::string& common, size_t perCall,
                                              const std::string& token);
  void buildOpenAIHead(http::Request& req, const types::ChatRequest& chat, const DeploymentRt& d,
                       Scratch& sc);
  // Translates the request for a native provider into sc.upHead/upBody; `bearer` is an OAuth
  // token for providers that authenticate per request (Vertex AI).
  std::optional<GatewayError> buildNativeHead(std::string_view body, bool stream,
                                              const DeploymentRt& d, Scratch& sc,
                                              std::string_view bearer);
  boost::asio::awaitable<void> runNative(http::Request& req, const types::ChatRequest& chat,
                                         const DeploymentRt& d, http::ResponseWriter& out,
                                         RequestOutcome& outcome, Scratch& sc);
  // Vertex AI: this thread's cached access token for the deployment's service account, fetched or
  // refreshed when it is missing or within five minutes of expiry.
  boost::asio::awaitable<std::optional<GatewayError>> googleToken(const DeploymentRt& d,
                                                                  std::string& token);
  // Downloads one client image URL (bounded; public addresses only unless allowed) as a data: URL.
  boost::asio::awaitable<std::optional<GatewayError>> fetchImage(std::string_view url,
                                                                 std::string& dataUrl);
  // For providers that take no image URLs: `out` = `body` with every http(s) image_url replaced by
  // the downloaded image as a data: URL (`replaced` false when there was none).
  boost::asio::awaitable<std::optional<GatewayError>> inlineRemoteImages(std::string_view body,
                                                                         std::string& out,
                                                                         bool& replaced);
  // Sends the prepared sc.upHead/upBody with the deployment's retries and relays the answer.
  boost::asio::awaitable<void> runUpstream(http::Request& req, const types::ChatRequest& chat,
                                           const DeploymentRt& d, http::ResponseWriter& out,
                                           RequestOutcome& outcome, Scratch& sc);
  boost::asio::awaitable<void> relayNativeStream(upstream::Exchange& ex,
                                                 const types::ChatRequest& chat,
                                                 const DeploymentRt& d, http::Request& req,
                                                 http::ResponseWriter& out, RequestOutcome& outcome,
                                                 Scratch& sc);
  boost::asio::awaitable<void> sendTranslated(http::ResponseWriter& out, RequestOutcome& outcome,
                                              Scratch& sc, int status);
  boost::asio::awaitable<void> relayStream(upstream::Exchange& ex, const types::ChatRequest& chat,
                                           const DeploymentRt& d, http::Request& req,
                                           http::ResponseWriter& out, RequestOutcome& outcome,
                                           Scratch& sc);
  // Waits before retry `attempt`+1; false when the wait would pass `deadline` or was cancelled.
  boost::asio::awaitable<bool> sleepBeforeRetry(boost::asio::steady_timer& timer, int attempt,
                                                std::optional<int64_t> retryAfterSeconds,
                                                std::chrono::steady_clock::time_point deadline);
  // A deployment of `g` for the endpoints without the full attempt loop (embeddings, legacy
  // completions, the Anthropic relay): the router's choice, not held.
  const DeploymentRt& pick(const ModelGroup& g);
  // A selector input for `deployments` with the clocks read now and the router's settings.
  [[nodiscard]] router::PickInput pickInput(std::span<const size_t> deployments) const;

  Gateway& gw_;
  boost::asio::any_io_executor ex_;
  size_t worker_;
  upstream::Client client_;
  router::Selector selector_;  // this thread's strategy state over the shared deployment state
  ScratchPool scratch_;
  simdjson::dom::parser json_;          // translators' parser; used between co_awaits only
  simdjson::dom::parser metaParser_;    // request metadata headers (Portkey conditions)
  simdjson::dom::parser configParser_;  // inline Portkey configs
  struct GoogleTokenState {
    std::string token;
    std::chrono::steady_clock::time_point refreshAt{};
    std::chrono::steady_clock::time_point expiresAt{};  // still usable while a refresh runs
    bool fetching = false;
    std::vector<boost::asio::steady_timer*> waiters;  // requests waiting for the fetch
  };
  std::unordered_map<const GoogleServiceAccount*, GoogleTokenState> googleTokens_;
};

}  // namespace llmux::engine
