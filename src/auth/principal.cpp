#include "auth/principal.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cmath>

namespace llmux::auth {

namespace {

using governance::Descriptor;
using governance::toNano;

// {"name": number} maps (model_rpm_limit, model_tpm_limit); anything else is skipped.
void readIntMap(const std::string& json, std::unordered_map<std::string, int64_t>& out) {
  simdjson::dom::parser p;
  simdjson::dom::object obj;
  if (p.parse(json).get(obj) != simdjson::SUCCESS) return;
  for (auto [k, v] : obj) {
    int64_t i = 0;
    double d = 0;
    if (v.get(i) == simdjson::SUCCESS) {
      out.emplace(std::string(k), i);
    } else if (v.get(d) == simdjson::SUCCESS && std::isfinite(d) && d >= 0 && d < 9e18) {
      out.emplace(std::string(k), static_cast<int64_t>(d));
    }
  }
}

void readStringMap(const std::string& json, std::unordered_map<std::string, std::string>& out) {
  simdjson::dom::parser p;
  simdjson::dom::object obj;
  if (p.parse(json).get(obj) != simdjson::SUCCESS) return;
  for (auto [k, v] : obj) {
    std::string_view s;
    if (v.get(s) == simdjson::SUCCESS) out.emplace(std::string(k), std::string(s));
  }
}

// model_max_budget: {"model": {"max_budget"|"budget_limit": x, "budget_duration"|"time_period": d}}
void readModelBudgets(const std::string& json, std::unordered_map<std::string, ModelBudget>& out) {
  simdjson::dom::parser p;
  simdjson::dom::object obj;
  if (p.parse(json).get(obj) != simdjson::SUCCESS) return;
  for (auto [k, v] : obj) {
    simdjson::dom::object b;
    if (v.get(b) != simdjson::SUCCESS) continue;
    double max = -1;
    for (const char* f : {"max_budget", "budget_limit"}) {
      double d = 0;
      int64_t i = 0;
      if (b[f].get(d) == simdjson::SUCCESS) {
        max = d;
        break;
      }
      if (b[f].get(i) == simdjson::SUCCESS) {
        max = static_cast<double>(i);
        break;
      }
    }
    if (!(max >= 0) || !std::isfinite(max)) continue;
    ModelBudget mb;
    mb.maxNano = toNano(max);
    for (const char* f : {"budget_duration", "time_period"}) {
      std::string_view s;
      if (b[f].get(s) == simdjson::SUCCESS) {
        mb.duration = std::string(s);
        break;
      }
    }
    out.emplace(std::string(k), std::move(mb));
  }
}

// A descriptor from a row's limits; nullopt when it limits nothing.
std::optional<Descriptor> descriptorOf(std::string id, std::string kind, std::string name,
                                       const store::Limits& l, double spend,
                                       bool withBudget = true) {
  Descriptor d;
  d.id = std::move(id);
  d.kind = std::move(kind);
  d.name = std::move(name);
  d.rpm = l.rpmLimit;
  d.tpm = l.tpmLimit;
  d.parallel = l.maxParallelRequests;
  if (withBudget && l.maxBudget) d.maxBudgetNano = toNano(*l.maxBudget);
  d.dbSpendNano = toNano(spend);
  d.budgetPeriod = l.budgetResetAt.value_or(0);
  if (!d.rpm && !d.tpm && !d.parallel && !d.maxBudgetNano) return std::nullopt;
  return d;
}

// Limits of a key with a budget_id: the key's own fields win, the budget row fills the gaps.
store::Limits mergeLimits(const store::Limits& own, const std::optional<store::BudgetRow>& b) {
  if (!b) return own;
  store::Limits l = own;
  const store::Limits& o = b->limits;
  if (!l.maxBudget) l.maxBudget = o.maxBudget;
  if (!l.softBudget) l.softBudget = o.softBudget;
  if (!l.rpmLimit) l.rpmLimit = o.rpmLimit;
  if (!l.tpmLimit) l.tpmLimit = o.tpmLimit;
  if (!l.maxParallelRequests) l.maxParallelRequests = o.maxParallelRequests;
  if (!l.budgetDuration) {
    l.budgetDuration = o.budgetDuration;
    l.budgetResetAt = o.budgetResetAt;
  }
  return l;
}

}  // namespace

std::shared_ptr<const Principal> buildPrincipal(const store::KeyRow& key,
                                                const std::optional<store::TeamRow>& team,
                                                const std::optional<store::TeamMembership>& member,
                                                const std::optional<store::BudgetRow>& memberBudget,
                                                const std::optional<store::UserRow>& user,
                                                const std::optional<store::BudgetRow>& keyBudget,
                                                int64_t nowMs) {
  auto p = std::make_shared<Principal>();
  p->kind = Principal::Kind::VirtualKey;
  p->keyHash = key.token;
  p->keyAlias = key.keyAlias.value_or("");
  p->keyName = key.keyName;
  p->userId = key.userId.value_or("");
  p->teamId = key.teamId.value_or("");
  p->keyModels = key.models;
  p->expiresMs = key.expires;
  p->blocked = key.blocked;
  p->tags = key.tags;
  p->allowedRoutes = key.allowedRoutes;
  p->keySpend = key.spend;
  p->loadedAtMs = nowMs;
  readStringMap(key.aliases, p->aliases);
  readIntMap(key.limits.modelRpmLimit, p->modelRpm);
  readIntMap(key.limits.modelTpmLimit, p->modelTpm);
  readModelBudgets(key.limits.modelMaxBudget, p->modelBudget);
  if (user) {
    p->role = governance::parseRole(user->userRole);
    if (user->userEmail) p->userEmail = *user->userEmail;
  }

  const store::Limits keyLimits = mergeLimits(key.limits, keyBudget);
  p->spendView.id = "key:" + key.token;
  p->spendView.kind = "api_key";
  p->spendView.dbSpendNano = governance::toNano(key.spend);
  p->spendView.budgetPeriod = keyLimits.budgetResetAt.value_or(0);
  p->keyMaxBudget = keyLimits.maxBudget;
  const std::string keyName = p->keyAlias.empty() ? key.keyName : p->keyAlias;
  if (auto d = descriptorOf("key:" + key.token, "api_key", keyName, keyLimits, key.spend)) {
    p->descriptors.push_back(std::move(*d));
  }
  // "all-team-models": the key may use whatever its team may (no team: anything).
  if (std::find(p->keyModels.begin(), p->keyModels.end(), "all-team-models") !=
      p->keyModels.end()) {
    p->keyModels = team ? team->models : std::vector<std::string>{};
  }
  if (team) {
    p->teamAlias = team->teamAlias.value_or("");
    p->teamModels = team->models;
    p->teamBlocked = team->blocked;
    readStringMap(team->modelAliases, p->aliases);  // emplace: the key's own aliases win
    readIntMap(team->limits.modelRpmLimit, p->modelRpm);
    readIntMap(team->limits.modelTpmLimit, p->modelTpm);
    const std::string name = p->teamAlias.empty() ? team->teamId : p->teamAlias;
    if (auto d = descriptorOf("team:" + team->teamId, "team", name, team->limits, team->spend)) {
      p->descriptors.push_back(std::move(*d));
    }
    if (member && memberBudget) {
      if (auto d = descriptorOf("member:" + team->teamId + ":" + member->userId, "team_member",
                                member->userId + " in team " + name, memberBudget->limits,
                                member->spend)) {
        p->descriptors.push_back(std::move(*d));
      }
    }
  }
  if (user) {
    // A team key does not spend its owner's personal budget (LiteLLM since v1.95); the user's
    // rate limits apply to every key of the user.
    const bool personalBudget = !team.has_value();
    if (auto d = descriptorOf("user:" + user->userId, "user", user->userId, user->limits,
                              user->spend, personalBudget)) {
      p->descriptors.push_back(std::move(*d));
    }
  }
  return p;
}

LoadResult loadPrincipal(store::Db& db, const std::string& keyHash, int64_t nowMs) {
  LoadResult r;
  store::RepoError err;
  auto fail = [&]() {
    r.dbError = true;
    r.error = err.message;
    r.principal.reset();
    return r;
  };
  std::optional<store::KeyRow> key = store::findKey(db, keyHash, err);
  if (!err.message.empty()) return fail();
  if (!key) return r;
  std::optional<store::TeamRow> team;
  std::optional<store::TeamMembership> member;
  std::optional<store::BudgetRow> memberBudget, keyBudget;
  std::optional<store::UserRow> user;
  if (key->teamId) {
    team = store::findTeam(db, *key->teamId, err);
    if (!err.message.empty()) return fail();
    if (team && key->userId) {
      member = store::findMembership(db, *key->teamId, *key->userId, err);
      if (!err.message.empty()) return fail();
      if (member && member->budgetId) {
        memberBudget = store::findBudget(db, *member->budgetId, err);
        if (!err.message.empty()) return fail();
      }
    }
  }
  if (key->userId) {
    user = store::findUser(db, *key->userId, err);
    if (!err.message.empty()) return fail();
  }
  if (key->budgetId) {
    keyBudget = store::findBudget(db, *key->budgetId, err);
    if (!err.message.empty()) return fail();
  }
  r.principal = buildPrincipal(*key, team, member, memberBudget, user, keyBudget, nowMs);
  return r;
}

CustomerLoad loadCustomer(store::Db& db, const std::string& endUserId, int64_t nowMs) {
  CustomerLoad r;
  store::RepoError err;
  auto c = store::findCustomer(db, endUserId, err);
  if (!err.message.empty()) {
    r.dbError = true;
    return r;
  }
  auto v = std::make_shared<CustomerView>();
  v->loadedAtMs = nowMs;
  if (c) {
    v->found = true;
    v->blocked = c->blocked;
    if (c->budgetId) {
      auto b = store::findBudget(db, *c->budgetId, err);
      if (!err.message.empty()) {
        r.dbError = true;
        return r;
      }
      if (b) {
        store::Limits l = b->limits;
        v->descriptor = descriptorOf("end_user:" + c->userId, "end_user",
                                     c->alias.value_or(c->userId), l, c->spend);
      }
    }
  }
  r.view = std::move(v);
  return r;
}

}  // namespace llmux::auth
