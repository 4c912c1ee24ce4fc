// auth::buildPrincipal: which descriptors a key gets from its own, its team's, its membership's and
// its user's rows, and how allow-lists and aliases combine.
#include "auth/principal.hpp"

#include <gtest/gtest.h>

#include "auth/key_cache.hpp"

namespace llmux::auth {
namespace {

store::KeyRow key(std::string token = "h1") {
  store::KeyRow k;
  k.token = std::move(token);
  k.keyName = "sk-...abcd";
  return k;
}

const governance::Descriptor* find(const Principal& p, std::string_view kind) {
  for (const auto& d : p.descriptors) {
    if (d.kind == kind) return &d;
  }
  return nullptr;
}

TEST(Principal, AKeyWithoutLimitsHasNoDescriptorsButASpendCounter) {
  store::KeyRow k = key();
  k.spend = 1.5;
  auto p = buildPrincipal(k, {}, {}, {}, {}, {}, 1000);
  EXPECT_EQ(p->kind, Principal::Kind::VirtualKey);
  EXPECT_TRUE(p->descriptors.empty());
  EXPECT_EQ(p->spendView.id, "key:h1");
  EXPECT_EQ(p->spendView.dbSpendNano, governance::toNano(1.5));
  EXPECT_EQ(p->loadedAtMs, 1000);
  EXPECT_EQ(p->role, governance::Role::None);
}

TEST(Principal, KeyTeamMemberAndUserLimitsBecomeDescriptors) {
  store::KeyRow k = key();
  k.keyAlias = "svc";
  k.teamId = "t1";
  k.userId = "u1";
  k.limits.rpmLimit = 10;
  k.limits.maxBudget = 2.0;
  k.limits.budgetResetAt = 5000;
  k.spend = 0.5;
  store::TeamRow t;
  t.teamId = "t1";
  t.teamAlias = "ml";
  t.limits.tpmLimit = 1000;
  t.spend = 3;
  store::TeamMembership m{"t1", "u1", 0.25, "b1"};
  store::BudgetRow mb;
  mb.budgetId = "b1";
  mb.limits.maxBudget = 1.0;
  store::UserRow u;
  u.userId = "u1";
  u.userRole = "internal_user";
  u.limits.rpmLimit = 7;
  u.limits.maxBudget = 9;  // personal budget: not for team keys
  auto p = buildPrincipal(k, t, m, mb, u, {}, 0);
  ASSERT_EQ(p->descriptors.size(), 4u);
  const auto* d = find(*p, "api_key");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->id, "key:h1");
  EXPECT_EQ(d->name, "svc");
  EXPECT_EQ(d->rpm, 10);
  EXPECT_EQ(d->maxBudgetNano, governance::toNano(2.0));
  EXPECT_EQ(d->dbSpendNano, governance::toNano(0.5));
  EXPECT_EQ(d->budgetPeriod, 5000);
  d = find(*p, "team");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->id, "team:t1");
  EXPECT_EQ(d->name, "ml");
  EXPECT_EQ(d->tpm, 1000);
  EXPECT_FALSE(d->maxBudgetNano);
  d = find(*p, "team_member");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->id, "member:t1:u1");
  EXPECT_EQ(d->maxBudgetNano, governance::toNano(1.0));
  EXPECT_EQ(d->dbSpendNano, governance::toNano(0.25));
  d = find(*p, "user");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->rpm, 7);
  EXPECT_FALSE(d->maxBudgetNano) << "a team key does not spend its owner's personal budget";
  EXPECT_EQ(p->role, governance::Role::InternalUser);
  EXPECT_EQ(p->teamAlias, "ml");

  // Without a team the user's budget applies.
  k.teamId.reset();
  p = buildPrincipal(k, {}, {}, {}, u, {}, 0);
  d = find(*p, "user");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->maxBudgetNano, governance::toNano(9.0));
}

