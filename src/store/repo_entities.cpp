// Teams, team memberships, users, customers (end users) and budgets.
#include <algorithm>
#include <set>
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

// Runs a SELECT and maps every row; empty with `err` set on failure.
template <typename Read>
auto selectRows(Db& db, const std::string& sql, std::span<const Value> params, Read read,
                RepoError& err) {
  std::vector<decltype(read(Row{}))> out;
  Result r = db.exec(sql, params);
  if (!check(r, err)) return out;
  out.reserve(r.rows.size());
  for (const Row& row : r.rows) out.push_back(read(row));
  return out;
}

template <typename Read>
auto selectOne(Db& db, const std::string& sql, const std::string& id, Read read, RepoError& err)
    -> std::optional<decltype(read(Row{}))> {
  const Value p = id;
  auto rows = selectRows(db, sql, {&p, 1}, read, err);
  if (rows.empty()) return std::nullopt;
  return std::move(rows[0]);
}

// Runs `one` for each id inside one transaction; NotFound (and nothing kept) if any id is missing.
template <typename One>
WriteResult forEachAll(Db& db, std::span<const std::string> ids, One one, RepoError& err) {
  detail::Tx tx(db);
  if (!tx.begin(err)) return WriteResult::Failed;
  for (const std::string& id : ids) {
    WriteResult w = one(id);
    if (w != WriteResult::Ok) return w;
  }
  return tx.commit(err) ? WriteResult::Ok : WriteResult::Failed;
}

// ---- teams
const std::string& teamColumns() {
  static const std::string cols =
      "team_id, team_alias, organization_id, members_with_roles, models, model_aliases, "
      "metadata, tags, " +
      std::string(detail::kLimitColumns) +
      ", spend, model_spend, blocked, created_by, updated_by, created_at, updated_at";
  return cols;
}
constexpr size_t kTeamLimitsAt = 8;
constexpr size_t kTeamSpendAt = kTeamLimitsAt + detail::kLimitColumnCount;

std::vector<Value> teamValues(const TeamRow& t) {
  std::vector<Value> v;
  v.emplace_back(t.teamId);
  v.push_back(opt(t.teamAlias));
  v.push_back(opt(t.organizationId));
  v.emplace_back(detail::membersToJson(t.members));
  v.emplace_back(detail::toJsonList(t.models));
  v.emplace_back(t.modelAliases);
  v.emplace_back(t.metadata);
  v.emplace_back(detail::toJsonList(t.tags));
  detail::pushLimits(v, t.limits);
  v.emplace_back(t.spend);
  v.emplace_back(t.modelSpend);
  v.push_back(flag(t.blocked));
  v.push_back(opt(t.createdBy));
  v.push_back(opt(t.updatedBy));
  v.emplace_back(t.createdAt);
  v.emplace_back(t.updatedAt);
  return v;
}

TeamRow readTeam(const Row& r) {
  TeamRow t;
  t.teamId = r.str(0);
  t.teamAlias = r.optStr(1);
  t.organizationId = r.optStr(2);
  t.members = detail::parseMembers(r.str(3));
  t.models = detail::parseJsonList(r.str(4));
  t.modelAliases = detail::jsonOr(r, 5, "{}");
  t.metadata = detail::jsonOr(r, 6, "{}");
  t.tags = detail::parseJsonList(r.str(7));
  t.limits = detail::readLimits(r, kTeamLimitsAt);
  t.spend = r.f64(kTeamSpendAt);
  t.modelSpend = detail::jsonOr(r, kTeamSpendAt + 1, "{}");
  t.blocked = r.i64(kTeamSpendAt + 2) != 0;
  t.createdBy = r.optStr(kTeamSpendAt + 3);
  t.updatedBy = r.optStr(kTeamSpendAt + 4);
  t.createdAt = r.i64(kTeamSpendAt + 5);
  t.updatedAt = r.i64(kTeamSpendAt + 6);
  return t;
}

