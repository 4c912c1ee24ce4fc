// /key/generate, /key/update, /key/delete, /key/info, /key/list, /key/block, /key/unblock.
#include <algorithm>

#include "unit/management/test_support.hpp"

namespace llmux::management::testing {
namespace {

using KeyGenerate = MgmtTest;

TEST_P(KeyGenerate, ReturnsTheRawKeyOnceAndStoresOnlyItsHash) {
  const auto a = post(master(), "/key/generate", R"({"key_alias":"ci","models":["gpt-4o"]})");
  ASSERT_EQ(a.status, 200) << a;
  const std::string raw = a.str({"key"});
  ASSERT_TRUE(raw.starts_with("sk-")) << raw;
  EXPECT_EQ(raw.size(), 25u);
  const std::string hash = governance::hashKey(raw);
  EXPECT_EQ(a.str({"token"}), hash);
  EXPECT_EQ(a.str({"token_id"}), hash);
  EXPECT_EQ(a.str({"key_name"}), "sk-..." + raw.substr(raw.size() - 4));
  EXPECT_EQ(a.str({"key_alias"}), "ci");
  EXPECT_EQ(a.at({"models"}).as_array().size(), 1u);
  EXPECT_TRUE(a.at({"expires"}).is_null());
  EXPECT_TRUE(a.at({"max_budget"}).is_null());
  EXPECT_EQ(a.at({"spend"}).as_double(), 0.0);
  EXPECT_EQ(a.str({"created_by"}), "litellm_proxy_admin_name");
  EXPECT_EQ(a.str({"created_at"}), "2025-01-15T10:30:00.000Z");
  EXPECT_TRUE(a.at({"litellm_budget_table"}).is_null());
  EXPECT_EQ(a.inv.keyHashes, std::vector<std::string>{hash});

  auto k = findKey(raw);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->keyAlias, "ci");
  EXPECT_EQ(k->models, std::vector<std::string>{"gpt-4o"});
}

TEST_P(KeyGenerate, AllFieldsAreStored) {
  makeUser("u1");
  ASSERT_EQ(post(master(), "/team/new",
                 R"({"team_id":"t1","members_with_roles":[{"role":"user","user_id":"u1"}]})")
                .status,
            200);
  ASSERT_EQ(post(master(), "/budget/new", R"({"budget_id":"b1","max_budget":5})").status, 200);
  const auto a = post(master(), "/key/generate", R"({
    "key_alias":"full","duration":"1h","models":["a","b"],"max_budget":10.5,"soft_budget":8,
    "budget_duration":"1d","model_max_budget":{"gpt-4o":{"budget_limit":1,"time_period":"1d"}},
    "rpm_limit":60,"tpm_limit":1000,"max_parallel_requests":4,"model_rpm_limit":{"a":5},
    "model_tpm_limit":{"a":500},"team_id":"t1","user_id":"u1","metadata":{"env":"ci"},
    "tags":["x"],"aliases":{"fast":"a"},"blocked":false,"budget_id":"b1",
    "allowed_routes":["/chat/completions"],"permissions":{"get_spend_routes":true},
    "unknown_field":{"ignored":true}})");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(a.str({"expires"}), "2025-01-15T11:30:00.000Z");
  EXPECT_EQ(a.str({"budget_reset_at"}), "2025-01-16T00:00:00.000Z");
  EXPECT_EQ(a.str({"model_max_budget", "gpt-4o", "budget_duration"}), "1d");
  EXPECT_EQ(a.at({"model_max_budget", "gpt-4o", "max_budget"}).to_number<double>(), 1.0);
  EXPECT_EQ(a.str({"litellm_budget_table", "budget_id"}), "b1");

