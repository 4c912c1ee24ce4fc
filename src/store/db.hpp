#pragma once
// A small SQL connection interface with two backends: SQLite (the embedded default, one WAL file)
// and PostgreSQL (libpq; several gateway instances share it). Repositories are written once
// against it, in the SQL both dialects accept: parameters are $1..$N (SQLite binds them by name),
// JSON and lists are TEXT holding JSON, money is DOUBLE PRECISION, times are INTEGER/BIGINT unix
// milliseconds, upserts use INSERT ... ON CONFLICT ... DO UPDATE and reads after writes use
// RETURNING. A Db is used by one thread at a time (the store thread); it never throws.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace llmux::store {

// Text a parameter borrows instead of copying (the spend writer binds its rows' strings through
// it); it must outlive the exec() call. Never found in a Row.
struct TextRef {
  std::string_view text;
};

// A column value or parameter: NULL, integer, real or text (JSON is text).
using Value = std::variant<std::monostate, int64_t, double, std::string, TextRef>;

struct Row {
  std::vector<Value> cols;

  [[nodiscard]] bool isNull(size_t i) const;
  // Typed reads; a NULL or a value of another type gives the fallback (integers read as real,
  // and text that parses fully as a number reads as one, since PostgreSQL returns text for both).
  [[nodiscard]] int64_t i64(size_t i, int64_t fallback = 0) const;
  [[nodiscard]] double f64(size_t i, double fallback = 0) const;
  [[nodiscard]] std::string str(size_t i) const;  // "" for NULL
  [[nodiscard]] std::optional<int64_t> optI64(size_t i) const;
  [[nodiscard]] std::optional<double> optF64(size_t i) const;
  [[nodiscard]] std::optional<std::string> optStr(size_t i) const;
};

struct Result {
  bool ok = false;
  // The connection itself failed (server gone, socket reset): the caller may reconnect and
  // retry; a plain SQL error (constraint, syntax) leaves this false. Also set for other errors
  // worth a later retry: SQLite busy/locked past the busy timeout or I/O errors; PostgreSQL
  // statement timeout, deadlock, serialization failure, server shutdown, class 53.
  bool connectionLost = false;
  // Unique or primary-key violation (SQLITE_CONSTRAINT_UNIQUE/PRIMARYKEY, SQLSTATE 23505).
  bool uniqueViolation = false;
  std::string error;  // backend message when !ok
  std::vector<Row> rows;
  int64_t affected = 0;  // rows changed by INSERT/UPDATE/DELETE
};

enum class Dialect { Sqlite, Postgres };

class Db {
 public:
  virtual ~Db() = default;
  [[nodiscard]] virtual Dialect dialect() const = 0;
  // Runs one statement with positional parameters $1..$N (each of them used in the SQL, as
  // PostgreSQL requires; SQLite checks the same).
  virtual Result exec(std::string_view sql, std::span<const Value> params = {}) = 0;
  // Runs several ';'-separated statements without parameters (migrations).
  virtual Result execScript(std::string_view sql) = 0;
  // Transactions (BEGIN IMMEDIATE on SQLite, so writers queue instead of failing mid-way).
  virtual Result begin() = 0;
  virtual Result commit() = 0;
  virtual Result rollback() = 0;
  // True while the connection is usable; reconnect() tries once to restore a lost one.
  [[nodiscard]] virtual bool healthy() = 0;
  virtual bool reconnect() = 0;
};

// Opens a database from general_settings.database_url:
//   postgresql://user:pass@host:port/db?sslmode=... (or postgres://) -> PostgreSQL
//   sqlite:///abs/path.db, sqlite://rel/path.db, or a plain file path -> SQLite (WAL, created)
//   ":memory:" -> SQLite in memory (tests)
// nullptr with `error` set when it cannot be opened.
std::unique_ptr<Db> open(std::string_view url, std::string& error);
std::unique_ptr<Db> openSqlite(const std::string& path, std::string& error);
std::unique_ptr<Db> openPostgres(const std::string& url, std::string& error);
// statement_timeout for the session (0 = none); the two-argument form uses 30 s, migrations lift
// it for their own transactions.
std::unique_ptr<Db> openPostgres(const std::string& url, int64_t statementTimeoutMs,
                                 std::string& error);

// Brings the schema to the newest version (table llmux_schema_version); each migration runs in
// its own transaction. Safe to call from several instances at once (PostgreSQL: advisory lock).
bool migrate(Db& db, std::string& error);
// The schema version migrate() brings a database to.
int latestSchemaVersion();

}  // namespace llmux::store
