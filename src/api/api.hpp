#pragma once
#include <simdjson.h>
// OpenAI-compatible HTTP API: routes, master-key auth, health, models, metrics; per request it
// records one metrics observation and one access-log record.
#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <vector>

#include "api/gatekeeper.hpp"
#include "api/gov_writer.hpp"
#include "engine/engine.hpp"
#include "engine/gateway.hpp"
#include "http/handler.hpp"

namespace llmux::api {

// One request's API-level state, recycled through a per-thread free list so that a request's
// governance state and header storage keep their capacity and stay out of the coroutine frame.
struct RequestState {
  engine::RequestOutcome outcome;
  RequestGov st;
  GovBuffers gov;
};

class RequestStatePool {
 public:
  class Lease {
   public:
    explicit Lease(RequestStatePool& pool);
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    RequestState& operator*() { return *s_; }
    RequestState* operator->() { return s_.get(); }

   private:
    RequestStatePool& pool_;
    std::unique_ptr<RequestState> s_;
  };

 private:
  std::vector<std::unique_ptr<RequestState>> free_;
};

class Api final : public http::Handler {
 public:
  Api(engine::Gateway& gw, GovernanceRuntime& gov, boost::asio::any_io_executor ex, size_t worker,
      TimeoutSweep& sweep);
  boost::asio::awaitable<void> handle(http::Request& req, http::ResponseWriter& out) override;
  void onDrained() override { gk_.onDrained(); }

 private:
  enum class Route {
    ChatCompletions,
    Embeddings,
    Completions,
    Messages,
    CountTokens,
    Health,
    Models,
    Liveliness,
    Readiness,
    Metrics,
    Management,
    ModelInfo,
    ModelGroupInfo,
    TokenCounter,
    NotFound
  };
  static Route route(std::string_view path);
  void record(const http::Request& req, const http::ResponseWriter& out,
              const engine::RequestOutcome& o, uint64_t bytesOut);
  boost::asio::awaitable<void> messages(http::Request& req, http::ResponseWriter& out,
                                        engine::RequestOutcome& o, Route r, RequestState& rs);
  boost::asio::awaitable<void> readiness(http::ResponseWriter& out, engine::RequestOutcome& o);
  // 404 for an unknown route, 405 for a wrong method.
  boost::asio::awaitable<void> refuseRoute(http::Request& req, http::ResponseWriter& out,
                                           engine::RequestOutcome& o, bool notFound, bool wantPost);
  // /v1/embeddings and /v1/completions: admission, then the engine.
  boost::asio::awaitable<void> otherCall(http::Request& req, http::ResponseWriter& out,
                                         engine::RequestOutcome& o, RequestGov& st, GovBuffers& gb,
                                         Route r);
  boost::asio::awaitable<void> metrics(http::ResponseWriter& out, engine::RequestOutcome& o);
  // Authenticates the caller; false when refused (the error is written).
  boost::asio::awaitable<bool> admitCaller(http::Request& req, http::ResponseWriter& out,
                                           engine::RequestOutcome& o, RequestGov& st);
  boost::asio::awaitable<void> info(http::Request& req, http::ResponseWriter& out,
                                    engine::RequestOutcome& o, Route r, RequestGov& st);

  engine::Gateway& gw_;
  engine::Engine engine_;
  Gatekeeper gk_;
  observability::Shard& shard_;
  simdjson::dom::parser messagesParser_;  // /v1/messages bodies (used before any co_await)
  RequestStatePool states_;
};

}  // namespace llmux::api
