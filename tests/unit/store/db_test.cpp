#include "store/db.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <thread>

#include "unit/store/backends.hpp"
#include "unit/store/pg_fixture.hpp"

namespace llmux::store {
namespace {

using testing::BackendNames;
using testing::Backends;
using testing::StoreTest;

// ---- Row accessors

TEST(Row, NullAndOutOfRangeGiveFallbacks) {
  Row r{{std::monostate{}}};
  EXPECT_TRUE(r.isNull(0));
  EXPECT_TRUE(r.isNull(7));
  EXPECT_EQ(r.i64(0, 42), 42);
  EXPECT_EQ(r.f64(0, 1.5), 1.5);
  EXPECT_EQ(r.str(0), "");
  EXPECT_FALSE(r.optStr(0));
  EXPECT_FALSE(r.optI64(3));
  EXPECT_EQ(r.i64(9, -1), -1);
}

TEST(Row, NumbersConvertOnlyWhenExact) {
  Row r{{int64_t{7}, 2.5, 3.0, std::string("12"), std::string("12x"), std::string("1e3"),
         std::string(""), 1e300}};
  EXPECT_EQ(r.f64(0), 7.0);     // integers read as real
  EXPECT_EQ(r.i64(1, -1), -1);  // 2.5 is not an integer
  EXPECT_EQ(r.i64(2), 3);       // 3.0 is
  EXPECT_EQ(r.i64(3), 12);      // text that is a number (PostgreSQL NUMERIC)
  EXPECT_EQ(r.f64(3), 12.0);
  EXPECT_EQ(r.i64(4, -1), -1);  // not fully a number
  EXPECT_EQ(r.f64(4, -1), -1);
  EXPECT_EQ(r.f64(5), 1000.0);
  EXPECT_EQ(r.i64(5), 1000);
  EXPECT_EQ(r.i64(6, -1), -1);
  EXPECT_EQ(r.i64(7, -1), -1);  // out of int64 range
  EXPECT_EQ(r.str(0), "7");
  EXPECT_EQ(r.str(1), "2.5");
  EXPECT_EQ(r.str(3), "12");
}

// ---- open()

TEST(OpenUrl, PicksTheBackendFromTheUrl) {
  std::string err;
  auto mem = open(":memory:", err);
  ASSERT_TRUE(mem) << err;
  EXPECT_EQ(mem->dialect(), Dialect::Sqlite);

  testing::SqliteFile tmp;
  auto abs = open("sqlite://" + tmp.dir + "/a.db", err);  // sqlite:///abs/path
  ASSERT_TRUE(abs) << err;
  EXPECT_TRUE(std::filesystem::exists(tmp.dir + "/a.db"));
  auto plain = open(tmp.dir + "/b.db", err);
  ASSERT_TRUE(plain) << err;
  EXPECT_TRUE(std::filesystem::exists(tmp.dir + "/b.db"));
}

TEST(OpenUrl, RelativeSqlitePathIsRelativeToTheWorkingDirectory) {
  testing::SqliteFile tmp;
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(tmp.dir);
  std::string err;
  auto db = open("sqlite://rel.db", err);
  std::filesystem::current_path(cwd);
  ASSERT_TRUE(db) << err;
  EXPECT_TRUE(std::filesystem::exists(tmp.dir + "/rel.db"));
}

TEST(OpenUrl, RejectsBadUrls) {
  std::string err;
  EXPECT_FALSE(open("mysql://u@h/db", err));
  EXPECT_NE(err.find("scheme"), std::string::npos);
  err.clear();
  EXPECT_FALSE(open("sqlite://", err));
  EXPECT_FALSE(err.empty());
  err.clear();
  EXPECT_FALSE(open("/nonexistent-dir-llmux/x/y.db", err));
  EXPECT_FALSE(err.empty());
  err.clear();
  // Nothing listens on port 1: a connection error, not a hang or a crash.
  EXPECT_FALSE(open("postgresql://u@127.0.0.1:1/db", err));
  EXPECT_NE(err.find("PostgreSQL"), std::string::npos);
}

// ---- both backends

template <typename B>
class DbTest : public StoreTest<B> {};
TYPED_TEST_SUITE(DbTest, Backends, BackendNames);

TYPED_TEST(DbTest, RoundTripsEveryValueType) {
  Db& db = *this->db;
  ASSERT_TRUE(db.execScript("CREATE TABLE t (i BIGINT, d DOUBLE PRECISION, s TEXT, n TEXT)").ok);
  const int64_t big = std::numeric_limits<int64_t>::max();
  const Value row1[] = {big, 0.1, std::string("h\xC3\xA9llo 'quoted' \"x\""), std::monostate{}};
  const Value row2[] = {int64_t{-5}, -1e-9, std::string(""), std::string("")};
  ASSERT_TRUE(db.exec("INSERT INTO t VALUES ($1, $2, $3, $4)", row1).ok);
  ASSERT_TRUE(db.exec("INSERT INTO t VALUES ($1, $2, $3, $4)", row2).ok);
  Result r = db.exec("SELECT i, d, s, n FROM t ORDER BY i DESC");
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(std::get<int64_t>(r.rows[0].cols[0]), big);
  EXPECT_EQ(std::get<double>(r.rows[0].cols[1]), 0.1);  // exact round trip
  EXPECT_EQ(std::get<std::string>(r.rows[0].cols[2]), "h\xC3\xA9llo 'quoted' \"x\"");
  EXPECT_TRUE(r.rows[0].isNull(3));
  EXPECT_EQ(r.rows[1].i64(0), -5);
  EXPECT_EQ(r.rows[1].f64(1), -1e-9);
  EXPECT_FALSE(r.rows[1].isNull(3));  // "" is not NULL
  EXPECT_EQ(r.rows[1].str(3), "");
}

TYPED_TEST(DbTest, ParametersBindByNumberAndRepeat) {
  Db& db = *this->db;
  ASSERT_TRUE(db.execScript("CREATE TABLE t (a TEXT, b TEXT)").ok);
  const Value p[] = {std::string("x"), std::string("y")};
  ASSERT_TRUE(db.exec("INSERT INTO t (b, a) VALUES ($2, $1)", p).ok);
  const Value x = std::string("x");
  Result r = db.exec("SELECT a, b FROM t WHERE a = $1 OR b = $1", {&x, 1});
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(r.rows[0].str(0), "x");
  EXPECT_EQ(r.rows[0].str(1), "y");
  // The cached statement is reset between runs.
  const Value q = std::string("nope");
  EXPECT_TRUE(db.exec("SELECT a, b FROM t WHERE a = $1 OR b = $1", {&q, 1}).rows.empty());
  EXPECT_EQ(db.exec("SELECT a, b FROM t WHERE a = $1 OR b = $1", {&x, 1}).rows.size(), 1u);
}

TYPED_TEST(DbTest, BorrowedTextBindsLikeOwnedText) {
  Db& db = *this->db;
  ASSERT_TRUE(db.execScript("CREATE TABLE t (a TEXT, b TEXT, c TEXT)").ok);
  const std::string text = "h\xC3\xA9llo 'quoted' \"x\" and more than fifteen bytes";
  const std::string_view part = std::string_view(text).substr(0, 6);  // not NUL-terminated
  const Value p[] = {TextRef{part}, TextRef{""}, TextRef{text}};
  ASSERT_TRUE(db.exec("INSERT INTO t (c, b, a) VALUES ($3, $2, $1)", p).ok);
  const Value where = TextRef{part};
  Result r = db.exec("SELECT a, b, c FROM t WHERE a = $1", {&where, 1});
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(r.rows[0].str(0), "h\xC3\xA9llo");
  EXPECT_FALSE(r.rows[0].isNull(1));
  EXPECT_EQ(r.rows[0].str(1), "");
  EXPECT_EQ(r.rows[0].str(2), text);
}

TYPED_TEST(DbTest, MissingParameterIsAnErrorNotACrash) {
  Db& db = *this->db;
  const Value one = int64_t{1};
  Result r = db.exec("SELECT $1 + 0, $2 + 0", {&one, 1});
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.error.empty());
  EXPECT_FALSE(r.connectionLost);
  const Value two[] = {int64_t{1}, int64_t{2}};
  Result extra = db.exec("SELECT $1 + 0", two);  // a value the statement does not use
  EXPECT_FALSE(extra.ok);
  EXPECT_FALSE(extra.connectionLost);
  EXPECT_TRUE(db.exec("SELECT $1 + 0", {&one, 1}).ok);  // the connection still works
}

TYPED_TEST(DbTest, ReportsUniqueViolationsApartFromOtherErrors) {
  Db& db = *this->db;
  ASSERT_TRUE(db.execScript("CREATE TABLE t (id TEXT PRIMARY KEY, u TEXT UNIQUE)").ok);
  const Value a[] = {std::string("1"), std::string("u1")};
  const Value b[] = {std::string("2"), std::string("u1")};
  ASSERT_TRUE(db.exec("INSERT INTO t VALUES ($1, $2)", a).ok);
  Result pk = db.exec("INSERT INTO t VALUES ($1, $2)", a);
  EXPECT_FALSE(pk.ok);
  EXPECT_TRUE(pk.uniqueViolation);
  Result uq = db.exec("INSERT INTO t VALUES ($1, $2)", b);
  EXPECT_TRUE(uq.uniqueViolation) << uq.error;
  Result syntax = db.exec("SELEC 1");
  EXPECT_FALSE(syntax.ok);
  EXPECT_FALSE(syntax.uniqueViolation);
  EXPECT_FALSE(syntax.connectionLost);
  Result nul = db.exec("INSERT INTO t (id) VALUES (NULL)");  // NOT NULL of a PK is not unique
  EXPECT_FALSE(nul.uniqueViolation);
}

TYPED_TEST(DbTest, CountsAffectedRowsAndReturnsRows) {
  Db& db = *this->db;
  ASSERT_TRUE(db.execScript("CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT);"
                            "INSERT INTO t VALUES (1, 10); INSERT INTO t VALUES (2, 20);"
                            "INSERT INTO t VALUES (3, 30)")
                  .ok);
  const Value lim = int64_t{15};
  Result up = db.exec("UPDATE t SET v = v + 1 WHERE v > $1", {&lim, 1});
  ASSERT_TRUE(up.ok) << up.error;
  EXPECT_EQ(up.affected, 2);
  Result del = db.exec("DELETE FROM t WHERE id = 2 RETURNING v");
  ASSERT_TRUE(del.ok) << del.error;
  ASSERT_EQ(del.rows.size(), 1u);
  EXPECT_EQ(del.rows[0].i64(0), 21);
  EXPECT_EQ(db.exec("DELETE FROM t WHERE id = 99").affected, 0);
  // Aggregates come back typed (PostgreSQL: SUM(bigint) is NUMERIC).
  Result sum = db.exec("SELECT COUNT(*), SUM(v) FROM t");
  EXPECT_EQ(sum.rows[0].i64(0), 2);
  EXPECT_EQ(sum.rows[0].i64(1), 41);
}

TYPED_TEST(DbTest, TransactionsCommitAndRollBack) {
  Db& db = *this->db;
  ASSERT_TRUE(db.execScript("CREATE TABLE t (id BIGINT PRIMARY KEY)").ok);
  ASSERT_TRUE(db.begin().ok);
  ASSERT_TRUE(db.exec("INSERT INTO t VALUES (1)").ok);
  ASSERT_TRUE(db.rollback().ok);
  EXPECT_EQ(db.exec("SELECT COUNT(*) FROM t").rows[0].i64(0), 0);
  ASSERT_TRUE(db.begin().ok);
  ASSERT_TRUE(db.exec("INSERT INTO t VALUES (2)").ok);
  ASSERT_TRUE(db.commit().ok);
  EXPECT_EQ(db.exec("SELECT COUNT(*) FROM t").rows[0].i64(0), 1);
  EXPECT_TRUE(db.healthy());
}

TYPED_TEST(DbTest, ExecTakesOneStatementAndScriptsTakeMany) {
  Db& db = *this->db;
  EXPECT_FALSE(db.exec("CREATE TABLE a (x TEXT); CREATE TABLE b (x TEXT)").ok);
  ASSERT_TRUE(db.execScript("CREATE TABLE c (x TEXT); CREATE TABLE d (x TEXT);").ok);
  EXPECT_TRUE(db.exec("SELECT COUNT(*) FROM d").ok);
  EXPECT_FALSE(db.execScript("CREATE TABLE e (x TEXT); BOGUS").ok);
}

TYPED_TEST(DbTest, SecondConnectionSeesCommittedData) {
  if (std::string(TypeParam::kName) == "SqliteMemory") GTEST_SKIP() << "one database per handle";
  Db& db = *this->db;
  ASSERT_TRUE(db.execScript("CREATE TABLE t (id BIGINT)").ok);
  ASSERT_TRUE(db.exec("INSERT INTO t VALUES (7)").ok);
  auto other = this->reopen();
  ASSERT_TRUE(other);
  EXPECT_EQ(other->exec("SELECT id FROM t").rows.at(0).i64(0), 7);
  EXPECT_TRUE(db.reconnect());
  EXPECT_EQ(db.exec("SELECT id FROM t").rows.at(0).i64(0), 7);
}

// ---- SQLite specifics

TEST(Sqlite, FileDatabasesUseWalAndQueueWriters) {
  testing::SqliteFile tmp;
  std::string err;
  auto a = openSqlite(tmp.url(), err);
  auto b = openSqlite(tmp.url(), err);
  ASSERT_TRUE(a && b) << err;
  EXPECT_EQ(a->exec("PRAGMA journal_mode").rows.at(0).str(0), "wal");
  ASSERT_TRUE(a->execScript("CREATE TABLE t (id BIGINT)").ok);
  // b waits (busy timeout) for a's write transaction instead of failing at once.
  ASSERT_TRUE(a->begin().ok);
  ASSERT_TRUE(a->exec("INSERT INTO t VALUES (1)").ok);
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_TRUE(a->commit().ok);
  });
  const auto t0 = std::chrono::steady_clock::now();
  Result r = b->begin();
  const auto waited = std::chrono::steady_clock::now() - t0;
  release.join();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_GE(waited, std::chrono::milliseconds(200));
  ASSERT_TRUE(b->exec("INSERT INTO t VALUES (2)").ok);
  ASSERT_TRUE(b->commit().ok);
  EXPECT_EQ(a->exec("SELECT COUNT(*) FROM t").rows.at(0).i64(0), 2);
}

