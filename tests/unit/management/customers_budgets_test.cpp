// /customer/* (and /end_user/*), /budget/*.
#include "unit/management/test_support.hpp"

namespace llmux::management::testing {
namespace {

using Customers = MgmtTest;

TEST_P(Customers, NewWithBudgetFieldsCreatesALinkedBudget) {
  const auto a = post(master(), "/customer/new", R"({"user_id":"c1","alias":"Acme",
      "max_budget":12,"budget_duration":"1d","rpm_limit":30,"allowed_model_region":"eu",
      "default_model":"gpt-4o"})");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(a.str({"user_id"}), "c1");
  EXPECT_EQ(a.str({"alias"}), "Acme");
  EXPECT_EQ(a.str({"allowed_model_region"}), "eu");
  EXPECT_FALSE(a.at({"blocked"}).as_bool());
  const std::string budgetId = a.str({"budget_id"});
  EXPECT_EQ(a.str({"litellm_budget_table", "budget_id"}), budgetId);
  EXPECT_EQ(a.at({"litellm_budget_table", "max_budget"}).to_number<double>(), 12.0);
  EXPECT_EQ(a.str({"litellm_budget_table", "budget_reset_at"}), "2025-01-16T00:00:00.000Z");
  EXPECT_EQ(a.inv.customerIds, std::vector<std::string>{"c1"});
  store::RepoError err;
  auto b = store::findBudget(*db_, budgetId, err);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->limits.rpmLimit, 30);
}

TEST_P(Customers, NewErrors) {
  modelExists_ = [](std::string_view m) { return m == "gpt-4o"; };
  ASSERT_EQ(post(master(), "/budget/new", R"({"budget_id":"b"})").status, 200);
  ASSERT_EQ(post(master(), "/customer/new", R"({"user_id":"c"})").status, 200);
  auto a = post(master(), "/customer/new", R"({"user_id":"c"})");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.message(), "Customer already exists, passed user_id=c. Please pass a new user_id.");
  a = post(master(), "/customer/new", R"({"user_id":"d","budget_id":"b","max_budget":3})");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.message(), "Set either 'max_budget' or 'budget_id', not both.");
  EXPECT_EQ(post(master(), "/customer/new", R"({"user_id":"d","budget_id":"zz"})").status, 400);
  EXPECT_EQ(post(master(), "/customer/new", R"({"user_id":"d","default_model":"nope"})").status,
            400);
  EXPECT_EQ(
      post(master(), "/customer/new", R"({"user_id":"d","allowed_model_region":"asia"})").status,
      400);
  EXPECT_EQ(post(master(), "/customer/new", R"({"max_budget":3})").status, 400);
  EXPECT_EQ(post(master(), "/customer/new", R"({"user_id":"d","max_budget":-3})").status, 400);
  a = post(master(), "/customer/new",
           R"({"user_id":"d","budget_id":"b","default_model":"gpt-4o"})");
  EXPECT_EQ(a.status, 200) << a;
  EXPECT_EQ(a.str({"litellm_budget_table", "budget_id"}), "b");
}

TEST_P(Customers, UpdateAppliesFalseAndZero) {
  ASSERT_EQ(
      post(master(), "/customer/new", R"({"user_id":"c","blocked":true,"max_budget":5})").status,
      200);
  auto a = post(master(), "/customer/update", R"({"user_id":"c","blocked":false,"max_budget":0})");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_FALSE(a.at({"blocked"}).as_bool());
  EXPECT_EQ(a.at({"litellm_budget_table", "max_budget"}).to_number<double>(), 0.0);
  EXPECT_EQ(a.inv.budgetIds.size(), 1u) << "the linked budget changed";
  EXPECT_EQ(post(master(), "/customer/update", R"({"user_id":"zz"})").status, 404);
  EXPECT_EQ(post(master(), "/customer/update", R"({"alias":"x"})").status, 400);
}

TEST_P(Customers, EndUserAliasesInfoListDelete) {
  ASSERT_EQ(post(master(), "/end_user/new", R"({"user_id":"e1"})").status, 200);
  ASSERT_EQ(post(master(), "/customer/new", R"({"user_id":"e2","max_budget":1})").status, 200);
  auto a = get(master(), "/end_user/info", "end_user_id=e1");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(a.str({"user_id"}), "e1");
  a = get(master(), "/customer/info", "end_user_id=none");
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.message(), "End User Id=none does not exist in db");
  EXPECT_EQ(get(master(), "/customer/info").status, 400);
  a = get(master(), "/customer/list");
  ASSERT_EQ(a.status, 200);
  ASSERT_EQ(a.body.as_array().size(), 2u);
  EXPECT_TRUE(a.body.as_array()[1].as_object().at("litellm_budget_table").is_object());

  a = post(master(), "/customer/delete", R"({"user_ids":["e1","x","y"]})");
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.message(), "End User Id(s)=x, y do not exist in db");
  a = post(master(), "/end_user/delete", R"({"user_ids":["e1"]})");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(a.at({"deleted_customers"}).as_int64(), 1);
  EXPECT_EQ(a.inv.customerIds, std::vector<std::string>{"e1"});
  store::RepoError err;
  EXPECT_FALSE(store::findCustomer(*db_, "e1", err));
}

