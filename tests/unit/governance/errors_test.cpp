#include "governance/errors.hpp"

#include <gtest/gtest.h>

#include <map>

#include "governance/local_limiter.hpp"

namespace llmux::governance {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

Descriptor desc(std::string id, std::string kind, std::string name) {
  Descriptor d;
  d.id = std::move(id);
  d.kind = std::move(kind);
  d.name = std::move(name);
  return d;
}

AdmitResult refused(LimitKind kind, size_t failed, int64_t limit, int64_t current,
                    int64_t retryAfter, int64_t resetMs = 0) {
  AdmitResult r;
  r.ok = false;
  r.kind = kind;
  r.failed = failed;
  r.limit = limit;
  r.current = current;
  r.retryAfterS = retryAfter;
  r.windowResetMs = resetMs;
  return r;
}

std::map<std::string, std::string> asMap(const HeaderList& h) {
  std::map<std::string, std::string> m;
  for (size_t i = 0; i < h.size(); ++i) {
    const auto [k, v] = h[i];
    EXPECT_TRUE(m.emplace(k, v).second) << "duplicate header " << k;
  }
  return m;
}

// The headers live in the list's own storage: what does not fit is refused, never truncated.
TEST(HeaderList, FixedStorageRefusesWhatDoesNotFit) {
  HeaderList h;
  EXPECT_TRUE(h.addNumber({"x-a-", "b"}, -42));
  EXPECT_TRUE(h.addReset({"x-reset"}, 61'500));
  EXPECT_TRUE(h.add({"x-c"}, "v"));
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0].first, "x-a-b");
  EXPECT_EQ(h[0].second, "-42");
  EXPECT_EQ(h[1].second, "1m2s");
  const std::string big(HeaderList::kMaxBytes, 'x');
  EXPECT_FALSE(h.add({"x-big"}, big));
  EXPECT_EQ(h.size(), 3u);
  size_t added = 3;
  while (h.addNumber({"x-n"}, 1)) ++added;
  EXPECT_EQ(added, HeaderList::kMaxHeaders);
  EXPECT_EQ(h[2].first, "x-c");
  EXPECT_EQ(h[2].second, "v");
  h.clear();
  EXPECT_TRUE(h.empty());
  EXPECT_TRUE(h.add({"x-again"}, "1"));
  EXPECT_EQ(h[0].first, "x-again");
}

TEST(AdmissionError, RequestsPerMinute) {
  const std::vector<Descriptor> ds{desc("key:abc", "api_key", "my-alias")};
  const GatewayError e = admissionError(refused(LimitKind::Requests, 0, 600, 600, 12), ds);
  EXPECT_EQ(e.status, 429);
  EXPECT_EQ(e.type, "rate_limit_exceeded");
  EXPECT_EQ(e.code, "rate_limit_exceeded");
  EXPECT_EQ(e.retryAfterSeconds, 12);
  EXPECT_EQ(e.message,
            "Rate limit exceeded for api_key 'my-alias': requests per minute limit 600 reached "
            "(600 used). Try again in 12 s.");
}

TEST(AdmissionError, TokensAndParallelNameTheLimitAndEntity) {
  const std::vector<Descriptor> ds{desc("key:abc", "api_key", "k"), desc("team:1", "team", "ml")};
  GatewayError e = admissionError(refused(LimitKind::Tokens, 1, 100'000, 99'500, 30), ds);
  EXPECT_EQ(e.message,
            "Rate limit exceeded for team 'ml': tokens per minute limit 100000 would be exceeded "
            "by this request (99500 used). Try again in 30 s.");
  e = admissionError(refused(LimitKind::Parallel, 0, 10, 10, 1), ds);
  EXPECT_EQ(e.status, 429);
  EXPECT_EQ(e.message,
            "Rate limit exceeded for api_key 'k': max_parallel_requests limit 10 reached (10 in "
            "flight). Try again in 1 s.");
  e = admissionError(refused(LimitKind::Requests, 0, 5, 5, 0), ds);
  EXPECT_EQ(e.retryAfterSeconds, 1);  // never "try again in 0 s"
}

TEST(AdmissionError, NeverShowsARawKey) {
  const std::vector<Descriptor> ds{desc("key:h", "api_key", "sk-secretsecretsecret1234")};
  const GatewayError e = admissionError(refused(LimitKind::Requests, 0, 1, 1, 5), ds);
  EXPECT_EQ(e.message.find("secret"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("'sk-...1234'"), std::string::npos) << e.message;
  // An index outside the list still produces a message.
  EXPECT_NE(admissionError(refused(LimitKind::Requests, 7, 1, 1, 5), ds).message.find("limit 1"),
            std::string::npos);
}

TEST(AdmissionError, Budget) {
  const std::vector<Descriptor> ds{desc("team:1", "team", "ml")};
  GatewayError e =
      admissionError(refused(LimitKind::Budget, 0, toNano(10), toNano(10.0012), 0), ds);
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.type, "budget_exceeded");
  EXPECT_EQ(e.code, "budget_exceeded");
  EXPECT_FALSE(e.retryAfterSeconds.has_value());
  EXPECT_EQ(e.message, "Budget exceeded for team 'ml': spend $10.0012 of max_budget $10.00.");
  // Reservation refusal below the max, with a known reset.
  e = admissionError(refused(LimitKind::Budget, 0, toNano(10), toNano(9.9), 3600,
                             1'751'328'000'000),  // 2025-07-01
                     ds);
  EXPECT_EQ(e.message,
            "Budget exceeded for team 'ml': spend $9.90 (including requests in flight) plus this "
            "request's worst-case cost would exceed max_budget $10.00. The budget resets at "
            "2025-07-01T00:00:00Z.");
}

TEST(AdmissionError, Unavailable) {
  AdmitResult r;
  r.unavailable = true;
  const GatewayError e = admissionError(r, {});
  EXPECT_EQ(e.status, 503);
  EXPECT_EQ(e.code, "limiter_unavailable");
  HeaderList h;
  appendRateLimitHeaders(r, {}, kT0, h);
  EXPECT_TRUE(h.empty());
}

TEST(RateLimitHeaders, SuccessReportsTheTightestDescriptorAndEachKind) {
  LocalLimiter lim;
  std::vector<Descriptor> ds{desc("key:k", "api_key", "k"), desc("team:t", "team", "t"),
                             desc("user:u", "user", "u")};
  ds[0].rpm = 100;
  ds[0].tpm = 500;
  ds[1].rpm = 10;
  ds[1].tpm = 100'000;
  ds[2].parallel = 5;
  AdmitRequest req;
  req.descriptors = &ds;
  req.nowMs = kT0;
  req.tokens = 200;
  const AdmitResult r = lim.admit(req);
  ASSERT_TRUE(r.ok);
  HeaderList h;
  appendRateLimitHeaders(r, ds, kT0 + 250, h);
  const auto m = asMap(h);
  EXPECT_EQ(m.at("x-ratelimit-limit-requests"), "10");
  EXPECT_EQ(m.at("x-ratelimit-remaining-requests"), "9");
  EXPECT_EQ(m.at("x-ratelimit-limit-tokens"), "500");
  EXPECT_EQ(m.at("x-ratelimit-remaining-tokens"), "300");
  EXPECT_EQ(m.at("x-ratelimit-reset-requests"), "1m0s");  // 59.75 s rounded up
  EXPECT_EQ(m.at("x-ratelimit-api_key-limit-requests"), "100");
  EXPECT_EQ(m.at("x-ratelimit-api_key-remaining-requests"), "99");
  EXPECT_EQ(m.at("x-ratelimit-api_key-remaining-tokens"), "300");
  EXPECT_EQ(m.at("x-ratelimit-team-remaining-requests"), "9");
  EXPECT_EQ(m.at("x-ratelimit-team-remaining-tokens"), "99800");
  EXPECT_EQ(m.at("x-ratelimit-user-limit-max_parallel_requests"), "5");
  EXPECT_EQ(m.at("x-ratelimit-user-remaining-max_parallel_requests"), "4");
  EXPECT_EQ(m.count("x-ratelimit-user-remaining-requests"), 0u);
  EXPECT_EQ(h.size(), 15u);
}

TEST(RateLimitHeaders, TokensOnlyAndOddKinds) {
  std::vector<Descriptor> ds{desc("a", "api_key", "a"), desc("b", "Bad Kind\r\n", "b"),
                             desc("c", "api_key", "c")};
  ds[0].tpm = 1000;
  ds[1].tpm = 50;
  ds[2].tpm = 10;
  AdmitResult r;
  r.ok = true;
  r.windowResetMs = kT0 + 1500;
  r.remaining.requests = {-1, -1, -1};
  r.remaining.tokens = {900, 40, 5};
  r.remaining.parallel = {-1, -1, -1};
  r.remaining.budgetNano = {-1, -1, -1};
  HeaderList h;
  appendRateLimitHeaders(r, ds, kT0, h);
  const auto m = asMap(h);
  EXPECT_EQ(m.at("x-ratelimit-limit-tokens"), "10");
  EXPECT_EQ(m.at("x-ratelimit-remaining-tokens"), "5");
  EXPECT_EQ(m.at("x-ratelimit-reset-tokens"), "2s");
  EXPECT_EQ(m.count("x-ratelimit-reset-requests"), 0u);
  EXPECT_EQ(m.at("x-ratelimit-api_key-remaining-tokens"), "900");  // the first api_key only
  for (const auto& [k, v] : h)
    EXPECT_EQ(k.find_first_of(" \r\nABCDEFGHIJKLMNOPQRSTUVWXYZ"), std::string::npos);
}

TEST(RateLimitHeaders, Failure) {
  const std::vector<Descriptor> ds{desc("key:k", "api_key", "k"), desc("team:t", "team", "t")};
  HeaderList h;
  appendRateLimitHeaders(refused(LimitKind::Tokens, 1, 1000, 900, 12, kT0 + 11'500), ds, kT0, h);
  auto m = asMap(h);
  EXPECT_EQ(m.at("x-ratelimit-limit-tokens"), "1000");
  EXPECT_EQ(m.at("x-ratelimit-remaining-tokens"), "100");
  EXPECT_EQ(m.at("x-ratelimit-reset-tokens"), "12s");
  EXPECT_EQ(m.at("x-ratelimit-team-limit-tokens"), "1000");
  EXPECT_EQ(m.at("x-ratelimit-team-remaining-tokens"), "100");
  EXPECT_EQ(h.size(), 5u);

  h.clear();
  appendRateLimitHeaders(refused(LimitKind::Parallel, 0, 3, 3, 1), ds, kT0, h);
  m = asMap(h);
  EXPECT_EQ(m.at("x-ratelimit-api_key-limit-max_parallel_requests"), "3");
  EXPECT_EQ(m.at("x-ratelimit-api_key-remaining-max_parallel_requests"), "0");
  EXPECT_EQ(h.size(), 2u);

  h.clear();
  appendRateLimitHeaders(refused(LimitKind::Budget, 0, 10, 11, 0), ds, kT0, h);
  EXPECT_TRUE(h.empty());
}

TEST(KeyErrors, StatusTypeCodeAndNoRawKey) {
  const std::string raw = "sk-abcdefghijklmnopqrs9876";
  GatewayError e = unknownKeyError(raw);
  EXPECT_EQ(e.status, 401);
  EXPECT_EQ(e.type, "authentication_error");
  EXPECT_EQ(e.code, "invalid_api_key");
  EXPECT_EQ(e.message.find("abcdefgh"), std::string::npos);
  EXPECT_NE(e.message.find("sk-...9876"), std::string::npos) << e.message;

  e = unknownKeyError("Bearer-something-long");
  EXPECT_NE(e.message.find("starting with 'sk-'"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("Bear****long"), std::string::npos) << e.message;

  e = missingKeyError();
  EXPECT_EQ(e.status, 401);
  EXPECT_EQ(e.code, "invalid_api_key");

  e = expiredKeyError("sk-...9876", 1'751'328'000'000, 1'751'414'400'000);
  EXPECT_EQ(e.status, 401);
  EXPECT_EQ(e.type, "expired_key");
  EXPECT_EQ(e.code, "expired_key");
  EXPECT_EQ(e.message,
            "API key 'sk-...9876' expired at 2025-07-01T00:00:00Z (now 2025-07-02T00:00:00Z). An "
            "admin can extend it via /key/update or /key/regenerate.");

  e = blockedKeyError(raw);
  EXPECT_EQ(e.status, 401);
  EXPECT_EQ(e.code, "key_blocked");
  EXPECT_EQ(e.message.find("abcdefgh"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("/key/unblock"), std::string::npos);

  e = blockedTeamError("ml-team");
  EXPECT_EQ(e.status, 401);
  EXPECT_EQ(e.code, "team_blocked");
  EXPECT_EQ(e.message, "Team 'ml-team' is blocked. An admin can unblock it via /team/unblock.");
}

TEST(ModelErrors, ListAllowedModels) {
  const std::vector<std::string> allowed{"gpt-4o-mini", "openai/*"};
  GatewayError e = modelNotAllowedError(ModelScope::Key, "my-alias", "gpt-4o", allowed);
  EXPECT_EQ(e.status, 403);
  EXPECT_EQ(e.type, "key_model_access_denied");
  EXPECT_EQ(e.code, "key_model_access_denied");
  EXPECT_EQ(e.param, "model");
  EXPECT_EQ(e.message,
            "API key 'my-alias' is not allowed to access model 'gpt-4o'. Allowed models: "
            "['gpt-4o-mini', 'openai/*']");
  e = modelNotAllowedError(ModelScope::Team, "ml", "x", {});
  EXPECT_EQ(e.type, "team_model_access_denied");
  EXPECT_EQ(e.message, "Team 'ml' is not allowed to access model 'x'. Allowed models: []");
  EXPECT_EQ(modelNotAllowedError(ModelScope::User, "", "x", {}).type, "user_model_access_denied");
  std::vector<std::string> many;
  for (int i = 0; i < 25; ++i) many.push_back("m" + std::to_string(i));
  e = modelNotAllowedError(ModelScope::Key, "k", "x", many);
  EXPECT_NE(e.message.find("'m19', ... (5 more)]"), std::string::npos) << e.message;
  EXPECT_EQ(e.message.find("'m20'"), std::string::npos);
}

TEST(RouteDenied, CarriesTheGateStatus) {
  const GatewayError e = routeDeniedError(checkRoute(Role::None, "/team/new", false));
  EXPECT_EQ(e.status, 401);
  EXPECT_EQ(e.type, "auth_error");
  EXPECT_EQ(e.code, "401");
  EXPECT_NE(e.message.find("Route=/team/new"), std::string::npos);
  EXPECT_EQ(routeDeniedError(checkRoute(Role::InternalUser, "/team/new", false)).status, 403);
}

TEST(Format, Usd) {
  EXPECT_EQ(formatUsd(toNano(10.0012)), "10.0012");
  EXPECT_EQ(formatUsd(toNano(10)), "10.00");
  EXPECT_EQ(formatUsd(0), "0.00");
  EXPECT_EQ(formatUsd(123), "0.00");  // below half a micro-dollar
  EXPECT_EQ(formatUsd(123'456), "0.000123");
  EXPECT_EQ(formatUsd(999'999'999), "1.00");  // rounds to 6 decimals
  EXPECT_EQ(formatUsd(toNano(0.5)), "0.50");
  EXPECT_EQ(formatUsd(-toNano(1.25)), "-1.25");
  EXPECT_EQ(formatUsd(std::numeric_limits<int64_t>::min()), "-9223372036.854776");
  EXPECT_EQ(formatUsd(std::numeric_limits<int64_t>::max()), "9223372036.854776");
}

TEST(Format, ResetAndUtc) {
  EXPECT_EQ(formatReset(0), "0s");
  EXPECT_EQ(formatReset(-5), "0s");
  EXPECT_EQ(formatReset(250), "250ms");
  EXPECT_EQ(formatReset(1000), "1s");
  EXPECT_EQ(formatReset(11'001), "12s");
  EXPECT_EQ(formatReset(60'000), "1m0s");
  EXPECT_EQ(formatReset(7'500'000), "2h5m0s");
  EXPECT_EQ(formatUtc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(formatUtc(-1), "1969-12-31T23:59:59Z");
  EXPECT_EQ(formatUtc(1'709'164'800'000), "2024-02-29T00:00:00Z");
  EXPECT_EQ(formatUtc(std::numeric_limits<int64_t>::max()), "9999-12-31T23:59:59Z");
  EXPECT_EQ(formatUtc(std::numeric_limits<int64_t>::min()), "0001-01-01T00:00:00Z");
}

}  // namespace
}  // namespace llmux::governance
