// Team membership: /team/member_add, /team/member_delete and the member handling /team/new
// shares with them.
#include <fmt/format.h>

#include <algorithm>

#include "management/fields.hpp"
#include "management/internal.hpp"

namespace llmux::management {
namespace {

bool mayManageMembers(const Caller& c, const store::TeamRow& t) {
  return isAdmin(c) || (c.userId && isTeamAdmin(t, *c.userId));
}

Response notTeamAdmin(std::string_view route, const std::string& teamId) {
  return forbidden(
      fmt::format("Call not allowed. User not proxy admin OR team admin. route={}, "
                  "team_id={}",
                  route, teamId));
}

std::string memberList(const store::TeamRow& t) {
  std::string out = "[";
  for (const auto& m : t.members) {
    if (out.size() > 1) out += ", ";
    out += m.userId.value_or(m.userEmail.value_or("?"));
  }
  return out + "]";
}

}  // namespace

std::optional<Response> readMember(const json::value& v, std::string_view field,
                                   store::TeamMember& out) {
  const auto* obj = v.if_object();
  if (obj == nullptr) {
    return badRequest(fmt::format("Invalid value for '{}': each member must be an object like "
                                  "{{\"role\": \"user\", \"user_id\": \"...\"}}",
                                  field),
                      std::string(field));
  }
  Reader r(*obj);
  const auto role = r.string("role");
  const auto userId = r.string("user_id");
  const auto email = r.string("user_email");
  if (!r.ok()) {
    return badRequest(fmt::format("Invalid member in '{}': {}", field, r.error()->message),
                      std::string(field));
  }
  out.role = role.value.value_or("user");
  if (out.role != "admin" && out.role != "user") {
    return badRequest(
        fmt::format("Invalid member role '{}' in '{}': use admin or user", out.role, field),
        std::string(field));
  }
  out.userId = userId.has() && !userId.value->empty() ? userId.value : std::nullopt;
  out.userEmail = email.has() && !email.value->empty() ? email.value : std::nullopt;
  if (!out.userId && !out.userEmail) {
    return badRequest(fmt::format("Each member in '{}' needs a user_id or a user_email", field),
                      std::string(field));
  }
  return std::nullopt;
}

std::optional<Response> resolveMembers(const Env& e, std::vector<store::TeamMember>& members,
                                       std::vector<std::string>& created) {
  store::RepoError err;
  for (auto& m : members) {
    std::optional<store::UserRow> u;
    if (m.userId) {
      u = store::findUser(e.db(), *m.userId, err);
    } else {
      u = store::findUserByEmail(e.db(), *m.userEmail, err);
    }
    if (!err.message.empty()) return dbFailure(err);
    if (u) {
      m.userId = u->userId;
      if (!m.userEmail) m.userEmail = u->userEmail;
      continue;
    }
    store::UserRow nu;
    nu.userId = m.userId ? *m.userId : newUuid();
    if (nu.userId.empty()) return errorResponse(500, "internal_server_error", "No random source");
    nu.userEmail = m.userEmail;
    nu.createdAt = nu.updatedAt = e.ctx.nowMs;
    const auto w = store::insertUser(e.db(), nu, err);
    if (w != store::WriteResult::Ok) {
      if (w == store::WriteResult::Duplicate) {
        return badRequest(fmt::format("User {} already exists", nu.userId), "user_id");
      }
      return dbFailure(err);
    }
    m.userId = nu.userId;
    created.push_back(nu.userId);
  }
  return std::nullopt;
}

std::optional<Response> linkMembers(const Env& e, const std::string& teamId,
                                    const std::vector<store::TeamMember>& members,
                                    const std::optional<std::string>& budgetId) {
  store::RepoError err;
  for (const auto& m : members) {
    if (!m.userId) continue;
    auto u = store::findUser(e.db(), *m.userId, err);
    if (!err.message.empty()) return dbFailure(err);
    if (u && std::find(u->teams.begin(), u->teams.end(), teamId) == u->teams.end()) {
      u->teams.push_back(teamId);
      u->updatedAt = e.ctx.nowMs;
      if (store::updateUser(e.db(), *u, err) != store::WriteResult::Ok) return dbFailure(err);
    }
    store::TeamMembership ms;
    ms.teamId = teamId;
    ms.userId = *m.userId;
    ms.budgetId = budgetId;
    if (store::upsertMembership(e.db(), ms, err) != store::WriteResult::Ok) return dbFailure(err);
  }
  return std::nullopt;
}

Response teamMemberAdd(const Env& e) {
  json::object body;
  Response failure;
  if (!parseBody(e.req.body, body, failure)) return failure;
  Reader r(body);
  const auto teamId = r.string("team_id");
  Field<double> budget = r.number("max_budget_in_team");
  (void)checkMoney(r, "max_budget_in_team", budget);
  if (!r.ok()) return errorResponse(*r.error());
  if (!teamId.has()) return badRequest("team_id is required", "team_id");

  std::vector<store::TeamMember> added;
  const json::value* member = r.raw("member");
  if (member == nullptr || member->is_null()) return badRequest("member is required", "member");
  if (const auto* arr = member->if_array()) {
    for (const auto& v : *arr) {
      store::TeamMember m;
      if (auto bad = readMember(v, "member", m)) return std::move(*bad);
      added.push_back(std::move(m));
    }
    if (added.empty()) return badRequest("member must not be empty", "member");
  } else {
    store::TeamMember m;
    if (auto bad = readMember(*member, "member", m)) return std::move(*bad);
    added.push_back(std::move(m));
  }

  store::RepoError err;
  auto team = store::findTeam(e.db(), *teamId.value, err);
  if (!err.message.empty()) return dbFailure(err);
  if (!team)
    return notFound(fmt::format("Team not found, passed team_id={}", *teamId.value), "team_id");
  if (!mayManageMembers(e.caller, *team)) return notTeamAdmin(e.route, team->teamId);

  Transaction tx(e.db());
  if (!tx.started()) return dbFailure(tx.error());
  std::vector<std::string> created;
  if (auto bad = resolveMembers(e, added, created)) return std::move(*bad);
  for (size_t i = 0; i < added.size(); ++i) {
    const bool dupInCall = std::any_of(added.begin(), added.begin() + static_cast<long>(i),
                                       [&](const auto& o) { return o.userId == added[i].userId; });
    if (dupInCall || isMember(*team, *added[i].userId)) {
      return errorResponse(400, "team_member_already_in_team",
                           fmt::format("User={} already in team. Existing members={}",
                                       *added[i].userId, memberList(*team)),
                           "member");
    }
  }
  std::optional<std::string> budgetId;
  if (budget.has()) {
    store::BudgetRow b;
    b.budgetId = newUuid();
    b.limits.maxBudget = budget.value;
    b.createdAt = b.updatedAt = e.ctx.nowMs;
    b.createdBy = b.updatedBy = actorId(e.caller);
    if (b.budgetId.empty() || store::insertBudget(e.db(), b, err) != store::WriteResult::Ok) {
      return dbFailure(err);
    }
    budgetId = b.budgetId;
  }
  for (const auto& m : added) team->members.push_back(m);
  team->updatedAt = e.ctx.nowMs;
  team->updatedBy = actorId(e.caller);
  if (store::updateTeam(e.db(), *team, err) != store::WriteResult::Ok) return dbFailure(err);
  if (auto bad = linkMembers(e, team->teamId, added, budgetId)) return std::move(*bad);
  if (!tx.commit()) return dbFailure(tx.error());

  json::object o = teamJson(*team);
  json::array users;
  json::array memberships;
  Response out;
  for (const auto& m : added) {
    if (auto u = store::findUser(e.db(), *m.userId, err)) users.emplace_back(userJson(*u));
    if (auto ms = store::findMembership(e.db(), team->teamId, *m.userId, err)) {
      memberships.emplace_back(membershipJson(*ms));
    }
    out.invalidate.userIds.push_back(*m.userId);
  }
  o["updated_users"] = std::move(users);
  o["updated_team_memberships"] = std::move(memberships);
  out.body = writeJson(o);
  out.invalidate.teamIds.push_back(team->teamId);
  return out;
}

Response teamMemberDelete(const Env& e) {
  json::object body;
  Response failure;
  if (!parseBody(e.req.body, body, failure)) return failure;
  Reader r(body);
  const auto teamId = r.string("team_id");
  auto userId = r.string("user_id");
  const auto email = r.string("user_email");
  if (!r.ok()) return errorResponse(*r.error());
  if (!teamId.has()) return badRequest("team_id is required", "team_id");
  if (!userId.has() && !email.has()) return badRequest("Pass user_id or user_email", "user_id");

  store::RepoError err;
  auto team = store::findTeam(e.db(), *teamId.value, err);
  if (!err.message.empty()) return dbFailure(err);
  if (!team)
    return notFound(fmt::format("Team not found, passed team_id={}", *teamId.value), "team_id");
  if (!mayManageMembers(e.caller, *team)) return notTeamAdmin(e.route, team->teamId);

  const auto it = std::find_if(team->members.begin(), team->members.end(), [&](const auto& m) {
    return (userId.has() && m.userId == userId.value) ||
           (!userId.has() && email.has() && m.userEmail == email.value);
  });
  if (it == team->members.end()) return badRequest("User not found in team", "user_id");
  const std::optional<std::string> removed = it->userId;
  team->members.erase(it);
  team->updatedAt = e.ctx.nowMs;
  team->updatedBy = actorId(e.caller);

  Transaction tx(e.db());
  if (!tx.started()) return dbFailure(tx.error());
  if (store::updateTeam(e.db(), *team, err) != store::WriteResult::Ok) return dbFailure(err);
  if (removed) {
    const auto w = store::deleteMembership(e.db(), team->teamId, *removed, err);
    if (w != store::WriteResult::Ok && w != store::WriteResult::NotFound) return dbFailure(err);
    auto u = store::findUser(e.db(), *removed, err);
    if (!err.message.empty()) return dbFailure(err);
    if (u) {
      std::erase(u->teams, team->teamId);
      u->updatedAt = e.ctx.nowMs;
      if (store::updateUser(e.db(), *u, err) != store::WriteResult::Ok) return dbFailure(err);
    }
  }
  if (!tx.commit()) return dbFailure(tx.error());
  Response out = okJson(teamJson(*team));
  out.invalidate.teamIds.push_back(team->teamId);
  if (removed) out.invalidate.userIds.push_back(*removed);
  return out;
}

}  // namespace llmux::management