  auto k = findKey(a.str({"key"}));
  ASSERT_TRUE(k);
  EXPECT_EQ(k->expires, kNow + 3'600'000);
  EXPECT_EQ(k->limits.maxBudget, 10.5);
  EXPECT_EQ(k->limits.softBudget, 8.0);
  EXPECT_EQ(k->limits.budgetDuration, "1d");
  EXPECT_EQ(k->limits.budgetResetAt, kNow + 13 * 3'600'000 + 30 * 60'000);
  EXPECT_EQ(k->limits.rpmLimit, 60);
  EXPECT_EQ(k->limits.tpmLimit, 1000);
  EXPECT_EQ(k->limits.maxParallelRequests, 4);
  EXPECT_EQ(k->limits.modelRpmLimit, R"({"a":5})");
  EXPECT_EQ(k->limits.modelTpmLimit, R"({"a":500})");
  EXPECT_EQ(k->teamId, "t1");
  EXPECT_EQ(k->userId, "u1");
  EXPECT_EQ(k->budgetId, "b1");
  EXPECT_EQ(k->metadata, R"({"env":"ci"})");
  EXPECT_EQ(k->tags, std::vector<std::string>{"x"});
  EXPECT_EQ(k->aliases, R"({"fast":"a"})");
  EXPECT_EQ(k->allowedRoutes, std::vector<std::string>{"/chat/completions"});
  EXPECT_EQ(k->permissions, R"({"get_spend_routes":true})");
}

TEST_P(KeyGenerate, DurationsInMonthsAndUnsetForms) {
  auto a = post(master(), "/key/generate", R"({"duration":"1mo","budget_duration":"30d"})");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(a.str({"expires"}), "2025-02-15T10:30:00.000Z");
  EXPECT_EQ(a.str({"budget_reset_at"}), "2025-02-01T00:00:00.000Z");
  for (const char* unset : {R"("-1")", R"("")", "null", R"("none")"}) {
    a = post(master(), "/key/generate", std::string(R"({"duration":)") + unset + "}");
    ASSERT_EQ(a.status, 200) << a;
    EXPECT_TRUE(a.at({"expires"}).is_null()) << unset;
  }
}

TEST_P(KeyGenerate, CustomKeyMustStartWithSk) {
  auto a = post(master(), "/key/generate", R"({"key":"sk-my-custom-key-1"})");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(a.str({"key"}), "sk-my-custom-key-1");
  EXPECT_TRUE(findKey("sk-my-custom-key-1"));

  a = post(master(), "/key/generate", R"({"key":"my-custom-key-1"})");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.param(), "key");
  EXPECT_NE(a.message().find("must start with 'sk-'"), std::string::npos) << a;
  EXPECT_EQ(a.message().find("my-custom-key-1"), std::string::npos) << "key echoed unmasked";

  a = post(master(), "/key/generate", R"({"key":"sk-my-custom-key-1"})");
  EXPECT_EQ(a.status, 400) << a;
  EXPECT_NE(a.message().find("already exists"), std::string::npos);
}

TEST_P(KeyGenerate, ValidationErrorsNameTheField) {
  struct Case {
    const char* body;
    const char* param;
    const char* text;
  };
  const Case cases[] = {
      {R"({"max_budget":-1})", "max_budget", "max_budget cannot be negative. Received: -1"},
      {R"({"soft_budget":-0.5})", "soft_budget", "cannot be negative"},
      {R"({"max_budget":"ten"})", "max_budget", "expected a number, got string"},
      {R"({"max_budget":1e12})", "max_budget", "too large"},
      {R"({"rpm_limit":1.5})", "rpm_limit", "expected an integer"},
      {R"({"tpm_limit":-3})", "tpm_limit", "cannot be negative"},
      {R"({"max_parallel_requests":true})", "max_parallel_requests", "expected an integer"},
      {R"({"models":"gpt-4o"})", "models", "expected a list of strings"},
      {R"({"models":["a",1]})", "models", "expected a list of strings"},
      {R"({"metadata":[1]})", "metadata", "expected an object"},
      {R"({"duration":"10"})", "duration", "Invalid duration"},
      {R"({"duration":"2x"})", "duration", "Invalid duration"},
      {R"({"budget_duration":"-1d"})", "", ""},  // "-1d" is not "-1": invalid
      {R"({"budget_duration":"1y"})", "budget_duration", "Invalid budget_duration"},
      {R"({"key_alias":5})", "key_alias", "expected a string, got number"},
      {R"({"blocked":"yes"})", "blocked", "expected a boolean"},
      {R"({"key_type":"admin"})", "key_type", "Invalid key_type"},
      {R"({"aliases":{"a":1}})", "aliases", "map to a model name"},
      {R"({"model_rpm_limit":{"a":-1}})", "model_rpm_limit", "non-negative integer"},
      {R"({"model_max_budget":{"m":5}})", "model_max_budget", "needs an object"},
      {R"({"model_max_budget":{"m":{"max_budget":-2}}})", "model_max_budget", "negative"},
      {R"({"model_max_budget":{"m":{"budget_duration":"often"}}})", "model_max_budget",
       "invalid budget_duration"},
      {R"({"metadata":{"model_tpm_limit":{"a":"x"}}})", "metadata", "non-negative integer"},
      {R"({"key_alias":"a\u0000b"})", "key_alias", "NUL"},
  };
  for (const auto& c : cases) {
    const auto a = post(master(), "/key/generate", c.body);
    EXPECT_EQ(a.status, 400) << c.body << " -> " << a;
    if (*c.param != '\0') {
      EXPECT_EQ(a.param(), c.param) << c.body;
      EXPECT_NE(a.message().find(c.text), std::string::npos) << c.body << " -> " << a.message();
    }
    EXPECT_EQ(a.str({"error", "code"}), "400");
    EXPECT_EQ(a.str({"error", "type"}), "bad_request_error");
  }
  store::RepoError err;
  auto page = store::listKeys(*db_, {}, err);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->total, 0) << "a refused request created a key";
}

