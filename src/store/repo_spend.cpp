// Spend logs, the spend counters on keys/teams/users/memberships/customers, daily roll-ups,
// spend queries and scheduled budget resets.
//
// writeSpendBatch counts only the rows its INSERT actually added, so a replayed batch (spool
// after an outage, a retry after a lost COMMIT answer) adds nothing twice. Rows are aggregated
// in memory first and every counter row is touched once per batch, in sorted order: PostgreSQL
// instances writing batches at the same time then lock rows in the same order (no deadlock), and
// model_spend, a JSON map, is read under a row lock (FOR UPDATE) before it is rewritten. SQLite
// holds the database write lock for the whole transaction (BEGIN IMMEDIATE).
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "store/repo.hpp"
#include "store/repo_internal.hpp"

namespace llmux::store {
namespace {

using detail::check;
using detail::flag;
using detail::opt;

constexpr const char* kSpendColumns =
    "request_id, call_type, api_key, key_alias, team_id, user_id, end_user, model, "
    "model_group, deployment, provider, api_base, prompt_tokens, completion_tokens, "
    "cached_tokens, cache_write_tokens, reasoning_tokens, tokens_estimated, spend, status, "
    "error_type, start_time, end_time, completion_start_time, cache_hit, tags, metadata";

constexpr size_t kSpendColumnCount = 27;

TextRef ref(const std::string& s) {
  return TextRef{s};
}

// Appends the row's values for kSpendColumns; text is borrowed from the row (see TextRef).
void appendSpendValues(const SpendRow& s, std::vector<Value>& out) {
  for (const std::string* t :
       {&s.requestId, &s.callType, &s.apiKey, &s.keyAlias, &s.teamId, &s.userId, &s.endUser,
        &s.model, &s.modelGroup, &s.deployment, &s.provider, &s.apiBase}) {
    out.emplace_back(ref(*t));
  }
  for (const int64_t n : {s.promptTokens, s.completionTokens, s.cachedTokens, s.cacheWriteTokens,
                          s.reasoningTokens}) {
    out.emplace_back(n);
  }
  out.emplace_back(flag(s.tokensEstimated));
  out.emplace_back(s.spend);
  out.emplace_back(int64_t{s.status});
  out.emplace_back(ref(s.errorType));
  out.emplace_back(s.startTime);
  out.emplace_back(s.endTime);
  out.emplace_back(opt(s.completionStartTime));
  out.emplace_back(flag(s.cacheHit));
  out.emplace_back(ref(s.tags));
  out.emplace_back(ref(s.metadata));
}

SpendRow readSpend(const Row& r) {
  SpendRow s;
  s.requestId = r.str(0);
  s.callType = r.str(1);
  s.apiKey = r.str(2);
  s.keyAlias = r.str(3);
  s.teamId = r.str(4);
  s.userId = r.str(5);
  s.endUser = r.str(6);
  s.model = r.str(7);
  s.modelGroup = r.str(8);
  s.deployment = r.str(9);
  s.provider = r.str(10);
  s.apiBase = r.str(11);
  s.promptTokens = r.i64(12);
  s.completionTokens = r.i64(13);
  s.cachedTokens = r.i64(14);
  s.cacheWriteTokens = r.i64(15);
  s.reasoningTokens = r.i64(16);
  s.tokensEstimated = r.i64(17) != 0;
  s.spend = r.f64(18);
  s.status = static_cast<int>(r.i64(19));
  s.errorType = r.str(20);
  s.startTime = r.i64(21);
  s.endTime = r.i64(22);
  s.completionStartTime = r.optI64(23);
  s.cacheHit = r.i64(24) != 0;
  s.tags = detail::jsonOr(r, 25, "[]");
  s.metadata = detail::jsonOr(r, 26, "{}");
  return s;
}

// PostgreSQL TEXT takes neither NUL bytes nor invalid UTF-8, and one such value would fail its
// whole batch on every retry (tags and ids from headers can carry any byte): NULs are dropped
// and bytes that are not UTF-8 become '?', on both backends alike.
bool cleanTextOk(const std::string& s) {
  // Nearly every value is short ASCII: one pass without exits (it vectorizes) finds NULs and
  // non-ASCII bytes, and only the latter need simdjson's UTF-8 check.
  unsigned char bits = 0;
  bool nul = false;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    bits |= u;
    nul |= u == 0;
  }
  if (nul) return false;
  return bits < 0x80 || simdjson::validate_utf8(s.data(), s.size());
}

void cleanText(std::string& s) {
  if (cleanTextOk(s)) return;
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80           ? 1
                     : (c >> 5) == 0x6  ? 2
                     : (c >> 4) == 0xE  ? 3
                     : (c >> 3) == 0x1E ? 4
                                        : 0;
    if (c == 0) {
      ++i;
    } else if (n != 0 && i + n <= s.size() && simdjson::validate_utf8(s.data() + i, n)) {
      out.append(s, i, n);
      i += n;
    } else {
      out += '?';
      ++i;
    }
  }
  s = std::move(out);
}

