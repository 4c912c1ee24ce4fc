// /user/new (the user and, unless auto_create_key=false, a key), /user/update, /user/delete,
// /user/info, /user/list.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "governance/keys.hpp"
#include "management/fields.hpp"
#include "management/internal.hpp"

namespace llmux::management {
namespace {

bool validRole(std::string_view r) {
  return r == "proxy_admin" || r == "proxy_admin_viewer" || r == "internal_user" ||
         r == "internal_user_viewer";
}

std::optional<Response> checkRole(const Field<std::string>& role) {
  if (role.has() && !validRole(*role.value)) {
    return badRequest(fmt::format("Invalid user_role '{}'. Use one of: proxy_admin, "
                                  "proxy_admin_viewer, internal_user, internal_user_viewer",
                                  *role.value),
                      "user_role");
  }
  return std::nullopt;
}

// The user fields /user/new and /user/update share.
struct UserPatch {
  Field<std::string> userEmail, userAlias, userRole, metadata;
  Field<std::vector<std::string>> models;
  Field<double> spend;
  LimitsPatch limits;
};

void readUserPatch(Reader& r, UserPatch& p) {
  p.userEmail = r.string("user_email");
  p.userAlias = r.string("user_alias");
  p.userRole = r.string("user_role");
  p.metadata = readObjectText(r, "metadata");
  p.models = r.strings("models");
  p.spend = r.number("spend");
  readLimits(r, p.limits);
  (void)checkMoney(r, "spend", p.spend);
}

void applyUserPatch(const UserPatch& p, store::UserRow& u, int64_t nowMs) {
  if (p.userEmail.present) u.userEmail = p.userEmail.value;
  if (p.userAlias.present) u.userAlias = p.userAlias.value;
  if (p.userRole.has()) u.userRole = *p.userRole.value;
  if (p.metadata.present) u.metadata = p.metadata.value.value_or("{}");
  if (p.models.present) u.models = p.models.value.value_or(std::vector<std::string>{});
  if (p.spend.has()) u.spend = *p.spend.value;
  applyLimits(p.limits, u.limits, nowMs);
}

// 409 when another user has this email (LiteLLM compares case-insensitively; so does the store).
std::optional<Response> checkEmailFree(const Env& e, const Field<std::string>& email,
                                       const std::string& self) {
  if (!email.has() || email.value->empty()) return std::nullopt;
  store::RepoError err;
  auto other = store::findUserByEmail(e.db(), *email.value, err);
  if (!err.message.empty()) return dbFailure(err);
  if (other && other->userId != self) {
    return errorResponse(409, "bad_request_error",
                         fmt::format("User with email {} already exists", *email.value),
                         "user_email");
  }
  return std::nullopt;
}

}  // namespace

Response userNew(const Env& e) {
  json::object body;
  Response failure;
  if (!parseBody(e.req.body, body, failure)) return failure;
  Reader r(body);
  const auto userId = r.string("user_id");
  UserPatch up;
  readUserPatch(r, up);
  auto teams = r.strings("teams");
  const auto autoKey = r.boolean("auto_create_key");
  KeyPatch kp;
  readKeyPatch(r, kp);
  if (!r.ok()) return errorResponse(*r.error());
  if (auto bad = checkRole(up.userRole)) return std::move(*bad);
  if (kp.key.has()) return badRequest("Custom keys are set with /key/generate", "key");
  if (userId.has() && userId.value->empty())
    return badRequest("user_id must not be empty", "user_id");

  store::UserRow u;
  u.userId = userId.has() ? *userId.value : newUuid();
  if (u.userId.empty()) return errorResponse(500, "internal_server_error", "No random source");
  store::RepoError err;
  auto existing = store::findUser(e.db(), u.userId, err);
  if (!err.message.empty()) return dbFailure(err);
  if (existing) {
    return errorResponse(409, "bad_request_error",
                         fmt::format("User with id {} already exists", u.userId), "user_id");
  }
  if (auto bad = checkEmailFree(e, up.userEmail, u.userId)) return std::move(*bad);

  // teams (and a key's team_id) must exist; the user joins each as a "user" member.
  std::vector<std::string> teamIds = teams.value.value_or(std::vector<std::string>{});
  if (kp.teamId.has() &&
      std::find(teamIds.begin(), teamIds.end(), *kp.teamId.value) == teamIds.end()) {
    teamIds.push_back(*kp.teamId.value);
  }
  std::vector<store::TeamRow> joined;
  for (const auto& id : teamIds) {
    auto t = store::findTeam(e.db(), id, err);
    if (!err.message.empty()) return dbFailure(err);
    if (!t) return badRequest(fmt::format("Team not found, passed team_id={}", id), "teams");
    if (std::none_of(joined.begin(), joined.end(), [&](const auto& j) { return j.teamId == id; })) {
      joined.push_back(std::move(*t));
    }
  }

  applyUserPatch(up, u, e.ctx.nowMs);
  u.createdAt = u.updatedAt = e.ctx.nowMs;
  Transaction tx(e.db());
  if (!tx.started()) return dbFailure(tx.error());
  const auto w = store::insertUser(e.db(), u, err);
  if (w == store::WriteResult::Duplicate) {
    return errorResponse(409, "bad_request_error",
                         fmt::format("User with id {} already exists", u.userId), "user_id");
  }
  if (w != store::WriteResult::Ok) return dbFailure(err);
  const std::vector<store::TeamMember> self{{u.userId, u.userEmail, "user"}};
  for (auto& t : joined) {
    if (!isMember(t, u.userId)) t.members.push_back(self.front());
    t.updatedAt = e.ctx.nowMs;
    if (store::updateTeam(e.db(), t, err) != store::WriteResult::Ok) return dbFailure(err);
    if (auto bad = linkMembers(e, t.teamId, self, std::nullopt)) return std::move(*bad);
  }

  std::optional<store::KeyRow> key;
  std::string raw;
  if (autoKey.value.value_or(true)) {
    // The key belongs to the user; budgets and limits sit on the user row and apply to it.
    kp.userId.set(u.userId);
    kp.limits = {};
    kp.metadata = {};
    kp.spend = {};
    if (auto bad = checkKeyPatch(e, kp, nullptr)) return std::move(*bad);
    raw = governance::generateKey();
    if (raw.empty()) return errorResponse(500, "internal_server_error", "Could not generate a key");
    key.emplace();
    applyKeyPatch(kp, *key, e.ctx.nowMs);
    key->token = governance::hashKey(raw);
    key->keyName = governance::displayKey(raw);
    key->createdAt = key->updatedAt = e.ctx.nowMs;
    key->createdBy = key->updatedBy = actorId(e.caller);
    const auto kw = store::insertKey(e.db(), *key, err);
    if (kw == store::WriteResult::Duplicate) {
      return badRequest("A key with this alias or value already exists.", "key_alias");
    }
    if (kw != store::WriteResult::Ok) return dbFailure(err);
  }
  if (!tx.commit()) return dbFailure(tx.error());

  auto stored = store::findUser(e.db(), u.userId, err);
  const store::UserRow& shown = stored ? *stored : u;
  json::object o = key ? createdKeyJson(e.db(), *key, raw) : json::object{};
  for (const auto& kv : userJson(shown)) o[kv.key()] = kv.value();
  if (!key) o["key"] = nullptr;
  Response out = okJson(o);
  out.invalidate.userIds.push_back(u.userId);
  if (key) out.invalidate.keyHashes.push_back(key->token);
  for (const auto& t : joined) out.invalidate.teamIds.push_back(t.teamId);
  return out;
}

Response userUpdate(const Env& e) {
  json::object body;
  Response failure;
  if (!parseBody(e.req.body, body, failure)) return failure;
  Reader r(body);
  const auto userId = r.string("user_id");
  UserPatch p;
  readUserPatch(r, p);
  if (!r.ok()) return errorResponse(*r.error());
  if (auto bad = checkRole(p.userRole)) return std::move(*bad);

  store::RepoError err;
  std::optional<store::UserRow> u;
  std::string passed;
  if (userId.has()) {
    passed = *userId.value;
    u = store::findUser(e.db(), passed, err);
  } else if (p.userEmail.has()) {
    // The email names the user; it is not a change.
    passed = *p.userEmail.value;
    u = store::findUserByEmail(e.db(), passed, err);
    p.userEmail = {};
  } else {
    return badRequest("Pass user_id or user_email", "user_id");
  }
  if (!err.message.empty()) return dbFailure(err);
  if (!u) return notFound(fmt::format("User not found, passed user_id={}", passed), "user_id");

  if (!isAdmin(e.caller)) {
    if (e.caller.userId != u->userId) {
      return forbidden(
          fmt::format("User={} not allowed to update user={}. Only PROXY_ADMIN can "
                      "update other users.",
                      callerName(e.caller), u->userId));
    }
    if (p.userRole.present) return forbidden("Only proxy admins can modify user roles.");
    // Budgets, limits and model access are the admin's; a user may edit only its profile.
    if (p.limits.any() || p.models.present || p.spend.present) {
      return forbidden("Only proxy admins can change a user's budgets, limits or models.");
    }
  }
  if (auto bad = checkEmailFree(e, p.userEmail, u->userId)) return std::move(*bad);
  applyUserPatch(p, *u, e.ctx.nowMs);
  u->updatedAt = e.ctx.nowMs;
  Transaction tx(e.db());
  if (!tx.started()) return dbFailure(tx.error());
  const auto w = store::updateUser(e.db(), *u, err);
  if (w == store::WriteResult::NotFound) return notFound("User not found", "user_id");
  if (w == store::WriteResult::Duplicate) {
    return errorResponse(409, "bad_request_error", "User with this email already exists",
                         "user_email");
  }
  if (w != store::WriteResult::Ok) return dbFailure(err);
  // update*() never writes spend (the spend writer owns it); an admin's explicit value does.
  if (p.spend.has() && store::setSpend(e.db(), store::SpendEntity::User, u->userId, *p.spend.value,
                                       err) != store::WriteResult::Ok) {
    return dbFailure(err);
  }
  if (!tx.commit()) return dbFailure(tx.error());
  json::object o;
  o["user_id"] = u->userId;
  o["data"] = userJson(*u);
  Response out = okJson(o);
  out.invalidate.userIds.push_back(u->userId);
  return out;
}

Response userDelete(const Env& e) {
  json::object body;
  Response failure;
  if (!parseBody(e.req.body, body, failure)) return failure;
  Reader r(body);
  const auto ids = r.strings("user_ids");
  if (!r.ok()) return errorResponse(*r.error());
  if (!ids.has() || ids.value->empty()) return badRequest("user_ids is required", "user_ids");

  store::RepoError err;
  Response out;
  std::vector<store::UserRow> users;
  for (const auto& id : *ids.value) {
    auto u = store::findUser(e.db(), id, err);
    if (!err.message.empty()) return dbFailure(err);
    if (!u) return notFound(fmt::format("User not found, passed user_id={}", id), "user_ids");
    for (const auto& k : store::keysOfUser(e.db(), id, err))
      out.invalidate.keyHashes.push_back(k.token);
    if (!err.message.empty()) return dbFailure(err);
    users.push_back(std::move(*u));
  }
  // deleteUsers also drops their keys and memberships and takes them out of teams' member
  // lists, in one transaction of its own.
  for (const auto& u : users) {
    for (const auto& teamId : u.teams) out.invalidate.teamIds.push_back(teamId);
  }
  if (store::deleteUsers(e.db(), *ids.value, err) != store::WriteResult::Ok) return dbFailure(err);
  json::object o;
  o["deleted_users"] = stringArray(*ids.value);
  out.body = writeJson(o);
  out.invalidate.userIds = *ids.value;
  return out;
}

Response userInfo(const Env& e) {
  const Query q(e.req.query);
  std::optional<std::string> id = q.get("user_id");
  if (!id) id = e.caller.userId;
  if (!id) return badRequest("Pass the user as ?user_id=", "user_id");
  if (!canReadAll(e.caller) && id != e.caller.userId) {
    return forbidden(
        fmt::format("key not allowed to access this user's info. user_id={}, key's "
                    "user_id={}",
                    *id, callerName(e.caller)));
  }
  store::RepoError err;
  auto u = store::findUser(e.db(), *id, err);
  if (!err.message.empty()) return dbFailure(err);
  if (!u) return notFound(fmt::format("User {} not found", *id), "user_id");
  const auto keys = store::keysOfUser(e.db(), *id, err);
  if (!err.message.empty()) return dbFailure(err);
  json::array ks;
  for (const auto& k : keys) ks.emplace_back(keyJson(k, true));
  json::array ts;
  for (const auto& teamId : u->teams) {
    auto t = store::findTeam(e.db(), teamId, err);
    if (!err.message.empty()) return dbFailure(err);
    if (t) ts.emplace_back(teamJson(*t));
  }
  json::object o;
  o["user_id"] = u->userId;
  o["user_info"] = userJson(*u);
  o["keys"] = std::move(ks);
  o["teams"] = std::move(ts);
  return okJson(o);
}

Response userList(const Env& e) {
  const Query q(e.req.query);
  store::UserFilter f;
  const auto readInt = [&](std::string_view name, int64_t def, int64_t hi, int64_t& out) {
    out = def;
    const auto v = q.get(name);
    if (!v) return true;
    const auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
    return ec == std::errc() && ptr == v->data() + v->size() && out >= 1 && out <= hi;
  };
  if (!readInt("page", 1, 1'000'000'000, f.page)) {
    return badRequest("Invalid value for 'page': expected an integer >= 1", "page");
  }
  if (!readInt("page_size", 25, 100, f.pageSize)) {
    return badRequest("Invalid value for 'page_size': expected an integer from 1 to 100",
                      "page_size");
  }
  f.role = q.get("role");
  if (f.role && !validRole(*f.role)) return badRequest("Invalid role", "role");
  f.userEmail = q.get("user_email");
  f.team = q.get("team");
  if (auto ids = q.get("user_ids")) {
    std::string_view rest = *ids;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      const std::string_view one = rest.substr(0, comma);
      if (!one.empty()) f.userIds.emplace_back(one);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
  }
  store::RepoError err;
  auto page = store::listUsers(e.db(), f, err);
  if (!page) return dbFailure(err);
  json::array users;
  for (size_t i = 0; i < page->users.size(); ++i) {
    json::object u = userJson(page->users[i]);
    u["key_count"] = i < page->keyCounts.size() ? page->keyCounts[i] : 0;
    users.emplace_back(std::move(u));
  }
  json::object o;
  o["users"] = std::move(users);
  o["total"] = page->total;
  o["page"] = f.page;
  o["page_size"] = f.pageSize;
  o["total_pages"] = (page->total + f.pageSize - 1) / f.pageSize;
  return okJson(o);
}

}  // namespace llmux::management
