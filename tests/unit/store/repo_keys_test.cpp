#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/repo.hpp"
#include "unit/store/backends.hpp"

namespace llmux::store {
namespace {

using testing::BackendNames;
using testing::Backends;
using testing::StoreTest;

KeyRow fullKey(const std::string& token) {
  KeyRow k;
  k.token = token;
  k.keyName = "sk-...abcd";
  k.keyAlias = "alias-" + token;
  k.userId = "u1";
  k.teamId = "t1";
  k.budgetId = "b1";
  k.models = {"gpt-4o", "openai/*", "quote\"d \xC3\xA9"};
  k.aliases = R"({"fast":"gpt-4o-mini"})";
  k.metadata = R"({"env":"prod","n":[1,2]})";
  k.tags = {"team-a", "feature-x"};
  k.allowedRoutes = {"/chat/completions", "llm_api_routes"};
  k.keyType = "llm_api";
  k.permissions = R"({"get_spend_routes":true})";
  k.limits.maxBudget = 12.5;
  k.limits.softBudget = 10;
  k.limits.budgetDuration = "30d";
  k.limits.budgetResetAt = 1'700'000'000'000;
  k.limits.rpmLimit = 600;
  k.limits.tpmLimit = 100000;
  k.limits.maxParallelRequests = 4;
  k.limits.modelMaxBudget = R"({"gpt-4o":{"max_budget":1,"budget_duration":"1d"}})";
  k.limits.modelRpmLimit = R"({"gpt-4o":10})";
  k.limits.modelTpmLimit = R"({"gpt-4o":1000})";
  k.spend = 0;
  k.modelSpend = "{}";
  k.expires = 1'800'000'000'000;
  k.blocked = true;
  k.createdBy = "admin";
  k.updatedBy = "admin2";
  k.createdAt = 1000;
  k.updatedAt = 2000;
  k.lastActive = 3000;
  return k;
}

KeyRow minimalKey(const std::string& token, int64_t createdAt = 0) {
  KeyRow k;
  k.token = token;
  k.keyName = "sk-..." + token;
  k.createdAt = createdAt;
  return k;
}

void expectSameLimits(const Limits& a, const Limits& b) {
  EXPECT_EQ(a.maxBudget, b.maxBudget);
  EXPECT_EQ(a.softBudget, b.softBudget);
  EXPECT_EQ(a.budgetDuration, b.budgetDuration);
  EXPECT_EQ(a.budgetResetAt, b.budgetResetAt);
  EXPECT_EQ(a.rpmLimit, b.rpmLimit);
  EXPECT_EQ(a.tpmLimit, b.tpmLimit);
  EXPECT_EQ(a.maxParallelRequests, b.maxParallelRequests);
  EXPECT_EQ(a.modelMaxBudget, b.modelMaxBudget);
  EXPECT_EQ(a.modelRpmLimit, b.modelRpmLimit);
  EXPECT_EQ(a.modelTpmLimit, b.modelTpmLimit);
}

void expectSameKey(const KeyRow& a, const KeyRow& b) {
  EXPECT_EQ(a.token, b.token);
  EXPECT_EQ(a.keyName, b.keyName);
  EXPECT_EQ(a.keyAlias, b.keyAlias);
  EXPECT_EQ(a.userId, b.userId);
  EXPECT_EQ(a.teamId, b.teamId);
  EXPECT_EQ(a.budgetId, b.budgetId);
  EXPECT_EQ(a.models, b.models);
  EXPECT_EQ(a.aliases, b.aliases);
  EXPECT_EQ(a.metadata, b.metadata);
  EXPECT_EQ(a.tags, b.tags);
  EXPECT_EQ(a.allowedRoutes, b.allowedRoutes);
  EXPECT_EQ(a.keyType, b.keyType);
  EXPECT_EQ(a.permissions, b.permissions);
  expectSameLimits(a.limits, b.limits);
  EXPECT_EQ(a.spend, b.spend);
  EXPECT_EQ(a.modelSpend, b.modelSpend);
  EXPECT_EQ(a.expires, b.expires);
  EXPECT_EQ(a.blocked, b.blocked);
  EXPECT_EQ(a.createdBy, b.createdBy);
  EXPECT_EQ(a.updatedBy, b.updatedBy);
  EXPECT_EQ(a.createdAt, b.createdAt);
  EXPECT_EQ(a.updatedAt, b.updatedAt);
  EXPECT_EQ(a.lastActive, b.lastActive);
}

template <typename B>
class RepoKeys : public StoreTest<B> {};
TYPED_TEST_SUITE(RepoKeys, Backends, BackendNames);

TYPED_TEST(RepoKeys, InsertAndFindRoundTripEveryField) {
  Db& db = *this->db;
  RepoError err;
  const KeyRow k = fullKey("h1");
  ASSERT_EQ(insertKey(db, k, err), WriteResult::Ok) << err.message;
  auto got = findKey(db, "h1", err);
  ASSERT_TRUE(got) << err.message;
  expectSameKey(*got, k);
  auto byAlias = findKeyByAlias(db, "alias-h1", err);
  ASSERT_TRUE(byAlias);
  EXPECT_EQ(byAlias->token, "h1");

  const KeyRow m = minimalKey("h2");
  ASSERT_EQ(insertKey(db, m, err), WriteResult::Ok) << err.message;
  got = findKey(db, "h2", err);
  ASSERT_TRUE(got);
  expectSameKey(*got, m);  // unset optionals stay unset, empty lists stay empty
  EXPECT_FALSE(got->keyAlias);
  EXPECT_FALSE(got->limits.maxBudget);
  EXPECT_TRUE(got->models.empty());
}

TYPED_TEST(RepoKeys, MissingKeysAreNotErrors) {
  RepoError err;
  EXPECT_FALSE(findKey(*this->db, "nope", err));
  EXPECT_FALSE(findKeyByAlias(*this->db, "nope", err));
  EXPECT_TRUE(err.message.empty());
  EXPECT_EQ(updateKey(*this->db, minimalKey("nope"), err), WriteResult::NotFound);
}

TYPED_TEST(RepoKeys, HostileTextIsStoredVerbatim) {
  Db& db = *this->db;
  RepoError err;
  KeyRow k = minimalKey("x'; DROP TABLE llmux_keys; --");
  k.keyAlias = "a' OR '1'='1";
  k.models = {"\"]", "[", "\\", "$1"};
  ASSERT_EQ(insertKey(db, k, err), WriteResult::Ok) << err.message;
  auto got = findKeyByAlias(db, "a' OR '1'='1", err);
  ASSERT_TRUE(got) << err.message;
  EXPECT_EQ(got->token, k.token);
  EXPECT_EQ(got->models, k.models);
  EXPECT_FALSE(findKeyByAlias(db, "anything", err));
}

TYPED_TEST(RepoKeys, DuplicateTokensAndAliasesAreRefused) {
  Db& db = *this->db;
  RepoError err;
  ASSERT_EQ(insertKey(db, fullKey("h1"), err), WriteResult::Ok);
  EXPECT_EQ(insertKey(db, fullKey("h1"), err), WriteResult::Duplicate);
  KeyRow sameAlias = minimalKey("h2");
  sameAlias.keyAlias = "alias-h1";
  EXPECT_EQ(insertKey(db, sameAlias, err), WriteResult::Duplicate);
  // Keys without an alias never collide.
  EXPECT_EQ(insertKey(db, minimalKey("h3"), err), WriteResult::Ok);
  EXPECT_EQ(insertKey(db, minimalKey("h4"), err), WriteResult::Ok);
  // Nor can an update take another key's alias.
  KeyRow h3 = minimalKey("h3");
  h3.keyAlias = "alias-h1";
  EXPECT_EQ(updateKey(db, h3, err), WriteResult::Duplicate);
}

TYPED_TEST(RepoKeys, UpdateReplacesFieldsButNeverSpend) {
  Db& db = *this->db;
  RepoError err;
  ASSERT_EQ(insertKey(db, fullKey("h1"), err), WriteResult::Ok);
  ASSERT_EQ(setSpend(db, SpendEntity::Key, "h1", 3.25, err), WriteResult::Ok) << err.message;
  KeyRow k = minimalKey("h1", 1000);
  k.keyAlias = "renamed";
  k.models = {"claude"};
  k.limits.maxBudget = 99;
  k.spend = 0;  // stale value from a read before spend was added
  k.modelSpend = R"({"x":1})";
  ASSERT_EQ(updateKey(db, k, err), WriteResult::Ok) << err.message;
  auto got = findKey(db, "h1", err);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->keyAlias, "renamed");
  EXPECT_EQ(got->models, std::vector<std::string>{"claude"});
  EXPECT_EQ(got->limits.maxBudget, 99);
  EXPECT_FALSE(got->limits.rpmLimit);  // replaced by the unset value
  EXPECT_FALSE(got->blocked);
  EXPECT_EQ(got->spend, 3.25);
  EXPECT_EQ(got->modelSpend, "{}");
  EXPECT_FALSE(findKeyByAlias(db, "alias-h1", err));
}

TYPED_TEST(RepoKeys, SetSpendOnEveryEntity) {
  Db& db = *this->db;
  RepoError err;
  EXPECT_EQ(setSpend(db, SpendEntity::Key, "none", 1, err), WriteResult::NotFound);
  EXPECT_EQ(setSpend(db, SpendEntity::Team, "none", 1, err), WriteResult::NotFound);
  EXPECT_EQ(setSpend(db, SpendEntity::User, "none", 1, err), WriteResult::NotFound);
  EXPECT_EQ(setSpend(db, SpendEntity::Customer, "none", 1, err), WriteResult::NotFound);
  TeamRow t;
  t.teamId = "t";
  ASSERT_EQ(insertTeam(db, t, err), WriteResult::Ok);
  ASSERT_EQ(setSpend(db, SpendEntity::Team, "t", 4.5, err), WriteResult::Ok);
  EXPECT_EQ(findTeam(db, "t", err)->spend, 4.5);
}

TYPED_TEST(RepoKeys, RekeyMovesTheRowAndKeepsSpend) {
  Db& db = *this->db;
  RepoError err;
  ASSERT_EQ(insertKey(db, fullKey("old"), err), WriteResult::Ok);
  ASSERT_EQ(setSpend(db, SpendEntity::Key, "old", 2, err), WriteResult::Ok);
  ASSERT_EQ(insertKey(db, minimalKey("taken"), err), WriteResult::Ok);
  EXPECT_EQ(rekey(db, "old", "taken", "sk-...aken", err), WriteResult::Duplicate);
  EXPECT_EQ(rekey(db, "missing", "new2", "sk-...new2", err), WriteResult::NotFound);
  ASSERT_EQ(rekey(db, "old", "new", "sk-...wxyz", err), WriteResult::Ok) << err.message;
  EXPECT_FALSE(findKey(db, "old", err));
  auto got = findKey(db, "new", err);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->keyName, "sk-...wxyz");
  EXPECT_EQ(got->spend, 2);
  EXPECT_EQ(got->keyAlias, "alias-old");
  EXPECT_EQ(got->limits.rpmLimit, 600);
}

