#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "store/repo.hpp"
#include "unit/store/backends.hpp"

namespace llmux::store {
namespace {

using testing::BackendNames;
using testing::Backends;
using testing::StoreTest;

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kMar10 = 1'710'028'800'000;  // 2024-03-10T00:00:00Z

SpendRow spendRow(const std::string& id, double usd, int64_t start = kMar10 + 1000) {
  SpendRow s;
  s.requestId = id;
  s.callType = "chat_completion";
  s.apiKey = "k1";
  s.keyAlias = "alias";
  s.teamId = "t1";
  s.userId = "u1";
  s.endUser = "e1";
  s.model = "gpt-4o";
  s.modelGroup = "gpt-4o";
  s.deployment = "dep-1";
  s.provider = "openai";
  s.apiBase = "https://api.example";
  s.promptTokens = 10;
  s.completionTokens = 5;
  s.cachedTokens = 2;
  s.cacheWriteTokens = 1;
  s.reasoningTokens = 3;
  s.spend = usd;
  s.status = 200;
  s.startTime = start;
  s.endTime = start + 500;
  s.tags = R"(["feature-a","feature-b"])";
  return s;
}

template <typename B>
class RepoSpend : public StoreTest<B> {
 protected:
  // The rows spend is added to: key k1, team t1, user u1, membership (t1, u1).
  void seedEntities() {
    RepoError err;
    KeyRow k;
    k.token = "k1";
    ASSERT_EQ(insertKey(*this->db, k, err), WriteResult::Ok);
    TeamRow t;
    t.teamId = "t1";
    ASSERT_EQ(insertTeam(*this->db, t, err), WriteResult::Ok);
    UserRow u;
    u.userId = "u1";
    ASSERT_EQ(insertUser(*this->db, u, err), WriteResult::Ok);
    ASSERT_EQ(upsertMembership(*this->db, {"t1", "u1", 0, std::nullopt}, err), WriteResult::Ok);
  }
  double keySpend() {
    RepoError err;
    return findKey(*this->db, "k1", err)->spend;
  }
};
TYPED_TEST_SUITE(RepoSpend, Backends, BackendNames);

TYPED_TEST(RepoSpend, WritesRowsAndReadsThemBackNewestFirst) {
  Db& db = *this->db;
  RepoError err;
  SpendRow a = spendRow("r1", 0.5);
  a.completionStartTime = a.startTime + 100;
  a.cacheHit = true;
  a.tokensEstimated = true;
  a.metadata = R"({"x":"y"})";
  SpendRow b = spendRow("r2", 0.25, kMar10 + 2000);
  b.status = 429;
  b.errorType = "rate_limit_exceeded";
  const SpendRow rows[] = {a, b};
  ASSERT_TRUE(writeSpendBatch(db, rows, err)) << err.message;
  EXPECT_EQ(countSpendRows(db, err), 2);
  auto got = querySpend(db, SpendQuery{}, err);
  ASSERT_EQ(got.size(), 2u) << err.message;
  EXPECT_EQ(got[0].requestId, "r2");
  EXPECT_EQ(got[0].status, 429);
  EXPECT_EQ(got[0].errorType, "rate_limit_exceeded");
  EXPECT_FALSE(got[0].completionStartTime);
  const SpendRow& r = got[1];
  EXPECT_EQ(r.requestId, "r1");
  EXPECT_EQ(r.callType, a.callType);
  EXPECT_EQ(r.apiKey, "k1");
  EXPECT_EQ(r.keyAlias, "alias");
  EXPECT_EQ(r.teamId, "t1");
  EXPECT_EQ(r.userId, "u1");
  EXPECT_EQ(r.endUser, "e1");
  EXPECT_EQ(r.model, "gpt-4o");
  EXPECT_EQ(r.modelGroup, "gpt-4o");
  EXPECT_EQ(r.deployment, "dep-1");
  EXPECT_EQ(r.provider, "openai");
  EXPECT_EQ(r.apiBase, a.apiBase);
  EXPECT_EQ(r.promptTokens, 10);
  EXPECT_EQ(r.completionTokens, 5);
  EXPECT_EQ(r.cachedTokens, 2);
  EXPECT_EQ(r.cacheWriteTokens, 1);
  EXPECT_EQ(r.reasoningTokens, 3);
  EXPECT_TRUE(r.tokensEstimated);
  EXPECT_EQ(r.spend, 0.5);
  EXPECT_EQ(r.startTime, a.startTime);
  EXPECT_EQ(r.endTime, a.endTime);
  EXPECT_EQ(r.completionStartTime, a.completionStartTime);
  EXPECT_TRUE(r.cacheHit);
  EXPECT_EQ(r.tags, a.tags);
  EXPECT_EQ(r.metadata, a.metadata);
  EXPECT_TRUE(writeSpendBatch(db, {}, err));  // empty batch: nothing to do
}

TYPED_TEST(RepoSpend, AddsSpendToEveryOwnerAndModelSpend) {
  this->seedEntities();
  Db& db = *this->db;
  RepoError err;
  SpendRow c = spendRow("r3", 2);
  c.model = "claude";
  c.endTime = kMar10 + 9999;
  const SpendRow rows[] = {spendRow("r1", 0.5), spendRow("r2", 0.25), c};
  ASSERT_TRUE(writeSpendBatch(db, rows, err)) << err.message;
  auto k = findKey(db, "k1", err);
  EXPECT_DOUBLE_EQ(k->spend, 2.75);
  EXPECT_EQ(k->lastActive, kMar10 + 9999);
  EXPECT_EQ(k->modelSpend, R"({"claude":2,"gpt-4o":0.75})");
  auto t = findTeam(db, "t1", err);
  EXPECT_DOUBLE_EQ(t->spend, 2.75);
  EXPECT_EQ(t->modelSpend, k->modelSpend);
  EXPECT_DOUBLE_EQ(findUser(db, "u1", err)->spend, 2.75);
  EXPECT_DOUBLE_EQ(findMembership(db, "t1", "u1", err)->spend, 2.75);
  // End users are created on first spend.
  auto e = findCustomer(db, "e1", err);
  ASSERT_TRUE(e);
  EXPECT_DOUBLE_EQ(e->spend, 2.75);
  EXPECT_FALSE(e->blocked);

  // A second batch merges into the existing model_spend map.
  const SpendRow more[] = {spendRow("r4", 1)};
  ASSERT_TRUE(writeSpendBatch(db, more, err)) << err.message;
  EXPECT_EQ(findKey(db, "k1", err)->modelSpend, R"({"claude":2,"gpt-4o":1.75})");
  EXPECT_DOUBLE_EQ(findCustomer(db, "e1", err)->spend, 3.75);
}

TYPED_TEST(RepoSpend, ReplayingABatchCountsNothingTwice) {
  this->seedEntities();
  Db& db = *this->db;
  RepoError err;
  const SpendRow rows[] = {spendRow("r1", 1), spendRow("r2", 2)};
  ASSERT_TRUE(writeSpendBatch(db, rows, err)) << err.message;
  ASSERT_TRUE(writeSpendBatch(db, rows, err)) << err.message;
  EXPECT_EQ(countSpendRows(db, err), 2);
  EXPECT_DOUBLE_EQ(this->keySpend(), 3);
  // Partly new: only the new row counts.
  const SpendRow overlap[] = {spendRow("r2", 2), spendRow("r3", 4)};
  ASSERT_TRUE(writeSpendBatch(db, overlap, err)) << err.message;
  EXPECT_EQ(countSpendRows(db, err), 3);
  EXPECT_DOUBLE_EQ(this->keySpend(), 7);
  EXPECT_DOUBLE_EQ(findUser(db, "u1", err)->spend, 7);
  auto report = spendReport(db, "api_key", "2024-03-10", "2024-03-10", err);
  ASSERT_TRUE(report && report->size() == 1u) << err.message;
  EXPECT_EQ((*report)[0].requests, 3);
  EXPECT_DOUBLE_EQ((*report)[0].spend, 7);
  // The same request twice inside one batch counts once too.
  const SpendRow twice[] = {spendRow("r9", 1), spendRow("r9", 1)};
  ASSERT_TRUE(writeSpendBatch(db, twice, err));
  EXPECT_DOUBLE_EQ(this->keySpend(), 8);
}

TYPED_TEST(RepoSpend, RowsForUnknownOwnersAreStillLogged) {
  Db& db = *this->db;  // no key, team or user rows
  RepoError err;
  SpendRow s = spendRow("r1", 1);
  s.apiKey = "";  // master key
  const SpendRow rows[] = {s, spendRow("r2", 1)};
  ASSERT_TRUE(writeSpendBatch(db, rows, err)) << err.message;
  EXPECT_EQ(countSpendRows(db, err), 2);
  EXPECT_FALSE(findKey(db, "k1", err));
  auto report = spendReport(db, "api_key", "2024-03-10", "2024-03-10", err);
  ASSERT_TRUE(report);
  ASSERT_EQ(report->size(), 2u);
  EXPECT_EQ((*report)[0].group, "");  // unassigned
  EXPECT_EQ((*report)[1].group, "k1");
}

TYPED_TEST(RepoSpend, BytesNoBackendStoresCannotPoisonABatch) {
  this->seedEntities();
  Db& db = *this->db;
  RepoError err;
  SpendRow s = spendRow("r1", std::nan(""));
  s.endUser = std::string("a\0b", 3);
  s.model = "ok-\xC3\xA9-\xFF\xC3";  // valid é, a stray byte, a truncated sequence
  s.tags = "[\"t\xFE\"]";
  const SpendRow rows[] = {s, spendRow("r2", 1)};
  ASSERT_TRUE(writeSpendBatch(db, rows, err)) << err.message;
  auto got = querySpend(db, SpendQuery{}, err);
  ASSERT_EQ(got.size(), 2u);
  const SpendRow& r = got[0].requestId == "r1" ? got[0] : got[1];
  EXPECT_EQ(r.endUser, "ab");
  EXPECT_EQ(r.model, "ok-\xC3\xA9-??");
  EXPECT_EQ(r.tags, "[\"t?\"]");
  EXPECT_EQ(r.spend, 0);
  EXPECT_DOUBLE_EQ(this->keySpend(), 1);
  EXPECT_TRUE(findCustomer(db, "ab", err));
}

TYPED_TEST(RepoSpend, ABatchIsAllOrNothing) {
  this->seedEntities();
  Db& db = *this->db;
  RepoError err;
  ASSERT_TRUE(db.execScript("DROP TABLE llmux_daily_spend").ok);  // the last step fails
  const SpendRow rows[] = {spendRow("r1", 1)};
  EXPECT_FALSE(writeSpendBatch(db, rows, err));
  EXPECT_FALSE(err.message.empty());
  EXPECT_EQ(countSpendRows(db, err), 0);
  EXPECT_DOUBLE_EQ(this->keySpend(), 0);
  EXPECT_FALSE(findCustomer(db, "e1", err));
}

TYPED_TEST(RepoSpend, DailyRollUpsSumPerEntityDayModelAndProvider) {
  Db& db = *this->db;
  RepoError err;
  SpendRow late = spendRow("r1", 1, kMar10 + kDay - 1);  // 23:59:59.999
  SpendRow next = spendRow("r2", 2, kMar10 + kDay);      // 00:00 the next day
  SpendRow failed = spendRow("r3", 0, kMar10 + 5);
  failed.status = 500;
  failed.tags = R"(["feature-a","feature-a"])";  // counted once
  SpendRow other = spendRow("r4", 4, kMar10 + 6);
  other.model = "";  // falls back to the model group
  other.modelGroup = "group-x";
  other.provider = "anthropic";
  other.tags = "not json";
  const SpendRow rows[] = {late, next, failed, other};
  ASSERT_TRUE(writeSpendBatch(db, rows, err)) << err.message;

  Result r = db.exec(
      "SELECT entity_type, entity_id, day, model, provider, prompt_tokens, completion_tokens, "
      "cached_tokens, cache_write_tokens, spend, api_requests, successful_requests, "
      "failed_requests FROM llmux_daily_spend WHERE entity_type = 'key' "
      "ORDER BY day, model");
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.rows.size(), 3u);
  const Row& d1 = r.rows[0];  // 2024-03-10, gpt-4o: r1 and r3
  EXPECT_EQ(d1.str(2), "2024-03-10");
  EXPECT_EQ(d1.str(3), "gpt-4o");
  EXPECT_EQ(d1.str(4), "openai");
  EXPECT_EQ(d1.i64(5), 20);
  EXPECT_EQ(d1.i64(6), 10);
  EXPECT_EQ(d1.i64(7), 4);
  EXPECT_EQ(d1.i64(8), 2);
  EXPECT_DOUBLE_EQ(d1.f64(9), 1);
  EXPECT_EQ(d1.i64(10), 2);
  EXPECT_EQ(d1.i64(11), 1);
  EXPECT_EQ(d1.i64(12), 1);
  EXPECT_EQ(r.rows[1].str(3), "group-x");
  EXPECT_EQ(r.rows[1].str(4), "anthropic");
  EXPECT_EQ(r.rows[2].str(2), "2024-03-11");

