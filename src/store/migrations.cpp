// Versioned schema. Each migration runs in its own transaction together with the row recording
// it in llmux_schema_version, so a crash leaves either the old or the new version. Instances
// starting at once serialize on a transaction-scoped advisory lock (PostgreSQL) or on the write
// lock BEGIN IMMEDIATE takes (SQLite), and re-read the version under it.
//
// Types both dialects accept: TEXT (JSON included), BIGINT (unix ms, counts), DOUBLE PRECISION
// (USD), INTEGER 0/1 (flags).
#include <chrono>
#include <iterator>
#include <string>

#include "common/clock.hpp"
#include "store/db.hpp"

namespace llmux::store {
namespace {

// 'llmux' in ASCII: the advisory-lock id, shared by every llmux instance on the database.
constexpr int64_t kMigrationLockId = 0x6c6c6d7578;

constexpr const char* kVersionTable =
    "CREATE TABLE IF NOT EXISTS llmux_schema_version ("
    " version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)";

// Limits (records.hpp) as columns: keys, teams, users and budgets share them.
#define LLMUX_LIMIT_COLUMNS                                                           \
  " max_budget DOUBLE PRECISION, soft_budget DOUBLE PRECISION, budget_duration TEXT," \
  " budget_reset_at BIGINT, rpm_limit BIGINT, tpm_limit BIGINT,"                      \
  " max_parallel_requests BIGINT, model_max_budget TEXT NOT NULL DEFAULT '{}',"       \
  " model_rpm_limit TEXT NOT NULL DEFAULT '{}', model_tpm_limit TEXT NOT NULL DEFAULT '{}',"

constexpr const char* kSchemaV1 =
    "CREATE TABLE llmux_keys ("
    " token TEXT PRIMARY KEY, key_name TEXT NOT NULL DEFAULT '', key_alias TEXT,"
    " user_id TEXT, team_id TEXT, budget_id TEXT,"
    " models TEXT NOT NULL DEFAULT '[]', aliases TEXT NOT NULL DEFAULT '{}',"
    " metadata TEXT NOT NULL DEFAULT '{}', tags TEXT NOT NULL DEFAULT '[]',"
    " allowed_routes TEXT NOT NULL DEFAULT '[]', key_type TEXT NOT NULL DEFAULT 'default',"
    " permissions TEXT NOT NULL DEFAULT '{}'," LLMUX_LIMIT_COLUMNS
    " spend DOUBLE PRECISION NOT NULL DEFAULT 0, model_spend TEXT NOT NULL DEFAULT '{}',"
    " expires BIGINT, blocked INTEGER NOT NULL DEFAULT 0, created_by TEXT, updated_by TEXT,"
    " created_at BIGINT NOT NULL DEFAULT 0, updated_at BIGINT NOT NULL DEFAULT 0,"
    " last_active BIGINT);"
    "CREATE UNIQUE INDEX llmux_keys_alias ON llmux_keys (key_alias)"
    " WHERE key_alias IS NOT NULL;"
    "CREATE INDEX llmux_keys_user ON llmux_keys (user_id);"
    "CREATE INDEX llmux_keys_team ON llmux_keys (team_id);"
    "CREATE INDEX llmux_keys_budget ON llmux_keys (budget_id);"
    "CREATE INDEX llmux_keys_reset ON llmux_keys (budget_reset_at);"

    "CREATE TABLE llmux_teams ("
    " team_id TEXT PRIMARY KEY, team_alias TEXT, organization_id TEXT,"
    " members_with_roles TEXT NOT NULL DEFAULT '[]', models TEXT NOT NULL DEFAULT '[]',"
    " model_aliases TEXT NOT NULL DEFAULT '{}', metadata TEXT NOT NULL DEFAULT '{}',"
    " tags TEXT NOT NULL DEFAULT '[]'," LLMUX_LIMIT_COLUMNS
    " spend DOUBLE PRECISION NOT NULL DEFAULT 0, model_spend TEXT NOT NULL DEFAULT '{}',"
    " blocked INTEGER NOT NULL DEFAULT 0, created_by TEXT, updated_by TEXT,"
    " created_at BIGINT NOT NULL DEFAULT 0, updated_at BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX llmux_teams_reset ON llmux_teams (budget_reset_at);"

