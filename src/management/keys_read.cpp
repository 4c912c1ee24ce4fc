// /key/info, /key/list, /key/delete, /key/block, /key/unblock.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "governance/keys.hpp"
#include "management/internal.hpp"

namespace llmux::management {
namespace {

bool ownsKey(const Caller& c, const store::KeyRow& k) {
  return c.userId && k.userId && *c.userId == *k.userId;
}

// An integer query parameter within [lo, hi]; `def` when absent.
std::optional<Response> queryInt(const Query& q, std::string_view name, int64_t def, int64_t lo,
                                 int64_t hi, int64_t& out) {
  out = def;
  const auto v = q.get(name);
  if (!v) return std::nullopt;
  int64_t n = 0;
  const auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || ptr != v->data() + v->size() || n < lo || n > hi) {
    return badRequest(fmt::format("Invalid value for '{}': expected an integer from {} to {}, "
                                  "got '{}'",
                                  name, lo, hi, *v),
                      std::string(name));
  }
  out = n;
  return std::nullopt;
}

std::optional<Response> queryBool(const Query& q, std::string_view name, bool& out) {
  out = false;
  const auto v = q.get(name);
  if (!v) return std::nullopt;
  if (*v == "true" || *v == "True" || *v == "1") {
    out = true;
  } else if (*v != "false" && *v != "False" && *v != "0") {
    return badRequest(fmt::format("Invalid value for '{}': expected true or false", name),
                      std::string(name));
  }
  return std::nullopt;
}

}  // namespace

Response keyInfo(const Env& e) {
  const Query q(e.req.query);
  const std::optional<std::string> passed = q.get("key");
  std::string hash;
  if (passed) {
    hash = keyHashOf(*passed);
  } else if (!e.caller.keyHash.empty()) {
    hash = e.caller.keyHash;
  } else {
    return badRequest("Pass the key (or its hash) as ?key=", "key");
  }
  store::RepoError err;
  auto k = store::findKey(e.db(), hash, err);
  if (!err.message.empty()) return dbFailure(err);
  if (!k) return notFound("Key not found in database", "key");

  bool allowed = canReadAll(e.caller) || hash == e.caller.keyHash || ownsKey(e.caller, *k);
  if (!allowed && e.caller.userId && k->teamId) {
    auto t = store::findTeam(e.db(), *k->teamId, err);
    if (!err.message.empty()) return dbFailure(err);
    allowed = t && isMember(*t, *e.caller.userId);
  }
  if (!allowed) {
    return forbidden(fmt::format("You are not allowed to access this key's info. Your role={}",
                                 governance::roleName(e.caller.role)));
  }
  json::object info = keyJson(*k, false);
  info["litellm_budget_table"] = budgetTable(e.db(), k->budgetId);
  json::object o;
  o["key"] = passed.value_or(hash);
  o["info"] = std::move(info);
  return okJson(o);
}

