#pragma once
// Reads and writes of the governance tables, written once in SQL both backends accept (see
// db.hpp). Every function runs on the store thread with the Db it is given; none throws. A
// failed statement returns false / nullopt with `error` set (Result::connectionLost tells an
// outage from a bad statement, see lastConnectionLost()).
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "store/db.hpp"
#include "store/records.hpp"

namespace llmux::store {

// Outcome of a write that can collide or miss.
enum class WriteResult { Ok, NotFound, Duplicate, Failed };

struct RepoError {
  std::string message;
  bool connectionLost = false;
};

// ---- keys
std::optional<KeyRow> findKey(Db& db, const std::string& tokenHash, RepoError& err);
std::optional<KeyRow> findKeyByAlias(Db& db, const std::string& alias, RepoError& err);
WriteResult insertKey(Db& db, const KeyRow& k, RepoError& err);
// Replaces every stored field of the key named by k.token (the row must exist), except spend and
// model_spend (see setSpend). update{Team,User,Customer} likewise.
WriteResult updateKey(Db& db, const KeyRow& k, RepoError& err);
// Moves a key to a new hash in place (regenerate): spend and limits stay.
WriteResult rekey(Db& db, const std::string& oldHash, const std::string& newHash,
                  const std::string& newKeyName, RepoError& err);
// Deletes keys by hash; returns the hashes actually deleted.
std::vector<std::string> deleteKeys(Db& db, std::span<const std::string> hashes, RepoError& err);

struct KeyFilter {
  std::optional<std::string> userId;
  std::optional<std::string> teamId;
  std::optional<std::string> keyAlias;
  std::optional<std::string> keyHash;
  std::string sortBy = "created_at";  // spend | max_budget | created_at | updated_at | token |
                                      // key_alias (validated by the caller)
  bool descending = true;
  int64_t page = 1;  // 1-based
  int64_t size = 10;
};
struct KeyPage {
  std::vector<KeyRow> keys;
  int64_t total = 0;
};
std::optional<KeyPage> listKeys(Db& db, const KeyFilter& f, RepoError& err);
std::vector<KeyRow> keysOfTeam(Db& db, const std::string& teamId, RepoError& err);
std::vector<KeyRow> keysOfUser(Db& db, const std::string& userId, RepoError& err);

// Sets the spend of one key, team, user or customer and clears its model_spend (the reset_spend
// routes). The update*() functions never write spend or model_spend, so a management update
// cannot undo spend the spend writer added since the row was read.
enum class SpendEntity { Key, Team, User, Customer };
WriteResult setSpend(Db& db, SpendEntity entity, const std::string& id, double spend,
                     RepoError& err);

// ---- teams and memberships
std::optional<TeamRow> findTeam(Db& db, const std::string& teamId, RepoError& err);
WriteResult insertTeam(Db& db, const TeamRow& t, RepoError& err);
WriteResult updateTeam(Db& db, const TeamRow& t, RepoError& err);
// Deletes the teams, their keys and memberships (and the team id from its users' teams lists).
WriteResult deleteTeams(Db& db, std::span<const std::string> teamIds, RepoError& err);
// All teams by team_alias, or those the user belongs to (a membership row or members_with_roles).
std::vector<TeamRow> listTeams(Db& db, const std::optional<std::string>& memberUserId,
                               RepoError& err);
std::vector<TeamMembership> membershipsOfTeam(Db& db, const std::string& teamId, RepoError& err);
std::optional<TeamMembership> findMembership(Db& db, const std::string& teamId,
                                             const std::string& userId, RepoError& err);
// Inserts the membership (with m.spend) or sets budget_id on an existing one (its spend stays).
WriteResult upsertMembership(Db& db, const TeamMembership& m, RepoError& err);
WriteResult deleteMembership(Db& db, const std::string& teamId, const std::string& userId,
                             RepoError& err);

// ---- users
std::optional<UserRow> findUser(Db& db, const std::string& userId, RepoError& err);
std::optional<UserRow> findUserByEmail(Db& db, const std::string& email, RepoError& err);
WriteResult insertUser(Db& db, const UserRow& u, RepoError& err);
WriteResult updateUser(Db& db, const UserRow& u, RepoError& err);
// Deletes the users, their keys and memberships (and drops them from the teams' members lists).
// NotFound (nothing deleted) when any id is missing; deleteTeams and deleteCustomers likewise.
WriteResult deleteUsers(Db& db, std::span<const std::string> userIds, RepoError& err);
struct UserFilter {
  std::optional<std::string> role;
  std::vector<std::string> userIds;
  std::optional<std::string> userEmail;
  std::optional<std::string> team;
  int64_t page = 1;
  int64_t pageSize = 25;
};
struct UserPage {
  std::vector<UserRow> users;
  std::vector<int64_t> keyCounts;  // parallel to users
  int64_t total = 0;
};
std::optional<UserPage> listUsers(Db& db, const UserFilter& f, RepoError& err);

// ---- customers (end users)
std::optional<CustomerRow> findCustomer(Db& db, const std::string& userId, RepoError& err);
WriteResult insertCustomer(Db& db, const CustomerRow& c, RepoError& err);
WriteResult updateCustomer(Db& db, const CustomerRow& c, RepoError& err);
WriteResult deleteCustomers(Db& db, std::span<const std::string> userIds, RepoError& err);
std::vector<CustomerRow> listCustomers(Db& db, RepoError& err);

// ---- budgets
std::optional<BudgetRow> findBudget(Db& db, const std::string& budgetId, RepoError& err);
WriteResult insertBudget(Db& db, const BudgetRow& b, RepoError& err);
WriteResult updateBudget(Db& db, const BudgetRow& b, RepoError& err);
// Also clears budget_id on the keys, memberships and customers that used the budget.
WriteResult deleteBudget(Db& db, const std::string& budgetId, RepoError& err);
std::vector<BudgetRow> listBudgets(Db& db, RepoError& err);

// ---- spend
// Writes a batch in one transaction: the spend-log rows (a request id already present is skipped,
// so a replayed spool cannot count twice), the spend (and model_spend) added to each row's key,
// team, team membership, user and customer, and the daily roll-ups (per key, team, user, end
// user, tag and model, per UTC day). All or nothing.
bool writeSpendRows(Db& db, SpendBatch rows, RepoError& err);
bool writeSpendBatch(Db& db, std::span<const SpendRow> rows, RepoError& err);  // same, by value

struct SpendQuery {
  std::optional<std::string> apiKey;  // hash
  std::optional<std::string> userId;
  std::optional<std::string> teamId;
  std::optional<std::string> requestId;
  std::optional<int64_t> startMs;  // inclusive
  std::optional<int64_t> endMs;    // exclusive
  int64_t limit = 1000;
};
std::vector<SpendRow> querySpend(Db& db, const SpendQuery& q, RepoError& err);
int64_t countSpendRows(Db& db, RepoError& err);

// One line of a spend report: spend and tokens per group (and per model within it), per day.
struct SpendReportLine {
  std::string day;    // YYYY-MM-DD (UTC)
  std::string group;  // key hash, team id, user id, end user, model or tag ("" = unassigned)
  std::string model;
  double spend = 0;
  int64_t promptTokens = 0;
  int64_t completionTokens = 0;
  int64_t requests = 0;
};
// group_by: "api_key" | "team" | "user" | "customer" | "model" | "tag"; from the daily roll-ups.
// Both days inclusive; lines ordered by day, group, model. nullopt (err set) for another group_by
// or a day not written YYYY-MM-DD. Untagged requests have no "tag" lines.
std::optional<std::vector<SpendReportLine>> spendReport(Db& db, const std::string& groupBy,
                                                        const std::string& startDay,
                                                        const std::string& endDay, RepoError& err);

// ---- budget resets
// Sets spend (and model_spend) to 0 on every key, team, user, membership budget and customer
// whose budget_reset_at <= nowMs, and moves budget_reset_at to the next reset computed by
// `nextReset(duration, nowMs)`. Returns the number of rows reset, -1 on failure (err set).
// A budget row that is due resets the memberships and customers linked to it, and the keys
// linked to it that have no budget_duration of their own; a due row without a duration gets
// budget_reset_at NULL. Only rows still due are touched, so concurrent instances reset once.
using NextResetFn = int64_t (*)(const std::string& budgetDuration, int64_t nowMs);
int64_t resetDueBudgets(Db& db, int64_t nowMs, NextResetFn nextReset, RepoError& err);

}  // namespace llmux::store
