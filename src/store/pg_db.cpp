// The PostgreSQL backend (libpq): one connection, statements sent with PQexecParams and text
// parameters (the server infers their types from context), results typed back by column type.
#include <libpq-fe.h>

#include <charconv>
#include <cstring>
#include <string>
#include <vector>

#include "store/db.hpp"

namespace llmux::store {
namespace {

// Column type OIDs from pg_type (stable across server versions).
constexpr Oid kBool = 16;
constexpr Oid kInt8 = 20;
constexpr Oid kInt2 = 21;
constexpr Oid kInt4 = 23;
constexpr Oid kOid = 26;
constexpr Oid kFloat4 = 700;
constexpr Oid kFloat8 = 701;
constexpr Oid kNumeric = 1700;

// A default for connect_timeout (an unreachable host would otherwise block the store thread for
// the kernel's TCP timeout); the URL's own connect_timeout wins.
constexpr const char* kConnectTimeoutS = "5";
constexpr int64_t kDefaultStatementTimeoutMs = 30000;

void ignoreNotice(void* /*arg*/, const char* /*message*/) {}

// SQLSTATEs after which the statement is worth retrying (on a new connection if need be):
// connection failures (class 08), server shutdown (57P0x), statement timeout, lock conflicts
// between instances (serialization failure, deadlock) and resource exhaustion (class 53).
bool transientState(std::string_view s) {
  if (s.size() != 5) return false;
  // 08P01 is a protocol violation (e.g. a wrong parameter count): a bug, not an outage.
  return (s.substr(0, 2) == "08" && s != "08P01") || s.substr(0, 2) == "53" ||
         s.substr(0, 4) == "57P0" || s == "57014" || s == "40001" || s == "40P01";
}

Value typed(const PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col) != 0) return std::monostate{};
  const char* p = PQgetvalue(r, row, col);
  const auto len = static_cast<size_t>(PQgetlength(r, row, col));
  switch (PQftype(r, col)) {
    case kBool:
      return int64_t{len > 0 && (p[0] == 't' || p[0] == 'T') ? 1 : 0};
    case kInt2:
    case kInt4:
    case kInt8:
    case kOid: {
      int64_t v = 0;
      auto res = std::from_chars(p, p + len, v);
      if (res.ec == std::errc() && res.ptr == p + len) return v;
      break;
    }
    case kFloat4:
    case kFloat8:
    case kNumeric: {
      double v = 0;
      auto res = std::from_chars(p, p + len, v);
      if (res.ec == std::errc() && res.ptr == p + len) return v;
      break;
    }
    default:
      break;
  }
  return std::string(p, len);
}

class PgDb final : public Db {
 public:
  PgDb(std::string url, int64_t statementTimeoutMs)
      : url_(std::move(url)), statementTimeoutMs_(statementTimeoutMs) {}
  ~PgDb() override {
    if (conn_ != nullptr) PQfinish(conn_);
  }
  PgDb(const PgDb&) = delete;
  PgDb& operator=(const PgDb&) = delete;

