// /key/regenerate and /key/{key}/regenerate.
#include "unit/management/test_support.hpp"

namespace llmux::management::testing {
namespace {

using KeyRegenerate = MgmtTest;

TEST_P(KeyRegenerate, KeepsSpendLimitsAndAliasAndRetiresTheOldHash) {
  const std::string raw = makeKey(master(), R"({"key_alias":"rot","max_budget":10,"rpm_limit":5,
      "budget_duration":"1d","models":["m"],"metadata":{"k":"v"}})");
  const std::string oldHash = governance::hashKey(raw);
  store::RepoError err;
  ASSERT_EQ(store::setSpend(*db_, store::SpendEntity::Key, oldHash, 3.25, err),
            store::WriteResult::Ok);

  now_ += 5000;
  const auto a = post(master(), "/key/regenerate", R"({"key":")" + raw + R"("})");
  ASSERT_EQ(a.status, 200) << a;
  const std::string fresh = a.str({"key"});
  ASSERT_TRUE(fresh.starts_with("sk-"));
  ASSERT_NE(fresh, raw);
  const std::string newHash = governance::hashKey(fresh);
  EXPECT_EQ(a.str({"token_id"}), newHash);
  EXPECT_EQ(a.str({"token"}), newHash);
  EXPECT_EQ(a.str({"key_name"}), "sk-..." + fresh.substr(fresh.size() - 4));
  EXPECT_EQ(a.at({"spend"}).to_number<double>(), 3.25);
  EXPECT_EQ(a.inv.keyHashes, (std::vector<std::string>{oldHash, newHash}));

  EXPECT_FALSE(findKey(raw)) << "the old key still resolves";
  auto k = findKey(fresh);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->spend, 3.25);
  EXPECT_EQ(k->limits.maxBudget, 10.0);
  EXPECT_EQ(k->limits.rpmLimit, 5);
  EXPECT_EQ(k->limits.budgetDuration, "1d");
  EXPECT_EQ(k->keyAlias, "rot");
  EXPECT_EQ(k->models, std::vector<std::string>{"m"});
  EXPECT_EQ(k->metadata, R"({"k":"v"})");
  EXPECT_EQ(k->createdAt, kNow);
  EXPECT_EQ(k->updatedAt, kNow + 5000);
}

TEST_P(KeyRegenerate, PathFormAppliesUpdateFields) {
  const std::string raw = makeKey(master(), R"({"max_budget":1})");
  const auto a =
      post(master(), "/key/" + raw + "/regenerate", R"({"max_budget":20,"duration":"1h"})");
  ASSERT_EQ(a.status, 200) << a;
  auto k = findKey(a.str({"key"}));
  ASSERT_TRUE(k);
  EXPECT_EQ(k->limits.maxBudget, 20.0);
  EXPECT_EQ(k->expires, kNow + 3'600'000);
  // By hash in the path too.
  const std::string h = governance::hashKey(a.str({"key"}));
  EXPECT_EQ(post(master(), "/key/" + h + "/regenerate", "").status, 200);
}

TEST_P(KeyRegenerate, CustomNewKey) {
  const std::string raw = makeKey(master());
  auto a = post(master(), "/key/regenerate",
                R"({"key":")" + raw + R"(","new_key":"sk-rotated-custom-1"})");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(a.str({"key"}), "sk-rotated-custom-1");
  EXPECT_TRUE(findKey("sk-rotated-custom-1"));
  a = post(master(), "/key/regenerate",
           R"({"key":"sk-rotated-custom-1","new_key":"rotated-custom-2"})");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.param(), "new_key");
  a = post(master(), "/key/regenerate",
           R"({"key":"sk-rotated-custom-1","new_key":"sk-rotated-custom-1"})");
  EXPECT_EQ(a.status, 400);
  const std::string other = makeKey(master());
  a = post(master(), "/key/regenerate",
           R"({"key":")" + other + R"(","new_key":"sk-rotated-custom-1"})");
  EXPECT_EQ(a.status, 400) << a;
  EXPECT_TRUE(findKey(other)) << "a failed rotation lost the key";
}

TEST_P(KeyRegenerate, Errors) {
  const std::string raw = makeKey(master());
  auto a = post(master(), "/key/regenerate", R"({})");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.message(), "No key passed in.");
  a = post(master(), "/key/regenerate", R"({"key":"sk-unknown-0000"})");
  EXPECT_EQ(a.status, 404);
  a = post(master(), "/key/regenerate", R"({"key":")" + raw + R"(","grace_period":"1h"})");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.param(), "grace_period");
  a = post(master(), "/key/regenerate", R"({"key":")" + raw + R"(","new_master_key":"sk-m"})");
  EXPECT_EQ(a.status, 400);
  a = post(master(), "/key/regenerate", R"({"key":")" + raw + R"(","max_budget":-1})");
  EXPECT_EQ(a.status, 400);
  EXPECT_TRUE(findKey(raw)) << "refused rotations must not change the key";
  a = post(master(), "/key/regenerate", R"({"key":")" + raw + R"(","grace_period":null})");
  EXPECT_EQ(a.status, 200) << a;
  EXPECT_EQ(call(master(), "GET", "/key/regenerate", "", "").status, 405);
}

LLMUX_MGMT_ON_BACKENDS(KeyRegenerate);

}  // namespace
}  // namespace llmux::management::testing
