#pragma once
// The store tests run once per backend: SQLite in memory, SQLite in a temp file, and a real
// PostgreSQL (a fresh database on a throwaway server; skipped when PostgreSQL is not installed).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "store/db.hpp"
#include "unit/store/pg_fixture.hpp"

namespace llmux::store::testing {

// One server per test process, started on first use and stopped at exit.
inline PgServer* sharedPgServer(std::string& why) {
  struct Shared {
    PgServer server;
    bool tried = false;
    bool ok = false;
    std::string why;
  };
  static Shared shared;
  if (!shared.tried) {
    shared.tried = true;
    shared.ok = shared.server.start(shared.why);
  }
  why = shared.why;
  return shared.ok ? &shared.server : nullptr;
}

// Creates an empty schema on `server` and returns a URL whose search_path is that schema ("" with
// `why` on failure): much cheaper than CREATE DATABASE, and as isolated for these tests.
inline std::string freshPgDatabase(PgServer& server, std::string& why) {
  static int counter = 0;
  const std::string name = "llmux_t" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
  auto admin = openPostgres(server.url(), why);
  if (!admin) return {};
  Result r = admin->execScript("CREATE SCHEMA " + name);
  if (!r.ok) {
    why = r.error;
    return {};
  }
  return server.url() + "?options=-c%20search_path%3D" + name;
}

struct SqliteMemory {
  static constexpr const char* kName = "SqliteMemory";
  std::unique_ptr<Db> open(std::string& why) { return openSqlite(":memory:", why); }
  std::string url() const { return ":memory:"; }
};

struct SqliteFile {
  static constexpr const char* kName = "SqliteFile";
  SqliteFile() {
    char tmpl[] = "/tmp/llmux-sqlite-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) dir = tmpl;
  }
  ~SqliteFile() {
    std::error_code ec;
    if (!dir.empty()) std::filesystem::remove_all(dir, ec);
  }
  SqliteFile(const SqliteFile&) = delete;
  SqliteFile& operator=(const SqliteFile&) = delete;
  std::unique_ptr<Db> open(std::string& why) { return openSqlite(url(), why); }
  std::string url() const { return dir + "/llmux.db"; }
  std::string dir;
};

struct Postgres {
  static constexpr const char* kName = "Postgres";
  std::unique_ptr<Db> open(std::string& why) {
    if (dbUrl.empty()) {
      PgServer* server = sharedPgServer(why);
      if (server == nullptr) return nullptr;
      dbUrl = freshPgDatabase(*server, why);
      if (dbUrl.empty()) return nullptr;
    }
    return openPostgres(dbUrl, why);
  }
  std::string url() const { return dbUrl; }
  std::string dbUrl;
};

using Backends = ::testing::Types<SqliteMemory, SqliteFile, Postgres>;

struct BackendNames {
  template <typename T>
  static std::string GetName(int /*i*/) {
    return T::kName;
  }
};

// A migrated database of backend B in db; PostgreSQL tests are skipped without PostgreSQL.
template <typename B>
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    db = backend.open(why);
    // Without PostgreSQL installed its tests skip; installed but failing to start, they fail.
    if (!db && std::string(B::kName) == "Postgres" && pgBinDir().empty()) {
      GTEST_SKIP() << "PostgreSQL: " << why;
    }
    ASSERT_TRUE(db) << why;
    ASSERT_TRUE(migrate(*db, why)) << why;
  }
  // A second connection to the same database (not for SqliteMemory: a new, empty database).
  std::unique_ptr<Db> reopen() {
    std::string why;
    auto d = backend.open(why);
    EXPECT_TRUE(d) << why;
    return d;
  }

  B backend;
  std::unique_ptr<Db> db;
};

}  // namespace llmux::store::testing
