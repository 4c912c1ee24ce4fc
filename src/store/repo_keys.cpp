// Virtual keys (llmux_keys). Updates never write spend or model_spend: those belong to the spend
// writer, and a read-modify-write from the management API would undo spend added meanwhile.
#include <string>
#include <vector>

#include "store/repo.hpp"
#include "store/repo_internal.hpp"

namespace llmux::store {
namespace {

using detail::check;
using detail::flag;
using detail::opt;
using detail::writeResult;

// Column positions below follow this list.
const std::string& keyColumns() {
  static const std::string cols =
      "token, key_name, key_alias, user_id, team_id, budget_id, models, aliases, metadata, tags, "
      "allowed_routes, key_type, permissions, " +
      std::string(detail::kLimitColumns) +
      ", spend, model_spend, expires, blocked, created_by, updated_by, created_at, updated_at, "
      "last_active";
  return cols;
}
constexpr size_t kLimitsAt = 13;
constexpr size_t kSpendAt = kLimitsAt + detail::kLimitColumnCount;

const std::string& selectKeys() {
  static const std::string sql = "SELECT " + keyColumns() + " FROM llmux_keys";
  return sql;
}

std::vector<Value> keyValues(const KeyRow& k) {
  std::vector<Value> v;
  v.reserve(32);
  v.emplace_back(k.token);
  v.emplace_back(k.keyName);
  v.push_back(opt(k.keyAlias));
  v.push_back(opt(k.userId));
  v.push_back(opt(k.teamId));
  v.push_back(opt(k.budgetId));
  v.emplace_back(detail::toJsonList(k.models));
  v.emplace_back(k.aliases);
  v.emplace_back(k.metadata);
  v.emplace_back(detail::toJsonList(k.tags));
  v.emplace_back(detail::toJsonList(k.allowedRoutes));
  v.emplace_back(k.keyType);
  v.emplace_back(k.permissions);
  detail::pushLimits(v, k.limits);
  v.emplace_back(k.spend);
  v.emplace_back(k.modelSpend);
  v.push_back(opt(k.expires));
  v.push_back(flag(k.blocked));
  v.push_back(opt(k.createdBy));
  v.push_back(opt(k.updatedBy));
  v.emplace_back(k.createdAt);
  v.emplace_back(k.updatedAt);
  v.push_back(opt(k.lastActive));
  return v;
}

KeyRow readKey(const Row& r) {
  KeyRow k;
  k.token = r.str(0);
  k.keyName = r.str(1);
  k.keyAlias = r.optStr(2);
  k.userId = r.optStr(3);
  k.teamId = r.optStr(4);
  k.budgetId = r.optStr(5);
  k.models = detail::parseJsonList(r.str(6));
  k.aliases = detail::jsonOr(r, 7, "{}");
  k.metadata = detail::jsonOr(r, 8, "{}");
  k.tags = detail::parseJsonList(r.str(9));
  k.allowedRoutes = detail::parseJsonList(r.str(10));
  k.keyType = r.str(11);
  k.permissions = detail::jsonOr(r, 12, "{}");
  k.limits = detail::readLimits(r, kLimitsAt);
  k.spend = r.f64(kSpendAt);
  k.modelSpend = detail::jsonOr(r, kSpendAt + 1, "{}");
  k.expires = r.optI64(kSpendAt + 2);
  k.blocked = r.i64(kSpendAt + 3) != 0;
  k.createdBy = r.optStr(kSpendAt + 4);
  k.updatedBy = r.optStr(kSpendAt + 5);
  k.createdAt = r.i64(kSpendAt + 6);
  k.updatedAt = r.i64(kSpendAt + 7);
  k.lastActive = r.optI64(kSpendAt + 8);
  return k;
}

std::optional<KeyRow> findOne(Db& db, const std::string& where, const std::string& arg,
                              RepoError& err) {
  const Value p = arg;
  Result r = db.exec(selectKeys() + " WHERE " + where + " = $1", {&p, 1});
  if (!check(r, err) || r.rows.empty()) return std::nullopt;
  return readKey(r.rows[0]);
}

std::vector<KeyRow> keysWhere(Db& db, const char* column, const std::string& id, RepoError& err) {
  const Value p = id;
  Result r =
      db.exec(selectKeys() + " WHERE " + column + " = $1 ORDER BY created_at, token", {&p, 1});
  std::vector<KeyRow> out;
  if (!check(r, err)) return out;
  out.reserve(r.rows.size());
  for (const Row& row : r.rows) out.push_back(readKey(row));
  return out;
}

// The sortable columns of /key/list; anything else is refused, never spliced into SQL.
const char* sortColumn(const std::string& name) {
  static constexpr const char* kAllowed[] = {"spend",      "max_budget", "created_at",
                                             "updated_at", "token",      "key_alias"};
  for (const char* c : kAllowed) {
    if (name == c) return c;
  }
  return nullptr;
}

}  // namespace

std::optional<KeyRow> findKey(Db& db, const std::string& tokenHash, RepoError& err) {
  return findOne(db, "token", tokenHash, err);
}

std::optional<KeyRow> findKeyByAlias(Db& db, const std::string& alias, RepoError& err) {
  return findOne(db, "key_alias", alias, err);
}

WriteResult insertKey(Db& db, const KeyRow& k, RepoError& err) {
  static const std::string sql = detail::insertSql("llmux_keys", keyColumns());
  return writeResult(db.exec(sql, keyValues(k)), err);
}

WriteResult updateKey(Db& db, const KeyRow& k, RepoError& err) {
  static const detail::UpdateStatement st =
      detail::updateSql("llmux_keys", keyColumns(), "token", {"spend", "model_spend"});
  return writeResult(db.exec(st.sql, detail::pick(keyValues(k), st.params)), err);
}

WriteResult rekey(Db& db, const std::string& oldHash, const std::string& newHash,
                  const std::string& newKeyName, RepoError& err) {
  const Value p[] = {oldHash, newHash, newKeyName};
  return writeResult(db.exec("UPDATE llmux_keys SET token = $2, key_name = $3 WHERE token = $1", p),
                     err);
}

std::vector<std::string> deleteKeys(Db& db, std::span<const std::string> hashes, RepoError& err) {
  std::vector<std::string> deleted;
  detail::Tx tx(db);
  if (!tx.begin(err)) return deleted;
  for (const std::string& h : hashes) {
    const Value p = h;
    Result r = db.exec("DELETE FROM llmux_keys WHERE token = $1", {&p, 1});
    if (!check(r, err)) return {};
    if (r.affected > 0) deleted.push_back(h);
  }
  if (!tx.commit(err)) return {};
  return deleted;
}

std::optional<KeyPage> listKeys(Db& db, const KeyFilter& f, RepoError& err) {
  const char* sortCol = sortColumn(f.sortBy);
  if (sortCol == nullptr) {
    err.message = "invalid sort column: " + f.sortBy;
    return std::nullopt;
  }
  std::string where;
  std::vector<Value> params;
  auto add = [&](const char* column, const std::optional<std::string>& v) {
    if (!v) return;
    params.emplace_back(*v);
    where += (where.empty() ? " WHERE " : " AND ") + std::string(column) + " = " +
             detail::param(params.size());
  };
  add("user_id", f.userId);
  add("team_id", f.teamId);
  add("key_alias", f.keyAlias);
  add("token", f.keyHash);

  Result count = db.exec("SELECT COUNT(*) FROM llmux_keys" + where, params);
  if (!check(count, err)) return std::nullopt;
  KeyPage page;
  page.total = count.rows.empty() ? 0 : count.rows[0].i64(0);

  const int64_t size = detail::clampSize(f.size, 1000);
  const char* dir = f.descending ? " DESC" : " ASC";
  // NULLS LAST in both directions, so both backends order alike; token breaks ties.
  std::string sql = selectKeys() + where + " ORDER BY " + sortCol + dir + " NULLS LAST, token" +
                    dir + " LIMIT " + detail::param(params.size() + 1) + " OFFSET " +
                    detail::param(params.size() + 2);
  params.emplace_back(size);
  params.emplace_back(detail::offsetOf(f.page, size));
  Result r = db.exec(sql, params);
  if (!check(r, err)) return std::nullopt;
  page.keys.reserve(r.rows.size());
  for (const Row& row : r.rows) page.keys.push_back(readKey(row));
  return page;
}

std::vector<KeyRow> keysOfTeam(Db& db, const std::string& teamId, RepoError& err) {
  return keysWhere(db, "team_id", teamId, err);
}

std::vector<KeyRow> keysOfUser(Db& db, const std::string& userId, RepoError& err) {
  return keysWhere(db, "user_id", userId, err);
}

WriteResult setSpend(Db& db, SpendEntity entity, const std::string& id, double spend,
                     RepoError& err) {
  const char* sql = nullptr;
  switch (entity) {
    case SpendEntity::Key:
      sql = "UPDATE llmux_keys SET spend = $2, model_spend = '{}' WHERE token = $1";
      break;
    case SpendEntity::Team:
      sql = "UPDATE llmux_teams SET spend = $2, model_spend = '{}' WHERE team_id = $1";
      break;
    case SpendEntity::User:
      sql = "UPDATE llmux_users SET spend = $2, model_spend = '{}' WHERE user_id = $1";
      break;
    case SpendEntity::Customer:
      sql = "UPDATE llmux_customers SET spend = $2 WHERE user_id = $1";
      break;
  }
  const Value p[] = {id, spend};
  return writeResult(db.exec(sql, p), err);
}

}  // namespace llmux::store
