// /user/new, /user/update, /user/delete, /user/info, /user/list.
#include <algorithm>

#include "unit/management/test_support.hpp"

namespace llmux::management::testing {
namespace {

using Users = MgmtTest;

TEST_P(Users, NewUserCreatesAKeyByDefault) {
  ASSERT_EQ(post(master(), "/team/new", R"({"team_id":"t"})").status, 200);
  const auto a = post(master(), "/user/new", R"({"user_id":"u1","user_email":"U1@x.io",
      "user_role":"internal_user","max_budget":20,"budget_duration":"1mo","models":["m"],
      "teams":["t"],"key_alias":"u1-key","duration":"1d","send_invite_email":true})");
  ASSERT_EQ(a.status, 200) << a;
  const std::string raw = a.str({"key"});
  ASSERT_TRUE(raw.starts_with("sk-"));
  EXPECT_EQ(a.str({"user_id"}), "u1");
  EXPECT_EQ(a.str({"user_email"}), "U1@x.io");
  EXPECT_EQ(a.str({"user_role"}), "internal_user");
  EXPECT_EQ(a.at({"max_budget"}).to_number<double>(), 20.0) << "the user's budget";
  EXPECT_EQ(a.str({"budget_reset_at"}), "2025-02-01T00:00:00.000Z");
  EXPECT_EQ(a.at({"teams"}).as_array().size(), 1u);
  EXPECT_EQ(a.str({"key_alias"}), "u1-key");
  EXPECT_EQ(a.str({"token"}), governance::hashKey(raw));
  EXPECT_EQ(a.str({"expires"}), "2025-01-16T10:30:00.000Z");

  auto k = findKey(raw);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->userId, "u1");
  EXPECT_FALSE(k->limits.maxBudget) << "budgets sit on the user row";
  EXPECT_EQ(k->models, std::vector<std::string>{"m"});
  store::RepoError err;
  auto u = store::findUser(*db_, "u1", err);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->limits.maxBudget, 20.0);
  EXPECT_EQ(u->limits.budgetDuration, "1mo");
  EXPECT_EQ(u->teams, std::vector<std::string>{"t"});
  auto t = store::findTeam(*db_, "t", err);
  ASSERT_TRUE(t);
  ASSERT_EQ(t->members.size(), 1u);
  EXPECT_EQ(t->members[0].userId, "u1");
  EXPECT_TRUE(store::findMembership(*db_, "t", "u1", err));
}

TEST_P(Users, WithoutKeyAndGeneratedId) {
  const auto a = post(master(), "/user/new", R"({"auto_create_key":false})");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_TRUE(a.at({"key"}).is_null());
  EXPECT_EQ(a.str({"user_id"}).size(), 36u);
  EXPECT_EQ(a.str({"user_role"}), "internal_user");
  store::RepoError err;
  EXPECT_TRUE(store::keysOfUser(*db_, a.str({"user_id"}), err).empty());
}

TEST_P(Users, NewUserErrors) {
  ASSERT_EQ(post(master(), "/user/new", R"({"user_id":"u","user_email":"a@b.c"})").status, 200);
  auto a = post(master(), "/user/new", R"({"user_id":"u"})");
  EXPECT_EQ(a.status, 409);
  EXPECT_EQ(a.message(), "User with id u already exists");
  a = post(master(), "/user/new", R"({"user_id":"v","user_email":"A@B.C"})");
  EXPECT_EQ(a.status, 409) << "emails compare case-insensitively";
  a = post(master(), "/user/new", R"({"user_role":"superuser"})");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.param(), "user_role");
  EXPECT_EQ(post(master(), "/user/new", R"({"teams":["nope"]})").status, 400);
  EXPECT_EQ(post(master(), "/user/new", R"({"max_budget":-5})").status, 400);
  EXPECT_EQ(post(master(), "/user/new", R"({"auto_create_key":"no"})").status, 400);
  EXPECT_EQ(post(master(), "/user/new", R"({"user_id":""})").status, 400);
  store::RepoError err;
  EXPECT_FALSE(store::findUser(*db_, "v", err));
}