TEST(Sqlite, ReconnectKeepsAMemoryDatabase) {
  std::string err;
  auto db = openSqlite(":memory:", err);
  ASSERT_TRUE(db->execScript("CREATE TABLE t (id BIGINT); INSERT INTO t VALUES (1)").ok);
  EXPECT_TRUE(db->reconnect());
  EXPECT_EQ(db->exec("SELECT COUNT(*) FROM t").rows.at(0).i64(0), 1);
}

// ---- PostgreSQL specifics (own server: these tests stop it)

class PgOwnServer : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (testing::pgBinDir().empty()) GTEST_SKIP() << "PostgreSQL not installed";
    ASSERT_TRUE(server.start(why)) << why;
  }
  testing::PgServer server;
};

TEST_F(PgOwnServer, ReportsConnectionLostAndReconnects) {
  std::string err;
  auto db = openPostgres(server.url(), err);
  ASSERT_TRUE(db) << err;
  ASSERT_TRUE(db->execScript("CREATE TABLE t (id BIGINT)").ok);
  ASSERT_TRUE(server.stop());
  Result r = db->exec("INSERT INTO t VALUES (1)");
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.connectionLost) << r.error;
  EXPECT_FALSE(r.uniqueViolation);
  EXPECT_FALSE(db->healthy());
  EXPECT_FALSE(db->reconnect());  // still down
  Result again = db->exec("SELECT 1");
  EXPECT_TRUE(again.connectionLost);

  ASSERT_TRUE(server.restart());
  ASSERT_TRUE(db->reconnect());
  EXPECT_TRUE(db->healthy());
  ASSERT_TRUE(db->exec("INSERT INTO t VALUES (1)").ok);
  EXPECT_EQ(db->exec("SELECT COUNT(*) FROM t").rows.at(0).i64(0), 1);
}

