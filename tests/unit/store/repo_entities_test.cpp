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

TeamRow team(const std::string& id, std::optional<std::string> alias = {}) {
  TeamRow t;
  t.teamId = id;
  t.teamAlias = std::move(alias);
  return t;
}

UserRow user(const std::string& id, std::optional<std::string> email = {}, int64_t created = 0) {
  UserRow u;
  u.userId = id;
  u.userEmail = std::move(email);
  u.createdAt = created;
  return u;
}

KeyRow key(const std::string& token, std::optional<std::string> userId,
           std::optional<std::string> teamId) {
  KeyRow k;
  k.token = token;
  k.userId = std::move(userId);
  k.teamId = std::move(teamId);
  return k;
}

template <typename B>
class RepoEntities : public StoreTest<B> {};
TYPED_TEST_SUITE(RepoEntities, Backends, BackendNames);

// ---- teams

TYPED_TEST(RepoEntities, TeamsRoundTrip) {
  Db& db = *this->db;
  RepoError err;
  TeamRow t = team("t1", "Team One");
  t.organizationId = "org";
  t.members = {{"u1", std::nullopt, "admin"}, {std::nullopt, "b@x.io", "user"}};
  t.models = {"gpt-4o"};
  t.modelAliases = R"({"a":"b"})";
  t.metadata = R"({"k":"v"})";
  t.tags = {"x"};
  t.limits.maxBudget = 100;
  t.limits.tpmLimit = 5;
  t.limits.budgetDuration = "1mo";
  t.blocked = true;
  t.createdBy = "admin";
  t.createdAt = 5;
  t.updatedAt = 6;
  ASSERT_EQ(insertTeam(db, t, err), WriteResult::Ok) << err.message;
  EXPECT_EQ(insertTeam(db, t, err), WriteResult::Duplicate);
  EXPECT_FALSE(err.message.empty());
  err = {};
  auto got = findTeam(db, "t1", err);
  ASSERT_TRUE(got) << err.message;
  EXPECT_EQ(got->teamAlias, "Team One");
  EXPECT_EQ(got->organizationId, "org");
  ASSERT_EQ(got->members.size(), 2u);
  EXPECT_EQ(got->members[0].userId, "u1");
  EXPECT_FALSE(got->members[0].userEmail);
  EXPECT_EQ(got->members[0].role, "admin");
  EXPECT_FALSE(got->members[1].userId);
  EXPECT_EQ(got->members[1].userEmail, "b@x.io");
  EXPECT_EQ(got->models, t.models);
  EXPECT_EQ(got->modelAliases, t.modelAliases);
  EXPECT_EQ(got->metadata, t.metadata);
  EXPECT_EQ(got->tags, t.tags);
  EXPECT_EQ(got->limits.maxBudget, 100);
  EXPECT_EQ(got->limits.tpmLimit, 5);
  EXPECT_EQ(got->limits.budgetDuration, "1mo");
  EXPECT_FALSE(got->limits.rpmLimit);
  EXPECT_TRUE(got->blocked);
  EXPECT_EQ(got->createdBy, "admin");
  EXPECT_FALSE(got->updatedBy);
  EXPECT_EQ(got->createdAt, 5);
  EXPECT_EQ(got->updatedAt, 6);
  EXPECT_FALSE(findTeam(db, "t2", err));
  EXPECT_TRUE(err.message.empty());
}

TYPED_TEST(RepoEntities, TeamUpdateKeepsSpend) {
  Db& db = *this->db;
  RepoError err;
  ASSERT_EQ(insertTeam(db, team("t1"), err), WriteResult::Ok);
  ASSERT_EQ(setSpend(db, SpendEntity::Team, "t1", 9, err), WriteResult::Ok);
  TeamRow t = team("t1", "renamed");
  t.blocked = true;
  ASSERT_EQ(updateTeam(db, t, err), WriteResult::Ok) << err.message;
  auto got = findTeam(db, "t1", err);
  EXPECT_EQ(got->teamAlias, "renamed");
  EXPECT_TRUE(got->blocked);
  EXPECT_EQ(got->spend, 9);
  EXPECT_EQ(updateTeam(db, team("nope"), err), WriteResult::NotFound);
}

