#pragma once
// Governance on the request path, one per I/O thread: who is calling (master key, virtual key,
// or nobody when no master key is set), may it use this model, do its limits and budgets admit
// the request (locally or through Redis), and, when the request ends, settling what it really
// used and handing its spend-log row to the writer. The database is never waited on here except
// for a key or end user this thread has not seen within the cache TTL (then one lookup on the
// store thread, awaited without blocking the I/O thread).
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/key_cache.hpp"
#include "auth/principal.hpp"
#include "common/error.hpp"
#include "engine/engine.hpp"
#include "engine/gateway.hpp"
#include "governance/limits.hpp"
#include "http/handler.hpp"
#include "tokenizer/count.hpp"

namespace llmux::kv {
class RedisConnection;
class RedisLimiter;
}  // namespace llmux::kv

namespace llmux::api {

class GovernanceRuntime;
class CooldownSync;

// What governance reads from a request body and headers (api/request_meta.hpp).
struct RequestMeta {
  std::string user;       // the OpenAI `user` field ("" = none)
  std::string metadata;   // merged JSON object ("" = none)
  std::string tags;       // JSON array of strings ("" = none)
  int64_t maxTokens = 0;  // max_completion_tokens, else max_tokens (0 = not set)
};

// One request's governance state, from authentication to settlement.
struct RequestGov {
  std::shared_ptr<const auth::Principal> principal;
  std::shared_ptr<const auth::CustomerView> customer;
  // The descriptors admission used: the principal's own list, or a copy with the request's
  // per-model and end-user descriptors added.
  std::vector<governance::Descriptor> owned;
  const std::vector<governance::Descriptor>* descriptors = nullptr;
  bool admitted = false;
  bool viaRedis = false;  // admitted by Redis (settle there too)
  bool degraded = false;  // admitted by the per-instance share while Redis was unreachable
  bool settled = false;
  int64_t admittedMs = 0;
  int64_t reservedTokens = 0;
  int64_t reservedCostNano = 0;
  governance::AdmitResult admission;               // when admitted: what remains (headers)
  std::optional<governance::AdmitResult> refusal;  // when refused (its headers)
  std::string model;                               // what the client asked for (before key aliases)
  std::string endUser;                             // the OpenAI `user` field
  std::string metadata;                            // request metadata, a JSON object ("" = none)
  std::string tags;                                // request tags, a JSON array ("" = none)
  std::string callType = "chat_completion";
  int64_t startMs = 0;  // wall clock, unix ms
  bool tokensEstimated = false;
  // Computed when the response goes out (GovWriter) or at the end.
  std::optional<double> costUsd;

  // Back to a new request's state, keeping the strings' and vectors' capacity (pooled, api.hpp).
  void reset() {
    principal.reset();
    customer.reset();
    owned.clear();
    descriptors = nullptr;
    admitted = viaRedis = degraded = settled = false;
    admittedMs = reservedTokens = reservedCostNano = 0;
    admission = governance::AdmitResult{};
    refusal.reset();
    model.clear();
    endUser.clear();
    metadata.clear();
    tags.clear();
    callType.assign("chat_completion");
    startMs = 0;
    tokensEstimated = false;
    costUsd.reset();
  }
};

// Output tokens reserved when neither the request nor the price table caps them.
inline constexpr int64_t kDefaultOutputReservation = 4096;

class Gatekeeper final {
 public:
  Gatekeeper(GovernanceRuntime& rt, engine::Gateway& gw, boost::asio::any_io_executor ex,
             size_t worker);
  ~Gatekeeper();
  Gatekeeper(const Gatekeeper&) = delete;
  Gatekeeper& operator=(const Gatekeeper&) = delete;

