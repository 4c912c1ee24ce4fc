// /team/new, /team/update, /team/delete, /team/info, /team/list, /team/member_add,
// /team/member_delete, /team/block, /team/unblock.
#include <algorithm>

#include "unit/management/test_support.hpp"

namespace llmux::management::testing {
namespace {

using Teams = MgmtTest;

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST_P(Teams, NewTeamShapeMembersAndLimits) {
  makeUser("u1");
  const auto a = post(as(Role::ProxyAdmin, "boss"), "/team/new", R"({
      "team_id":"t1","team_alias":"Search","models":["gpt-4o"],"max_budget":50,
      "budget_duration":"7d","rpm_limit":100,"tpm_limit":5000,"metadata":{"cost_center":"42"},
      "tags":["prod"],"model_aliases":{"fast":"gpt-4o-mini"},
      "members_with_roles":[{"role":"user","user_id":"u1"},{"role":"admin","user_email":"new@x.io"}]})");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(a.str({"team_id"}), "t1");
  EXPECT_EQ(a.str({"team_alias"}), "Search");
  EXPECT_EQ(a.at({"max_budget"}).to_number<double>(), 50.0);
  // Wednesday 2025-01-15 -> next Monday.
  EXPECT_EQ(a.str({"budget_reset_at"}), "2025-01-20T00:00:00.000Z");
  EXPECT_EQ(a.at({"spend"}).to_number<double>(), 0.0);
  EXPECT_FALSE(a.at({"blocked"}).as_bool());
  EXPECT_EQ(a.str({"metadata", "cost_center"}), "42");
  const auto& members = a.at({"members_with_roles"}).as_array();
  ASSERT_EQ(members.size(), 3u) << "u1, the email member and the creating admin";
  EXPECT_EQ(members[2].as_object().at("user_id").as_string(), "boss");
  EXPECT_EQ(members[2].as_object().at("role").as_string(), "admin");
  EXPECT_EQ(a.at({"admins"}).as_array().size(), 2u);
  EXPECT_TRUE(contains(a.inv.teamIds, "t1"));

  store::RepoError err;
  auto u1 = store::findUser(*db_, "u1", err);
  ASSERT_TRUE(u1);
  EXPECT_TRUE(contains(u1->teams, "t1"));
  auto byEmail = store::findUserByEmail(*db_, "new@x.io", err);
  ASSERT_TRUE(byEmail) << "an email-only member gets a user row";
  EXPECT_TRUE(contains(byEmail->teams, "t1"));
  EXPECT_TRUE(store::findMembership(*db_, "t1", "u1", err));
  auto t = store::findTeam(*db_, "t1", err);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->limits.rpmLimit, 100);
  EXPECT_EQ(t->modelAliases, R"({"fast":"gpt-4o-mini"})");
}

TEST_P(Teams, GeneratedIdAndErrors) {
  auto a = post(master(), "/team/new", "{}");
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.str({"team_id"}).size(), 36u) << "uuid4";
  EXPECT_TRUE(a.at({"members_with_roles"}).as_array().empty()) << "the master key is no member";
  ASSERT_EQ(post(master(), "/team/new", R"({"team_id":"dup"})").status, 200);
  a = post(master(), "/team/new", R"({"team_id":"dup"})");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.message(), "Team id = dup already exists. Please use a different team id.");
  EXPECT_EQ(post(master(), "/team/new", R"({"max_budget":-1})").status, 400);
  EXPECT_EQ(post(master(), "/team/new", R"({"budget_duration":"1q"})").status, 400);
  EXPECT_EQ(post(master(), "/team/new", R"({"members_with_roles":{"user_id":"x"}})").status, 400);
  a = post(master(), "/team/new", R"({"members_with_roles":[{"role":"owner","user_id":"x"}]})");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.param(), "members_with_roles");
  EXPECT_EQ(post(master(), "/team/new", R"({"members_with_roles":[{"role":"user"}]})").status, 400);
  EXPECT_EQ(post(master(), "/team/new", R"({"team_id":""})").status, 400);
  EXPECT_EQ(post(master(), "/team/new", R"({"models":"all"})").status, 400);
}