TEST_P(KeyGenerate, BadBodies) {
  for (const char* body : {"{", "[1,2]", "\"x\"", "{\"a\":1}}", "nul"}) {
    const auto a = post(master(), "/key/generate", body);
    EXPECT_EQ(a.status, 400) << body;
  }
  // An empty body is an empty object.
  EXPECT_EQ(post(master(), "/key/generate", "").status, 200);
  EXPECT_EQ(post(master(), "/key/generate", "  \n").status, 200);
}

TEST_P(KeyGenerate, ReferencedEntitiesMustExist) {
  auto a = post(master(), "/key/generate", R"({"team_id":"nope"})");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.param(), "team_id");
  EXPECT_EQ(a.message(), "Team not found, passed team_id=nope");
  a = post(master(), "/key/generate", R"({"user_id":"ghost"})");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.param(), "user_id");
  a = post(master(), "/key/generate", R"({"budget_id":"nb"})");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.param(), "budget_id");
}

TEST_P(KeyGenerate, DuplicateAliasIs400) {
  ASSERT_EQ(post(master(), "/key/generate", R"({"key_alias":"dup"})").status, 200);
  const auto a = post(master(), "/key/generate", R"({"key_alias":"dup"})");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.param(), "key_alias");
  EXPECT_EQ(a.message(),
            "Key with alias 'dup' already exists. Unique key aliases across all keys are "
            "required.");
}

TEST_P(KeyGenerate, KeyTypeSetsAllowedRoutesAndMetadataSettingsAreLifted) {
  auto a = post(master(), "/key/generate",
                R"({"key_type":"read_only","metadata":{"team":"x","tags":["t1"],
                    "model_rpm_limit":{"m":3}}})");
  ASSERT_EQ(a.status, 200) << a;
  auto k = findKey(a.str({"key"}));
  ASSERT_TRUE(k);
  EXPECT_EQ(k->keyType, "read_only");
  EXPECT_EQ(k->allowedRoutes, std::vector<std::string>{"info_routes"});
  EXPECT_EQ(k->tags, std::vector<std::string>{"t1"});
  EXPECT_EQ(k->limits.modelRpmLimit, R"({"m":3})");
  EXPECT_EQ(k->metadata, R"({"team":"x"})");
}