TYPED_TEST(RepoEntities, DeleteTeamsTakesKeysMembershipsAndUserLinks) {
  Db& db = *this->db;
  RepoError err;
  TeamRow t1 = team("t1");
  t1.members = {{"u1", std::nullopt, "admin"}};
  ASSERT_EQ(insertTeam(db, t1, err), WriteResult::Ok);
  ASSERT_EQ(insertTeam(db, team("t2"), err), WriteResult::Ok);
  UserRow u1 = user("u1");
  u1.teams = {"t1", "t2"};
  ASSERT_EQ(insertUser(db, u1, err), WriteResult::Ok);
  UserRow u2 = user("u2");
  u2.teams = {"t1"};
  ASSERT_EQ(insertUser(db, u2, err), WriteResult::Ok);
  ASSERT_EQ(upsertMembership(db, {"t1", "u2", 0, std::nullopt}, err), WriteResult::Ok);
  ASSERT_EQ(upsertMembership(db, {"t2", "u1", 0, std::nullopt}, err), WriteResult::Ok);
  ASSERT_EQ(insertKey(db, key("k1", "u1", "t1"), err), WriteResult::Ok);
  ASSERT_EQ(insertKey(db, key("k2", "u1", "t2"), err), WriteResult::Ok);
  ASSERT_EQ(insertKey(db, key("k3", "u1", std::nullopt), err), WriteResult::Ok);

  // One missing id: nothing is deleted.
  const std::string withMissing[] = {"t1", "nope"};
  EXPECT_EQ(deleteTeams(db, withMissing, err), WriteResult::NotFound);
  EXPECT_TRUE(findTeam(db, "t1", err));
  EXPECT_TRUE(findKey(db, "k1", err));

  const std::string ids[] = {"t1"};
  ASSERT_EQ(deleteTeams(db, ids, err), WriteResult::Ok) << err.message;
  EXPECT_FALSE(findTeam(db, "t1", err));
  EXPECT_FALSE(findKey(db, "k1", err));
  EXPECT_TRUE(findKey(db, "k2", err));
  EXPECT_TRUE(findKey(db, "k3", err));
  EXPECT_FALSE(findMembership(db, "t1", "u2", err));
  EXPECT_TRUE(findMembership(db, "t2", "u1", err));
  EXPECT_EQ(findUser(db, "u1", err)->teams, std::vector<std::string>{"t2"});  // via members
  EXPECT_TRUE(findUser(db, "u2", err)->teams.empty());                        // via membership
}

TYPED_TEST(RepoEntities, ListTeamsAllOrByMember) {
  Db& db = *this->db;
  RepoError err;
  TeamRow a = team("ta", "beta");
  a.members = {{"u1", std::nullopt, "user"}};
  ASSERT_EQ(insertTeam(db, a, err), WriteResult::Ok);
  ASSERT_EQ(insertTeam(db, team("tb", "alpha"), err), WriteResult::Ok);
  ASSERT_EQ(insertTeam(db, team("tc"), err), WriteResult::Ok);  // no alias: last
  ASSERT_EQ(upsertMembership(db, {"tc", "u1", 0, std::nullopt}, err), WriteResult::Ok);
  auto all = listTeams(db, std::nullopt, err);
  ASSERT_EQ(all.size(), 3u) << err.message;
  EXPECT_EQ(all[0].teamId, "tb");
  EXPECT_EQ(all[1].teamId, "ta");
  EXPECT_EQ(all[2].teamId, "tc");
  auto mine = listTeams(db, std::string("u1"), err);
  ASSERT_EQ(mine.size(), 2u);
  EXPECT_EQ(mine[0].teamId, "ta");
  EXPECT_EQ(mine[1].teamId, "tc");
  EXPECT_TRUE(listTeams(db, std::string("nobody"), err).empty());
}

TYPED_TEST(RepoEntities, Memberships) {
  Db& db = *this->db;
  RepoError err;
  ASSERT_EQ(upsertMembership(db, {"t", "u1", 1.5, "b1"}, err), WriteResult::Ok) << err.message;
  ASSERT_EQ(upsertMembership(db, {"t", "u0", 0, std::nullopt}, err), WriteResult::Ok);
  // Upserting again changes the budget, never the spend.
  ASSERT_EQ(upsertMembership(db, {"t", "u1", 0, "b2"}, err), WriteResult::Ok);
  auto m = findMembership(db, "t", "u1", err);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->spend, 1.5);
  EXPECT_EQ(m->budgetId, "b2");
  auto all = membershipsOfTeam(db, "t", err);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].userId, "u0");
  EXPECT_FALSE(all[0].budgetId);
  EXPECT_EQ(deleteMembership(db, "t", "u0", err), WriteResult::Ok);
  EXPECT_EQ(deleteMembership(db, "t", "u0", err), WriteResult::NotFound);
  EXPECT_FALSE(findMembership(db, "t", "u0", err));
  EXPECT_TRUE(membershipsOfTeam(db, "other", err).empty());
}