    "CREATE TABLE llmux_team_memberships ("
    " team_id TEXT NOT NULL, user_id TEXT NOT NULL,"
    " spend DOUBLE PRECISION NOT NULL DEFAULT 0, budget_id TEXT,"
    " PRIMARY KEY (team_id, user_id));"
    "CREATE INDEX llmux_memberships_user ON llmux_team_memberships (user_id);"
    "CREATE INDEX llmux_memberships_budget ON llmux_team_memberships (budget_id);"

    "CREATE TABLE llmux_users ("
    " user_id TEXT PRIMARY KEY, user_email TEXT, user_alias TEXT,"
    " user_role TEXT NOT NULL DEFAULT 'internal_user', teams TEXT NOT NULL DEFAULT '[]',"
    " models TEXT NOT NULL DEFAULT '[]', metadata TEXT NOT NULL DEFAULT '{}'," LLMUX_LIMIT_COLUMNS
    " spend DOUBLE PRECISION NOT NULL DEFAULT 0, model_spend TEXT NOT NULL DEFAULT '{}',"
    " created_at BIGINT NOT NULL DEFAULT 0, updated_at BIGINT NOT NULL DEFAULT 0);"
    // Emails are unique regardless of case (LiteLLM answers 409 for a case-insensitive match).
    "CREATE UNIQUE INDEX llmux_users_email ON llmux_users (lower(user_email))"
    " WHERE user_email IS NOT NULL;"
    "CREATE INDEX llmux_users_reset ON llmux_users (budget_reset_at);"

    "CREATE TABLE llmux_customers ("
    " user_id TEXT PRIMARY KEY, alias TEXT, budget_id TEXT, allowed_model_region TEXT,"
    " default_model TEXT, spend DOUBLE PRECISION NOT NULL DEFAULT 0,"
    " blocked INTEGER NOT NULL DEFAULT 0,"
    " created_at BIGINT NOT NULL DEFAULT 0, updated_at BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX llmux_customers_budget ON llmux_customers (budget_id);"

    "CREATE TABLE llmux_budgets ("
    " budget_id TEXT PRIMARY KEY," LLMUX_LIMIT_COLUMNS
    " created_by TEXT, updated_by TEXT,"
    " created_at BIGINT NOT NULL DEFAULT 0, updated_at BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX llmux_budgets_reset ON llmux_budgets (budget_reset_at);"

    "CREATE TABLE llmux_spend_logs ("
    " request_id TEXT PRIMARY KEY, call_type TEXT NOT NULL DEFAULT '',"
    " api_key TEXT NOT NULL DEFAULT '', key_alias TEXT NOT NULL DEFAULT '',"
    " team_id TEXT NOT NULL DEFAULT '', user_id TEXT NOT NULL DEFAULT '',"
    " end_user TEXT NOT NULL DEFAULT '', model TEXT NOT NULL DEFAULT '',"
    " model_group TEXT NOT NULL DEFAULT '', deployment TEXT NOT NULL DEFAULT '',"
    " provider TEXT NOT NULL DEFAULT '', api_base TEXT NOT NULL DEFAULT '',"
    " prompt_tokens BIGINT NOT NULL DEFAULT 0, completion_tokens BIGINT NOT NULL DEFAULT 0,"
    " cached_tokens BIGINT NOT NULL DEFAULT 0, cache_write_tokens BIGINT NOT NULL DEFAULT 0,"
    " reasoning_tokens BIGINT NOT NULL DEFAULT 0, tokens_estimated INTEGER NOT NULL DEFAULT 0,"
    " spend DOUBLE PRECISION NOT NULL DEFAULT 0, status INTEGER NOT NULL DEFAULT 0,"
    " error_type TEXT NOT NULL DEFAULT '', start_time BIGINT NOT NULL DEFAULT 0,"
    " end_time BIGINT NOT NULL DEFAULT 0, completion_start_time BIGINT,"
    " cache_hit INTEGER NOT NULL DEFAULT 0, tags TEXT NOT NULL DEFAULT '[]',"
    " metadata TEXT NOT NULL DEFAULT '{}');"
    "CREATE INDEX llmux_spend_logs_start ON llmux_spend_logs (start_time);"
    "CREATE INDEX llmux_spend_logs_key ON llmux_spend_logs (api_key);"
    "CREATE INDEX llmux_spend_logs_team ON llmux_spend_logs (team_id);"
    "CREATE INDEX llmux_spend_logs_user ON llmux_spend_logs (user_id);"
    "CREATE INDEX llmux_spend_logs_end_user ON llmux_spend_logs (end_user);"