  bool connect(std::string& error) {
    const char* keys[] = {"connect_timeout", "dbname", nullptr};
    const char* values[] = {kConnectTimeoutS, url_.c_str(), nullptr};
    conn_ = PQconnectdbParams(keys, values, 1);
    if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
      error = "cannot connect to PostgreSQL: " +
              std::string(conn_ != nullptr ? PQerrorMessage(conn_) : "out of memory");
      trimNewline(error);
      return false;
    }
    return setupSession(error);
  }

  [[nodiscard]] Dialect dialect() const override { return Dialect::Postgres; }

  Result exec(std::string_view sql, std::span<const Value> params) override {
    if (conn_ == nullptr) return lost("not connected");
    std::vector<std::string> texts(params.size());
    std::vector<const char*> ptrs(params.size(), nullptr);
    for (size_t i = 0; i < params.size(); ++i) {
      const Value& v = params[i];
      if (const auto* n = std::get_if<int64_t>(&v)) {
        texts[i] = std::to_string(*n);
      } else if (const auto* d = std::get_if<double>(&v)) {
        char buf[32];
        auto r = std::to_chars(buf, buf + sizeof buf, *d);  // shortest text that round-trips
        texts[i].assign(buf, r.ptr);
      } else if (const auto* s = std::get_if<std::string>(&v)) {
        // Text parameters are NUL-terminated on the wire; a NUL would silently cut the value.
        if (s->find('\0') != std::string::npos) {
          Result bad;
          bad.error = "parameter $" + std::to_string(i + 1) + " contains a NUL byte";
          return bad;
        }
        texts[i] = *s;
      } else if (const auto* t = std::get_if<TextRef>(&v)) {
        if (t->text.find('\0') != std::string_view::npos) {
          Result bad;
          bad.error = "parameter $" + std::to_string(i + 1) + " contains a NUL byte";
          return bad;
        }
        texts[i] = t->text;
      } else {
        continue;  // NULL
      }
      ptrs[i] = texts[i].c_str();
    }
    const std::string text(sql);
    PGresult* r = PQexecParams(conn_, text.c_str(), static_cast<int>(params.size()), nullptr,
                               ptrs.data(), nullptr, nullptr, 0);
    return collect(r);
  }

  Result execScript(std::string_view sql) override {
    if (conn_ == nullptr) return lost("not connected");
    const std::string text(sql);
    return collect(PQexec(conn_, text.c_str()));
  }

  Result begin() override { return exec("BEGIN", {}); }

  Result commit() override {
    Result r = exec("COMMIT", {});
    // COMMIT of a transaction that already failed succeeds with the tag ROLLBACK.
    if (r.ok && lastTagWasRollback_) {
      r.ok = false;
      r.error = "transaction was rolled back";
    }
    return r;
  }

  Result rollback() override { return exec("ROLLBACK", {}); }

  [[nodiscard]] bool healthy() override {
    return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK;
  }

  bool reconnect() override {
    std::string error;
    if (conn_ == nullptr) return connect(error);
    PQreset(conn_);
    if (PQstatus(conn_) != CONNECTION_OK) return false;
    return setupSession(error);
  }

 private:
  static void trimNewline(std::string& s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  }

  static Result lost(std::string message) {
    Result r;
    r.connectionLost = true;
    r.error = std::move(message);
    return r;
  }

  bool setupSession(std::string& error) {
    PQsetNoticeProcessor(conn_, ignoreNotice, nullptr);  // "already exists, skipping" etc.
    if (statementTimeoutMs_ > 0) {
      const Value v = std::to_string(statementTimeoutMs_);
      Result r = exec("SELECT set_config('statement_timeout', $1, false)", {&v, 1});
      if (!r.ok) {
        error = "cannot set statement_timeout: " + r.error;
        return false;
      }
    }
    return true;
  }

  Result collect(PGresult* r) {
    Result res;
    lastTagWasRollback_ = false;
    if (r == nullptr) {
      res.error = PQerrorMessage(conn_);
      trimNewline(res.error);
      res.connectionLost = true;
      return res;
    }
    const ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
      res.ok = true;
      const int nrows = PQntuples(r);
      const int ncols = PQnfields(r);
      res.rows.reserve(static_cast<size_t>(nrows));
      for (int i = 0; i < nrows; ++i) {
        Row row;
        row.cols.reserve(static_cast<size_t>(ncols));
        for (int c = 0; c < ncols; ++c) row.cols.push_back(typed(r, i, c));
        res.rows.push_back(std::move(row));
      }
      const char* tuples = PQcmdTuples(r);
      if (tuples != nullptr && *tuples != '\0') {
        std::from_chars(tuples, tuples + std::strlen(tuples), res.affected);
      }
      lastTagWasRollback_ = std::strcmp(PQcmdStatus(r), "ROLLBACK") == 0;
    } else {
      const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      const std::string_view sqlstate = state != nullptr ? state : "";
      res.error = PQresultErrorMessage(r);
      if (res.error.empty()) res.error = PQerrorMessage(conn_);
      trimNewline(res.error);
      res.uniqueViolation = sqlstate == "23505";
      res.connectionLost = PQstatus(conn_) != CONNECTION_OK || transientState(sqlstate);
    }
    PQclear(r);
    return res;
  }

  std::string url_;
  int64_t statementTimeoutMs_;
  PGconn* conn_ = nullptr;
  bool lastTagWasRollback_ = false;
};

}  // namespace

std::unique_ptr<Db> openPostgres(const std::string& url, int64_t statementTimeoutMs,
                                 std::string& error) {
  auto db = std::make_unique<PgDb>(url, statementTimeoutMs);
  if (!db->connect(error)) return nullptr;
  return db;
}

std::unique_ptr<Db> openPostgres(const std::string& url, std::string& error) {
  return openPostgres(url, kDefaultStatementTimeoutMs, error);
}

}  // namespace llmux::store