// ---- users

TYPED_TEST(RepoEntities, UsersRoundTripAndEmailsAreUniqueIgnoringCase) {
  Db& db = *this->db;
  RepoError err;
  UserRow u = user("u1", "Ann@Example.com", 7);
  u.userAlias = "ann";
  u.userRole = "proxy_admin";
  u.teams = {"t1"};
  u.models = {"m"};
  u.metadata = R"({"a":1})";
  u.limits.maxBudget = 3;
  u.limits.rpmLimit = 9;
  ASSERT_EQ(insertUser(db, u, err), WriteResult::Ok) << err.message;
  auto got = findUserByEmail(db, "ann@EXAMPLE.com", err);
  ASSERT_TRUE(got) << err.message;
  EXPECT_EQ(got->userId, "u1");
  EXPECT_EQ(got->userEmail, "Ann@Example.com");
  EXPECT_EQ(got->userAlias, "ann");
  EXPECT_EQ(got->userRole, "proxy_admin");
  EXPECT_EQ(got->teams, u.teams);
  EXPECT_EQ(got->models, u.models);
  EXPECT_EQ(got->metadata, u.metadata);
  EXPECT_EQ(got->limits.maxBudget, 3);
  EXPECT_EQ(got->limits.rpmLimit, 9);
  EXPECT_EQ(got->createdAt, 7);
  EXPECT_EQ(insertUser(db, user("u1"), err), WriteResult::Duplicate);
  EXPECT_EQ(insertUser(db, user("u2", "ANN@example.COM"), err), WriteResult::Duplicate);
  EXPECT_EQ(insertUser(db, user("u3"), err), WriteResult::Ok);  // no email: no collision
  EXPECT_EQ(insertUser(db, user("u4"), err), WriteResult::Ok);
  EXPECT_FALSE(findUserByEmail(db, "ann@example.co", err));
}

TYPED_TEST(RepoEntities, UserUpdateKeepsSpend) {
  Db& db = *this->db;
  RepoError err;
  ASSERT_EQ(insertUser(db, user("u1", "a@x"), err), WriteResult::Ok);
  ASSERT_EQ(insertUser(db, user("u2", "b@x"), err), WriteResult::Ok);
  ASSERT_EQ(setSpend(db, SpendEntity::User, "u1", 2.5, err), WriteResult::Ok);
  UserRow u = user("u1", "new@x");
  u.userRole = "internal_user_viewer";
  ASSERT_EQ(updateUser(db, u, err), WriteResult::Ok) << err.message;
  auto got = findUser(db, "u1", err);
  EXPECT_EQ(got->userEmail, "new@x");
  EXPECT_EQ(got->userRole, "internal_user_viewer");
  EXPECT_EQ(got->spend, 2.5);
  EXPECT_EQ(updateUser(db, user("u1", "B@X"), err), WriteResult::Duplicate);
  EXPECT_EQ(updateUser(db, user("zz"), err), WriteResult::NotFound);
}