const std::string& selectTeams() {
  static const std::string sql = "SELECT " + teamColumns() + " FROM llmux_teams";
  return sql;
}

TeamMembership readMembership(const Row& r) {
  TeamMembership m;
  m.teamId = r.str(0);
  m.userId = r.str(1);
  m.spend = r.f64(2);
  m.budgetId = r.optStr(3);
  return m;
}

// Removes `teamId` from a user's teams list (read-modify-write inside the caller's transaction).
bool dropTeamFromUser(Db& db, const std::string& userId, const std::string& teamId,
                      RepoError& err) {
  const Value id = userId;
  Result r = db.exec("SELECT teams FROM llmux_users WHERE user_id = $1", {&id, 1});
  if (!check(r, err)) return false;
  if (r.rows.empty()) return true;
  auto teams = detail::parseJsonList(r.rows[0].str(0));
  auto end = std::remove(teams.begin(), teams.end(), teamId);
  if (end == teams.end()) return true;
  teams.erase(end, teams.end());
  const Value p[] = {userId, detail::toJsonList(teams)};
  return check(db.exec("UPDATE llmux_users SET teams = $2 WHERE user_id = $1", p), err);
}

// Removes a user from a team's members_with_roles.
bool dropUserFromTeam(Db& db, const std::string& teamId, const std::string& userId,
                      RepoError& err) {
  const Value id = teamId;
  Result r = db.exec("SELECT members_with_roles FROM llmux_teams WHERE team_id = $1", {&id, 1});
  if (!check(r, err)) return false;
  if (r.rows.empty()) return true;
  auto members = detail::parseMembers(r.rows[0].str(0));
  auto end = std::remove_if(members.begin(), members.end(),
                            [&](const TeamMember& m) { return m.userId == userId; });
  if (end == members.end()) return true;
  members.erase(end, members.end());
  const Value p[] = {teamId, detail::membersToJson(members)};
  return check(db.exec("UPDATE llmux_teams SET members_with_roles = $2 WHERE team_id = $1", p),
               err);
}

// ---- users
const std::string& userColumns() {
  static const std::string cols =
      "user_id, user_email, user_alias, user_role, teams, models, metadata, " +
      std::string(detail::kLimitColumns) + ", spend, model_spend, created_at, updated_at";
  return cols;
}
constexpr size_t kUserLimitsAt = 7;
constexpr size_t kUserSpendAt = kUserLimitsAt + detail::kLimitColumnCount;
constexpr size_t kUserColumnCount = kUserSpendAt + 4;

std::vector<Value> userValues(const UserRow& u) {
  std::vector<Value> v;
  v.emplace_back(u.userId);
  v.push_back(opt(u.userEmail));
  v.push_back(opt(u.userAlias));
  v.emplace_back(u.userRole);
  v.emplace_back(detail::toJsonList(u.teams));
  v.emplace_back(detail::toJsonList(u.models));
  v.emplace_back(u.metadata);
  detail::pushLimits(v, u.limits);
  v.emplace_back(u.spend);
  v.emplace_back(u.modelSpend);
  v.emplace_back(u.createdAt);
  v.emplace_back(u.updatedAt);
  return v;
}

UserRow readUser(const Row& r) {
  UserRow u;
  u.userId = r.str(0);
  u.userEmail = r.optStr(1);
  u.userAlias = r.optStr(2);
  u.userRole = r.str(3);
  u.teams = detail::parseJsonList(r.str(4));
  u.models = detail::parseJsonList(r.str(5));
  u.metadata = detail::jsonOr(r, 6, "{}");
  u.limits = detail::readLimits(r, kUserLimitsAt);
  u.spend = r.f64(kUserSpendAt);
  u.modelSpend = detail::jsonOr(r, kUserSpendAt + 1, "{}");
  u.createdAt = r.i64(kUserSpendAt + 2);
  u.updatedAt = r.i64(kUserSpendAt + 3);
  return u;
}

