// The SQLite backend: one connection, WAL journal, a 5 s busy timeout so concurrent writers (other
// processes on the same file) queue, and prepared statements cached by SQL text. Parameters
// $1..$N are SQLite named parameters; each cached statement keeps which value each of its
// parameter slots takes, so binding does not look names up again.
#include <sqlite3.h>

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/db.hpp"

namespace llmux::store {
namespace {

constexpr int kBusyTimeoutMs = 5000;
// Repositories use a bounded set of statements; the cap only guards against a caller building
// SQL with varying text (e.g. IN lists of many lengths).
constexpr size_t kMaxCachedStatements = 256;

// Errors worth a retry later rather than a verdict on the statement: the file is locked by
// another writer past the busy timeout, or the disk failed.
bool transientError(int extended) {
  switch (extended & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_PROTOCOL:
      return true;
    default:
      return false;
  }
}

// Lets the statement cache be searched with the caller's string_view, without a copy.
struct SqlHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class SqliteDb final : public Db {
 public:
  explicit SqliteDb(std::string path) : path_(std::move(path)) {}
  ~SqliteDb() override { close(); }
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  bool connect(std::string& error) {
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path_.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
      error = "cannot open SQLite database " + path_ + ": " +
              (db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
      close();
      return false;
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    // WAL lets readers run beside the writer; NORMAL sync is durable across process crashes
    // in WAL mode. Memory databases keep their own journal.
    const char* pragmas = path_ == ":memory:"
                              ? "PRAGMA foreign_keys=OFF;"
                              : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                                "PRAGMA foreign_keys=OFF;";
    Result r = execScript(pragmas);
    if (!r.ok) {
      error = "cannot configure SQLite database " + path_ + ": " + r.error;
      close();
      return false;
    }
    return true;
  }

  [[nodiscard]] Dialect dialect() const override { return Dialect::Sqlite; }

  Result exec(std::string_view sql, std::span<const Value> params) override {
    Result res;
    if (db_ == nullptr) return lost("database is closed");
    const Stmt* prepared = prepare(sql, res);
    if (prepared == nullptr) return res;
    sqlite3_stmt* stmt = prepared->stmt;
    if (!bind(*prepared, params, res)) {
      sqlite3_reset(stmt);
      sqlite3_clear_bindings(stmt);
      return res;
    }
    const int ncols = sqlite3_column_count(stmt);
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      Row row;
      row.cols.reserve(static_cast<size_t>(ncols));
      for (int c = 0; c < ncols; ++c) row.cols.push_back(column(stmt, c));
      res.rows.push_back(std::move(row));
    }
    if (rc == SQLITE_DONE) {
      res.ok = true;
      res.affected = sqlite3_changes64(db_);
    } else {
      fail(res);
    }
    // Reset at once: a statement left mid-step would hold its read snapshot open.
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return res;
  }

  Result execScript(std::string_view sql) override {
    Result res;
    if (db_ == nullptr) return lost("database is closed");
    std::string text(sql);
    char* msg = nullptr;
    int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &msg);
    if (msg != nullptr) sqlite3_free(msg);
    if (rc != SQLITE_OK) {
      fail(res);
      return res;
    }
    res.ok = true;
    return res;
  }

  Result begin() override { return exec("BEGIN IMMEDIATE", {}); }
  Result commit() override { return exec("COMMIT", {}); }
  Result rollback() override {
    // Some errors (SQLITE_FULL, IOERR) roll the transaction back by themselves.
    if (db_ != nullptr && sqlite3_get_autocommit(db_) != 0) {
      Result r;
      r.ok = true;
      return r;
    }
    return exec("ROLLBACK", {});
  }

  [[nodiscard]] bool healthy() override { return db_ != nullptr; }

  bool reconnect() override {
    // A memory database cannot be reopened without losing it; it never goes away either.
    if (path_ == ":memory:" && db_ != nullptr) return true;
    close();
    std::string error;
    return connect(error);
  }

 private:
  Result lost(std::string message) {
    Result r;
    r.connectionLost = true;
    r.error = std::move(message);
    return r;
  }

  void fail(Result& res) {
    const int ext = sqlite3_extended_errcode(db_);
    res.ok = false;
    res.error = sqlite3_errmsg(db_);
    res.uniqueViolation = ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY;
    res.connectionLost = transientError(ext);
  }

  // A prepared statement and, for each of its parameter slots, the index of the value it takes.
  struct Stmt {
    sqlite3_stmt* stmt = nullptr;
    std::vector<size_t> valueOf;
  };

