// GET /spend/logs and GET /global/spend/report.
#include "unit/management/test_support.hpp"

namespace llmux::management::testing {
namespace {

constexpr const char* kKey1 = "sk-spend-key-one-1";
constexpr const char* kKey2 = "sk-spend-key-two-2";

class Spend : public MgmtTest {
 protected:
  void SetUp() override {
    MgmtTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_EQ(post(master(), "/team/new", R"({"team_id":"t1","team_alias":"Search"})").status, 200);
    const auto day = [](const char* d) { return *parseDayForTest(d); };
    std::vector<store::SpendRow> rows(3);
    rows[0] = row("r1", kKey1, "u1", "t1", "e1", "gpt-4o", 1.0, day("2025-01-10") + 12 * 3'600'000);
    rows[0].tags = R"(["prod"])";
    rows[0].metadata = R"({"feature":"search"})";
    rows[1] = row("r2", kKey1, "u1", "t1", "", "claude", 2.0, day("2025-01-12") + 86'399'000);
    rows[2] = row("r3", kKey2, "u2", "", "e2", "gpt-4o", 4.0, day("2025-01-13"));
    store::RepoError err;
    ASSERT_TRUE(store::writeSpendBatch(*db_, rows, err)) << err.message;
  }

  static std::optional<int64_t> parseDayForTest(const char* d) {
    // 2025-01-01 is day 20089 since the epoch.
    int y = 0, m = 0, dd = 0;
    if (std::sscanf(d, "%d-%d-%d", &y, &m, &dd) != 3 || y != 2025 || m != 1) return std::nullopt;
    return int64_t{20089 + dd - 1} * 86'400'000;
  }

  static store::SpendRow row(const char* id, const char* key, const char* user, const char* team,
                             const char* endUser, const char* model, double spend, int64_t start) {
    store::SpendRow r;
    r.requestId = id;
    r.callType = "chat_completion";
    r.apiKey = governance::hashKey(key);
    r.userId = user;
    r.teamId = team;
    r.endUser = endUser;
    r.model = model;
    r.modelGroup = model;
    r.provider = "openai";
    r.promptTokens = 10;
    r.completionTokens = 5;
    r.spend = spend;
    r.status = 200;
    r.startTime = start;
    r.endTime = start + 250;
    return r;
  }

  static std::vector<std::string> ids(const Answer& a) {
    std::vector<std::string> out;
    if (!a.body.is_array()) return out;
    for (const auto& r : a.body.as_array()) {
      out.emplace_back(r.as_object().at("request_id").as_string());
    }
    return out;
  }
};

TEST_P(Spend, LogsNewestFirstWithLiteLLMFields) {
  const auto a = get(master(), "/spend/logs");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(ids(a), (std::vector<std::string>{"r3", "r2", "r1"}));
  const auto& r1 = a.body.as_array()[2].as_object();
  EXPECT_EQ(r1.at("api_key").as_string(), governance::hashKey(kKey1));
  EXPECT_EQ(r1.at("spend").to_number<double>(), 1.0);
  EXPECT_EQ(r1.at("total_tokens").as_int64(), 15);
  EXPECT_EQ(r1.at("startTime").as_string(), "2025-01-10T12:00:00.000Z");
  EXPECT_EQ(r1.at("request_duration_ms").as_int64(), 250);
  EXPECT_EQ(r1.at("user").as_string(), "u1");
  EXPECT_EQ(r1.at("end_user").as_string(), "e1");
  EXPECT_EQ(r1.at("cache_hit").as_string(), "False");
  EXPECT_EQ(r1.at("status").as_string(), "success");
  EXPECT_EQ(r1.at("request_tags").as_array().size(), 1u);
  EXPECT_EQ(r1.at("metadata").as_object().at("feature").as_string(), "search");
}

TEST_P(Spend, LogFilters) {
  EXPECT_EQ(ids(get(master(), "/spend/logs", std::string("api_key=") + kKey1)),
            (std::vector<std::string>{"r2", "r1"}));
  EXPECT_EQ(ids(get(master(), "/spend/logs", "api_key=" + governance::hashKey(kKey2))),
            std::vector<std::string>{"r3"});
  EXPECT_EQ(ids(get(master(), "/spend/logs", "request_id=r2")), std::vector<std::string>{"r2"});
  EXPECT_EQ(ids(get(master(), "/spend/logs", "user_id=u2")), std::vector<std::string>{"r3"});
  EXPECT_EQ(ids(get(master(), "/spend/logs", "team_id=t1")),
            (std::vector<std::string>{"r2", "r1"}));
  // end_date is inclusive: r2 at 23:59:59 on the 12th counts, r3 at 00:00 on the 13th not.
  EXPECT_EQ(ids(get(master(), "/spend/logs", "start_date=2025-01-10&end_date=2025-01-12")),
            (std::vector<std::string>{"r2", "r1"}));
  EXPECT_EQ(ids(get(master(), "/spend/logs", "start_date=2025-01-13")),
            std::vector<std::string>{"r3"});
  EXPECT_EQ(ids(get(master(), "/spend/logs", "limit=1")), std::vector<std::string>{"r3"});
  for (const char* bad : {"start_date=2025-13-01", "end_date=yesterday", "start_date=2025-02-30",
                          "start_date=2025-01-12&end_date=2025-01-10", "limit=0", "summarize=maybe",
                          "summarize=true"}) {
    const auto a = get(master(), "/spend/logs", bad);
    EXPECT_EQ(a.status, 400) << bad << " " << a;
  }
}

TEST_P(Spend, InternalUsersSeeTheirOwnSpend) {
  const Caller u1 = as(Role::InternalUser, "u1");
  auto a = get(u1, "/spend/logs");
  ASSERT_EQ(a.status, 200) << a;
  EXPECT_EQ(ids(a), (std::vector<std::string>{"r2", "r1"}));
  EXPECT_EQ(ids(get(u1, "/spend/logs", std::string("api_key=") + kKey2)),
            std::vector<std::string>{});
  EXPECT_EQ(get(u1, "/spend/logs", "user_id=u2").status, 403);
  EXPECT_EQ(get(as(Role::InternalUser, std::nullopt), "/spend/logs").status, 403);
}

TEST_P(Spend, SummarizedLogsPerDay) {
  const auto a =
      get(master(), "/spend/logs", "start_date=2025-01-10&end_date=2025-01-12&summarize=true");
  ASSERT_EQ(a.status, 200) << a;
  const auto& days = a.body.as_array();
  ASSERT_EQ(days.size(), 3u) << "zero-filled";
  EXPECT_EQ(days[0].as_object().at("startTime").as_string(), "2025-01-10");
  EXPECT_EQ(days[1].as_object().at("spend").to_number<double>(), 0.0);
  const auto& d12 = days[2].as_object();
  EXPECT_EQ(d12.at("spend").to_number<double>(), 2.0);
  EXPECT_EQ(d12.at(governance::hashKey(kKey1)).to_number<double>(), 2.0);
  EXPECT_EQ(d12.at("users").as_object().at("u1").to_number<double>(), 2.0);
  EXPECT_EQ(d12.at("models").as_object().at("claude").to_number<double>(), 2.0);
}

TEST_P(Spend, ReportByKey) {
  const auto a = get(master(), "/global/spend/report",
                     "start_date=2025-01-01&end_date=2025-01-31&group_by=api_key");
  ASSERT_EQ(a.status, 200) << a;
  const auto& keys = a.body.as_array();
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].as_object().at("api_key").as_string(), governance::hashKey(kKey2));
  EXPECT_EQ(keys[0].as_object().at("total_cost").to_number<double>(), 4.0);
  const auto& k1 = keys[1].as_object();
  EXPECT_EQ(k1.at("total_cost").to_number<double>(), 3.0);
  EXPECT_EQ(k1.at("total_input_tokens").as_int64(), 20);
  EXPECT_EQ(k1.at("total_output_tokens").as_int64(), 10);
  EXPECT_EQ(k1.at("model_details").as_array().size(), 2u);
}