TYPED_TEST(RepoEntities, DeleteUsersTakesKeysMembershipsAndTeamMembers) {
  Db& db = *this->db;
  RepoError err;
  TeamRow t = team("t1");
  t.members = {{"u1", std::nullopt, "admin"}, {"u2", std::nullopt, "user"}};
  ASSERT_EQ(insertTeam(db, t, err), WriteResult::Ok);
  UserRow u1 = user("u1");
  u1.teams = {"t1"};
  ASSERT_EQ(insertUser(db, u1, err), WriteResult::Ok);
  ASSERT_EQ(insertUser(db, user("u2"), err), WriteResult::Ok);
  ASSERT_EQ(upsertMembership(db, {"t1", "u1", 0, std::nullopt}, err), WriteResult::Ok);
  ASSERT_EQ(insertKey(db, key("k1", "u1", "t1"), err), WriteResult::Ok);
  ASSERT_EQ(insertKey(db, key("k2", "u2", std::nullopt), err), WriteResult::Ok);
  const std::string bad[] = {"u1", "ghost"};
  EXPECT_EQ(deleteUsers(db, bad, err), WriteResult::NotFound);
  EXPECT_TRUE(findUser(db, "u1", err));
  const std::string ids[] = {"u1"};
  ASSERT_EQ(deleteUsers(db, ids, err), WriteResult::Ok) << err.message;
  EXPECT_FALSE(findUser(db, "u1", err));
  EXPECT_FALSE(findKey(db, "k1", err));
  EXPECT_TRUE(findKey(db, "k2", err));
  EXPECT_FALSE(findMembership(db, "t1", "u1", err));
  auto left = findTeam(db, "t1", err)->members;
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].userId, "u2");
}

TYPED_TEST(RepoEntities, ListUsersFiltersPagesAndCountsKeys) {
  Db& db = *this->db;
  RepoError err;
  UserRow a = user("a", "alice@corp.io", 1);
  a.userRole = "proxy_admin";
  UserRow b = user("b", "bob@corp.io", 2);
  b.teams = {"t1"};
  UserRow c = user("c", "carol_100%@else.io", 3);
  UserRow d = user("d", std::nullopt, 4);
  for (const UserRow& u : {a, b, c, d}) ASSERT_EQ(insertUser(db, u, err), WriteResult::Ok);
  ASSERT_EQ(upsertMembership(db, {"t1", "c", 0, std::nullopt}, err), WriteResult::Ok);
  ASSERT_EQ(insertKey(db, key("k1", "b", std::nullopt), err), WriteResult::Ok);
  ASSERT_EQ(insertKey(db, key("k2", "b", std::nullopt), err), WriteResult::Ok);

  auto all = listUsers(db, UserFilter{}, err);
  ASSERT_TRUE(all) << err.message;
  EXPECT_EQ(all->total, 4);
  ASSERT_EQ(all->users.size(), 4u);
  ASSERT_EQ(all->keyCounts.size(), 4u);
  EXPECT_EQ(all->users[1].userId, "b");
  EXPECT_EQ(all->keyCounts[1], 2);
  EXPECT_EQ(all->keyCounts[0], 0);

  UserFilter f;
  f.role = "proxy_admin";
  EXPECT_EQ(listUsers(db, f, err)->total, 1);
  f = {};
  f.userIds = {"a", "d", "zz"};
  EXPECT_EQ(listUsers(db, f, err)->total, 2);
  f = {};
  f.userEmail = "CORP";  // case-insensitive substring
  EXPECT_EQ(listUsers(db, f, err)->total, 2);
  f.userEmail = "_100%";  // LIKE wildcards match literally
  auto lit = listUsers(db, f, err);
  ASSERT_EQ(lit->total, 1) << err.message;
  EXPECT_EQ(lit->users[0].userId, "c");
  f.userEmail = "%";
  EXPECT_EQ(listUsers(db, f, err)->total, 1);
  f = {};
  f.team = "t1";  // b through its teams list, c through a membership
  auto inTeam = listUsers(db, f, err);
  ASSERT_TRUE(inTeam) << err.message;
  ASSERT_EQ(inTeam->total, 2);
  EXPECT_EQ(inTeam->users[0].userId, "b");
  EXPECT_EQ(inTeam->users[1].userId, "c");
  f.team = "t";  // no partial matches inside the JSON list
  EXPECT_EQ(listUsers(db, f, err)->total, 0);
  f = {};
  f.page = 2;
  f.pageSize = 3;
  auto p2 = listUsers(db, f, err);
  ASSERT_EQ(p2->users.size(), 1u);
  EXPECT_EQ(p2->users[0].userId, "d");
  EXPECT_EQ(p2->total, 4);
}

// ---- customers