TEST(Principal, BudgetRowFillsWhatTheKeyLeavesUnset) {
  store::KeyRow k = key();
  k.budgetId = "b";
  k.limits.rpmLimit = 3;
  store::BudgetRow b;
  b.budgetId = "b";
  b.limits.rpmLimit = 100;
  b.limits.maxBudget = 4;
  b.limits.budgetDuration = "1d";
  b.limits.budgetResetAt = 86'400'000;
  auto p = buildPrincipal(k, {}, {}, {}, {}, b, 0);
  const auto* d = find(*p, "api_key");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->rpm, 3) << "the key's own limit wins";
  EXPECT_EQ(d->maxBudgetNano, governance::toNano(4.0));
  EXPECT_EQ(d->budgetPeriod, 86'400'000);
  EXPECT_EQ(p->keyMaxBudget, 4.0);
}

TEST(Principal, AllTeamModelsTakesTheTeamsList) {
  store::KeyRow k = key();
  k.models = {"all-team-models"};
  k.teamId = "t";
  store::TeamRow t;
  t.teamId = "t";
  t.models = {"a", "b"};
  auto p = buildPrincipal(k, t, {}, {}, {}, {}, 0);
  EXPECT_EQ(p->keyModels, (std::vector<std::string>{"a", "b"}));
  k.teamId.reset();
  p = buildPrincipal(k, {}, {}, {}, {}, {}, 0);
  EXPECT_TRUE(p->keyModels.empty()) << "no team: any model";
}

TEST(Principal, KeyAliasesWinOverTeamAliasesAndPerModelLimitsAreRead) {
  store::KeyRow k = key();
  k.teamId = "t";
  k.aliases = R"({"fast":"gpt-4o-mini"})";
  k.limits.modelRpmLimit = R"({"gpt-4o": 5, "bad": "x"})";
  k.limits.modelMaxBudget = R"({"gpt-4o": {"max_budget": 1.5, "budget_duration": "1d"}})";
  store::TeamRow t;
  t.teamId = "t";
  t.modelAliases = R"({"fast":"other","smart":"gpt-4o"})";
  t.limits.modelRpmLimit = R"({"gpt-4o": 50, "o3": 2})";
  auto p = buildPrincipal(k, t, {}, {}, {}, {}, 0);
  EXPECT_EQ(p->aliases.at("fast"), "gpt-4o-mini");
  EXPECT_EQ(p->aliases.at("smart"), "gpt-4o");
  EXPECT_EQ(p->modelRpm.at("gpt-4o"), 5);
  EXPECT_EQ(p->modelRpm.at("o3"), 2);
  EXPECT_FALSE(p->modelRpm.contains("bad"));
  ASSERT_TRUE(p->modelBudget.contains("gpt-4o"));
  EXPECT_EQ(p->modelBudget.at("gpt-4o").maxNano, governance::toNano(1.5));
  EXPECT_EQ(p->modelBudget.at("gpt-4o").duration, "1d");
}

TEST(KeyCache, EntriesExpireWithTheTtlAndTheEpoch) {
  std::atomic<uint64_t> epoch{1};
  KeyCache cache(epoch, 1000, 2);
  auto p = buildPrincipal(key(), {}, {}, {}, {}, {}, 0);
  cache.put("h1", p, epoch.load(), 0);
  EXPECT_TRUE(cache.find("h1", 999).found);
  EXPECT_FALSE(cache.find("h1", 1000).found) << "TTL";
  cache.put("h1", p, epoch.load(), 0);
  cache.put("h2", nullptr, epoch.load(), 0);  // negative entry
  auto neg = cache.find("h2", 1);
  EXPECT_TRUE(neg.found);
  EXPECT_EQ(neg.value, nullptr);
  epoch.fetch_add(1);
  EXPECT_FALSE(cache.find("h1", 1).found) << "a management write drops every entry";
  // An entry loaded under an older epoch is stale at once.
  cache.put("h3", p, epoch.load() - 1, 1);
  EXPECT_FALSE(cache.find("h3", 2).found);
  // Bounded: the map is cleared when full.
  cache.put("a", p, epoch.load(), 1);
  cache.put("b", p, epoch.load(), 1);
  cache.put("c", p, epoch.load(), 1);
  EXPECT_LE(cache.size(), 2u);
}

}  // namespace
}  // namespace llmux::auth