TEST_P(Spend, ReportByTeamPerDay) {
  auto a = get(master(), "/global/spend/report", "start_date=2025-01-01&end_date=2025-01-31");
  ASSERT_EQ(a.status, 200) << a;
  const auto& days = a.body.as_array();
  ASSERT_EQ(days.size(), 3u);
  const auto& d10 = days[0].as_object();
  EXPECT_EQ(d10.at("group_by_day").as_string(), "2025-01-10");
  const auto& teams = d10.at("teams").as_array();
  ASSERT_EQ(teams.size(), 1u);
  EXPECT_EQ(teams[0].as_object().at("team_name").as_string(), "Search");
  EXPECT_EQ(teams[0].as_object().at("total_spend").to_number<double>(), 1.0);
  EXPECT_EQ(teams[0].as_object().at("metadata").as_array()[0].as_object().at("model").as_string(),
            "gpt-4o");
  const auto& d13 = days[2].as_object().at("teams").as_array();
  EXPECT_EQ(d13[0].as_object().at("team_name").as_string(), "Unassigned Team");
  // The range is inclusive and days outside it are left out.
  a = get(master(), "/global/spend/report", "start_date=2025-01-11&end_date=2025-01-12");
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.body.as_array().size(), 1u);
}

TEST_P(Spend, ReportOtherGroupingsAndErrors) {
  for (const char* g : {"user", "customer", "model", "tag"}) {
    const auto a = get(master(), "/global/spend/report",
                       std::string("start_date=2025-01-01&end_date=2025-01-31&group_by=") + g);
    ASSERT_EQ(a.status, 200) << g << " " << a;
    ASSERT_TRUE(a.body.is_array()) << g;
    EXPECT_FALSE(a.body.as_array().empty()) << g;
  }
  const auto m = get(master(), "/global/spend/report",
                     "start_date=2025-01-13&end_date=2025-01-13&group_by=model");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.body.as_array()[0]
                .as_object()
                .at("models")
                .as_array()[0]
                .as_object()
                .at("model")
                .as_string(),
            "gpt-4o");
  auto a = get(master(), "/global/spend/report", "start_date=2025-01-01");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.message(), "Please provide start_date and end_date");
  EXPECT_EQ(get(master(), "/global/spend/report",
                "start_date=2025-01-01&end_date=2025-01-02&group_by=org")
                .status,
            400);
  EXPECT_EQ(
      get(master(), "/global/spend/report", "start_date=01/01/2025&end_date=2025-01-02").status,
      400);
  EXPECT_EQ(
      get(master(), "/global/spend/report", "start_date=2025-01-03&end_date=2025-01-02").status,
      400);
}

LLMUX_MGMT_ON_BACKENDS(Spend);

}  // namespace
}  // namespace llmux::management::testing