TEST_F(PgOwnServer, LostInsideATransactionIsReportedAndRecoverable) {
  std::string err;
  auto db = openPostgres(server.url(), err);
  ASSERT_TRUE(db) << err;
  ASSERT_TRUE(db->execScript("CREATE TABLE t (id BIGINT)").ok);
  ASSERT_TRUE(db->begin().ok);
  ASSERT_TRUE(db->exec("INSERT INTO t VALUES (1)").ok);
  ASSERT_TRUE(server.stop());
  Result c = db->commit();
  EXPECT_FALSE(c.ok);
  EXPECT_TRUE(c.connectionLost);
  ASSERT_TRUE(server.restart());
  ASSERT_TRUE(db->reconnect());
  EXPECT_EQ(db->exec("SELECT COUNT(*) FROM t").rows.at(0).i64(0), 0);  // never committed
}

TEST_F(PgOwnServer, StatementTimeoutIsTransient) {
  std::string err;
  auto db = openPostgres(server.url(), 100, err);
  ASSERT_TRUE(db) << err;
  Result r = db->exec("SELECT pg_sleep(2)");
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.connectionLost);  // worth a retry
  EXPECT_NE(r.error.find("statement timeout"), std::string::npos) << r.error;
  EXPECT_TRUE(db->healthy());
  EXPECT_TRUE(db->exec("SELECT 1").ok);
}

