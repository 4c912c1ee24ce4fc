#pragma once
// Fixture for the management handler tests: a migrated in-memory SQLite database, callers of
// every role, and helpers that run a request and parse its JSON answer.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <string>

#include "governance/keys.hpp"
#include "management/management.hpp"
#include "store/db.hpp"
#include "store/repo.hpp"
#include "unit/store/backends.hpp"

namespace llmux::management::testing {

namespace json = boost::json;
using governance::Role;

struct Answer {
  int status = 0;
  json::value body;
  Invalidation inv;
  std::string raw;

  // body["a"]["b"]... with null for anything missing.
  [[nodiscard]] const json::value& at(std::initializer_list<std::string_view> path) const {
    static const json::value kNull;
    const json::value* v = &body;
    for (auto p : path) {
      const auto* o = v->if_object();
      if (o == nullptr) return kNull;
      v = o->if_contains(p);
      if (v == nullptr) return kNull;
    }
    return *v;
  }
  [[nodiscard]] std::string str(std::initializer_list<std::string_view> path) const {
    const auto& v = at(path);
    return v.is_string() ? std::string(v.get_string()) : std::string("<not a string>");
  }
  [[nodiscard]] std::string message() const { return str({"error", "message"}); }
  [[nodiscard]] std::string param() const {
    const auto& v = at({"error", "param"});
    return v.is_string() ? std::string(v.get_string()) : std::string("<null>");
  }
};

inline std::ostream& operator<<(std::ostream& os, const Answer& a) {
  return os << a.status << " " << a.raw;
}

// Every test runs on SQLite in memory and on a fresh PostgreSQL schema (skipped when PostgreSQL
// is not installed).
class MgmtTest : public ::testing::TestWithParam<std::string> {
 protected:
  // 2025-01-15T10:30:00Z
  static constexpr int64_t kNow = 1'736'937'000'000;

  void SetUp() override {
    std::string err;
    if (GetParam() == "Postgres") {
      db_ = pg_.open(err);
      if (!db_ && store::testing::pgBinDir().empty()) GTEST_SKIP() << "PostgreSQL: " << err;
    } else {
      db_ = store::open(":memory:", err);
    }
    ASSERT_TRUE(db_) << err;
    ASSERT_TRUE(store::migrate(*db_, err)) << err;
  }

  // The names of every table of this database (for scans).
  std::vector<std::string> tableNames() {
    const char* sql = db_->dialect() == store::Dialect::Postgres
                          ? "SELECT table_name FROM information_schema.tables WHERE "
                            "table_schema = current_schema()"
                          : "SELECT name FROM sqlite_master WHERE type = 'table'";
    auto r = db_->exec(sql);
    EXPECT_TRUE(r.ok) << r.error;
    std::vector<std::string> out;
    for (const auto& row : r.rows) out.push_back(row.str(0));
    return out;
  }

  static Caller master() {
    Caller c;
    c.role = Role::ProxyAdmin;
    c.masterKey = true;
    return c;
  }
  static Caller as(Role role, std::optional<std::string> userId, std::string keyHash = "hash-x",
                   std::optional<std::string> teamId = std::nullopt) {
    Caller c;
    c.role = role;
    c.userId = std::move(userId);
    c.keyHash = std::move(keyHash);
    c.teamId = std::move(teamId);
    return c;
  }

  Answer call(const Caller& c, std::string_view method, std::string_view path,
              std::string_view query, std::string_view body) {
    Context ctx{*db_, now_, groups_, modelExists_};
    const Request req{method, path, query, body};
    Response r = handle(ctx, c, req);
    Answer a;
    a.status = r.status;
    a.raw = r.body;
    a.inv = std::move(r.invalidate);
    json::error_code ec;
    a.body = json::parse(r.body, ec);
    EXPECT_FALSE(ec) << "response body is not JSON: " << r.body;
    return a;
  }
  Answer post(const Caller& c, std::string_view path, std::string_view body) {
    return call(c, "POST", path, "", body);
  }
  Answer get(const Caller& c, std::string_view path, std::string_view query = "") {
    return call(c, "GET", path, query, "");
  }

  // Creates a user (master key) with a role; fails the test on error.
  void makeUser(const std::string& id, std::string_view role = "internal_user") {
    const auto a = post(master(), "/user/new",
                        R"({"user_id":")" + id + R"(","user_role":")" + std::string(role) +
                            R"(","auto_create_key":false})");
    ASSERT_EQ(a.status, 200) << a;
  }
  // Creates a key (as `c`) and returns the raw key.
  std::string makeKey(const Caller& c, const std::string& body = "{}") {
    const auto a = post(c, "/key/generate", body);
    EXPECT_EQ(a.status, 200) << a;
    return a.str({"key"});
  }
  std::optional<store::KeyRow> findKey(const std::string& raw) {
    store::RepoError err;
    return store::findKey(*db_, governance::hashKey(raw), err);
  }

  store::testing::Postgres pg_;
  std::unique_ptr<store::Db> db_;
  int64_t now_ = kNow;
  governance::AccessGroups groups_;
  std::function<bool(std::string_view)> modelExists_;
};

}  // namespace llmux::management::testing

#define LLMUX_MGMT_ON_BACKENDS(Suite)                                                \
  INSTANTIATE_TEST_SUITE_P(Backends, Suite, ::testing::Values("Sqlite", "Postgres"), \
                           [](const ::testing::TestParamInfo<std::string>& i) { return i.param; })