TEST_P(KeyGenerate, TheRawKeyAppearsInNoTable) {
  makeUser("owner");
  const std::string raw =
      makeKey(master(), R"({"user_id":"owner","key_alias":"scan","metadata":{"a":"b"}})");
  const auto u = post(master(), "/user/new", R"({"user_id":"u2"})");
  ASSERT_EQ(u.status, 200);
  const std::string raw2 = u.str({"key"});
  const auto r = post(master(), "/key/regenerate", R"({"key":")" + raw + R"("})");
  ASSERT_EQ(r.status, 200) << r;
  const std::string raw3 = r.str({"key"});
  ASSERT_FALSE(raw.empty());
  ASSERT_FALSE(raw2.empty());

  const auto tables = tableNames();
  ASSERT_GT(tables.size(), 3u);
  int cells = 0;
  for (const auto& t : tables) {
    auto rows = db_->exec("SELECT * FROM \"" + t + "\"");
    ASSERT_TRUE(rows.ok) << rows.error;
    for (const auto& row : rows.rows) {
      for (size_t i = 0; i < row.cols.size(); ++i) {
        const std::string text = row.str(i);
        ++cells;
        for (const std::string* k : {&raw, &raw2, &raw3}) {
          EXPECT_EQ(text.find(*k), std::string::npos) << "raw key in table " << t;
          // Not even the secret part without its prefix.
          EXPECT_EQ(text.find(k->substr(3)), std::string::npos) << t;
        }
      }
    }
  }
  EXPECT_GT(cells, 20);
}

TEST_P(KeyGenerate, EmptyAliasMeansNoAlias) {
  const std::string a = makeKey(master(), R"({"key_alias":""})");
  const std::string b = makeKey(master(), R"({"key_alias":""})");
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty()) << "two empty aliases are not duplicates";
  EXPECT_FALSE(findKey(a)->keyAlias);
}

using KeyUpdate = MgmtTest;

TEST_P(KeyUpdate, ChangesOnlyThePassedFields) {
  const std::string raw = makeKey(master(), R"({"key_alias":"a1","max_budget":5,"rpm_limit":7,
                                               "models":["m1"],"budget_duration":"1h"})");
  now_ += 60'000;
  auto a = post(master(), "/key/update",
                R"({"key":")" + raw + R"(","max_budget":9,"duration":"2h","tags":["t"]})");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(a.str({"key"}), raw);
  EXPECT_EQ(a.at({"max_budget"}).to_number<double>(), 9.0);
  EXPECT_EQ(a.str({"updated_at"}), "2025-01-15T10:31:00.000Z");
  EXPECT_EQ(a.inv.keyHashes, std::vector<std::string>{governance::hashKey(raw)});
  auto k = findKey(raw);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->limits.maxBudget, 9.0);
  EXPECT_EQ(k->limits.rpmLimit, 7);
  EXPECT_EQ(k->models, std::vector<std::string>{"m1"});
  EXPECT_EQ(k->keyAlias, "a1");
  EXPECT_EQ(k->expires, now_ + 2 * 3'600'000);
  EXPECT_EQ(k->limits.budgetDuration, "1h");
  EXPECT_EQ(k->tags, std::vector<std::string>{"t"});
}

TEST_P(KeyUpdate, NullClearsAndByAliasOrHash) {
  const std::string raw = makeKey(master(), R"({"key_alias":"a2","max_budget":5,
                                               "duration":"1d","budget_duration":"1d"})");
  auto a = post(master(), "/key/update",
                R"({"key_alias":"a2","max_budget":null,"duration":null,"budget_duration":null})");
  ASSERT_EQ(a.status, 200) << a;
  auto k = findKey(raw);
  ASSERT_TRUE(k);
  EXPECT_FALSE(k->limits.maxBudget);
  EXPECT_FALSE(k->expires);
  EXPECT_FALSE(k->limits.budgetDuration);
  EXPECT_FALSE(k->limits.budgetResetAt);
  EXPECT_EQ(k->keyAlias, "a2");

  a = post(master(), "/key/update",
           R"({"key":")" + governance::hashKey(raw) + R"(","key_alias":"renamed"})");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(findKey(raw)->keyAlias, "renamed");
}

