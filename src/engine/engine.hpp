#pragma once
// The per-I/O-thread request engine: picks the deployment, calls the provider (the built-in mock or an
// OpenAI-compatible upstream) under the deployment's timeouts, and relays the answer, streamed or not.
// It owns this thread's upstream connection pools, so nothing here is shared or locked.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "engine/gateway.hpp"
#include "http/handler.hpp"
#include "providers/common/sse_parser.hpp"
#include "types/chat_request.hpp"
#include "upstream/client.hpp"

namespace llmux::engine {

// What the access log and metrics need to know about one request.
struct RequestOutcome {
  int status = 0;
  int group = -1;
  int deployment = -1;
  bool stream = false;
  uint64_t upstreamUs = 0;
  uint64_t ttftUs = 0;
  int64_t promptTokens = 0;
  int64_t completionTokens = 0;
  std::string_view errorType;  // static or owned by the engine until the next request
};

class Engine {
 public:
  Engine(Gateway& gw, boost::asio::any_io_executor ex, size_t worker, TimeoutSweep& sweep);

  boost::asio::awaitable<void> chatCompletions(http::Request& req, http::ResponseWriter& out,
                                               RequestOutcome& outcome);

  // Sends `err` as an OpenAI error response and records it in `outcome`.
  boost::asio::awaitable<void> sendError(http::ResponseWriter& out, const GatewayError& err,
                                         RequestOutcome& outcome,
                                         std::span<const http::Header> extra = {});

  Gateway& gateway() { return gw_; }
  [[nodiscard]] size_t worker() const { return worker_; }
  upstream::Client& client() { return client_; }

 private:
  boost::asio::awaitable<void> runMock(http::Request& req, const types::ChatRequest& chat,
                                       const DeploymentRt& d, http::ResponseWriter& out,
                                       RequestOutcome& outcome);
  boost::asio::awaitable<void> runOpenAI(http::Request& req, const types::ChatRequest& chat,
                                         const DeploymentRt& d, http::ResponseWriter& out,
                                         RequestOutcome& outcome);
  boost::asio::awaitable<void> relayStream(upstream::Exchange& ex, const types::ChatRequest& chat,
                                           const DeploymentRt& d, http::Request& req,
                                           http::ResponseWriter& out, RequestOutcome& outcome);
  const DeploymentRt& pick(const ModelGroup& g);

  Gateway& gw_;
  boost::asio::any_io_executor ex_;
  size_t worker_;
  upstream::Client client_;
  std::vector<uint32_t> rr_;  // round-robin cursor per group
  // Reused per request so the steady state allocates nothing for these.
  std::string upHead_;
  std::string upBody_;
  std::string respBody_;
  std::string outBuf_;
  std::string errJson_;
  std::string errType_;
  providers::SseParser sse_;
};

}  // namespace llmux::engine