const std::string& selectUsers() {
  static const std::string sql = "SELECT " + userColumns() + " FROM llmux_users";
  return sql;
}

// LIKE pattern matching `s` anywhere, with LIKE's own wildcards escaped (ESCAPE '\').
std::string containsPattern(const std::string& s) {
  std::string p = "%";
  for (char c : s) {
    if (c == '%' || c == '_' || c == '\\') p += '\\';
    p += c;
  }
  return p + "%";
}

// ---- customers
constexpr const char* kCustomerColumns =
    "user_id, alias, budget_id, allowed_model_region, default_model, spend, blocked, "
    "created_at, updated_at";

std::vector<Value> customerValues(const CustomerRow& c) {
  return {c.userId,
          opt(c.alias),
          opt(c.budgetId),
          opt(c.allowedModelRegion),
          opt(c.defaultModel),
          c.spend,
          flag(c.blocked),
          c.createdAt,
          c.updatedAt};
}

CustomerRow readCustomer(const Row& r) {
  CustomerRow c;
  c.userId = r.str(0);
  c.alias = r.optStr(1);
  c.budgetId = r.optStr(2);
  c.allowedModelRegion = r.optStr(3);
  c.defaultModel = r.optStr(4);
  c.spend = r.f64(5);
  c.blocked = r.i64(6) != 0;
  c.createdAt = r.i64(7);
  c.updatedAt = r.i64(8);
  return c;
}

// ---- budgets
const std::string& budgetColumns() {
  static const std::string cols = "budget_id, " + std::string(detail::kLimitColumns) +
                                  ", created_by, updated_by, created_at, updated_at";
  return cols;
}

std::vector<Value> budgetValues(const BudgetRow& b) {
  std::vector<Value> v;
  v.emplace_back(b.budgetId);
  detail::pushLimits(v, b.limits);
  v.push_back(opt(b.createdBy));
  v.push_back(opt(b.updatedBy));
  v.emplace_back(b.createdAt);
  v.emplace_back(b.updatedAt);
  return v;
}

BudgetRow readBudget(const Row& r) {
  BudgetRow b;
  b.budgetId = r.str(0);
  b.limits = detail::readLimits(r, 1);
  constexpr size_t kAt = 1 + detail::kLimitColumnCount;
  b.createdBy = r.optStr(kAt);
  b.updatedBy = r.optStr(kAt + 1);
  b.createdAt = r.i64(kAt + 2);
  b.updatedAt = r.i64(kAt + 3);
  return b;
}

}  // namespace

// ---- teams and memberships

std::optional<TeamRow> findTeam(Db& db, const std::string& teamId, RepoError& err) {
  return selectOne(db, selectTeams() + " WHERE team_id = $1", teamId, readTeam, err);
}

WriteResult insertTeam(Db& db, const TeamRow& t, RepoError& err) {
  static const std::string sql = detail::insertSql("llmux_teams", teamColumns());
  return writeResult(db.exec(sql, teamValues(t)), err);
}

WriteResult updateTeam(Db& db, const TeamRow& t, RepoError& err) {
  static const detail::UpdateStatement st =
      detail::updateSql("llmux_teams", teamColumns(), "team_id", {"spend", "model_spend"});
  return writeResult(db.exec(st.sql, detail::pick(teamValues(t), st.params)), err);
}