  const Stmt* prepare(std::string_view sql, Result& res) {
    auto it = cache_.find(sql);
    if (it != cache_.end()) return &it->second;
    sqlite3_stmt* stmt = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
    if (rc != SQLITE_OK) {
      fail(res);
      return nullptr;
    }
    if (stmt == nullptr) {
      res.error = "empty SQL statement";
      return nullptr;
    }
    // exec() runs one statement; a second one would be silently ignored.
    for (const char* p = tail; p != nullptr && p < sql.data() + sql.size(); ++p) {
      if (*p != ' ' && *p != '\n' && *p != '\t' && *p != '\r' && *p != ';') {
        sqlite3_finalize(stmt);
        res.error = "exec() takes one statement; use execScript() for several";
        return nullptr;
      }
    }
    // Every slot must be named $k (k >= 1), as PostgreSQL requires, so a mistake shows on the
    // default backend too.
    Stmt prepared{stmt, {}};
    const int n = sqlite3_bind_parameter_count(stmt);
    prepared.valueOf.reserve(static_cast<size_t>(n));
    for (int i = 1; i <= n; ++i) {
      const char* name = sqlite3_bind_parameter_name(stmt, i);
      std::string_view nm = name != nullptr ? name : "";
      size_t k = 0;
      if (nm.size() >= 2 && nm[0] == '$') {
        for (char ch : nm.substr(1)) {
          if (ch < '0' || ch > '9' || k > 100000) {
            k = 0;
            break;
          }
          k = k * 10 + static_cast<size_t>(ch - '0');
        }
      }
      if (k == 0) {
        sqlite3_finalize(stmt);
        res.error =
            "SQL parameter " + std::string(nm.empty() ? "?" : nm) + " is not of the form $N";
        return nullptr;
      }
      prepared.valueOf.push_back(k - 1);
    }
    if (cache_.size() >= kMaxCachedStatements) clearCache();
    return &cache_.emplace(std::string(sql), std::move(prepared)).first->second;
  }

  // The statement must name exactly $1..$N for N values (PostgreSQL's rule, checked here too).
  bool bind(const Stmt& prepared, std::span<const Value> params, Result& res) {
    sqlite3_stmt* stmt = prepared.stmt;
    const size_t n = prepared.valueOf.size();
    if (n != params.size()) {
      res.error = "statement takes " + std::to_string(n) + " parameters, " +
                  std::to_string(params.size()) + " given";
      return false;
    }
    for (size_t slot = 0; slot < n; ++slot) {
      const size_t k = prepared.valueOf[slot];
      if (k >= params.size()) {
        res.error = "SQL parameter $" + std::to_string(k + 1) + " has no value (" +
                    std::to_string(params.size()) + " given)";
        return false;
      }
      const Value& v = params[k];
      const int i = static_cast<int>(slot) + 1;
      int rc = SQLITE_OK;
      if (const auto* p = std::get_if<int64_t>(&v)) {
        rc = sqlite3_bind_int64(stmt, i, *p);
      } else if (const auto* d = std::get_if<double>(&v)) {
        rc = sqlite3_bind_double(stmt, i, *d);
      } else if (const auto* s = std::get_if<std::string>(&v)) {
        // STATIC: the values outlive the statement's step (exec() resets before returning).
        rc = sqlite3_bind_text64(stmt, i, s->data(), s->size(), SQLITE_STATIC, SQLITE_UTF8);
      } else if (const auto* t = std::get_if<TextRef>(&v)) {
        rc = sqlite3_bind_text64(stmt, i, t->text.data(), t->text.size(), SQLITE_STATIC,
                                 SQLITE_UTF8);
      } else {
        rc = sqlite3_bind_null(stmt, i);
      }
      if (rc != SQLITE_OK) {
        fail(res);
        return false;
      }
    }
    return true;
  }

  static Value column(sqlite3_stmt* stmt, int c) {
    switch (sqlite3_column_type(stmt, c)) {
      case SQLITE_INTEGER:
        return int64_t{sqlite3_column_int64(stmt, c)};
      case SQLITE_FLOAT:
        return sqlite3_column_double(stmt, c);
      case SQLITE_NULL:
        return std::monostate{};
      default: {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
        const int len = sqlite3_column_bytes(stmt, c);
        return std::string(p != nullptr ? p : "", static_cast<size_t>(len));
      }
    }
  }

  void clearCache() {
    for (auto& [sql, prepared] : cache_) sqlite3_finalize(prepared.stmt);
    cache_.clear();
  }

  void close() {
    clearCache();
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = nullptr;
  }

  std::string path_;
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, Stmt, SqlHash, std::equal_to<>> cache_;
};

}  // namespace

std::unique_ptr<Db> openSqlite(const std::string& path, std::string& error) {
  auto db = std::make_unique<SqliteDb>(path);
  if (!db->connect(error)) return nullptr;
  return db;
}

}  // namespace llmux::store