template <class Row, class Fn>
void forEachText(Row& s, Fn&& fn) {
  for (auto* t : {&s.requestId, &s.callType, &s.apiKey, &s.keyAlias, &s.teamId, &s.userId,
                  &s.endUser, &s.model, &s.modelGroup, &s.deployment, &s.provider, &s.apiBase,
                  &s.errorType, &s.tags, &s.metadata}) {
    fn(*t);
  }
}

// True when every backend stores the row as given (see cleanText; a NaN spend becomes 0), which
// is nearly always: then it is written without a copy.
bool storableAsIs(const SpendRow& s) {
  if (!std::isfinite(s.spend)) return false;
  bool ok = true;
  forEachText(s, [&](const std::string& t) { ok = ok && cleanTextOk(t); });
  return ok;
}

// A copy of the row that every backend stores as given.
SpendRow storable(const SpendRow& in) {
  SpendRow s = in;
  forEachText(s, [](std::string& t) { cleanText(t); });
  if (!std::isfinite(s.spend)) s.spend = 0;
  return s;
}

// Days since 1970-01-01 (UTC) of a unix-ms time.
int32_t utcDayNumber(int64_t ms) {
  constexpr int64_t kDayMs = 86400000;
  return static_cast<int32_t>(ms >= 0 ? ms / kDayMs : -((-ms + kDayMs - 1) / kDayMs));
}