  // Resolves the caller. nullopt when the request may go on (st.principal is set).
  boost::asio::awaitable<std::optional<GatewayError>> authenticate(const http::Request& req,
                                                                   RequestGov& st);
  // Model access, key aliases, token count and admission for a parsed chat request.
  boost::asio::awaitable<std::optional<GatewayError>> admitChat(http::Request& req,
                                                                types::ChatRequest& chat,
                                                                engine::RequestOutcome& outcome,
                                                                RequestGov& st);
  // The same for embeddings, text completions and relayed Anthropic messages: reads the model
  // and input from the body (a body the engine will refuse is let through to it).
  boost::asio::awaitable<std::optional<GatewayError>> admitOther(http::Request& req,
                                                                 RequestGov& st);
  // Settles the admission with what the request used (once; a whole answer is settled just
  // before it is written, so the client's next request sees the true counters).
  void settle(RequestGov& st, const engine::RequestOutcome& o, double cost);
  // Settles (if not yet) and queues the request's spend-log row.
  void finish(const http::Request& req, RequestGov& st, const engine::RequestOutcome& o,
              int status);
  // The request's cost from its outcome (USD), 0 when unpriced.
  [[nodiscard]] double costOf(const engine::RequestOutcome& o) const;
  // The key's spend as far as this instance knows (for x-llmux-key-spend).
  [[nodiscard]] double keySpend(const RequestGov& st, double thisRequest) const;

  // /key/*, /team/*, ...: runs the management handler on the store thread.
  boost::asio::awaitable<void> management(http::Request& req, http::ResponseWriter& out,
                                          engine::RequestOutcome& o, RequestGov& st);

  // The worker is drained: flush pending Redis settlements, then close the connection so the
  // io_context can finish.
  void onDrained();

  GovernanceRuntime& runtime() { return rt_; }
  // This thread's view of Redis (true when Redis is not configured).
  [[nodiscard]] bool redisHealthy() const;

 private:
  boost::asio::awaitable<std::optional<GatewayError>> admit(RequestGov& st,
                                                            governance::AdmitRequest& ar);
  // Admission of a request whose metadata takeMeta() stored in `st`.
  boost::asio::awaitable<std::optional<GatewayError>> admitModel(RequestGov& st,
                                                                 std::string_view model,
                                                                 const tokenizer::Count& count,
                                                                 int64_t maxTokens);
  static void takeMeta(RequestGov& st, RequestMeta&& meta);
  // The worst-case cost, the token reservation and the descriptor list of an admission; false
  // when nothing limits the request.
  bool prepareAdmission(RequestGov& st, std::string_view model, const tokenizer::Count& count,
                        int64_t maxTokens, governance::AdmitRequest& ar) const;
  boost::asio::awaitable<std::shared_ptr<const auth::CustomerView>> loadCustomer(std::string id,
                                                                                 int64_t now);
  // The provider's model id for a group (token counting picks the tokenizer by it).
  [[nodiscard]] std::string_view upstreamModelOf(std::string_view model) const;
  // Whether admission or the router will use the prompt's exact token count.
  [[nodiscard]] bool needsTokenCount(const auth::Principal& p, const types::ChatRequest& chat,
                                     const RequestMeta& meta) const;

  GovernanceRuntime& rt_;
  engine::Gateway& gw_;
  boost::asio::any_io_executor ex_;
  size_t worker_;
  auth::KeyCache keys_;
  auth::CustomerCache customers_;
  std::shared_ptr<kv::RedisConnection> redisConn_;
  std::unique_ptr<kv::RedisLimiter> redis_;
  bool redisWasDown_ = false;  // for logging transitions once per thread
  // The router uses exact counts for every group: context-window checks or token-based routing.
  bool routerCountsTokens_ = false;
  std::shared_ptr<CooldownSync> cooldowns_;  // worker 0 only, with Redis
};

// The per-request engine hook (engine::AdmissionHook) that forwards to the thread's Gatekeeper.
class RequestAdmission final : public engine::AdmissionHook {
 public:
  RequestAdmission(Gatekeeper& gk, RequestGov& st) : gk_(gk), st_(st) {}
  boost::asio::awaitable<std::optional<GatewayError>> admitChat(
      http::Request& req, types::ChatRequest& chat, engine::RequestOutcome& outcome) override {
    return gk_.admitChat(req, chat, outcome, st_);
  }

 private:
  Gatekeeper& gk_;
  RequestGov& st_;
};

}  // namespace llmux::api