TEST_P(Users, UpdateByIdOrEmail) {
  ASSERT_EQ(post(master(), "/user/new",
                 R"({"user_id":"u","user_email":"u@x.io","auto_create_key":false})")
                .status,
            200);
  ASSERT_EQ(post(master(), "/user/new",
                 R"({"user_id":"w","user_email":"w@x.io","auto_create_key":false})")
                .status,
            200);
  auto a = post(master(), "/user/update", R"({"user_id":"u","user_role":"proxy_admin_viewer",
                                              "max_budget":7,"user_alias":"You"})");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(a.str({"user_id"}), "u");
  EXPECT_EQ(a.str({"data", "user_role"}), "proxy_admin_viewer");
  EXPECT_EQ(a.inv.userIds, std::vector<std::string>{"u"});
  a = post(master(), "/user/update", R"({"user_email":"U@X.IO","spend":1.5})");
  ASSERT_EQ(a.status, 200) << a;
  store::RepoError err;
  auto u = store::findUser(*db_, "u", err);
  EXPECT_EQ(u->spend, 1.5);
  EXPECT_EQ(u->limits.maxBudget, 7.0);
  EXPECT_EQ(u->userAlias, "You");
  EXPECT_EQ(post(master(), "/user/update", R"({"user_id":"u","user_email":"w@x.io"})").status, 409);
  EXPECT_EQ(post(master(), "/user/update", R"({"user_id":"nobody"})").status, 404);
  EXPECT_EQ(post(master(), "/user/update", R"({"max_budget":1})").status, 400);
  EXPECT_EQ(post(master(), "/user/update", R"({"user_id":"u","user_role":"root"})").status, 400);
}

TEST_P(Users, DeleteRemovesKeysAndMemberships) {
  ASSERT_EQ(post(master(), "/team/new", R"({"team_id":"t"})").status, 200);
  const auto made = post(master(), "/user/new", R"({"user_id":"u","teams":["t"]})");
  ASSERT_EQ(made.status, 200);
  const std::string raw = made.str({"key"});
  auto a = post(master(), "/user/delete", R"({"user_ids":["u"]})");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_FALSE(findKey(raw));
  EXPECT_EQ(a.inv.keyHashes, std::vector<std::string>{governance::hashKey(raw)});
  EXPECT_EQ(a.inv.userIds, std::vector<std::string>{"u"});
  store::RepoError err;
  EXPECT_FALSE(store::findUser(*db_, "u", err));
  EXPECT_TRUE(store::findTeam(*db_, "t", err)->members.empty());
  EXPECT_FALSE(store::findMembership(*db_, "t", "u", err));
  a = post(master(), "/user/delete", R"({"user_ids":["u"]})");
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.message(), "User not found, passed user_id=u");
  EXPECT_EQ(post(master(), "/user/delete", R"({})").status, 400);
}

TEST_P(Users, InfoAndList) {
  ASSERT_EQ(post(master(), "/team/new", R"({"team_id":"t"})").status, 200);
  ASSERT_EQ(
      post(master(), "/user/new", R"({"user_id":"a","teams":["t"],"user_email":"a@x.io"})").status,
      200);
  ASSERT_EQ(post(master(), "/user/new",
                 R"({"user_id":"b","user_role":"proxy_admin","auto_create_key":false})")
                .status,
            200);
  auto a = get(master(), "/user/info", "user_id=a");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(a.str({"user_id"}), "a");
  EXPECT_EQ(a.str({"user_info", "user_email"}), "a@x.io");
  EXPECT_EQ(a.at({"keys"}).as_array().size(), 1u);
  EXPECT_EQ(a.at({"teams"}).as_array().size(), 1u);
  EXPECT_EQ(get(master(), "/user/info", "user_id=zz").status, 404);
  EXPECT_EQ(get(master(), "/user/info").status, 400);

  a = get(master(), "/user/list", "page_size=1");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(a.at({"total"}).as_int64(), 2);
  EXPECT_EQ(a.at({"total_pages"}).as_int64(), 2);
  ASSERT_EQ(a.at({"users"}).as_array().size(), 1u);
  EXPECT_EQ(a.at({"users"}).as_array()[0].as_object().at("key_count").as_int64(), 1);
  a = get(master(), "/user/list", "role=proxy_admin");
  EXPECT_EQ(a.at({"total"}).as_int64(), 1);
  a = get(master(), "/user/list", "user_ids=a,b,c");
  EXPECT_EQ(a.at({"total"}).as_int64(), 2);
  a = get(master(), "/user/list", "team=t");
  EXPECT_EQ(a.at({"total"}).as_int64(), 1);
  EXPECT_EQ(get(master(), "/user/list", "page_size=101").status, 400);
  EXPECT_EQ(get(master(), "/user/list", "page=0").status, 400);
  EXPECT_EQ(get(master(), "/user/list", "role=god").status, 400);
}

LLMUX_MGMT_ON_BACKENDS(Users);

}  // namespace
}  // namespace llmux::management::testing
