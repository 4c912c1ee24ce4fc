#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "store/db.hpp"
#include "store/repo.hpp"
#include "unit/store/backends.hpp"

namespace llmux::store {
namespace {

using testing::BackendNames;
using testing::Backends;
using testing::StoreTest;

constexpr const char* kTables[] = {"llmux_keys",       "llmux_teams",      "llmux_team_memberships",
                                   "llmux_users",      "llmux_customers",  "llmux_budgets",
                                   "llmux_spend_logs", "llmux_daily_spend"};

template <typename B>
class MigrationsTest : public StoreTest<B> {};
TYPED_TEST_SUITE(MigrationsTest, Backends, BackendNames);

TYPED_TEST(MigrationsTest, CreatesEveryTableAndRecordsTheVersion) {
  Db& db = *this->db;
  for (const char* t : kTables) {
    Result r = db.exec(std::string("SELECT COUNT(*) FROM ") + t);
    EXPECT_TRUE(r.ok) << t << ": " << r.error;
  }
  Result v = db.exec("SELECT MAX(version), COUNT(*) FROM llmux_schema_version");
  ASSERT_TRUE(v.ok) << v.error;
  EXPECT_EQ(v.rows[0].i64(0), latestSchemaVersion());
  EXPECT_EQ(v.rows[0].i64(1), latestSchemaVersion());
  EXPECT_GE(latestSchemaVersion(), 1);
}

TYPED_TEST(MigrationsTest, IsIdempotent) {
  Db& db = *this->db;
  ASSERT_TRUE(db.exec("INSERT INTO llmux_budgets (budget_id) VALUES ('keep')").ok);
  std::string err;
  ASSERT_TRUE(migrate(db, err)) << err;
  ASSERT_TRUE(migrate(db, err)) << err;
  EXPECT_EQ(db.exec("SELECT COUNT(*) FROM llmux_schema_version").rows[0].i64(0),
            latestSchemaVersion());
  EXPECT_EQ(db.exec("SELECT COUNT(*) FROM llmux_budgets").rows[0].i64(0), 1);  // data kept
}

// Version 2 leaves the spend log with LiteLLM's indexes only (primary key, start time): each
// index is a B-tree insert per row on the spend writer.
TYPED_TEST(MigrationsTest, SpendLogKeepsOnlyThePrimaryKeyAndStartTimeIndexes) {
  Db& db = *this->db;
  const std::string sql =
      db.dialect() == Dialect::Sqlite
          ? "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = "
            "'llmux_spend_logs' AND sql IS NOT NULL ORDER BY name"
          : "SELECT indexname FROM pg_indexes WHERE tablename = 'llmux_spend_logs' AND indexname "
            "NOT LIKE '%pkey' ORDER BY indexname";
  Result r = db.exec(sql);
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(r.rows[0].str(0), "llmux_spend_logs_start");
  // Queries filtered by key still come back newest first, through the time index.
  const Value p[] = {std::string("r1"), std::string("k"), int64_t{5}};
  ASSERT_TRUE(db.exec("INSERT INTO llmux_spend_logs (request_id, api_key, start_time) VALUES "
                      "($1, $2, $3)",
                      p)
                  .ok);
  RepoError err;
  SpendQuery q;
  q.apiKey = "k";
  auto rows = querySpend(db, q, err);
  ASSERT_EQ(rows.size(), 1u) << err.message;
  EXPECT_EQ(rows[0].requestId, "r1");
}

TYPED_TEST(MigrationsTest, LeavesANewerSchemaAlone) {
  Db& db = *this->db;
  ASSERT_TRUE(db.exec("INSERT INTO llmux_schema_version (version, applied_at) VALUES (999, 0)").ok);
  std::string err;
  EXPECT_TRUE(migrate(db, err)) << err;
  EXPECT_EQ(db.exec("SELECT MAX(version) FROM llmux_schema_version").rows[0].i64(0), 999);
}

TYPED_TEST(MigrationsTest, DefaultsMatchTheRecords) {
  Db& db = *this->db;
  // A row inserted with only its id gets the JSON defaults the records use.
  ASSERT_TRUE(db.exec("INSERT INTO llmux_keys (token) VALUES ('h')").ok);
  Result r = db.exec(
      "SELECT models, aliases, metadata, tags, key_type, spend, model_spend, blocked, "
      "model_max_budget FROM llmux_keys");
  ASSERT_TRUE(r.ok) << r.error;
  const Row& row = r.rows.at(0);
  EXPECT_EQ(row.str(0), "[]");
  EXPECT_EQ(row.str(1), "{}");
  EXPECT_EQ(row.str(2), "{}");
  EXPECT_EQ(row.str(3), "[]");
  EXPECT_EQ(row.str(4), "default");
  EXPECT_EQ(row.f64(5, -1), 0.0);
  EXPECT_EQ(row.str(6), "{}");
  EXPECT_EQ(row.i64(7, -1), 0);
  EXPECT_EQ(row.str(8), "{}");
}

// A migration that fails leaves nothing behind: no table of it and no version row.
template <typename B>
class MigrationsFresh : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    db = backend.open(why);
    if (!db && std::string(B::kName) == "Postgres" && testing::pgBinDir().empty()) {
      GTEST_SKIP() << why;
    }
    ASSERT_TRUE(db) << why;
  }
  B backend;
  std::unique_ptr<Db> db;
};
TYPED_TEST_SUITE(MigrationsFresh, Backends, BackendNames);

TYPED_TEST(MigrationsFresh, AFailedMigrationRollsBackEntirely) {
  Db& db = *this->db;
  // A stray table under a name migration 1 creates makes it fail half way.
  ASSERT_TRUE(db.execScript("CREATE TABLE llmux_customers (x TEXT)").ok);
  std::string err;
  EXPECT_FALSE(migrate(db, err));
  EXPECT_NE(err.find("schema migration 1"), std::string::npos) << err;
  EXPECT_FALSE(db.exec("SELECT COUNT(*) FROM llmux_keys").ok);  // created earlier, rolled back
  EXPECT_FALSE(db.exec("SELECT COUNT(*) FROM llmux_schema_version").ok);
  ASSERT_TRUE(db.execScript("DROP TABLE llmux_customers").ok);
  EXPECT_TRUE(migrate(db, err)) << err;
}

TYPED_TEST(MigrationsFresh, ThreeInstancesMigratingAtOnceAllSucceed) {
  if (std::string(TypeParam::kName) == "SqliteMemory") GTEST_SKIP() << "one database per handle";
  constexpr int kInstances = 3;
  std::vector<std::unique_ptr<Db>> dbs;
  for (int i = 0; i < kInstances; ++i) {
    std::string why;
    dbs.push_back(this->backend.open(why));
    ASSERT_TRUE(dbs.back()) << why;
  }
  std::atomic<int> ready{0};
  std::vector<std::string> errors(kInstances);
  std::vector<char> ok(kInstances, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kInstances; ++i) {
    threads.emplace_back([&, i] {
      ready.fetch_add(1);
      while (ready.load() < kInstances) std::this_thread::yield();
      ok[i] = migrate(*dbs[i], errors[i]) ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kInstances; ++i) EXPECT_TRUE(ok[i]) << errors[i];
  EXPECT_EQ(dbs[0]->exec("SELECT COUNT(*) FROM llmux_schema_version").rows.at(0).i64(0),
            latestSchemaVersion());
}

}  // namespace
}  // namespace llmux::store
