#include "router/policy.hpp"

#include <algorithm>

namespace llmux::router {

namespace {

bool codeIs(const GatewayError& e, std::string_view c) {
  return e.code && *e.code == c;
}

std::optional<int> policyFor(ErrorClass c, const config::ErrorClassCounts& p) {
  switch (c) {
    case ErrorClass::BadRequest:
      return p.badRequest;
    case ErrorClass::Authentication:
      return p.authentication;
    case ErrorClass::Timeout:
      return p.timeout;
    case ErrorClass::RateLimit:
      return p.rateLimit;
    case ErrorClass::ContentPolicy:
      // Refusals and context-window errors are bad requests to LiteLLM's policy too.
      return p.contentPolicy ? p.contentPolicy : p.badRequest;
    case ErrorClass::ContextWindow:
      return p.badRequest;
    case ErrorClass::InternalServer:
      return p.internalServer;
    case ErrorClass::NotFound:
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

std::string_view errorClassName(ErrorClass c) {
  switch (c) {
    case ErrorClass::BadRequest:
      return "bad_request";
    case ErrorClass::Authentication:
      return "authentication";
    case ErrorClass::NotFound:
      return "not_found";
    case ErrorClass::Timeout:
      return "timeout";
    case ErrorClass::RateLimit:
      return "rate_limit";
    case ErrorClass::ContextWindow:
      return "context_window";
    case ErrorClass::ContentPolicy:
      return "content_policy";
    case ErrorClass::InternalServer:
      return "internal_server";
  }
  return "internal_server";
}

ErrorClass classify(const GatewayError& e) {
  if (codeIs(e, "context_length_exceeded")) return ErrorClass::ContextWindow;
  if (codeIs(e, "content_filter") || codeIs(e, "content_policy_violation") ||
      codeIs(e, "content_policy")) {
    return ErrorClass::ContentPolicy;
  }
  const int s = e.status;
  if (s == 429) return ErrorClass::RateLimit;
  if (s == 401 || s == 403) return ErrorClass::Authentication;
  if (s == 404) return ErrorClass::NotFound;
  if (s == 408 || s == 504) return ErrorClass::Timeout;
  if (s >= 400 && s < 500) return ErrorClass::BadRequest;
  return ErrorClass::InternalServer;  // 5xx, connection failures, malformed answers
}

int retriesFor(ErrorClass c, const config::ErrorClassCounts& policy, int numRetries) {
  if (auto n = policyFor(c, policy)) return std::max(*n, 0);
  switch (c) {
    case ErrorClass::NotFound:
    case ErrorClass::BadRequest:
    case ErrorClass::ContextWindow:
    case ErrorClass::ContentPolicy:
      // The same request fails the same way elsewhere in the group; fallbacks may still help.
      return 0;
    default:
      return std::max(numRetries, 0);
  }
}

int64_t backoffMs(int retry) {
  return std::min<int64_t>(8000, int64_t{500} << std::clamp(retry - 1, 0, 4));
}

int64_t retryDelayMs(int retry, std::optional<int64_t> retryAfterMs, bool otherDeployment,
                     int64_t minimumMs, Rng& rng) {
  if (otherDeployment) return 0;
  int64_t base = 0;
  if (retryAfterMs && *retryAfterMs >= 0 && *retryAfterMs <= 60000) {
    base = *retryAfterMs;
  } else {
    base = backoffMs(retry);
  }
  base = std::max(base, std::min<int64_t>(minimumMs, 8000));
  // Up to 25 % more, so clients that failed together do not come back together.
  const auto jitter = static_cast<int64_t>(rng.uniform() * static_cast<double>(base) * 0.25);
  return base + jitter;
}

bool shouldCooldown(const CooldownInput& in, const config::RouterSettings& rs) {
  if (rs.disableCooldowns) return false;
  // Client errors say nothing about the deployment's health, except these four.
  const bool clientError = in.status >= 400 && in.status < 500;
  if (in.cls == ErrorClass::ContextWindow || in.cls == ErrorClass::ContentPolicy) return false;
  if (clientError && in.status != 401 && in.status != 404 && in.status != 408 && in.status != 429) {
    return false;
  }
  if (rs.allowedFails || rs.allowedFailsPolicy.any()) {
    // LiteLLM's allowed_fails rules: more failures this minute than the class allows.
    std::optional<int> limit;
    switch (in.cls) {
      case ErrorClass::BadRequest:
        limit = rs.allowedFailsPolicy.badRequest;
        break;
      case ErrorClass::Authentication:
        limit = rs.allowedFailsPolicy.authentication;
        break;
      case ErrorClass::Timeout:
        limit = rs.allowedFailsPolicy.timeout;
        break;
      case ErrorClass::RateLimit:
        limit = rs.allowedFailsPolicy.rateLimit;
        break;
      case ErrorClass::InternalServer:
        limit = rs.allowedFailsPolicy.internalServer;
        break;
      default:
        break;
    }
    const int allowed = limit.value_or(rs.allowedFails.value_or(3));
    return in.failsThisMinute > static_cast<uint64_t>(std::max(allowed, 0));
  }
  // Default rules: a rate limit moves traffic to the group's other deployments at once; an
  // invalid key or unknown model will not heal by itself; otherwise a majority of this minute's
  // calls failing (a group's only deployment only after a long run of nothing but failures).
  const uint64_t total = in.failsThisMinute + in.successesThisMinute;
  if (in.onlyDeployment) {
    // Nowhere else to send the traffic: cooling down would only replace the provider's own
    // answer (which says what is wrong) by a 429 from us.
    return in.successesThisMinute == 0 && total >= kSingleDeploymentFailureRun;
  }
  if (in.status == 401 || in.status == 404 || in.status == 429) return true;
  return total > 0 && in.failsThisMinute * 2 > total;
}

FallbackKind fallbackKindFor(ErrorClass c, const GatewayError& /*e*/) {
  switch (c) {
    case ErrorClass::ContextWindow:
      return FallbackKind::ContextWindow;
    case ErrorClass::ContentPolicy:
      return FallbackKind::ContentPolicy;
    default:
      return FallbackKind::Generic;
  }
}

}  // namespace llmux::router