WriteResult deleteTeams(Db& db, std::span<const std::string> teamIds, RepoError& err) {
  return forEachAll(
      db, teamIds,
      [&](const std::string& teamId) {
        const Value id = teamId;
        Result r = db.exec(
            "DELETE FROM llmux_teams WHERE team_id = $1 RETURNING members_with_roles", {&id, 1});
        if (!check(r, err)) return WriteResult::Failed;
        if (r.rows.empty()) return WriteResult::NotFound;
        std::set<std::string> users;
        for (const TeamMember& m : detail::parseMembers(r.rows[0].str(0))) {
          if (m.userId) users.insert(*m.userId);
        }
        r = db.exec("DELETE FROM llmux_team_memberships WHERE team_id = $1 RETURNING user_id",
                    {&id, 1});
        if (!check(r, err)) return WriteResult::Failed;
        for (const Row& row : r.rows) users.insert(row.str(0));
        if (!check(db.exec("DELETE FROM llmux_keys WHERE team_id = $1", {&id, 1}), err)) {
          return WriteResult::Failed;
        }
        for (const std::string& u : users) {
          if (!dropTeamFromUser(db, u, teamId, err)) return WriteResult::Failed;
        }
        return WriteResult::Ok;
      },
      err);
}

std::vector<TeamRow> listTeams(Db& db, const std::optional<std::string>& memberUserId,
                               RepoError& err) {
  auto teams =
      selectRows(db, selectTeams() + " ORDER BY team_alias NULLS LAST, team_id", {}, readTeam, err);
  if (!memberUserId || !err.message.empty()) return teams;
  const Value uid = *memberUserId;
  Result r = db.exec("SELECT team_id FROM llmux_team_memberships WHERE user_id = $1", {&uid, 1});
  if (!check(r, err)) return {};
  std::set<std::string> viaMembership;
  for (const Row& row : r.rows) viaMembership.insert(row.str(0));
  std::erase_if(teams, [&](const TeamRow& t) {
    if (viaMembership.count(t.teamId) > 0) return false;
    return std::none_of(t.members.begin(), t.members.end(),
                        [&](const TeamMember& m) { return m.userId == *memberUserId; });
  });
  return teams;
}

std::vector<TeamMembership> membershipsOfTeam(Db& db, const std::string& teamId, RepoError& err) {
  const Value p = teamId;
  return selectRows(db,
                    "SELECT team_id, user_id, spend, budget_id FROM llmux_team_memberships "
                    "WHERE team_id = $1 ORDER BY user_id",
                    {&p, 1}, readMembership, err);
}

std::optional<TeamMembership> findMembership(Db& db, const std::string& teamId,
                                             const std::string& userId, RepoError& err) {
  const Value p[] = {teamId, userId};
  auto rows = selectRows(db,
                         "SELECT team_id, user_id, spend, budget_id FROM llmux_team_memberships "
                         "WHERE team_id = $1 AND user_id = $2",
                         p, readMembership, err);
  if (rows.empty()) return std::nullopt;
  return rows[0];
}

WriteResult upsertMembership(Db& db, const TeamMembership& m, RepoError& err) {
  const Value p[] = {m.teamId, m.userId, m.spend, opt(m.budgetId)};
  return writeResult(
      db.exec("INSERT INTO llmux_team_memberships (team_id, user_id, spend, budget_id) "
              "VALUES ($1, $2, $3, $4) ON CONFLICT (team_id, user_id) "
              "DO UPDATE SET budget_id = excluded.budget_id",
              p),
      err);
}

WriteResult deleteMembership(Db& db, const std::string& teamId, const std::string& userId,
                             RepoError& err) {
  const Value p[] = {teamId, userId};
  return writeResult(
      db.exec("DELETE FROM llmux_team_memberships WHERE team_id = $1 AND user_id = $2", p), err);
}

// ---- users

std::optional<UserRow> findUser(Db& db, const std::string& userId, RepoError& err) {
  return selectOne(db, selectUsers() + " WHERE user_id = $1", userId, readUser, err);
}

std::optional<UserRow> findUserByEmail(Db& db, const std::string& email, RepoError& err) {
  return selectOne(db, selectUsers() + " WHERE lower(user_email) = lower($1)", email, readUser,
                   err);
}

