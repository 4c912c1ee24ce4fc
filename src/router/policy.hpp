#pragma once
// The rules that turn one failed attempt into the router's next step, LiteLLM's where it has them:
// the error class (retry_policy / allowed_fails_policy keys), whether and how long to wait before
// retrying, whether the deployment goes into cooldown, and which fallback list applies.
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/error.hpp"
#include "config/config.hpp"
#include "router/select.hpp"

namespace llmux::router {

enum class ErrorClass : uint8_t {
  BadRequest,      // 400/422 the client must fix
  Authentication,  // 401/403
  NotFound,        // 404
  Timeout,         // 408, 504, no answer in time
  RateLimit,       // 429
  ContextWindow,   // the prompt is too long for the model
  ContentPolicy,   // the provider's safety system refused
  InternalServer,  // 5xx, connection failures, malformed upstream answers
};

std::string_view errorClassName(ErrorClass c);  // "rate_limit", ... (metrics and logs)

ErrorClass classify(const GatewayError& e);

// How many retries (attempts after the first, on this model group) an error of class `c` gets:
// the retry_policy entry for the class, else num_retries — but never for errors another attempt
// cannot fix (bad requests, context window, content policy) unless the policy names them.
int retriesFor(ErrorClass c, const config::ErrorClassCounts& policy, int numRetries);

// The wait before the next attempt. Another eligible deployment: none (LiteLLM's rule: the retry
// goes there at once). Otherwise the provider's Retry-After when it is 0..60 s, else exponential
// backoff (0.5 s doubling to 8 s) with up to 25 % jitter; never less than `minimum`
// (router_settings.retry_after).
// The exponential schedule both retry layers share: 0.5 s for the first retry (n = 1), doubling to
// a cap of 8 s, before jitter.
int64_t backoffMs(int retry);

int64_t retryDelayMs(int retry, std::optional<int64_t> retryAfterMs, bool otherDeployment,
                     int64_t minimumMs, Rng& rng);

// Whether a failure puts the deployment into cooldown (LiteLLM's rules):
//  - never for client errors (4xx other than 401, 404, 408, 429) or with disable_cooldowns;
//  - when allowed_fails or allowed_fails_policy is configured: when this minute's failures exceed
//    the class's allowance (allowed_fails_policy, else allowed_fails);
//  - otherwise, in a group of several deployments: 401, 404 and 429 at once, and when more than
//    half of this minute's calls failed;
//  - a group's only deployment after kSingleDeploymentFailureRun failures this minute without a
//    success (LiteLLM also cools it down on 401 / 404 at once; there is nowhere else to send its
//    traffic, so that would only hide the provider's answer behind our 429).
struct CooldownInput {
  ErrorClass cls = ErrorClass::InternalServer;
  int status = 0;
  uint64_t failsThisMinute = 0;  // including this failure
  uint64_t successesThisMinute = 0;
  bool onlyDeployment = false;
};
bool shouldCooldown(const CooldownInput& in, const config::RouterSettings& rs);

inline constexpr uint64_t kSingleDeploymentFailureRun = 1000;

// Which fallback list a failure of class `c` uses once a group's attempts are spent.
enum class FallbackKind : uint8_t { None, Generic, ContextWindow, ContentPolicy };
FallbackKind fallbackKindFor(ErrorClass c, const GatewayError& e);

}  // namespace llmux::router