  auto byTag = spendReport(db, "tag", "2024-03-10", "2024-03-11", err);
  ASSERT_TRUE(byTag) << err.message;
  std::map<std::string, int64_t> tagRequests;
  for (const auto& l : *byTag) tagRequests[l.group + "@" + l.day] += l.requests;
  EXPECT_EQ(tagRequests["feature-a@2024-03-10"], 2);  // r1, r3 (bad tags on r4: none)
  EXPECT_EQ(tagRequests["feature-b@2024-03-10"], 1);
  EXPECT_EQ(tagRequests["feature-a@2024-03-11"], 1);
  EXPECT_EQ(tagRequests["feature-b@2024-03-11"], 1);
  EXPECT_EQ(tagRequests.size(), 4u);
}

// Rows come in runs of like rows (the writer reuses the totals the previous row found); every
// change of key, team, user, end user, model, provider, tags or day must start new totals.
TYPED_TEST(RepoSpend, DailyRollUpsOfRunsOfLikeRowsMatchARecount) {
  Db& db = *this->db;
  this->seedEntities();
  RepoError err;
  std::mt19937 rng(11);
  const auto pick = [&](std::initializer_list<const char*> from) {
    return std::string(from.begin()[rng() % from.size()]);
  };
  std::vector<SpendRow> rows;
  SpendRow r = spendRow("run", 0.5);
  r.tags = "[]";
  for (int i = 0; rows.size() < 400; ++i) {
    // Each run differs from the one before in one field only.
    switch (rng() % 9) {
      case 0:
        r.apiKey = pick({"k1", "k2"});
        break;
      case 1:
        r.teamId = pick({"t1", "", "t2"});
        break;
      case 2:
        r.userId = pick({"u1", ""});
        break;
      case 3:
        r.endUser = pick({"", "e1", "e2"});
        break;
      case 4:
        r.model = pick({"gpt-4o", "", "claude"});
        break;
      case 5:
        r.modelGroup = pick({"gpt-4o", "group-x"});
        break;
      case 6:
        r.provider = pick({"openai", "anthropic"});
        break;
      case 7:
        r.tags = pick({"[]", R"(["a"])", R"(["a","b"])"});
        break;
      default:
        r.startTime = kMar10 + static_cast<int64_t>(rng() % 2) * kDay + 7;
        break;
    }
    r.spend = 0.25 * static_cast<double>(rng() % 4);
    r.promptTokens = static_cast<int64_t>(rng() % 100);
    r.status = rng() % 5 == 0 ? 500 : 200;
    const size_t run = 1 + rng() % 4;
    for (size_t k = 0; k < run; ++k) {
      rows.push_back(r);
      rows.back().requestId = "run" + std::to_string(i) + "-" + std::to_string(k);
    }
  }
  ASSERT_TRUE(writeSpendBatch(db, rows, err)) << err.message;

  // (type, id, day, model, provider) -> requests, prompt tokens, failed
  std::map<std::string, std::array<int64_t, 3>> want;
  double k1Spend = 0;
  for (const SpendRow& r : rows) {
    const std::string day = r.startTime >= kMar10 + kDay ? "2024-03-11" : "2024-03-10";
    const std::string model = r.model.empty() ? r.modelGroup : r.model;
    std::vector<std::pair<std::string, std::string>> lines = {{"key", r.apiKey},
                                                              {"team", r.teamId},
                                                              {"user", r.userId},
                                                              {"end_user", r.endUser},
                                                              {"model", model}};
    if (r.tags.find("\"a\"") != std::string::npos) lines.emplace_back("tag", "a");
    if (r.tags.find("\"b\"") != std::string::npos) lines.emplace_back("tag", "b");
    for (const auto& [type, id] : lines) {
      auto& w = want[type + "|" + id + "|" + day + "|" + model + "|" + r.provider];
      w[0] += 1;
      w[1] += r.promptTokens;
      w[2] += r.status >= 400 ? 1 : 0;
    }
    if (r.apiKey == "k1") k1Spend += r.spend;
  }
  Result got = db.exec(
      "SELECT entity_type, entity_id, day, model, provider, api_requests, prompt_tokens, "
      "failed_requests FROM llmux_daily_spend");
  ASSERT_TRUE(got.ok) << got.error;
  std::map<std::string, std::array<int64_t, 3>> have;
  for (const Row& r : got.rows) {
    have[r.str(0) + "|" + r.str(1) + "|" + r.str(2) + "|" + r.str(3) + "|" + r.str(4)] = {
        r.i64(5), r.i64(6), r.i64(7)};
  }
  for (const auto& [k, v] : want) {
    auto it = have.find(k);
    EXPECT_TRUE(it != have.end() && it->second == v) << k;
  }
  for (const auto& [k, v] : have) EXPECT_TRUE(want.count(k) == 1) << "unexpected " << k;
  EXPECT_NEAR(this->keySpend(), k1Spend, 1e-9);
}

TYPED_TEST(RepoSpend, ReportsGroupByEveryDimension) {
  Db& db = *this->db;
  RepoError err;
  SpendRow a = spendRow("r1", 1);
  SpendRow b = spendRow("r2", 2);
  b.apiKey = "k2";
  b.teamId = "t2";
  b.userId = "u2";
  b.endUser = "e2";
  b.model = "claude";
  SpendRow old = spendRow("r3", 8, kMar10 - kDay);
  const SpendRow rows[] = {a, b, old};
  ASSERT_TRUE(writeSpendBatch(db, rows, err)) << err.message;
  const std::map<std::string, std::vector<std::string>> expected = {
      {"api_key", {"k1", "k2"}},
      {"team", {"t1", "t2"}},
      {"user", {"u1", "u2"}},
      {"customer", {"e1", "e2"}},
      {"model", {"claude", "gpt-4o"}}};
  for (const auto& [groupBy, groups] : expected) {
    auto rep = spendReport(db, groupBy, "2024-03-10", "2024-03-10", err);
    ASSERT_TRUE(rep) << groupBy << ": " << err.message;
    ASSERT_EQ(rep->size(), 2u) << groupBy;
    EXPECT_EQ((*rep)[0].group, groups[0]) << groupBy;
    EXPECT_EQ((*rep)[1].group, groups[1]) << groupBy;
    EXPECT_EQ((*rep)[0].day, "2024-03-10");
    double total = 0;
    for (const auto& l : *rep) total += l.spend;
    EXPECT_DOUBLE_EQ(total, 3) << groupBy;
  }
  auto withOld = spendReport(db, "team", "2024-03-09", "2024-03-10", err);
  ASSERT_EQ(withOld->size(), 3u);
  EXPECT_EQ((*withOld)[0].day, "2024-03-09");
  EXPECT_EQ((*withOld)[0].promptTokens, 10);
  EXPECT_EQ((*withOld)[0].completionTokens, 5);
  EXPECT_EQ((*withOld)[0].model, "gpt-4o");
  EXPECT_TRUE(spendReport(db, "team", "2024-03-11", "2024-03-12", err)->empty());
  EXPECT_FALSE(spendReport(db, "org", "2024-03-10", "2024-03-10", err));
  EXPECT_NE(err.message.find("group_by"), std::string::npos);
  EXPECT_FALSE(spendReport(db, "team", "2024-3-10", "2024-03-10", err));
  EXPECT_FALSE(spendReport(db, "team", "2024-03-10", "x' OR '1'='1", err));
}

TYPED_TEST(RepoSpend, QueryFilters) {
  Db& db = *this->db;
  RepoError err;
  SpendRow a = spendRow("a", 1, 1000);
  SpendRow b = spendRow("b", 1, 2000);
  b.apiKey = "k2";
  b.userId = "u2";
  SpendRow c = spendRow("c", 1, 3000);
  c.teamId = "t2";
  const SpendRow rows[] = {a, b, c};
  ASSERT_TRUE(writeSpendBatch(db, rows, err)) << err.message;
  auto ids = [&](const SpendQuery& q) {
    std::string out;
    for (const auto& s : querySpend(db, q, err)) out += s.requestId;
    return out;
  };
  EXPECT_EQ(ids({}), "cba");
  SpendQuery q;
  q.apiKey = "k1";
  EXPECT_EQ(ids(q), "ca");
  q = {};
  q.userId = "u2";
  EXPECT_EQ(ids(q), "b");
  q = {};
  q.teamId = "t1";
  EXPECT_EQ(ids(q), "ba");
  q = {};
  q.requestId = "c";
  EXPECT_EQ(ids(q), "c");
  q = {};
  q.startMs = 2000;  // inclusive
  q.endMs = 3000;    // exclusive
  EXPECT_EQ(ids(q), "b");
  q = {};
  q.limit = 2;
  EXPECT_EQ(ids(q), "cb");
  q.limit = 0;  // clamped to at least one row
  EXPECT_EQ(ids(q), "c");
  EXPECT_TRUE(err.message.empty());
}

int64_t nextHour(const std::string& duration, int64_t nowMs) {
  return duration == "1h" ? nowMs + 3'600'000 : nowMs + 86'400'000;
}

TYPED_TEST(RepoSpend, ResetsDueBudgetsOnceAndReschedules) {
  this->seedEntities();
  Db& db = *this->db;
  RepoError err;
  const int64_t now = kMar10;
  // Due key with a duration, not-due team, due user without a duration.
  KeyRow k = *findKey(db, "k1", err);
  k.limits.budgetDuration = "1h";
  k.limits.budgetResetAt = now - 1;
  ASSERT_EQ(updateKey(db, k, err), WriteResult::Ok);
  TeamRow t = *findTeam(db, "t1", err);
  t.limits.budgetDuration = "1d";
  t.limits.budgetResetAt = now + 1;
  ASSERT_EQ(updateTeam(db, t, err), WriteResult::Ok);
  UserRow u = *findUser(db, "u1", err);
  u.limits.budgetResetAt = now;
  ASSERT_EQ(updateUser(db, u, err), WriteResult::Ok);
  // A due budget row linked to a membership, a customer and a key without its own duration.
  BudgetRow b;
  b.budgetId = "b1";
  b.limits.budgetDuration = "1d";
  b.limits.budgetResetAt = now - 5;
  ASSERT_EQ(insertBudget(db, b, err), WriteResult::Ok);
  ASSERT_EQ(upsertMembership(db, {"t1", "u1", 0, "b1"}, err), WriteResult::Ok);
  CustomerRow c;
  c.userId = "e1";
  c.budgetId = "b1";
  ASSERT_EQ(insertCustomer(db, c, err), WriteResult::Ok);
  KeyRow linked;
  linked.token = "k2";
  linked.budgetId = "b1";
  ASSERT_EQ(insertKey(db, linked, err), WriteResult::Ok);
  SpendRow viaK2 = spendRow("r0", 5);
  viaK2.apiKey = "k2";
  const SpendRow rows[] = {spendRow("r1", 1), viaK2};
  ASSERT_TRUE(writeSpendBatch(db, rows, err)) << err.message;

  EXPECT_EQ(resetDueBudgets(db, now, nullptr, err), -1);
  err = {};
  // budget b1, key k1, key k2 (linked), user u1, membership, customer e1.
  EXPECT_EQ(resetDueBudgets(db, now, nextHour, err), 6) << err.message;
  auto k1 = findKey(db, "k1", err);
  EXPECT_EQ(k1->spend, 0);
  EXPECT_EQ(k1->modelSpend, "{}");
  EXPECT_EQ(k1->limits.budgetResetAt, now + 3'600'000);
  EXPECT_EQ(findKey(db, "k2", err)->spend, 0);
  auto t1 = findTeam(db, "t1", err);
  EXPECT_DOUBLE_EQ(t1->spend, 6);  // not due
  EXPECT_EQ(t1->limits.budgetResetAt, now + 1);
  auto u1 = findUser(db, "u1", err);
  EXPECT_EQ(u1->spend, 0);
  EXPECT_FALSE(u1->limits.budgetResetAt);  // no duration: no further resets
  EXPECT_EQ(findMembership(db, "t1", "u1", err)->spend, 0);
  EXPECT_EQ(findCustomer(db, "e1", err)->spend, 0);
  EXPECT_EQ(findBudget(db, "b1", err)->limits.budgetResetAt, now + 86'400'000);

  // Running again (another instance) resets nothing; spend after the reset stays.
  const SpendRow after[] = {spendRow("r2", 2)};
  ASSERT_TRUE(writeSpendBatch(db, after, err));
  EXPECT_EQ(resetDueBudgets(db, now, nextHour, err), 0) << err.message;
  EXPECT_DOUBLE_EQ(this->keySpend(), 2);
  // The team falls due later.
  EXPECT_EQ(resetDueBudgets(db, now + 2, nextHour, err), 1);
  EXPECT_EQ(findTeam(db, "t1", err)->spend, 0);
}

// Several connections (instances) writing batches for the same key, team and user at once: no
// spend is lost and model_spend adds up, on backends with real concurrent writers.
TYPED_TEST(RepoSpend, ConcurrentWritersLoseNothing) {
  if (std::string(TypeParam::kName) == "SqliteMemory") GTEST_SKIP() << "one database per handle";
  this->seedEntities();
  constexpr int kWriters = 4;
  constexpr int kBatches = 15;
  constexpr int kRows = 4;
  std::vector<std::thread> threads;
  std::vector<std::string> errors(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      auto db = this->reopen();
      if (!db) return;
      for (int b = 0; b < kBatches; ++b) {
        std::vector<SpendRow> rows;
        for (int i = 0; i < kRows; ++i) {
          SpendRow s =
              spendRow(std::to_string(w) + "-" + std::to_string(b) + "-" + std::to_string(i), 0.5);
          s.model = i % 2 == 0 ? "m-even" : "m-odd";
          rows.push_back(s);
        }
        RepoError err;
        // A deadlock or serialization failure is retryable (connectionLost); retry like the
        // spend writer would.
        int attempts = 0;
        while (!writeSpendBatch(*db, rows, err) && err.connectionLost && ++attempts < 5) err = {};
        if (!err.message.empty()) errors[w] = err.message;
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) EXPECT_TRUE(e.empty()) << e;
  RepoError err;
  const double total = 0.5 * kWriters * kBatches * kRows;
  EXPECT_EQ(countSpendRows(*this->db, err), kWriters * kBatches * kRows);
  auto k = findKey(*this->db, "k1", err);
  EXPECT_DOUBLE_EQ(k->spend, total);
  EXPECT_EQ(k->modelSpend, R"({"m-even":60,"m-odd":60})");
  EXPECT_DOUBLE_EQ(findTeam(*this->db, "t1", err)->spend, total);
  EXPECT_EQ(findTeam(*this->db, "t1", err)->modelSpend, k->modelSpend);
  EXPECT_DOUBLE_EQ(findUser(*this->db, "u1", err)->spend, total);
  EXPECT_DOUBLE_EQ(findCustomer(*this->db, "e1", err)->spend, total);
  auto rep = spendReport(*this->db, "model", "2024-03-10", "2024-03-10", err);
  ASSERT_TRUE(rep && rep->size() == 2u);
  EXPECT_EQ((*rep)[0].requests, kWriters * kBatches * kRows / 2);
}

}  // namespace
}  // namespace llmux::store