TEST_P(KeyUpdate, Errors) {
  const std::string raw = makeKey(master(), R"({"key_alias":"one"})");
  makeKey(master(), R"({"key_alias":"two"})");
  auto a = post(master(), "/key/update", R"({"max_budget":3})");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.param(), "key");
  a = post(master(), "/key/update", R"({"key":"sk-unknown-key-123"})");
  EXPECT_EQ(a.status, 404) << a;
  EXPECT_EQ(a.str({"error", "type"}), "not_found_error");
  a = post(master(), "/key/update", R"({"key":")" + raw + R"(","key_alias":"two"})");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.param(), "key_alias");
  a = post(master(), "/key/update", R"({"key":")" + raw + R"(","max_budget":-4})");
  EXPECT_EQ(a.status, 400);
  a = post(master(), "/key/update", R"({"key":")" + raw + R"(","team_id":"missing"})");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.param(), "team_id");
  // Renaming to its own alias is not a duplicate.
  EXPECT_EQ(post(master(), "/key/update", R"({"key":")" + raw + R"(","key_alias":"one"})").status,
            200);
}

TEST_P(KeyUpdate, AdminMaySetSpend) {
  const std::string raw = makeKey(master());
  const auto a = post(master(), "/key/update", R"({"key":")" + raw + R"(","spend":2.5})");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(findKey(raw)->spend, 2.5);
}

TEST_P(KeyUpdate, MovingToATeamNeedsTheOwnerToBeAMember) {
  makeUser("u1");
  makeUser("u2");
  ASSERT_EQ(
      post(master(), "/team/new", R"({"team_id":"t1","members_with_roles":[{"user_id":"u2"}]})")
          .status,
      200);
  const std::string raw = makeKey(master(), R"({"user_id":"u1"})");
  auto a = post(master(), "/key/update", R"({"key":")" + raw + R"(","team_id":"t1"})");
  EXPECT_EQ(a.status, 403) << a;
  EXPECT_NE(a.message().find("User=u1 is not a member of the team=t1"), std::string::npos);
  ASSERT_EQ(
      post(master(), "/team/member_add", R"({"team_id":"t1","member":{"user_id":"u1"}})").status,
      200);
  a = post(master(), "/key/update", R"({"key":")" + raw + R"(","team_id":"t1"})");
  EXPECT_EQ(a.status, 200) << a;
}

using KeyDelete = MgmtTest;

TEST_P(KeyDelete, ByKeyHashAndAlias) {
  const std::string k1 = makeKey(master());
  const std::string k2 = makeKey(master());
  makeKey(master(), R"({"key_alias":"third"})");
  const std::string h2 = governance::hashKey(k2);
  const auto a = post(master(), "/key/delete",
                      R"({"keys":[")" + k1 + R"(",")" + h2 + R"("],"key_aliases":["third"]})");
  ASSERT_EQ(a.status, 200) << a;
  ASSERT_EQ(a.at({"deleted_keys"}).as_array().size(), 3u);
  EXPECT_EQ(a.at({"deleted_keys"}).as_array()[0].as_string(), k1);
  EXPECT_EQ(a.inv.keyHashes.size(), 3u);
  EXPECT_FALSE(findKey(k1));
  EXPECT_FALSE(findKey(k2));
  store::RepoError err;
  EXPECT_FALSE(store::findKeyByAlias(*db_, "third", err));
}

TEST_P(KeyDelete, NothingIsDeletedWhenOneIsMissing) {
  const std::string k1 = makeKey(master());
  auto a = post(master(), "/key/delete", R"({"keys":[")" + k1 + R"(","sk-not-there-000"]})");
  EXPECT_EQ(a.status, 404) << a;
  EXPECT_TRUE(findKey(k1));
  EXPECT_EQ(a.message().find("sk-not-there-000"), std::string::npos) << "unmasked key";
  a = post(master(), "/key/delete", R"({})");
  EXPECT_EQ(a.status, 400);
  a = post(master(), "/key/delete", R"({"keys":[]})");
  EXPECT_EQ(a.status, 400);
  a = post(master(), "/key/delete", R"({"keys":"sk-abc"})");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.param(), "keys");
}

using KeyInfo = MgmtTest;