TEST_P(Teams, UpdateChangesFieldsAndBudgetReset) {
  ASSERT_EQ(post(master(), "/team/new", R"({"team_id":"t","rpm_limit":5,"models":["a"]})").status,
            200);
  auto a =
      post(master(), "/team/update", R"({"team_id":"t","budget_duration":"1h","max_budget":3})");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(a.str({"team_id"}), "t");
  EXPECT_EQ(a.str({"data", "budget_reset_at"}), "2025-01-15T11:00:00.000Z");
  EXPECT_EQ(a.at({"data", "rpm_limit"}).as_int64(), 5);
  EXPECT_EQ(a.inv.teamIds, std::vector<std::string>{"t"});
  a = post(master(), "/team/update", R"({"team_id":"nope"})");
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.message(), "Team not found, passed team_id=nope");
  EXPECT_EQ(post(master(), "/team/update", R"({"rpm_limit":1})").status, 400);
  EXPECT_EQ(post(master(), "/team/update", R"({"team_id":"t","rpm_limit":"x"})").status, 400);
}

TEST_P(Teams, DeleteRemovesItsKeysAndMemberships) {
  makeUser("u1");
  ASSERT_EQ(
      post(master(), "/team/new", R"({"team_id":"gone","members_with_roles":[{"user_id":"u1"}]})")
          .status,
      200);
  ASSERT_EQ(post(master(), "/team/new", R"({"team_id":"stays"})").status, 200);
  const std::string k1 = makeKey(master(), R"({"team_id":"gone"})");
  const std::string k2 = makeKey(master(), R"({"team_id":"gone","user_id":"u1"})");
  const std::string k3 = makeKey(master(), R"({"team_id":"stays"})");
  auto a = post(master(), "/team/delete", R"({"team_ids":["gone"]})");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(a.at({"deleted_keys"}).as_int64(), 2);
  EXPECT_FALSE(findKey(k1));
  EXPECT_FALSE(findKey(k2));
  EXPECT_TRUE(findKey(k3));
  EXPECT_TRUE(contains(a.inv.keyHashes, governance::hashKey(k1)));
  EXPECT_TRUE(contains(a.inv.keyHashes, governance::hashKey(k2)));
  EXPECT_TRUE(contains(a.inv.teamIds, "gone"));
  EXPECT_TRUE(contains(a.inv.userIds, "u1"));
  store::RepoError err;
  EXPECT_FALSE(store::findTeam(*db_, "gone", err));
  EXPECT_FALSE(store::findMembership(*db_, "gone", "u1", err));
  EXPECT_FALSE(contains(store::findUser(*db_, "u1", err)->teams, "gone"));

  a = post(master(), "/team/delete", R"({"team_ids":["stays","missing"]})");
  EXPECT_EQ(a.status, 404);
  EXPECT_TRUE(store::findTeam(*db_, "stays", err)) << "nothing deleted when one id is missing";
  EXPECT_EQ(post(master(), "/team/delete", R"({"team_ids":[]})").status, 400);
  EXPECT_EQ(post(master(), "/team/delete", R"({})").status, 400);
}

TEST_P(Teams, InfoAndList) {
  makeUser("u1");
  ASSERT_EQ(post(master(), "/team/new",
                 R"({"team_id":"b","team_alias":"Beta","members_with_roles":[{"user_id":"u1"}]})")
                .status,
            200);
  ASSERT_EQ(post(master(), "/team/new", R"({"team_id":"a","team_alias":"Alpha"})").status, 200);
  makeKey(master(), R"({"team_id":"b"})");
  auto a = get(master(), "/team/info", "team_id=b");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(a.str({"team_id"}), "b");
  EXPECT_EQ(a.str({"team_info", "team_alias"}), "Beta");
  EXPECT_EQ(a.at({"keys"}).as_array().size(), 1u);
  EXPECT_EQ(a.at({"team_memberships"}).as_array().size(), 1u);
  EXPECT_EQ(get(master(), "/team/info", "team_id=zz").status, 404);
  a = get(master(), "/team/info");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.message(), "Malformed request. No team id passed in.");

  a = get(master(), "/team/list");
  ASSERT_EQ(a.status, 200);
  const auto& teams = a.body.as_array();
  ASSERT_EQ(teams.size(), 2u);
  EXPECT_EQ(teams[0].as_object().at("team_alias").as_string(), "Alpha") << "sorted by alias";
  a = get(master(), "/team/list", "user_id=u1");
  ASSERT_EQ(a.status, 200);
  ASSERT_EQ(a.body.as_array().size(), 1u);
  EXPECT_EQ(a.body.as_array()[0].as_object().at("team_id").as_string(), "b");
}