TYPED_TEST(RepoKeys, DeleteReturnsOnlyTheKeysDeleted) {
  Db& db = *this->db;
  RepoError err;
  for (const char* t : {"a", "b", "c"})
    ASSERT_EQ(insertKey(db, minimalKey(t), err), WriteResult::Ok);
  const std::string hashes[] = {"a", "zz", "c"};
  auto deleted = deleteKeys(db, hashes, err);
  EXPECT_TRUE(err.message.empty());
  EXPECT_EQ(deleted, (std::vector<std::string>{"a", "c"}));
  EXPECT_TRUE(findKey(db, "b", err));
  EXPECT_FALSE(findKey(db, "a", err));
  EXPECT_TRUE(deleteKeys(db, hashes, err).empty());
}

TYPED_TEST(RepoKeys, ListFiltersSortsAndPages) {
  Db& db = *this->db;
  RepoError err;
  for (int i = 0; i < 7; ++i) {
    KeyRow k = minimalKey("k" + std::to_string(i), 100 + i);
    k.userId = i % 2 == 0 ? "even" : "odd";
    k.teamId = "t";
    if (i != 3) k.limits.maxBudget = 10.0 * i;
    k.keyAlias = "al" + std::to_string(i);
    ASSERT_EQ(insertKey(db, k, err), WriteResult::Ok);
    ASSERT_EQ(setSpend(db, SpendEntity::Key, k.token, 7 - i, err), WriteResult::Ok);
  }
  KeyFilter f;
  f.size = 3;
  auto page = listKeys(db, f, err);
  ASSERT_TRUE(page) << err.message;
  EXPECT_EQ(page->total, 7);
  ASSERT_EQ(page->keys.size(), 3u);
  EXPECT_EQ(page->keys[0].token, "k6");  // created_at desc by default
  EXPECT_EQ(page->keys[2].token, "k4");
  f.page = 3;
  page = listKeys(db, f, err);
  ASSERT_EQ(page->keys.size(), 1u);
  EXPECT_EQ(page->keys[0].token, "k0");
  f.page = 9;
  page = listKeys(db, f, err);
  EXPECT_TRUE(page->keys.empty());
  EXPECT_EQ(page->total, 7);

  KeyFilter bySpend;
  bySpend.sortBy = "spend";
  bySpend.descending = false;
  bySpend.userId = "even";
  page = listKeys(db, bySpend, err);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->total, 4);
  ASSERT_EQ(page->keys.size(), 4u);
  EXPECT_EQ(page->keys[0].token, "k6");
  EXPECT_EQ(page->keys[3].token, "k0");

  // NULL max_budget sorts last both ways, on both backends.
  KeyFilter byBudget;
  byBudget.sortBy = "max_budget";
  byBudget.size = 10;
  page = listKeys(db, byBudget, err);
  ASSERT_EQ(page->keys.size(), 7u);
  EXPECT_EQ(page->keys[0].token, "k6");
  EXPECT_EQ(page->keys[6].token, "k3");
  byBudget.descending = false;
  page = listKeys(db, byBudget, err);
  EXPECT_EQ(page->keys[0].token, "k0");
  EXPECT_EQ(page->keys[6].token, "k3");

  KeyFilter one;
  one.keyAlias = "al5";
  page = listKeys(db, one, err);
  ASSERT_EQ(page->keys.size(), 1u);
  EXPECT_EQ(page->keys[0].token, "k5");
  one = {};
  one.keyHash = "k2";
  one.teamId = "t";
  EXPECT_EQ(listKeys(db, one, err)->total, 1);
  one.teamId = "other";
  EXPECT_EQ(listKeys(db, one, err)->total, 0);
}