WriteResult insertUser(Db& db, const UserRow& u, RepoError& err) {
  static const std::string sql = detail::insertSql("llmux_users", userColumns());
  return writeResult(db.exec(sql, userValues(u)), err);
}

WriteResult updateUser(Db& db, const UserRow& u, RepoError& err) {
  static const detail::UpdateStatement st =
      detail::updateSql("llmux_users", userColumns(), "user_id", {"spend", "model_spend"});
  return writeResult(db.exec(st.sql, detail::pick(userValues(u), st.params)), err);
}

WriteResult deleteUsers(Db& db, std::span<const std::string> userIds, RepoError& err) {
  return forEachAll(
      db, userIds,
      [&](const std::string& userId) {
        const Value id = userId;
        Result r = db.exec("DELETE FROM llmux_users WHERE user_id = $1 RETURNING teams", {&id, 1});
        if (!check(r, err)) return WriteResult::Failed;
        if (r.rows.empty()) return WriteResult::NotFound;
        std::set<std::string> teams;
        for (auto& t : detail::parseJsonList(r.rows[0].str(0))) teams.insert(std::move(t));
        r = db.exec("DELETE FROM llmux_team_memberships WHERE user_id = $1 RETURNING team_id",
                    {&id, 1});
        if (!check(r, err)) return WriteResult::Failed;
        for (const Row& row : r.rows) teams.insert(row.str(0));
        if (!check(db.exec("DELETE FROM llmux_keys WHERE user_id = $1", {&id, 1}), err)) {
          return WriteResult::Failed;
        }
        for (const std::string& t : teams) {
          if (!dropUserFromTeam(db, t, userId, err)) return WriteResult::Failed;
        }
        return WriteResult::Ok;
      },
      err);
}

std::optional<UserPage> listUsers(Db& db, const UserFilter& f, RepoError& err) {
  std::string where;
  std::vector<Value> params;
  auto clause = [&](const std::string& c) { where += (where.empty() ? " WHERE " : " AND ") + c; };
  if (f.role) {
    params.emplace_back(*f.role);
    clause("user_role = " + detail::param(params.size()));
  }
  if (!f.userIds.empty()) {
    std::string in;
    for (const std::string& id : f.userIds) {
      params.emplace_back(id);
      in += (in.empty() ? "" : ", ") + detail::param(params.size());
    }
    clause("user_id IN (" + in + ")");
  }
  if (f.userEmail) {
    params.emplace_back(containsPattern(*f.userEmail));
    clause("lower(user_email) LIKE lower(" + detail::param(params.size()) + ") ESCAPE '\\'");
  }
  if (f.team) {
    params.emplace_back(*f.team);
    const std::string p = detail::param(params.size());
    // A member through a membership row or through the user's own teams list (JSON).
    const std::string inList = db.dialect() == Dialect::Postgres
                                   ? "(teams::jsonb ? " + p + ")"
                                   : "EXISTS (SELECT 1 FROM json_each(llmux_users.teams) "
                                     "WHERE json_each.value = " +
                                         p + ")";
    clause("(user_id IN (SELECT user_id FROM llmux_team_memberships WHERE team_id = " + p +
           ") OR " + inList + ")");
  }
  Result count = db.exec("SELECT COUNT(*) FROM llmux_users" + where, params);
  if (!check(count, err)) return std::nullopt;
  UserPage page;
  page.total = count.rows.empty() ? 0 : count.rows[0].i64(0);

  const int64_t size = detail::clampSize(f.pageSize, 1000);
  const std::string sql =
      "SELECT " + userColumns() +
      ", (SELECT COUNT(*) FROM llmux_keys WHERE llmux_keys.user_id = llmux_users.user_id)"
      " FROM llmux_users" +
      where + " ORDER BY created_at, user_id LIMIT " + detail::param(params.size() + 1) +
      " OFFSET " + detail::param(params.size() + 2);
  params.emplace_back(size);
  params.emplace_back(detail::offsetOf(f.page, size));
  Result r = db.exec(sql, params);
  if (!check(r, err)) return std::nullopt;
  for (const Row& row : r.rows) {
    page.users.push_back(readUser(row));
    page.keyCounts.push_back(row.i64(kUserColumnCount));
  }
  return page;
}