TYPED_TEST(RepoEntities, CustomersCrud) {
  Db& db = *this->db;
  RepoError err;
  CustomerRow c;
  c.userId = "end-1";
  c.alias = "Acme";
  c.budgetId = "b1";
  c.allowedModelRegion = "eu";
  c.defaultModel = "gpt-4o";
  c.createdAt = 2;
  ASSERT_EQ(insertCustomer(db, c, err), WriteResult::Ok) << err.message;
  EXPECT_EQ(insertCustomer(db, c, err), WriteResult::Duplicate);
  ASSERT_EQ(setSpend(db, SpendEntity::Customer, "end-1", 4, err), WriteResult::Ok);
  c.blocked = true;
  c.alias.reset();
  c.spend = 0;
  ASSERT_EQ(updateCustomer(db, c, err), WriteResult::Ok) << err.message;
  auto got = findCustomer(db, "end-1", err);
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->blocked);
  EXPECT_FALSE(got->alias);
  EXPECT_EQ(got->budgetId, "b1");
  EXPECT_EQ(got->allowedModelRegion, "eu");
  EXPECT_EQ(got->defaultModel, "gpt-4o");
  EXPECT_EQ(got->spend, 4);
  EXPECT_EQ(got->createdAt, 2);
  CustomerRow other;
  other.userId = "end-0";
  other.createdAt = 1;
  ASSERT_EQ(insertCustomer(db, other, err), WriteResult::Ok);
  auto all = listCustomers(db, err);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].userId, "end-0");
  const std::string bad[] = {"end-0", "ghost"};
  EXPECT_EQ(deleteCustomers(db, bad, err), WriteResult::NotFound);
  EXPECT_EQ(listCustomers(db, err).size(), 2u);
  const std::string ids[] = {"end-0", "end-1"};
  EXPECT_EQ(deleteCustomers(db, ids, err), WriteResult::Ok);
  EXPECT_TRUE(listCustomers(db, err).empty());
  EXPECT_EQ(updateCustomer(db, c, err), WriteResult::NotFound);
}

// ---- budgets

TYPED_TEST(RepoEntities, BudgetsCrudAndDeleteUnlinks) {
  Db& db = *this->db;
  RepoError err;
  BudgetRow b;
  b.budgetId = "b1";
  b.limits.maxBudget = 5;
  b.limits.budgetDuration = "1d";
  b.limits.budgetResetAt = 86'400'000;
  b.limits.modelMaxBudget = R"({"m":{"max_budget":1}})";
  b.createdBy = "admin";
  ASSERT_EQ(insertBudget(db, b, err), WriteResult::Ok) << err.message;
  EXPECT_EQ(insertBudget(db, b, err), WriteResult::Duplicate);
  b.limits.maxBudget = 6;
  b.limits.rpmLimit = 60;
  ASSERT_EQ(updateBudget(db, b, err), WriteResult::Ok);
  auto got = findBudget(db, "b1", err);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->limits.maxBudget, 6);
  EXPECT_EQ(got->limits.rpmLimit, 60);
  EXPECT_EQ(got->limits.budgetResetAt, 86'400'000);
  EXPECT_EQ(got->limits.modelMaxBudget, b.limits.modelMaxBudget);
  EXPECT_EQ(got->createdBy, "admin");
  BudgetRow b0;
  b0.budgetId = "b0";
  ASSERT_EQ(insertBudget(db, b0, err), WriteResult::Ok);
  EXPECT_EQ(listBudgets(db, err).size(), 2u);

  KeyRow k = key("k", std::nullopt, std::nullopt);
  k.budgetId = "b1";
  ASSERT_EQ(insertKey(db, k, err), WriteResult::Ok);
  ASSERT_EQ(upsertMembership(db, {"t", "u", 0, "b1"}, err), WriteResult::Ok);
  CustomerRow c;
  c.userId = "e";
  c.budgetId = "b1";
  ASSERT_EQ(insertCustomer(db, c, err), WriteResult::Ok);
  ASSERT_EQ(deleteBudget(db, "b1", err), WriteResult::Ok) << err.message;
  EXPECT_EQ(deleteBudget(db, "b1", err), WriteResult::NotFound);
  EXPECT_FALSE(findBudget(db, "b1", err));
  EXPECT_FALSE(findKey(db, "k", err)->budgetId);
  EXPECT_FALSE(findMembership(db, "t", "u", err)->budgetId);
  EXPECT_FALSE(findCustomer(db, "e", err)->budgetId);
  EXPECT_EQ(updateBudget(db, b, err), WriteResult::NotFound);
}

}  // namespace
}  // namespace llmux::store