TYPED_TEST(RepoKeys, ListRefusesUnknownSortColumns) {
  RepoError err;
  KeyFilter f;
  f.sortBy = "spend; DROP TABLE llmux_keys";
  EXPECT_FALSE(listKeys(*this->db, f, err));
  EXPECT_NE(err.message.find("sort"), std::string::npos);
  f.sortBy = "metadata";
  EXPECT_FALSE(listKeys(*this->db, f, err));
}

TYPED_TEST(RepoKeys, KeysOfTeamAndUser) {
  Db& db = *this->db;
  RepoError err;
  KeyRow a = minimalKey("a", 2);
  a.teamId = "t1";
  a.userId = "u1";
  KeyRow b = minimalKey("b", 1);
  b.teamId = "t1";
  KeyRow c = minimalKey("c", 3);
  c.userId = "u1";
  for (const KeyRow& k : {a, b, c}) ASSERT_EQ(insertKey(db, k, err), WriteResult::Ok);
  auto team = keysOfTeam(db, "t1", err);
  ASSERT_EQ(team.size(), 2u);
  EXPECT_EQ(team[0].token, "b");  // oldest first
  auto user = keysOfUser(db, "u1", err);
  ASSERT_EQ(user.size(), 2u);
  EXPECT_EQ(user[1].token, "c");
  EXPECT_TRUE(keysOfTeam(db, "none", err).empty());
  EXPECT_TRUE(err.message.empty());
}

TYPED_TEST(RepoKeys, FailuresAreReportedNotThrown) {
  Db& db = *this->db;
  ASSERT_TRUE(db.execScript("DROP TABLE llmux_keys").ok);
  RepoError err;
  EXPECT_FALSE(findKey(db, "x", err));
  EXPECT_FALSE(err.message.empty());
  EXPECT_FALSE(err.connectionLost);
  err = {};
  EXPECT_EQ(insertKey(db, minimalKey("x"), err), WriteResult::Failed);
  EXPECT_FALSE(err.message.empty());
  err = {};
  const std::string h[] = {"x"};
  EXPECT_TRUE(deleteKeys(db, h, err).empty());
  EXPECT_FALSE(err.message.empty());
  err = {};
  EXPECT_FALSE(listKeys(db, KeyFilter{}, err));
  EXPECT_FALSE(err.message.empty());
}

}  // namespace
}  // namespace llmux::store
