#include "router/policy.hpp"

#include <gtest/gtest.h>

namespace llmux::router {
namespace {

GatewayError err(int status, std::optional<std::string> code = {}) {
  GatewayError e;
  e.status = status;
  e.code = std::move(code);
  return e;
}

TEST(Classify, ByCodeThenStatus) {
  EXPECT_EQ(classify(err(400, "context_length_exceeded")), ErrorClass::ContextWindow);
  EXPECT_EQ(classify(err(400, "content_filter")), ErrorClass::ContentPolicy);
  EXPECT_EQ(classify(err(400, "content_policy_violation")), ErrorClass::ContentPolicy);
  EXPECT_EQ(classify(err(400)), ErrorClass::BadRequest);
  EXPECT_EQ(classify(err(422)), ErrorClass::BadRequest);
  EXPECT_EQ(classify(err(401)), ErrorClass::Authentication);
  EXPECT_EQ(classify(err(403)), ErrorClass::Authentication);
  EXPECT_EQ(classify(err(404)), ErrorClass::NotFound);
  EXPECT_EQ(classify(err(408)), ErrorClass::Timeout);
  EXPECT_EQ(classify(err(504)), ErrorClass::Timeout);
  EXPECT_EQ(classify(err(429)), ErrorClass::RateLimit);
  EXPECT_EQ(classify(err(500)), ErrorClass::InternalServer);
  EXPECT_EQ(classify(err(529)), ErrorClass::InternalServer);
  EXPECT_EQ(classify(err(502, "upstream_connect_failed")), ErrorClass::InternalServer);
}

TEST(Retries, PolicyThenNumRetriesButNotForRequestErrors) {
  config::ErrorClassCounts none;
  EXPECT_EQ(retriesFor(ErrorClass::InternalServer, none, 2), 2);
  EXPECT_EQ(retriesFor(ErrorClass::RateLimit, none, 3), 3);
  EXPECT_EQ(retriesFor(ErrorClass::BadRequest, none, 2), 0);
  EXPECT_EQ(retriesFor(ErrorClass::ContextWindow, none, 2), 0);
  EXPECT_EQ(retriesFor(ErrorClass::NotFound, none, 2), 0);
  config::ErrorClassCounts p;
  p.rateLimit = 5;
  p.badRequest = 1;
  p.internalServer = 0;
  EXPECT_EQ(retriesFor(ErrorClass::RateLimit, p, 2), 5);
  EXPECT_EQ(retriesFor(ErrorClass::BadRequest, p, 2), 1);
  EXPECT_EQ(retriesFor(ErrorClass::ContentPolicy, p, 2), 1);  // a kind of bad request
  EXPECT_EQ(retriesFor(ErrorClass::InternalServer, p, 2), 0);
  EXPECT_EQ(retriesFor(ErrorClass::Timeout, p, 2), 2);
}

TEST(RetryDelay, ZeroWhenAnotherDeploymentCanTakeIt) {
  Rng rng(1);
  EXPECT_EQ(retryDelayMs(1, 7000, true, 0, rng), 0);
}

TEST(RetryDelay, RetryAfterWithinAMinuteElseBackoffWithJitter) {
  Rng rng(1);
  for (int i = 0; i < 20; ++i) {
    const int64_t ra = retryDelayMs(1, 2000, false, 0, rng);
    EXPECT_GE(ra, 2000);
    EXPECT_LE(ra, 2500);
    const int64_t b1 = retryDelayMs(1, std::nullopt, false, 0, rng);
    EXPECT_GE(b1, 500);
    EXPECT_LE(b1, 625);
    const int64_t b3 = retryDelayMs(3, 120000, false, 0, rng);  // Retry-After too long: backoff
    EXPECT_GE(b3, 2000);
    EXPECT_LE(b3, 2500);
    const int64_t cap = retryDelayMs(9, std::nullopt, false, 0, rng);
    EXPECT_GE(cap, 8000);
    EXPECT_LE(cap, 10000);
    EXPECT_GE(retryDelayMs(1, std::nullopt, false, 3000, rng), 3000);  // retry_after floor
  }
}

TEST(Cooldown, DefaultRules) {
  config::RouterSettings rs;
  CooldownInput in;
  in.cls = ErrorClass::RateLimit;
  in.status = 429;
  in.failsThisMinute = 1;
  in.successesThisMinute = 50;
  EXPECT_TRUE(shouldCooldown(in, rs));  // 429 in a group of several: at once
  in.onlyDeployment = true;
  EXPECT_FALSE(shouldCooldown(in, rs));  // but never the group's only deployment
  in.cls = ErrorClass::Authentication;
  in.status = 401;
  EXPECT_FALSE(shouldCooldown(in, rs));  // nowhere else to go: the provider's answer is better
  in.onlyDeployment = false;
  EXPECT_TRUE(shouldCooldown(in, rs));  // a bad key does not heal by itself
  in.cls = ErrorClass::BadRequest;
  in.status = 400;
  in.failsThisMinute = 100;
  in.successesThisMinute = 0;
  EXPECT_FALSE(shouldCooldown(in, rs));  // the client's fault
  in.cls = ErrorClass::InternalServer;
  in.status = 500;
  in.failsThisMinute = 3;
  in.successesThisMinute = 7;
  EXPECT_FALSE(shouldCooldown(in, rs));  // 30 % failing
  in.failsThisMinute = 6;
  in.successesThisMinute = 5;
  EXPECT_TRUE(shouldCooldown(in, rs));  // a majority failing
  in.onlyDeployment = true;
  EXPECT_FALSE(shouldCooldown(in, rs));
  in.successesThisMinute = 0;
  in.failsThisMinute = kSingleDeploymentFailureRun;
  EXPECT_TRUE(shouldCooldown(in, rs));
  rs.disableCooldowns = true;
  EXPECT_FALSE(shouldCooldown(in, rs));
}

TEST(Cooldown, AllowedFailsRules) {
  config::RouterSettings rs;
  rs.allowedFails = 2;
  CooldownInput in;
  in.cls = ErrorClass::InternalServer;
  in.status = 500;
  in.failsThisMinute = 2;
  EXPECT_FALSE(shouldCooldown(in, rs));
  in.failsThisMinute = 3;
  EXPECT_TRUE(shouldCooldown(in, rs));
  rs.allowedFailsPolicy.rateLimit = 0;
  in.cls = ErrorClass::RateLimit;
  in.status = 429;
  in.failsThisMinute = 1;
  EXPECT_TRUE(shouldCooldown(in, rs));
  in.cls = ErrorClass::ContextWindow;
  in.status = 400;
  in.failsThisMinute = 50;
  EXPECT_FALSE(shouldCooldown(in, rs));
}

TEST(Fallbacks, KindFollowsTheErrorClass) {
  EXPECT_EQ(fallbackKindFor(ErrorClass::ContextWindow, err(400)), FallbackKind::ContextWindow);
  EXPECT_EQ(fallbackKindFor(ErrorClass::ContentPolicy, err(400)), FallbackKind::ContentPolicy);
  EXPECT_EQ(fallbackKindFor(ErrorClass::RateLimit, err(429)), FallbackKind::Generic);
  EXPECT_EQ(fallbackKindFor(ErrorClass::BadRequest, err(400)), FallbackKind::Generic);
}

}  // namespace
}  // namespace llmux::router