// ---- customers

std::optional<CustomerRow> findCustomer(Db& db, const std::string& userId, RepoError& err) {
  static const std::string sql =
      std::string("SELECT ") + kCustomerColumns + " FROM llmux_customers WHERE user_id = $1";
  return selectOne(db, sql, userId, readCustomer, err);
}

WriteResult insertCustomer(Db& db, const CustomerRow& c, RepoError& err) {
  static const std::string sql = detail::insertSql("llmux_customers", kCustomerColumns);
  return writeResult(db.exec(sql, customerValues(c)), err);
}

WriteResult updateCustomer(Db& db, const CustomerRow& c, RepoError& err) {
  static const detail::UpdateStatement st =
      detail::updateSql("llmux_customers", kCustomerColumns, "user_id", {"spend"});
  return writeResult(db.exec(st.sql, detail::pick(customerValues(c), st.params)), err);
}

WriteResult deleteCustomers(Db& db, std::span<const std::string> userIds, RepoError& err) {
  return forEachAll(
      db, userIds,
      [&](const std::string& userId) {
        const Value id = userId;
        return writeResult(db.exec("DELETE FROM llmux_customers WHERE user_id = $1", {&id, 1}),
                           err);
      },
      err);
}

std::vector<CustomerRow> listCustomers(Db& db, RepoError& err) {
  static const std::string sql = std::string("SELECT ") + kCustomerColumns +
                                 " FROM llmux_customers ORDER BY created_at, user_id";
  return selectRows(db, sql, {}, readCustomer, err);
}

// ---- budgets

std::optional<BudgetRow> findBudget(Db& db, const std::string& budgetId, RepoError& err) {
  static const std::string sql =
      "SELECT " + budgetColumns() + " FROM llmux_budgets WHERE budget_id = $1";
  return selectOne(db, sql, budgetId, readBudget, err);
}

WriteResult insertBudget(Db& db, const BudgetRow& b, RepoError& err) {
  static const std::string sql = detail::insertSql("llmux_budgets", budgetColumns());
  return writeResult(db.exec(sql, budgetValues(b)), err);
}

WriteResult updateBudget(Db& db, const BudgetRow& b, RepoError& err) {
  static const detail::UpdateStatement st =
      detail::updateSql("llmux_budgets", budgetColumns(), "budget_id", {});
  return writeResult(db.exec(st.sql, detail::pick(budgetValues(b), st.params)), err);
}

WriteResult deleteBudget(Db& db, const std::string& budgetId, RepoError& err) {
  const std::string ids[] = {budgetId};
  return forEachAll(
      db, ids,
      [&](const std::string& id) {
        const Value p = id;
        WriteResult w =
            writeResult(db.exec("DELETE FROM llmux_budgets WHERE budget_id = $1", {&p, 1}), err);
        if (w != WriteResult::Ok) return w;
        for (const char* sql :
             {"UPDATE llmux_keys SET budget_id = NULL WHERE budget_id = $1",
              "UPDATE llmux_team_memberships SET budget_id = NULL WHERE budget_id = $1",
              "UPDATE llmux_customers SET budget_id = NULL WHERE budget_id = $1"}) {
          if (!check(db.exec(sql, {&p, 1}), err)) return WriteResult::Failed;
        }
        return WriteResult::Ok;
      },
      err);
}

std::vector<BudgetRow> listBudgets(Db& db, RepoError& err) {
  static const std::string sql =
      "SELECT " + budgetColumns() + " FROM llmux_budgets ORDER BY created_at, budget_id";
  return selectRows(db, sql, {}, readBudget, err);
}

}  // namespace llmux::store