TEST_P(Teams, MemberAddAndDelete) {
  ASSERT_EQ(post(master(), "/team/new", R"({"team_id":"t"})").status, 200);
  auto a = post(
      master(), "/team/member_add",
      R"({"team_id":"t","member":[{"role":"user","user_id":"m1"},{"role":"admin","user_id":"m2"}],
                    "max_budget_in_team":2.5})");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(a.at({"members_with_roles"}).as_array().size(), 2u);
  EXPECT_EQ(a.at({"updated_users"}).as_array().size(), 2u) << "missing users are created";
  const auto& ms = a.at({"updated_team_memberships"}).as_array();
  ASSERT_EQ(ms.size(), 2u);
  const std::string budgetId(ms[0].as_object().at("budget_id").as_string());
  store::RepoError err;
  auto b = store::findBudget(*db_, budgetId, err);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->limits.maxBudget, 2.5);
  EXPECT_TRUE(contains(a.inv.userIds, "m1"));
  EXPECT_TRUE(contains(a.inv.teamIds, "t"));

  a = post(master(), "/team/member_add", R"({"team_id":"t","member":{"user_id":"m1"}})");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.str({"error", "type"}), "team_member_already_in_team");
  EXPECT_EQ(
      post(master(), "/team/member_add", R"({"team_id":"x","member":{"user_id":"m1"}})").status,
      404);
  EXPECT_EQ(post(master(), "/team/member_add", R"({"team_id":"t"})").status, 400);
  EXPECT_EQ(post(master(), "/team/member_add",
                 R"({"team_id":"t","member":{"role":"boss","user_id":"q"}})")
                .status,
            400);
  EXPECT_EQ(post(master(), "/team/member_add",
                 R"({"team_id":"t","member":{"user_id":"q"},"max_budget_in_team":-1})")
                .status,
            400);

  a = post(master(), "/team/member_delete", R"({"team_id":"t","user_id":"m1"})");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(a.at({"members_with_roles"}).as_array().size(), 1u);
  EXPECT_FALSE(store::findMembership(*db_, "t", "m1", err));
  EXPECT_FALSE(contains(store::findUser(*db_, "m1", err)->teams, "t"));
  a = post(master(), "/team/member_delete", R"({"team_id":"t","user_id":"m1"})");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.message(), "User not found in team");
  EXPECT_EQ(post(master(), "/team/member_delete", R"({"team_id":"t"})").status, 400);
}

TEST_P(Teams, BlockAndUnblock) {
  ASSERT_EQ(post(master(), "/team/new", R"({"team_id":"t"})").status, 200);
  auto a = post(master(), "/team/block", R"({"team_id":"t"})");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_TRUE(a.at({"blocked"}).as_bool());
  EXPECT_EQ(a.inv.teamIds, std::vector<std::string>{"t"});
  store::RepoError err;
  EXPECT_TRUE(store::findTeam(*db_, "t", err)->blocked);
  ASSERT_EQ(post(master(), "/team/unblock", R"({"team_id":"t"})").status, 200);
  EXPECT_FALSE(store::findTeam(*db_, "t", err)->blocked);
  EXPECT_EQ(post(master(), "/team/block", R"({"team_id":"none"})").status, 404);
  EXPECT_EQ(post(master(), "/team/block", R"({})").status, 400);
}

LLMUX_MGMT_ON_BACKENDS(Teams);

}  // namespace
}  // namespace llmux::management::testing