TEST_P(Customers, BlockAndUnblockAreSymmetric) {
  ASSERT_EQ(post(master(), "/customer/new", R"({"user_id":"c"})").status, 200);
  auto a = post(master(), "/customer/block", R"({"user_ids":["c","fresh"]})");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(a.at({"blocked_users"}).as_array().size(), 2u);
  store::RepoError err;
  EXPECT_TRUE(store::findCustomer(*db_, "c", err)->blocked);
  EXPECT_TRUE(store::findCustomer(*db_, "fresh", err)->blocked) << "block creates unknown ones";
  a = post(master(), "/customer/unblock", R"({"user_ids":["c"]})");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(a.at({"unblocked_users"}).as_array().size(), 1u);
  EXPECT_FALSE(store::findCustomer(*db_, "c", err)->blocked);
  EXPECT_EQ(a.inv.customerIds, std::vector<std::string>{"c"});
  EXPECT_EQ(post(master(), "/customer/block", R"({"user_ids":[]})").status, 400);
  EXPECT_EQ(post(master(), "/customer/block", R"({"user_ids":"c"})").status, 400);
}

using Budgets = MgmtTest;

TEST_P(Budgets, Lifecycle) {
  auto a = post(master(), "/budget/new", R"({"budget_id":"b1","max_budget":10,"soft_budget":8,
      "tpm_limit":100,"rpm_limit":10,"max_parallel_requests":2,"budget_duration":"1h",
      "model_max_budget":{"gpt-4o":{"max_budget":1,"budget_duration":"1d"}}})");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(a.str({"budget_id"}), "b1");
  EXPECT_EQ(a.str({"budget_reset_at"}), "2025-01-15T11:00:00.000Z");
  EXPECT_EQ(a.str({"created_by"}), "litellm_proxy_admin_name");
  EXPECT_EQ(a.at({"model_max_budget", "gpt-4o", "max_budget"}).to_number<double>(), 1.0);
  a = post(master(), "/budget/new", R"({"budget_id":"b1"})");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.message(), "Budget with id 'b1' already exists.");
  a = post(master(), "/budget/new", R"({"max_budget":-1})");
  EXPECT_EQ(a.status, 400);
  a = post(master(), "/budget/new", "{}");
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.str({"budget_id"}).size(), 36u);

  a = post(master(), "/budget/update",
           R"({"budget_id":"b1","max_budget":20,"budget_duration":"1d"})");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(a.at({"max_budget"}).to_number<double>(), 20.0);
  EXPECT_EQ(a.at({"tpm_limit"}).as_int64(), 100) << "unchanged fields stay";
  EXPECT_EQ(a.str({"budget_reset_at"}), "2025-01-16T00:00:00.000Z");
  EXPECT_EQ(a.inv.budgetIds, std::vector<std::string>{"b1"});
  EXPECT_EQ(post(master(), "/budget/update", R"({"max_budget":1})").status, 400);
  EXPECT_EQ(post(master(), "/budget/update", R"({"budget_id":"zz"})").status, 404);

  a = post(master(), "/budget/info", R"({"budgets":["b1"]})");
  ASSERT_EQ(a.status, 200) << a;
  ASSERT_EQ(a.body.as_array().size(), 1u);
  EXPECT_EQ(get(master(), "/budget/info", "budget_id=b1").status, 200);
  EXPECT_EQ(post(master(), "/budget/info", R"({"budgets":[]})").status, 400);
  EXPECT_EQ(post(master(), "/budget/info", R"({"budgets":["b1","nope"]})").status, 404);
  a = get(master(), "/budget/list");
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.body.as_array().size(), 2u);

  const std::string raw = makeKey(master(), R"({"budget_id":"b1"})");
  a = post(master(), "/budget/delete", R"({"id":"b1"})");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(a.inv.budgetIds, std::vector<std::string>{"b1"});
  EXPECT_FALSE(findKey(raw)->budgetId) << "keys let go of a deleted budget";
  EXPECT_EQ(post(master(), "/budget/delete", R"({"id":"b1"})").status, 404);
  EXPECT_EQ(post(master(), "/budget/delete", R"({})").status, 400);
}

LLMUX_MGMT_ON_BACKENDS(Customers);
LLMUX_MGMT_ON_BACKENDS(Budgets);

}  // namespace
}  // namespace llmux::management::testing
