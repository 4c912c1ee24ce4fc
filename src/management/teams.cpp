// /team/new, /team/update, /team/delete, /team/info, /team/list, /team/block, /team/unblock.
#include <fmt/format.h>

#include <algorithm>
#include <tuple>

#include "management/fields.hpp"
#include "management/internal.hpp"

namespace llmux::management {
namespace {

// The team fields /team/new and /team/update share.
struct TeamPatch {
  Field<std::string> teamAlias, organizationId, metadata, modelAliases;
  Field<std::vector<std::string>> models, tags;
  Field<bool> blocked;
  LimitsPatch limits;
};

void readTeamPatch(Reader& r, TeamPatch& p) {
  p.teamAlias = r.string("team_alias");
  p.organizationId = r.string("organization_id");
  p.metadata = readObjectText(r, "metadata");
  p.modelAliases = readObjectText(r, "model_aliases");
  p.models = r.strings("models");
  p.tags = r.strings("tags");
  p.blocked = r.boolean("blocked");
  readLimits(r, p.limits);
}

void applyTeamPatch(const TeamPatch& p, store::TeamRow& t, int64_t nowMs) {
  if (p.teamAlias.present) t.teamAlias = p.teamAlias.value;
  if (p.organizationId.present) t.organizationId = p.organizationId.value;
  if (p.metadata.present) t.metadata = p.metadata.value.value_or("{}");
  if (p.modelAliases.present) t.modelAliases = p.modelAliases.value.value_or("{}");
  if (p.models.present) t.models = p.models.value.value_or(std::vector<std::string>{});
  if (p.tags.present) t.tags = p.tags.value.value_or(std::vector<std::string>{});
  if (p.blocked.present) t.blocked = p.blocked.value.value_or(false);
  applyLimits(p.limits, t.limits, nowMs);
}

Response teamNotFound(const std::string& id) {
  return notFound(fmt::format("Team not found, passed team_id={}", id), "team_id");
}

// team_info / team list entry: the row plus its memberships and keys.
std::optional<Response> teamDetails(const Env& e, const store::TeamRow& t, json::object& out) {
  store::RepoError err;
  const auto memberships = store::membershipsOfTeam(e.db(), t.teamId, err);
  if (!err.message.empty()) return dbFailure(err);
  const auto keys = store::keysOfTeam(e.db(), t.teamId, err);
  if (!err.message.empty()) return dbFailure(err);
  json::array ms;
  for (const auto& m : memberships) ms.emplace_back(membershipJson(m));
  json::array ks;
  for (const auto& k : keys) ks.emplace_back(keyJson(k, true));
  out["team_memberships"] = std::move(ms);
  out["keys"] = std::move(ks);
  return std::nullopt;
}

}  // namespace

Response teamNew(const Env& e) {
  json::object body;
  Response failure;
  if (!parseBody(e.req.body, body, failure)) return failure;
  Reader r(body);
  auto teamId = r.string("team_id");
  TeamPatch p;
  readTeamPatch(r, p);
  if (!r.ok()) return errorResponse(*r.error());
  std::vector<store::TeamMember> members;
  if (const auto* mv = r.raw("members_with_roles"); mv != nullptr && !mv->is_null()) {
    const auto* arr = mv->if_array();
    if (arr == nullptr) {
      return badRequest("Invalid value for 'members_with_roles': expected a list of members",
                        "members_with_roles");
    }
    for (const auto& v : *arr) {
      store::TeamMember m;
      if (auto bad = readMember(v, "members_with_roles", m)) return std::move(*bad);
      members.push_back(std::move(m));
    }
  }
  if (teamId.has() && teamId.value->empty())
    return badRequest("team_id must not be empty", "team_id");

  store::TeamRow t;
  t.teamId = teamId.has() ? *teamId.value : newUuid();
  if (t.teamId.empty()) return errorResponse(500, "internal_server_error", "No random source");
  store::RepoError err;
  if (teamId.has()) {
    auto existing = store::findTeam(e.db(), t.teamId, err);
    if (!err.message.empty()) return dbFailure(err);
    if (existing) {
      return badRequest(
          fmt::format("Team id = {} already exists. Please use a different team id.", t.teamId),
          "team_id");
    }
  }
  // The creating user administers the team (LiteLLM adds it as an admin member).
  if (e.caller.userId && std::none_of(members.begin(), members.end(),
                                      [&](const auto& m) { return m.userId == e.caller.userId; })) {
    members.push_back({e.caller.userId, std::nullopt, "admin"});
  }

  Transaction tx(e.db());
  if (!tx.started()) return dbFailure(tx.error());
  std::vector<std::string> created;
  if (auto bad = resolveMembers(e, members, created)) return std::move(*bad);
  // One entry per user (the first wins).
  std::vector<store::TeamMember> unique;
  for (auto& m : members) {
    if (std::none_of(unique.begin(), unique.end(),
                     [&](const auto& u) { return u.userId == m.userId; })) {
      unique.push_back(std::move(m));
    }
  }
  t.members = std::move(unique);
  applyTeamPatch(p, t, e.ctx.nowMs);
  t.createdAt = t.updatedAt = e.ctx.nowMs;
  t.createdBy = t.updatedBy = actorId(e.caller);
  switch (store::insertTeam(e.db(), t, err)) {
    case store::WriteResult::Ok:
      break;
    case store::WriteResult::Duplicate:
      return badRequest(
          fmt::format("Team id = {} already exists. Please use a different team id.", t.teamId),
          "team_id");
    default:
      return dbFailure(err);
  }
  if (auto bad = linkMembers(e, t.teamId, t.members, std::nullopt)) return std::move(*bad);
  if (!tx.commit()) return dbFailure(tx.error());
  Response out = okJson(teamJson(t));
  out.invalidate.teamIds.push_back(t.teamId);
  for (const auto& m : t.members) out.invalidate.userIds.push_back(*m.userId);
  return out;
}

Response teamUpdate(const Env& e) {
  json::object body;
  Response failure;
  if (!parseBody(e.req.body, body, failure)) return failure;
  Reader r(body);
  const auto teamId = r.string("team_id");
  TeamPatch p;
  readTeamPatch(r, p);
  if (!r.ok()) return errorResponse(*r.error());
  if (!teamId.has()) return badRequest("team_id is required", "team_id");
  store::RepoError err;
  auto t = store::findTeam(e.db(), *teamId.value, err);
  if (!err.message.empty()) return dbFailure(err);
  if (!t) return teamNotFound(*teamId.value);
  applyTeamPatch(p, *t, e.ctx.nowMs);
  t->updatedAt = e.ctx.nowMs;
  t->updatedBy = actorId(e.caller);
  const auto w = store::updateTeam(e.db(), *t, err);
  if (w == store::WriteResult::NotFound) return teamNotFound(t->teamId);
  if (w != store::WriteResult::Ok) return dbFailure(err);
  json::object o;
  o["team_id"] = t->teamId;
  o["data"] = teamJson(*t);
  Response out = okJson(o);
  out.invalidate.teamIds.push_back(t->teamId);
  return out;
}

Response teamDelete(const Env& e) {
  json::object body;
  Response failure;
  if (!parseBody(e.req.body, body, failure)) return failure;
  Reader r(body);
  const auto ids = r.strings("team_ids");
  if (!r.ok()) return errorResponse(*r.error());
  if (!ids.has() || ids.value->empty()) return badRequest("team_ids is required", "team_ids");

  store::RepoError err;
  std::vector<store::TeamRow> teams;
  Response out;
  for (const auto& id : *ids.value) {
    auto t = store::findTeam(e.db(), id, err);
    if (!err.message.empty()) return dbFailure(err);
    if (!t) return teamNotFound(id);
    for (const auto& k : store::keysOfTeam(e.db(), id, err))
      out.invalidate.keyHashes.push_back(k.token);
    if (!err.message.empty()) return dbFailure(err);
    teams.push_back(std::move(*t));
  }
  const int64_t keyCount = static_cast<int64_t>(out.invalidate.keyHashes.size());

  // deleteTeams also drops the teams' keys and memberships and the team ids from users' lists,
  // in one transaction of its own.
  for (const auto& t : teams) {
    for (const auto& m : t.members) {
      if (m.userId) out.invalidate.userIds.push_back(*m.userId);
    }
  }
  if (store::deleteTeams(e.db(), *ids.value, err) != store::WriteResult::Ok) return dbFailure(err);
  json::object o;
  o["deleted_teams"] = stringArray(*ids.value);
  o["deleted_keys"] = keyCount;
  out.body = writeJson(o);
  out.invalidate.teamIds = *ids.value;
  return out;
}

Response teamInfo(const Env& e) {
  const Query q(e.req.query);
  std::optional<std::string> id = q.get("team_id");
  if (!id) id = e.caller.teamId;
  if (!id) return badRequest("Malformed request. No team id passed in.", "team_id");
  store::RepoError err;
  auto t = store::findTeam(e.db(), *id, err);
  if (!err.message.empty()) return dbFailure(err);
  if (!t) return teamNotFound(*id);
  const bool allowed = canReadAll(e.caller) || e.caller.teamId == id ||
                       (e.caller.userId && isMember(*t, *e.caller.userId));
  if (!allowed) {
    return forbidden(
        fmt::format("User={} not authorized to access this team={}", callerName(e.caller), *id));
  }
  json::object o;
  o["team_id"] = t->teamId;
  json::object info = teamJson(*t);
  info["team_member_budget_table"] = nullptr;
  o["team_info"] = std::move(info);
  if (auto bad = teamDetails(e, *t, o)) return std::move(*bad);
  return okJson(o);
}

Response teamList(const Env& e) {
  const Query q(e.req.query);
  std::optional<std::string> userId = q.get("user_id");
  if (!canReadAll(e.caller)) {
    if (!e.caller.userId || (userId && *userId != *e.caller.userId)) {
      return forbidden(
          fmt::format("Only admin users can query all teams/other teams. Your user "
                      "role={}",
                      governance::roleName(e.caller.role)));
    }
    userId = e.caller.userId;
  }
  store::RepoError err;
  auto teams = store::listTeams(e.db(), userId, err);
  if (!err.message.empty()) return dbFailure(err);
  std::stable_sort(teams.begin(), teams.end(), [](const auto& a, const auto& b) {
    return std::tie(a.teamAlias, a.teamId) < std::tie(b.teamAlias, b.teamId);
  });
  json::array out;
  for (const auto& t : teams) {
    json::object o = teamJson(t);
    if (auto bad = teamDetails(e, t, o)) return std::move(*bad);
    out.emplace_back(std::move(o));
  }
  return okJson(out);
}

Response teamBlock(const Env& e, bool block) {
  json::object body;
  Response failure;
  if (!parseBody(e.req.body, body, failure)) return failure;
  Reader r(body);
  const auto teamId = r.string("team_id");
  if (!r.ok()) return errorResponse(*r.error());
  if (!teamId.has()) return badRequest("team_id is required", "team_id");
  store::RepoError err;
  auto t = store::findTeam(e.db(), *teamId.value, err);
  if (!err.message.empty()) return dbFailure(err);
  if (!t) return teamNotFound(*teamId.value);
  t->blocked = block;
  t->updatedAt = e.ctx.nowMs;
  t->updatedBy = actorId(e.caller);
  if (store::updateTeam(e.db(), *t, err) != store::WriteResult::Ok) return dbFailure(err);
  Response out = okJson(teamJson(*t));
  out.invalidate.teamIds.push_back(t->teamId);
  return out;
}

}  // namespace llmux::management
