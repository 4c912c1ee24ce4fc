#pragma once
#include <simdjson.h>
// OpenAI-compatible HTTP API: routes, master-key auth, health, models, metrics; per request it
// records one metrics observation and one access-log record.
#include <boost/asio/any_io_executor.hpp>
#include <memory>

#include "api/gatekeeper.hpp"
#include "engine/engine.hpp"
#include "engine/gateway.hpp"
#include "http/handler.hpp"

namespace llmux::api {

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
                                        engine::RequestOutcome& o, Route r, RequestGov& st);
  boost::asio::awaitable<void> readiness(http::ResponseWriter& out, engine::RequestOutcome& o);
  boost::asio::awaitable<void> info(http::Request& req, http::ResponseWriter& out,
                                    engine::RequestOutcome& o, Route r, RequestGov& st);

  engine::Gateway& gw_;
  engine::Engine engine_;
  Gatekeeper gk_;
  observability::Shard& shard_;
  simdjson::dom::parser messagesParser_;  // /v1/messages bodies (used before any co_await)
};

}  // namespace llmux::api