    // entity_type: key | team | user | end_user | tag | model; day: YYYY-MM-DD (UTC).
    "CREATE TABLE llmux_daily_spend ("
    " entity_type TEXT NOT NULL, entity_id TEXT NOT NULL, day TEXT NOT NULL,"
    " model TEXT NOT NULL, provider TEXT NOT NULL,"
    " prompt_tokens BIGINT NOT NULL DEFAULT 0, completion_tokens BIGINT NOT NULL DEFAULT 0,"
    " cached_tokens BIGINT NOT NULL DEFAULT 0, cache_write_tokens BIGINT NOT NULL DEFAULT 0,"
    " spend DOUBLE PRECISION NOT NULL DEFAULT 0, api_requests BIGINT NOT NULL DEFAULT 0,"
    " successful_requests BIGINT NOT NULL DEFAULT 0, failed_requests BIGINT NOT NULL DEFAULT 0,"
    " UNIQUE (entity_type, entity_id, day, model, provider));"
    "CREATE INDEX llmux_daily_spend_day ON llmux_daily_spend (entity_type, day);";

#undef LLMUX_LIMIT_COLUMNS

// Version 2: each spend-log index costs the writer a B-tree insert per row, the largest part of
// its work under load (and with many keys, teams and users each insert lands on another page).
// LiteLLM's own SpendLogs table keeps the primary key and startTime; so do we: /spend/logs walks
// the start_time index newest first and filters key, team and user on the way.
constexpr const char* kSchemaV2 =
    "DROP INDEX IF EXISTS llmux_spend_logs_key;"
    "DROP INDEX IF EXISTS llmux_spend_logs_team;"
    "DROP INDEX IF EXISTS llmux_spend_logs_user;"
    "DROP INDEX IF EXISTS llmux_spend_logs_end_user;";

struct Migration {
  int version;
  const char* sql;
};

constexpr Migration kMigrations[] = {
    {1, kSchemaV1},
    {2, kSchemaV2},
};

bool fail(Db& db, const Migration& m, const std::string& what, const Result& r,
          std::string& error) {
  (void)db.rollback();
  error = "schema migration " + std::to_string(m.version) + ": " + what + ": " + r.error;
  return false;
}

bool apply(Db& db, const Migration& m, std::string& error) {
  Result r = db.begin();
  if (!r.ok) return fail(db, m, "begin", r, error);
  if (db.dialect() == Dialect::Postgres) {
    const Value lockId = kMigrationLockId;
    r = db.exec("SELECT pg_advisory_xact_lock($1)", {&lockId, 1});
    if (!r.ok) return fail(db, m, "lock", r, error);
    // Index builds on a large spend table may outlast the session's statement timeout.
    r = db.execScript("SET LOCAL statement_timeout = 0");
    if (!r.ok) return fail(db, m, "statement_timeout", r, error);
  }
  r = db.execScript(kVersionTable);
  if (!r.ok) return fail(db, m, "version table", r, error);
  r = db.exec("SELECT MAX(version) FROM llmux_schema_version");
  if (!r.ok) return fail(db, m, "read version", r, error);
  const int64_t current = r.rows.empty() ? 0 : r.rows[0].i64(0, 0);
  if (current >= m.version) {  // applied earlier, or by another instance while we waited
    (void)db.rollback();
    return true;
  }
  r = db.execScript(m.sql);
  if (!r.ok) return fail(db, m, "apply", r, error);
  const Value params[] = {int64_t{m.version}, wallMs()};
  r = db.exec("INSERT INTO llmux_schema_version (version, applied_at) VALUES ($1, $2)", params);
  if (!r.ok) return fail(db, m, "record version", r, error);
  r = db.commit();
  if (!r.ok) return fail(db, m, "commit", r, error);
  return true;
}

}  // namespace

int latestSchemaVersion() {
  return kMigrations[std::size(kMigrations) - 1].version;
}

bool migrate(Db& db, std::string& error) {
  for (const Migration& m : kMigrations) {
    if (!apply(db, m, error)) return false;
  }
  return true;
}

}  // namespace llmux::store