TEST_F(PgOwnServer, TypesBooleansAndRefusesNulBytes) {
  std::string err;
  auto db = openPostgres(server.url(), err);
  ASSERT_TRUE(db) << err;
  Result r = db->exec("SELECT true, false, 1.5::numeric, 2::smallint, 'x'::text");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(std::get<int64_t>(r.rows[0].cols[0]), 1);
  EXPECT_EQ(std::get<int64_t>(r.rows[0].cols[1]), 0);
  EXPECT_EQ(std::get<double>(r.rows[0].cols[2]), 1.5);
  EXPECT_EQ(std::get<int64_t>(r.rows[0].cols[3]), 2);
  EXPECT_EQ(std::get<std::string>(r.rows[0].cols[4]), "x");
  const Value nul = std::string("a\0b", 3);
  Result bad = db->exec("SELECT $1::text", {&nul, 1});
  EXPECT_FALSE(bad.ok);
  EXPECT_NE(bad.error.find("NUL"), std::string::npos);
}

TEST_F(PgOwnServer, CommitOfAFailedTransactionFails) {
  std::string err;
  auto db = openPostgres(server.url(), err);
  ASSERT_TRUE(db) << err;
  ASSERT_TRUE(db->execScript("CREATE TABLE t (id BIGINT PRIMARY KEY)").ok);
  ASSERT_TRUE(db->begin().ok);
  ASSERT_TRUE(db->exec("INSERT INTO t VALUES (1)").ok);
  EXPECT_FALSE(db->exec("INSERT INTO t VALUES (1)").ok);
  EXPECT_FALSE(db->commit().ok);
  EXPECT_EQ(db->exec("SELECT COUNT(*) FROM t").rows.at(0).i64(0), 0);
}

}  // namespace
}  // namespace llmux::store