TEST_P(KeyInfo, ByRawKeyHashOrTheCallersOwnKey) {
  const std::string raw = makeKey(master(), R"({"key_alias":"inf","max_budget":3})");
  const std::string hash = governance::hashKey(raw);
  auto a = get(master(), "/key/info", "key=" + raw);
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(a.str({"key"}), raw);
  EXPECT_EQ(a.str({"info", "key_alias"}), "inf");
  EXPECT_TRUE(a.at({"info", "token"}).is_null()) << "info omits the token";
  a = get(master(), "/key/info", "key=" + hash);
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.str({"info", "key_alias"}), "inf");
  // A key without a user reads itself (no ?key=).
  a = get(as(Role::None, std::nullopt, hash), "/key/info");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(a.str({"key"}), hash);
  // ... but not another key.
  const std::string other = makeKey(master());
  a = get(as(Role::None, std::nullopt, hash), "/key/info", "key=" + other);
  EXPECT_EQ(a.status, 403) << a;
  a = get(master(), "/key/info", "key=sk-nothing-here");
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.message(), "Key not found in database");
  a = get(master(), "/key/info");
  EXPECT_EQ(a.status, 400);
}

using KeyList = MgmtTest;

TEST_P(KeyList, PaginatesFiltersAndSorts) {
  makeUser("u1");
  for (int i = 0; i < 5; ++i) {
    now_ += 1000;
    makeKey(master(), R"({"user_id":"u1","key_alias":"k)" + std::to_string(i) + R"("})");
  }
  makeKey(master(), R"({"key_alias":"other"})");
  auto a = get(master(), "/key/list", "user_id=u1&size=2&page=2&return_full_object=true");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(a.at({"total_count"}).as_int64(), 5);
  EXPECT_EQ(a.at({"current_page"}).as_int64(), 2);
  EXPECT_EQ(a.at({"total_pages"}).as_int64(), 3);
  const auto& keys = a.at({"keys"}).as_array();
  ASSERT_EQ(keys.size(), 2u);
  // created_at descending: k4 k3 | k2 k1 | k0
  EXPECT_EQ(keys[0].as_object().at("key_alias").as_string(), "k2");
  a = get(master(), "/key/list", "sort_by=key_alias&sort_order=asc");
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.at({"total_count"}).as_int64(), 6);
  ASSERT_TRUE(a.at({"keys"}).as_array()[0].is_string()) << "hashes unless return_full_object";
  a = get(master(), "/key/list", "key_alias=other");
  EXPECT_EQ(a.at({"total_count"}).as_int64(), 1);

  for (const char* bad : {"page=0", "size=101", "size=x", "sort_by=spend;drop", "sort_order=up",
                          "return_full_object=maybe"}) {
    EXPECT_EQ(get(master(), "/key/list", bad).status, 400) << bad;
  }
}

using KeyBlock = MgmtTest;

TEST_P(KeyBlock, BlockAndUnblockReturnTheRowWithToken) {
  const std::string raw = makeKey(master());
  auto a = post(master(), "/key/block", R"({"key":")" + raw + R"("})");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_TRUE(a.at({"blocked"}).as_bool());
  EXPECT_EQ(a.str({"token"}), governance::hashKey(raw));
  EXPECT_EQ(a.inv.keyHashes.size(), 1u);
  EXPECT_TRUE(findKey(raw)->blocked);
  a = post(master(), "/key/unblock", R"({"key":")" + governance::hashKey(raw) + R"("})");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_FALSE(findKey(raw)->blocked);
  EXPECT_EQ(post(master(), "/key/block", R"({"key":""})").status, 400);
  EXPECT_EQ(post(master(), "/key/block", R"({"key":7})").status, 400);
  EXPECT_EQ(post(master(), "/key/block", R"({"key":"sk-missing-key-1"})").status, 404);
}

LLMUX_MGMT_ON_BACKENDS(KeyGenerate);
LLMUX_MGMT_ON_BACKENDS(KeyUpdate);
LLMUX_MGMT_ON_BACKENDS(KeyDelete);
LLMUX_MGMT_ON_BACKENDS(KeyInfo);
LLMUX_MGMT_ON_BACKENDS(KeyList);
LLMUX_MGMT_ON_BACKENDS(KeyBlock);

}  // namespace
}  // namespace llmux::management::testing
