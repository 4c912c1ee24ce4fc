// /key/generate, /key/update, /key/regenerate (and /key/{key}/regenerate): the key writes that
// take LiteLLM's key fields.
#include <fmt/format.h>

#include "governance/keys.hpp"
#include "management/fields.hpp"
#include "management/internal.hpp"

namespace llmux::management {
namespace {

constexpr std::string_view kDuplicateAlias =
    "Key with alias '{}' already exists. Unique key aliases across all keys are required.";

}  // namespace

std::optional<Response> checkKeyPatch(const Env& e, KeyPatch& p, const store::KeyRow* current) {
  const Caller& c = e.caller;
  store::Db& db = e.db();
  const bool admin = isAdmin(c);
  if (!admin) {
    if (!c.userId) {
      return forbidden(
          "You are not authorized to manage keys. No 'user_id' is associated with "
          "your API key.");
    }
    if (p.spend.present) return forbidden("Only proxy admins can set a key's spend.");
    if (current == nullptr) {
      if (p.userId.has() && *p.userId.value != *c.userId) {
        return forbidden(
            fmt::format("User can only create keys for themselves. Got user_id={}, "
                        "Your ID={}",
                        *p.userId.value, *c.userId));
      }
      p.userId.set(*c.userId);
    } else if (p.userId.present && p.userId.value != c.userId) {
      return forbidden(fmt::format("User={} is not allowed to update key={} to belong to user={}",
                                   *c.userId, current->keyName, p.userId.value.value_or("None")));
    }
    if (current != nullptr && current->blocked && p.blocked.present &&
        !p.blocked.value.value_or(false)) {
      return forbidden("Only proxy admins can unblock keys.");
    }
  }

  store::RepoError err;
  const std::optional<std::string> owner =
      p.userId.present ? p.userId.value : (current ? current->userId : std::nullopt);
  if (p.userId.has() && (current == nullptr || current->userId != p.userId.value)) {
    auto u = store::findUser(db, *p.userId.value, err);
    if (!err.message.empty()) return dbFailure(err);
    if (!u) {
      return badRequest(fmt::format("User not found, passed user_id={}. Create it with /user/new.",
                                    *p.userId.value),
                        "user_id");
    }
  }
  if (p.teamId.has() && (current == nullptr || current->teamId != p.teamId.value)) {
    const std::string& teamId = *p.teamId.value;
    auto t = store::findTeam(db, teamId, err);
    if (!err.message.empty()) return dbFailure(err);
    if (!t) return badRequest(fmt::format("Team not found, passed team_id={}", teamId), "team_id");
    if (!admin && !isMember(*t, *c.userId)) {
      return forbidden(fmt::format("User={} not assigned to team={}", *c.userId, teamId));
    }
    // Moving an existing key: its owner must belong to the new team (LiteLLM's rule).
    if (current != nullptr && owner && !isMember(*t, *owner)) {
      return forbidden(
          fmt::format("User={} is not a member of the team={}. Check team members "
                      "via `/team/info`.",
                      *owner, teamId));
    }
  }
  if (p.budgetId.has() && (current == nullptr || current->budgetId != p.budgetId.value)) {
    auto b = store::findBudget(db, *p.budgetId.value, err);
    if (!err.message.empty()) return dbFailure(err);
    if (!b) {
      return badRequest(fmt::format("Budget not found, passed budget_id={}", *p.budgetId.value),
                        "budget_id");
    }
  }
  if (p.keyAlias.has()) {
    auto other = store::findKeyByAlias(db, *p.keyAlias.value, err);
    if (!err.message.empty()) return dbFailure(err);
    if (other && (current == nullptr || other->token != current->token)) {
      return badRequest(fmt::format(fmt::runtime(kDuplicateAlias), *p.keyAlias.value), "key_alias");
    }
  }
  return std::nullopt;
}

namespace {

// The message for a unique violation on a key write: the alias, else the key itself.
Response duplicateKey(store::Db& db, const store::KeyRow& k) {
  if (k.keyAlias) {
    store::RepoError err;
    auto other = store::findKeyByAlias(db, *k.keyAlias, err);
    if (other && other->token != k.token) {
      return badRequest(fmt::format(fmt::runtime(kDuplicateAlias), *k.keyAlias), "key_alias");
    }
  }
  return badRequest("A key with this value already exists.", "key");
}

std::optional<Response> checkCustomKey(std::string_view raw, std::string_view field) {
  if (!raw.starts_with("sk-")) {
    return badRequest(fmt::format("Invalid key format. LiteLLM Virtual Key must start with 'sk-'. "
                                  "Received: {}",
                                  governance::maskKey(raw)),
                      std::string(field));
  }
  if (raw.size() < 8) {
    return badRequest(
        fmt::format("Invalid key format. {} is too short: use at least 8 characters", field),
        std::string(field));
  }
  return std::nullopt;
}

// updateKey never writes spend (the spend writer owns it); an admin's explicit value does.
std::optional<Response> writeSpend(store::Db& db, const KeyPatch& p, const std::string& token) {
  if (!p.spend.has()) return std::nullopt;
  store::RepoError err;
  if (store::setSpend(db, store::SpendEntity::Key, token, *p.spend.value, err) !=
      store::WriteResult::Ok) {
    return dbFailure(err);
  }
  return std::nullopt;
}

}  // namespace

json::object createdKeyJson(store::Db& db, const store::KeyRow& k, const std::string& raw) {
  json::object o = keyJson(k, true);
  o["key"] = raw;
  o["token_id"] = k.token;
  o["litellm_budget_table"] = budgetTable(db, k.budgetId);
  return o;
}

std::string keyHashOf(std::string_view keyOrHash) {
  if (governance::looksLikeHash(keyOrHash)) return std::string(keyOrHash);
  return governance::hashKey(keyOrHash);
}

json::value budgetTable(store::Db& db, const std::optional<std::string>& budgetId) {
  if (!budgetId) return nullptr;
  store::RepoError err;
  auto b = store::findBudget(db, *budgetId, err);
  if (!b) return nullptr;
  return budgetJson(*b);
}

Response keyGenerate(const Env& e) {
  json::object body;
  Response failure;
  if (!parseBody(e.req.body, body, failure)) return failure;
  Reader r(body);
  KeyPatch p;
  readKeyPatch(r, p);
  if (!r.ok()) return errorResponse(*r.error());
  if (p.key.has()) {
    if (auto bad = checkCustomKey(*p.key.value, "key")) return std::move(*bad);
  }
  if (auto denied = checkKeyPatch(e, p, nullptr)) return std::move(*denied);

  std::string raw = p.key.has() ? *p.key.value : governance::generateKey();
  if (raw.empty()) return errorResponse(500, "internal_server_error", "Could not generate a key");
  store::KeyRow k;
  applyKeyPatch(p, k, e.ctx.nowMs);
  k.token = governance::hashKey(raw);
  k.keyName = governance::displayKey(raw);
  k.createdAt = k.updatedAt = e.ctx.nowMs;
  k.createdBy = k.updatedBy = actorId(e.caller);

  store::RepoError err;
  switch (store::insertKey(e.db(), k, err)) {
    case store::WriteResult::Ok:
      break;
    case store::WriteResult::Duplicate:
      return duplicateKey(e.db(), k);
    default:
      return dbFailure(err);
  }
  Response out = okJson(createdKeyJson(e.db(), k, raw));
  // A custom key may have been looked up (and cached as unknown) before it existed.
  out.invalidate.keyHashes.push_back(k.token);
  return out;
}

Response keyUpdate(const Env& e) {
  json::object body;
  Response failure;
  if (!parseBody(e.req.body, body, failure)) return failure;
  Reader r(body);
  KeyPatch p;
  readKeyPatch(r, p);
  if (!r.ok()) return errorResponse(*r.error());

  store::RepoError err;
  std::optional<store::KeyRow> k;
  std::string passed;
  if (p.key.has()) {
    passed = *p.key.value;
    k = store::findKey(e.db(), keyHashOf(passed), err);
  } else if (p.keyAlias.has()) {
    // The alias names the key to update; it is not a change.
    passed = *p.keyAlias.value;
    k = store::findKeyByAlias(e.db(), passed, err);
    p.keyAlias = {};
  } else {
    return badRequest("Pass the key to update in 'key' (the key or its hash) or 'key_alias'",
                      "key");
  }
  if (!err.message.empty()) return dbFailure(err);
  if (!k) {
    return notFound(fmt::format("Key not found, passed key={}", governance::maskKey(passed)),
                    "key");
  }
  if (!isAdmin(e.caller) && (!e.caller.userId || k->userId != e.caller.userId)) {
    return forbidden("You are not authorized to update this key");
  }
  if (auto denied = checkKeyPatch(e, p, &*k)) return std::move(*denied);

  applyKeyPatch(p, *k, e.ctx.nowMs);
  k->updatedAt = e.ctx.nowMs;
  k->updatedBy = actorId(e.caller);
  Transaction tx(e.db());
  if (!tx.started()) return dbFailure(tx.error());
  switch (store::updateKey(e.db(), *k, err)) {
    case store::WriteResult::Ok:
      break;
    case store::WriteResult::NotFound:
      return notFound("Key not found", "key");
    case store::WriteResult::Duplicate:
      return duplicateKey(e.db(), *k);
    default:
      return dbFailure(err);
  }
  if (auto bad = writeSpend(e.db(), p, k->token)) return std::move(*bad);
  if (!tx.commit()) return dbFailure(tx.error());
  json::object o = keyJson(*k, true);
  o["key"] = p.key.has() ? passed : k->token;
  o["litellm_budget_table"] = budgetTable(e.db(), k->budgetId);
  Response out = okJson(o);
  out.invalidate.keyHashes.push_back(k->token);
  return out;
}

Response keyRegenerate(const Env& e) {
  json::object body;
  Response failure;
  if (!parseBody(e.req.body, body, failure)) return failure;
  Reader r(body);
  KeyPatch p;
  readKeyPatch(r, p);
  const Field<std::string> newKey = r.string("new_key");
  const Field<std::string> newMasterKey = r.string("new_master_key");
  const json::value* grace = r.raw("grace_period");
  if (!r.ok()) return errorResponse(*r.error());
  if (newMasterKey.has()) {
    return badRequest(
        "Master key rotation is not done through /key/regenerate: change "
        "general_settings.master_key and restart",
        "new_master_key");
  }
  // The old hash stops working at once; a grace period would need a second valid hash per key.
  if (grace != nullptr && !grace->is_null() &&
      !(grace->is_string() && grace->get_string().empty())) {
    return badRequest("grace_period is not supported: the old key stops working immediately",
                      "grace_period");
  }
  const std::string passed = !e.pathKey.empty() ? e.pathKey : p.key.value.value_or("");
  if (passed.empty()) return badRequest("No key passed in.", "key");
  if (newKey.has()) {
    if (auto bad = checkCustomKey(*newKey.value, "new_key")) return std::move(*bad);
  }

  store::RepoError err;
  const std::string oldHash = keyHashOf(passed);
  auto k = store::findKey(e.db(), oldHash, err);
  if (!err.message.empty()) return dbFailure(err);
  if (!k) return notFound(fmt::format("Key {} not found.", governance::maskKey(passed)), "key");
  if (!isAdmin(e.caller) && (!e.caller.userId || k->userId != e.caller.userId)) {
    return forbidden("You are not authorized to regenerate this key");
  }
  if (auto denied = checkKeyPatch(e, p, &*k)) return std::move(*denied);

  const std::string raw = newKey.has() ? *newKey.value : governance::generateKey();
  if (raw.empty()) return errorResponse(500, "internal_server_error", "Could not generate a key");
  const std::string newHash = governance::hashKey(raw);
  if (newHash == oldHash) return badRequest("new_key must differ from the current key", "new_key");

  // One transaction: the row moves to the new hash (spend, limits, alias kept), then the body's
  // fields apply as in /key/update.
  store::Db& db = e.db();
  Transaction tx(db);
  if (!tx.started()) return dbFailure(tx.error());
  const std::string newName = governance::displayKey(raw);
  const store::WriteResult moved = store::rekey(db, oldHash, newHash, newName, err);
  if (moved == store::WriteResult::Duplicate) {
    return badRequest("A key with this value already exists.", "new_key");
  }
  if (moved == store::WriteResult::NotFound) {
    return notFound(fmt::format("Key {} not found.", governance::maskKey(passed)), "key");
  }
  if (moved != store::WriteResult::Ok) return dbFailure(err);
  k->token = newHash;
  k->keyName = newName;
  applyKeyPatch(p, *k, e.ctx.nowMs);
  k->updatedAt = e.ctx.nowMs;
  k->updatedBy = actorId(e.caller);
  const store::WriteResult updated = store::updateKey(db, *k, err);
  if (updated == store::WriteResult::Duplicate) return duplicateKey(db, *k);
  if (updated != store::WriteResult::Ok) return dbFailure(err);
  if (auto bad = writeSpend(db, p, k->token)) return std::move(*bad);
  if (!tx.commit()) return dbFailure(tx.error());
  Response out = okJson(createdKeyJson(db, *k, raw));
  out.invalidate.keyHashes = {oldHash, newHash};
  return out;
}

}  // namespace llmux::management