// "YYYY-MM-DD" of a day number.
std::string dayText(int32_t day) {
  using namespace std::chrono;
  const year_month_day ymd{sys_days{days{day}}};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

// The model a spend row is counted under: what the client asked for, else the model group.
std::string_view modelOf(const SpendRow& s) {
  return s.model.empty() ? s.modelGroup : s.model;
}

// Batch totals borrow their keys from the batch's rows (which outlive them), so adding a row
// allocates only when it names an entity or roll-up line the batch has not seen yet.
struct EntitySpend {
  double spend = 0;
  std::map<std::string_view, double, std::less<>> byModel;
  int64_t lastActive = 0;

  void add(const SpendRow& s) {
    spend += s.spend;
    if (s.spend != 0) byModel[modelOf(s)] += s.spend;
    lastActive = std::max(lastActive, s.endTime);
  }
};

// (entity type, entity id, day, model, provider); sorted like the text of the day would be.
using DailyKey =
    std::tuple<std::string_view, std::string_view, int32_t, std::string_view, std::string_view>;
struct DailySums {
  int64_t prompt = 0, completion = 0, cached = 0, cacheWrite = 0;
  double spend = 0;
  int64_t requests = 0, ok = 0, failed = 0;

  void add(const SpendRow& s) {
    prompt += s.promptTokens;
    completion += s.completionTokens;
    cached += s.cachedTokens;
    cacheWrite += s.cacheWriteTokens;
    spend += s.spend;
    requests += 1;
    (s.status >= 400 ? failed : ok) += 1;
  }
};

// Same key, team, user, end user, model, provider, tags and day: the row adds to the same totals.
bool sameTotals(const SpendRow& a, int32_t aDay, const SpendRow& b, int32_t bDay) {
  return aDay == bDay && a.apiKey == b.apiKey && a.teamId == b.teamId && a.userId == b.userId &&
         a.endUser == b.endUser && modelOf(a) == modelOf(b) && a.provider == b.provider &&
         a.tags == b.tags;
}

struct BatchTotals {
  using Entities = std::map<std::string_view, EntitySpend, std::less<>>;
  Entities keys, teams, users;
  std::map<std::pair<std::string_view, std::string_view>, double> members;  // (team, user)
  Entities customers;
  std::map<DailyKey, DailySums> daily;
  std::deque<std::string> tagText;  // the tags parsed out of rows' JSON lists

  void add(const SpendRow& s) {
    // Rows of one batch come in runs (one busy key, one model): a row like the previous one adds
    // to the totals that row found, without looking them up again.
    const int32_t day = utcDayNumber(s.startTime);
    if (run_.row == nullptr || !sameTotals(*run_.row, run_.day, s, day)) find(s, day);
    run_.row = &s;
    for (EntitySpend* e : {run_.key, run_.team, run_.user, run_.customer}) {
      if (e != nullptr) e->add(s);
    }
    if (run_.member != nullptr) *run_.member += s.spend;
    for (DailySums* d : run_.daily) d->add(s);
  }

 private:
  struct Run {
    const SpendRow* row = nullptr;
    int32_t day = 0;
    EntitySpend* key = nullptr;
    EntitySpend* team = nullptr;
    EntitySpend* user = nullptr;
    EntitySpend* customer = nullptr;
    double* member = nullptr;
    std::vector<DailySums*> daily;
  };
  Run run_;

  void find(const SpendRow& s, int32_t day) {
    run_.day = day;
    run_.key = s.apiKey.empty() ? nullptr : &keys[s.apiKey];
    run_.team = s.teamId.empty() ? nullptr : &teams[s.teamId];
    run_.user = s.userId.empty() ? nullptr : &users[s.userId];
    run_.customer = s.endUser.empty() ? nullptr : &customers[s.endUser];
    run_.member = s.teamId.empty() || s.userId.empty() ? nullptr : &members[{s.teamId, s.userId}];
    run_.daily.clear();
    const std::string_view model = modelOf(s);
    auto roll = [&](std::string_view type, std::string_view id) {
      run_.daily.push_back(&daily[DailyKey{type, id, day, model, s.provider}]);
    };
    roll("key", s.apiKey);
    roll("team", s.teamId);
    roll("user", s.userId);
    roll("end_user", s.endUser);
    roll("model", model);
    if (s.tags.empty() || s.tags == "[]") return;
    std::vector<std::string> tags = detail::parseJsonList(s.tags);
    std::sort(tags.begin(), tags.end());
    tags.erase(std::unique(tags.begin(), tags.end()),
               tags.end());  // a tag listed twice counts once
    for (std::string& t : tags) roll("tag", tagText.emplace_back(std::move(t)));
  }
};

// Adds spend and per-model spend to one key, team or user row (skipped if the row is gone).
bool addEntitySpend(Db& db, const char* table, const char* idColumn, std::string_view id,
                    const EntitySpend& e, bool touchLastActive, RepoError& err) {
  const std::string t(table), c(idColumn);
  const Value idv = TextRef{id};
  std::string modelSpend;
  if (!e.byModel.empty()) {
    std::string sel = "SELECT model_spend FROM " + t + " WHERE " + c + " = $1";
    if (db.dialect() == Dialect::Postgres) sel += " FOR UPDATE";
    Result r = db.exec(sel, {&idv, 1});
    if (!check(r, err)) return false;
    if (r.rows.empty()) return true;
    auto merged = detail::parseSpendMap(r.rows[0].str(0));
    for (const auto& [model, usd] : e.byModel) merged[std::string(model)] += usd;
    modelSpend = detail::spendMapToJson(merged);
  }
  std::string sql = "UPDATE " + t + " SET spend = spend + $2";
  std::vector<Value> p = {idv, e.spend};
  if (!e.byModel.empty()) {
    p.emplace_back(modelSpend);
    sql += ", model_spend = " + detail::param(p.size());
  }
  if (touchLastActive) {
    p.emplace_back(e.lastActive);
    const std::string n = detail::param(p.size());
    sql += ", last_active = CASE WHEN last_active IS NULL OR last_active < " + n + " THEN " + n +
           " ELSE last_active END";
  }
  sql += " WHERE " + c + " = $1";
  return check(db.exec(sql, p), err);
}

bool applyTotals(Db& db, const BatchTotals& b, RepoError& err) {
  for (const auto& [id, e] : b.keys) {
    if (!addEntitySpend(db, "llmux_keys", "token", id, e, true, err)) return false;
  }
  for (const auto& [id, e] : b.teams) {
    if (e.spend == 0 && e.byModel.empty()) continue;
    if (!addEntitySpend(db, "llmux_teams", "team_id", id, e, false, err)) return false;
  }
  for (const auto& [tu, usd] : b.members) {
    if (usd == 0) continue;
    const Value p[] = {TextRef{tu.first}, TextRef{tu.second}, usd};
    if (!check(db.exec("UPDATE llmux_team_memberships SET spend = spend + $3 "
                       "WHERE team_id = $1 AND user_id = $2",
                       p),
               err)) {
      return false;
    }
  }
  for (const auto& [id, e] : b.users) {
    if (e.spend == 0 && e.byModel.empty()) continue;
    if (!addEntitySpend(db, "llmux_users", "user_id", id, e, false, err)) return false;
  }
  // End users are created on first spend (LiteLLM does the same), so a default end-user budget
  // can be enforced for ids never registered through /customer/new.
  for (const auto& [id, e] : b.customers) {
    const Value p[] = {TextRef{id}, e.spend, e.lastActive};
    if (!check(db.exec("INSERT INTO llmux_customers (user_id, spend, blocked, created_at, "
                       "updated_at) VALUES ($1, $2, 0, $3, $3) ON CONFLICT (user_id) "
                       "DO UPDATE SET spend = llmux_customers.spend + excluded.spend",
                       p),
               err)) {
      return false;
    }
  }
  for (const auto& [k, d] : b.daily) {
    const auto& [type, id, day, model, provider] = k;
    const Value p[] = {TextRef{type}, TextRef{id},  dayText(day), TextRef{model}, TextRef{provider},
                       d.prompt,      d.completion, d.cached,     d.cacheWrite,   d.spend,
                       d.requests,    d.ok,         d.failed};
    if (!check(
            db.exec("INSERT INTO llmux_daily_spend (entity_type, entity_id, day, model, provider, "
                    "prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens, spend, "
                    "api_requests, successful_requests, failed_requests) VALUES ($1, $2, $3, $4, "
                    "$5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (entity_type, entity_id, "
                    "day, model, provider) DO UPDATE SET "
                    "prompt_tokens = llmux_daily_spend.prompt_tokens + excluded.prompt_tokens, "
                    "completion_tokens = llmux_daily_spend.completion_tokens + "
                    "excluded.completion_tokens, "
                    "cached_tokens = llmux_daily_spend.cached_tokens + excluded.cached_tokens, "
                    "cache_write_tokens = llmux_daily_spend.cache_write_tokens + "
                    "excluded.cache_write_tokens, "
                    "spend = llmux_daily_spend.spend + excluded.spend, "
                    "api_requests = llmux_daily_spend.api_requests + excluded.api_requests, "
                    "successful_requests = llmux_daily_spend.successful_requests + "
                    "excluded.successful_requests, "
                    "failed_requests = llmux_daily_spend.failed_requests + "
                    "excluded.failed_requests",
                    p),
            err)) {
      return false;
    }
  }
  return true;
}

bool validDay(const std::string& d) {
  if (d.size() != 10 || d[4] != '-' || d[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (d[i] < '0' || d[i] > '9') return false;
  }
  return true;
}

// The next budget_reset_at of a row that is due: NULL when it has no duration.
Value nextResetValue(const std::optional<std::string>& duration, int64_t nowMs,
                     NextResetFn nextReset) {
  if (!duration || duration->empty()) return std::monostate{};
  return nextReset(*duration, nowMs);
}

// Resets the due rows of a table with its own budget columns (keys, teams, users). The
// "still due" guard makes a second instance running the same reset change nothing.
bool resetOwnSchedules(Db& db, const char* table, const char* idColumn, int64_t nowMs,
                       NextResetFn nextReset, int64_t& count, RepoError& err) {
  const std::string t(table), c(idColumn);
  const Value now = nowMs;
  Result due = db.exec("SELECT " + c + ", budget_duration FROM " + t +
                           " WHERE budget_reset_at IS NOT NULL AND budget_reset_at <= $1"
                           " ORDER BY " +
                           c,
                       {&now, 1});
  if (!check(due, err)) return false;
  const std::string update = "UPDATE " + t +
                             " SET spend = 0, model_spend = '{}', budget_reset_at = $2 WHERE " + c +
                             " = $1 AND budget_reset_at IS NOT NULL AND budget_reset_at <= $3";
  for (const Row& row : due.rows) {
    const Value p[] = {row.str(0), nextResetValue(row.optStr(1), nowMs, nextReset), now};
    Result r = db.exec(update, p);
    if (!check(r, err)) return false;
    count += r.affected;
  }
  return true;
}

// Zeroes the spend of every row of `sql`'s table linked to one of the budgets.
bool resetLinked(Db& db, const char* sql, const std::vector<std::string>& budgets, int64_t& count,
                 RepoError& err) {
  for (const std::string& b : budgets) {
    const Value p = b;
    Result r = db.exec(sql, {&p, 1});
    if (!check(r, err)) return false;
    count += r.affected;
  }
  return true;
}

}  // namespace

int64_t resetDueBudgets(Db& db, int64_t nowMs, NextResetFn nextReset, RepoError& err) {
  if (nextReset == nullptr) {
    err.message = "resetDueBudgets needs a reset schedule";
    return -1;
  }
  detail::Tx tx(db);
  if (!tx.begin(err)) return -1;
  int64_t count = 0;
  // Budget rows first: they only reschedule themselves, and name the rows linked to them.
  const Value now = nowMs;
  Result due = db.exec(
      "SELECT budget_id, budget_duration FROM llmux_budgets WHERE budget_reset_at IS NOT NULL "
      "AND budget_reset_at <= $1 ORDER BY budget_id",
      {&now, 1});
  if (!check(due, err)) return -1;
  std::vector<std::string> budgets;
  for (const Row& row : due.rows) {
    const Value p[] = {row.str(0), nextResetValue(row.optStr(1), nowMs, nextReset), now};
    Result r = db.exec(
        "UPDATE llmux_budgets SET budget_reset_at = $2 WHERE budget_id = $1 "
        "AND budget_reset_at IS NOT NULL AND budget_reset_at <= $3",
        p);
    if (!check(r, err)) return -1;
    if (r.affected > 0) budgets.push_back(row.str(0));
    count += r.affected;
  }
  // Then in the spend writer's table order (keys, teams, memberships, users, customers).
  if (!resetOwnSchedules(db, "llmux_keys", "token", nowMs, nextReset, count, err) ||
      !resetLinked(db,
                   "UPDATE llmux_keys SET spend = 0, model_spend = '{}' "
                   "WHERE budget_id = $1 AND budget_duration IS NULL",
                   budgets, count, err) ||
      !resetOwnSchedules(db, "llmux_teams", "team_id", nowMs, nextReset, count, err) ||
      !resetLinked(db, "UPDATE llmux_team_memberships SET spend = 0 WHERE budget_id = $1", budgets,
                   count, err) ||
      !resetOwnSchedules(db, "llmux_users", "user_id", nowMs, nextReset, count, err) ||
      !resetLinked(db, "UPDATE llmux_customers SET spend = 0 WHERE budget_id = $1", budgets, count,
                   err)) {
    return -1;
  }
  if (!tx.commit(err)) return -1;
  return count;
}

namespace {

// Rows per INSERT statement: a batch goes in as few statements as these sizes allow (one
// statement per size is prepared and cached), which saves most of the per-statement work.
constexpr size_t kChunkSizes[] = {64, 16, 4, 1};

// "INSERT INTO llmux_spend_logs (...) VALUES ($1, ...), (...) ON CONFLICT DO NOTHING" for n rows.
const std::string& insertRowsSql(size_t n) {
  static const auto statements = [] {
    std::array<std::string, std::size(kChunkSizes)> out;
    const std::string one = detail::insertSql("llmux_spend_logs", kSpendColumns);
    const std::string head = one.substr(0, one.find("VALUES") + 7);
    for (size_t c = 0; c < std::size(kChunkSizes); ++c) {
      std::string sql = head;
      for (size_t r = 0; r < kChunkSizes[c]; ++r) {
        sql += r == 0 ? "(" : ", (";
        for (size_t i = 1; i <= kSpendColumnCount; ++i) {
          sql += (i > 1 ? ", " : "") + detail::param(r * kSpendColumnCount + i);
        }
        sql += ')';
      }
      out[c] = sql + " ON CONFLICT (request_id) DO NOTHING";
    }
    return out;
  }();
  for (size_t c = 0; c < std::size(kChunkSizes); ++c) {
    if (kChunkSizes[c] == n) return statements[c];
  }
  return statements[std::size(kChunkSizes) - 1];
}

// Inserts `rows` (already storable) with one statement; `inserted` says which went in. When the
// statement inserts fewer rows than it carries (a replay: some were written by an earlier
// attempt), it is undone and the rows go in one by one, so the counting knows which were new.
bool insertChunk(Db& db, std::span<const SpendRow* const> rows, std::vector<Value>& values,
                 std::vector<bool>& inserted, RepoError& err) {
  values.clear();
  for (const SpendRow* s : rows) appendSpendValues(*s, values);
  inserted.assign(rows.size(), false);
  if (rows.size() > 1 && !check(db.exec("SAVEPOINT spend_chunk"), err)) return false;
  Result r = db.exec(insertRowsSql(rows.size()), values);
  if (!check(r, err)) return false;
  if (r.affected == static_cast<int64_t>(rows.size())) {
    inserted.assign(rows.size(), true);
    return rows.size() == 1 || check(db.exec("RELEASE SAVEPOINT spend_chunk"), err);
  }
  if (rows.size() == 1) return true;  // already written
  if (!check(db.exec("ROLLBACK TO SAVEPOINT spend_chunk"), err) ||
      !check(db.exec("RELEASE SAVEPOINT spend_chunk"), err)) {
    return false;
  }
  const std::string& one = insertRowsSql(1);
  for (size_t i = 0; i < rows.size(); ++i) {
    values.clear();
    appendSpendValues(*rows[i], values);
    Result single = db.exec(one, values);
    if (!check(single, err)) return false;
    inserted[i] = single.affected > 0;
  }
  return true;
}

}  // namespace

bool writeSpendBatch(Db& db, std::span<const SpendRow> rows, RepoError& err) {
  std::vector<const SpendRow*> ptrs;
  pointTo(rows, ptrs);
  return writeSpendRows(db, ptrs, err);
}

bool writeSpendRows(Db& db, SpendBatch rows, RepoError& err) {
  if (rows.empty()) return true;
  detail::Tx tx(db);
  if (!tx.begin(err)) return false;
  BatchTotals totals;
  std::deque<SpendRow> cleaned;  // the rare rows that need cleaning; totals borrow from them too
  std::vector<const SpendRow*> storableRows;
  storableRows.reserve(rows.size());
  for (const SpendRow* row : rows) {
    storableRows.push_back(storableAsIs(*row) ? row : &cleaned.emplace_back(storable(*row)));
  }
  std::vector<Value> values;
  values.reserve(kChunkSizes[0] * kSpendColumnCount);
  std::vector<bool> inserted;
  std::span<const SpendRow* const> left(storableRows);
  while (!left.empty()) {
    size_t n = 1;
    for (size_t c : kChunkSizes) {
      if (c <= left.size()) {
        n = c;
        break;
      }
    }
    if (!insertChunk(db, left.first(n), values, inserted, err)) return false;
    for (size_t i = 0; i < n; ++i) {
      if (inserted[i]) totals.add(*left[i]);  // not inserted: written by an earlier attempt
    }
    left = left.subspan(n);
  }
  if (!applyTotals(db, totals, err)) return false;
  return tx.commit(err);
}

std::vector<SpendRow> querySpend(Db& db, const SpendQuery& q, RepoError& err) {
  std::string where;
  std::vector<Value> params;
  auto add = [&](const char* cond, Value v) {
    params.push_back(std::move(v));
    where +=
        (where.empty() ? " WHERE " : " AND ") + std::string(cond) + detail::param(params.size());
  };
  if (q.apiKey) add("api_key = ", *q.apiKey);
  if (q.userId) add("user_id = ", *q.userId);
  if (q.teamId) add("team_id = ", *q.teamId);
  if (q.requestId) add("request_id = ", *q.requestId);
  if (q.startMs) add("start_time >= ", *q.startMs);
  if (q.endMs) add("start_time < ", *q.endMs);
  params.emplace_back(detail::clampSize(q.limit, 100000));
  const std::string sql = std::string("SELECT ") + kSpendColumns + " FROM llmux_spend_logs" +
                          where + " ORDER BY start_time DESC, request_id DESC LIMIT " +
                          detail::param(params.size());
  std::vector<SpendRow> out;
  Result r = db.exec(sql, params);
  if (!check(r, err)) return out;
  out.reserve(r.rows.size());
  for (const Row& row : r.rows) out.push_back(readSpend(row));
  return out;
}

int64_t countSpendRows(Db& db, RepoError& err) {
  Result r = db.exec("SELECT COUNT(*) FROM llmux_spend_logs");
  if (!check(r, err)) return -1;
  return r.rows.empty() ? 0 : r.rows[0].i64(0);
}

std::optional<std::vector<SpendReportLine>> spendReport(Db& db, const std::string& groupBy,
                                                        const std::string& startDay,
                                                        const std::string& endDay, RepoError& err) {
  static const std::map<std::string, std::string> kEntity = {
      {"api_key", "key"},       {"team", "team"},   {"user", "user"},
      {"customer", "end_user"}, {"model", "model"}, {"tag", "tag"}};
  auto it = kEntity.find(groupBy);
  if (it == kEntity.end()) {
    err.message = "invalid group_by: " + groupBy;
    return std::nullopt;
  }
  if (!validDay(startDay) || !validDay(endDay)) {
    err.message = "dates must be YYYY-MM-DD";
    return std::nullopt;
  }
  const Value p[] = {it->second, startDay, endDay};
  Result r = db.exec(
      "SELECT day, entity_id, model, SUM(spend), CAST(SUM(prompt_tokens) AS BIGINT), "
      "CAST(SUM(completion_tokens) AS BIGINT), CAST(SUM(api_requests) AS BIGINT) "
      "FROM llmux_daily_spend WHERE entity_type = $1 AND day >= $2 AND day <= $3 "
      "GROUP BY day, entity_id, model ORDER BY day, entity_id, model",
      p);
  if (!check(r, err)) return std::nullopt;
  std::vector<SpendReportLine> out;
  out.reserve(r.rows.size());
  for (const Row& row : r.rows) {
    SpendReportLine l;
    l.day = row.str(0);
    l.group = row.str(1);
    l.model = row.str(2);
    l.spend = row.f64(3);
    l.promptTokens = row.i64(4);
    l.completionTokens = row.i64(5);
    l.requests = row.i64(6);
    out.push_back(std::move(l));
  }
  return out;
}

}  // namespace llmux::store