Response keyList(const Env& e) {
  const Query q(e.req.query);
  store::KeyFilter f;
  if (auto bad = queryInt(q, "page", 1, 1, 1'000'000'000, f.page)) return std::move(*bad);
  if (auto bad = queryInt(q, "size", 10, 1, 100, f.size)) return std::move(*bad);
  bool full = false;
  if (auto bad = queryBool(q, "return_full_object", full)) return std::move(*bad);
  f.userId = q.get("user_id");
  f.teamId = q.get("team_id");
  f.keyAlias = q.get("key_alias");
  if (auto h = q.get("key_hash")) f.keyHash = keyHashOf(*h);
  if (auto s = q.get("sort_by")) {
    static constexpr std::string_view kSorts[] = {"spend",      "max_budget", "created_at",
                                                  "updated_at", "token",      "key_alias"};
    if (std::find(std::begin(kSorts), std::end(kSorts), *s) == std::end(kSorts)) {
      return badRequest(fmt::format("Invalid sort_by '{}'. Use one of: spend, max_budget, "
                                    "created_at, updated_at, token, key_alias",
                                    *s),
                        "sort_by");
    }
    f.sortBy = *s;
  }
  if (auto o = q.get("sort_order")) {
    if (*o != "asc" && *o != "desc") {
      return badRequest("Invalid sort_order: use asc or desc", "sort_order");
    }
    f.descending = *o == "desc";
  }

  store::RepoError err;
  if (!canReadAll(e.caller)) {
    // Everyone else sees only their own keys (LiteLLM's rule for internal users).
    if (!e.caller.userId) {
      return forbidden(
          "You are not authorized to access this endpoint. No 'user_id' is "
          "associated with your API key.");
    }
    if (f.userId && *f.userId != *e.caller.userId) {
      return forbidden("You are not authorized to check another user's keys");
    }
    if (f.teamId) {
      auto t = store::findTeam(e.db(), *f.teamId, err);
      if (!err.message.empty()) return dbFailure(err);
      if (!t || !isMember(*t, *e.caller.userId)) {
        return forbidden("You are not authorized to check this team's keys");
      }
    }
    f.userId = e.caller.userId;
  }
  auto page = store::listKeys(e.db(), f, err);
  if (!page) return dbFailure(err);
  json::array keys;
  for (const auto& k : page->keys) {
    if (full) {
      keys.emplace_back(keyJson(k, true));
    } else {
      keys.emplace_back(k.token);
    }
  }
  json::object o;
  o["keys"] = std::move(keys);
  o["total_count"] = page->total;
  o["current_page"] = f.page;
  o["total_pages"] = (page->total + f.size - 1) / f.size;
  return okJson(o);
}

Response keyDelete(const Env& e) {
  json::object body;
  Response failure;
  if (!parseBody(e.req.body, body, failure)) return failure;
  Reader r(body);
  const auto keys = r.strings("keys");
  const auto aliases = r.strings("key_aliases");
  if (!r.ok()) return errorResponse(*r.error());
  const std::vector<std::string> none;
  const auto& keyList = keys.value ? *keys.value : none;
  const auto& aliasList = aliases.value ? *aliases.value : none;
  if (keyList.empty() && aliasList.empty()) {
    return badRequest("Pass the keys to delete in 'keys' (keys or hashes) or 'key_aliases'",
                      "keys");
  }

  // Resolve and check everything first: nothing is deleted unless every key may be.
  store::RepoError err;
  std::vector<std::string> hashes;
  std::vector<std::string> missing;
  const auto consider = [&](const std::optional<store::KeyRow>& k, std::string_view label) {
    if (!k) {
      missing.push_back(governance::looksLikeHash(label) ? std::string(label)
                                                         : governance::maskKey(label));
      return true;
    }
    if (!isAdmin(e.caller) && !ownsKey(e.caller, *k)) return false;
    if (std::find(hashes.begin(), hashes.end(), k->token) == hashes.end()) {
      hashes.push_back(k->token);
    }
    return true;
  };
  for (const auto& key : keyList) {
    auto k = store::findKey(e.db(), keyHashOf(key), err);
    if (!err.message.empty()) return dbFailure(err);
    if (!consider(k, key)) return forbidden("You are not authorized to delete this key");
  }
  for (const auto& alias : aliasList) {
    auto k = store::findKeyByAlias(e.db(), alias, err);
    if (!err.message.empty()) return dbFailure(err);
    if (!k) {
      missing.push_back(alias);
    } else if (!consider(k, alias)) {
      return forbidden("You are not authorized to delete this key");
    }
  }
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    return notFound(fmt::format("No keys found for: {}", list), "keys");
  }
  (void)store::deleteKeys(e.db(), hashes, err);
  if (!err.message.empty()) return dbFailure(err);
  json::object o;
  json::array passed = stringArray(keyList);
  for (const auto& a : aliasList) passed.emplace_back(a);
  o["deleted_keys"] = std::move(passed);
  Response out = okJson(o);
  out.invalidate.keyHashes = hashes;
  return out;
}

Response keyBlock(const Env& e, bool block) {
  json::object body;
  Response failure;
  if (!parseBody(e.req.body, body, failure)) return failure;
  Reader r(body);
  const auto key = r.string("key");
  if (!r.ok() || !key.has() || key.value->empty()) return badRequest("Invalid key format.", "key");
  // Unblocking is for admins: a key an admin blocked must not be revived by its owner.
  if (!block && !isAdmin(e.caller)) return forbidden("Only proxy admins can unblock keys.");

  store::RepoError err;
  auto k = store::findKey(e.db(), keyHashOf(*key.value), err);
  if (!err.message.empty()) return dbFailure(err);
  if (!k) {
    return notFound(fmt::format("Key {} not found", governance::maskKey(*key.value)), "key");
  }
  if (!isAdmin(e.caller) && !ownsKey(e.caller, *k)) {
    return forbidden("You are not authorized to block this key");
  }
  k->blocked = block;
  k->updatedAt = e.ctx.nowMs;
  k->updatedBy = actorId(e.caller);
  const auto w = store::updateKey(e.db(), *k, err);
  if (w == store::WriteResult::NotFound) return notFound("Key not found", "key");
  if (w != store::WriteResult::Ok) return dbFailure(err);
  // LiteLLM answers with the updated row, token (the hash) included.
  Response out = okJson(keyJson(*k, true));
  out.invalidate.keyHashes.push_back(k->token);
  return out;
}

}  // namespace llmux::management
