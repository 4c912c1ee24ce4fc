// Stored rows as LiteLLM's JSON objects (field names of its tables and responses).
#include "management/internal.hpp"

namespace llmux::management {
namespace {

json::value optStr(const std::optional<std::string>& s) {
  if (!s) return nullptr;
  return json::value(*s);
}
json::value optNum(const std::optional<double>& d) {
  if (!d) return nullptr;
  return json::value(*d);
}
json::value optInt(const std::optional<int64_t>& i) {
  if (!i) return nullptr;
  return json::value(*i);
}
json::value object(std::string_view text) {
  return parseStored(text, json::object{});
}
json::value array(std::string_view text) {
  return parseStored(text, json::array{});
}

void addLimits(json::object& o, const store::Limits& l) {
  o["max_budget"] = optNum(l.maxBudget);
  o["soft_budget"] = optNum(l.softBudget);
  o["budget_duration"] = optStr(l.budgetDuration);
  o["budget_reset_at"] = isoOrNull(l.budgetResetAt);
  o["tpm_limit"] = optInt(l.tpmLimit);
  o["rpm_limit"] = optInt(l.rpmLimit);
  o["max_parallel_requests"] = optInt(l.maxParallelRequests);
  o["model_max_budget"] = object(l.modelMaxBudget);
  o["model_rpm_limit"] = object(l.modelRpmLimit);
  o["model_tpm_limit"] = object(l.modelTpmLimit);
}

}  // namespace

json::array stringArray(const std::vector<std::string>& v) {
  json::array a;
  a.reserve(v.size());
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

json::object keyJson(const store::KeyRow& k, bool withToken) {
  json::object o;
  if (withToken) o["token"] = k.token;
  o["key_name"] = k.keyName;
  o["key_alias"] = optStr(k.keyAlias);
  o["spend"] = k.spend;
  o["expires"] = isoOrNull(k.expires);
  o["models"] = stringArray(k.models);
  o["aliases"] = object(k.aliases);
  o["config"] = json::object{};
  o["user_id"] = optStr(k.userId);
  o["team_id"] = optStr(k.teamId);
  o["organization_id"] = nullptr;
  o["permissions"] = object(k.permissions);
  o["metadata"] = object(k.metadata);
  addLimits(o, k.limits);
  o["model_spend"] = object(k.modelSpend);
  o["allowed_cache_controls"] = json::array{};
  o["allowed_routes"] = stringArray(k.allowedRoutes);
  o["key_type"] = k.keyType;
  o["tags"] = stringArray(k.tags);
  o["budget_id"] = optStr(k.budgetId);
  o["blocked"] = k.blocked;
  o["created_by"] = optStr(k.createdBy);
  o["updated_by"] = optStr(k.updatedBy);
  o["created_at"] = isoTime(k.createdAt);
  o["updated_at"] = isoTime(k.updatedAt);
  o["last_active"] = isoOrNull(k.lastActive);
  return o;
}

json::object teamJson(const store::TeamRow& t) {
  json::object o;
  o["team_id"] = t.teamId;
  o["team_alias"] = optStr(t.teamAlias);
  o["organization_id"] = optStr(t.organizationId);
  json::array members;
  json::array admins;
  json::array plain;
  for (const auto& m : t.members) {
    json::object mo;
    mo["user_id"] = optStr(m.userId);
    mo["user_email"] = optStr(m.userEmail);
    mo["role"] = m.role;
    members.emplace_back(std::move(mo));
    if (m.userId) (m.role == "admin" ? admins : plain).emplace_back(*m.userId);
  }
  o["admins"] = std::move(admins);
  o["members"] = std::move(plain);
  o["members_with_roles"] = std::move(members);
  o["models"] = stringArray(t.models);
  o["model_aliases"] = object(t.modelAliases);
  o["metadata"] = object(t.metadata);
  o["tags"] = stringArray(t.tags);
  addLimits(o, t.limits);
  o["spend"] = t.spend;
  o["model_spend"] = object(t.modelSpend);
  o["blocked"] = t.blocked;
  o["created_by"] = optStr(t.createdBy);
  o["updated_by"] = optStr(t.updatedBy);
  o["created_at"] = isoTime(t.createdAt);
  o["updated_at"] = isoTime(t.updatedAt);
  return o;
}

json::object userJson(const store::UserRow& u) {
  json::object o;
  o["user_id"] = u.userId;
  o["user_email"] = optStr(u.userEmail);
  o["user_alias"] = optStr(u.userAlias);
  o["user_role"] = u.userRole;
  o["teams"] = stringArray(u.teams);
  o["models"] = stringArray(u.models);
  o["metadata"] = object(u.metadata);
  addLimits(o, u.limits);
  o["spend"] = u.spend;
  o["model_spend"] = object(u.modelSpend);
  o["created_at"] = isoTime(u.createdAt);
  o["updated_at"] = isoTime(u.updatedAt);
  return o;
}

json::object budgetJson(const store::BudgetRow& b) {
  json::object o;
  o["budget_id"] = b.budgetId;
  o["max_budget"] = optNum(b.limits.maxBudget);
  o["soft_budget"] = optNum(b.limits.softBudget);
  o["max_parallel_requests"] = optInt(b.limits.maxParallelRequests);
  o["tpm_limit"] = optInt(b.limits.tpmLimit);
  o["rpm_limit"] = optInt(b.limits.rpmLimit);
  o["model_max_budget"] = object(b.limits.modelMaxBudget);
  o["budget_duration"] = optStr(b.limits.budgetDuration);
  o["budget_reset_at"] = isoOrNull(b.limits.budgetResetAt);
  o["created_by"] = optStr(b.createdBy);
  o["updated_by"] = optStr(b.updatedBy);
  o["created_at"] = isoTime(b.createdAt);
  o["updated_at"] = isoTime(b.updatedAt);
  return o;
}

json::object customerJson(const store::CustomerRow& c, const std::optional<store::BudgetRow>& b) {
  json::object o;
  o["user_id"] = c.userId;
  o["alias"] = optStr(c.alias);
  o["spend"] = c.spend;
  o["allowed_model_region"] = optStr(c.allowedModelRegion);
  o["default_model"] = optStr(c.defaultModel);
  o["budget_id"] = optStr(c.budgetId);
  o["blocked"] = c.blocked;
  o["litellm_budget_table"] = b ? json::value(budgetJson(*b)) : json::value(nullptr);
  o["created_at"] = isoTime(c.createdAt);
  o["updated_at"] = isoTime(c.updatedAt);
  return o;
}

json::object membershipJson(const store::TeamMembership& m) {
  json::object o;
  o["team_id"] = m.teamId;
  o["user_id"] = m.userId;
  o["spend"] = m.spend;
  o["budget_id"] = optStr(m.budgetId);
  return o;
}

json::object spendJson(const store::SpendRow& r) {
  json::object o;
  o["request_id"] = r.requestId;
  o["call_type"] = r.callType;
  o["api_key"] = r.apiKey;
  o["key_alias"] = r.keyAlias;
  o["spend"] = r.spend;
  o["total_tokens"] = r.promptTokens + r.completionTokens;
  o["prompt_tokens"] = r.promptTokens;
  o["completion_tokens"] = r.completionTokens;
  o["cached_tokens"] = r.cachedTokens;
  o["cache_creation_tokens"] = r.cacheWriteTokens;
  o["reasoning_tokens"] = r.reasoningTokens;
  o["tokens_estimated"] = r.tokensEstimated;
  o["startTime"] = isoTime(r.startTime);
  o["endTime"] = isoTime(r.endTime);
  o["completionStartTime"] = isoOrNull(r.completionStartTime);
  o["request_duration_ms"] = r.endTime - r.startTime;
  o["model"] = r.model;
  o["model_group"] = r.modelGroup;
  o["model_id"] = r.deployment;
  o["custom_llm_provider"] = r.provider;
  o["api_base"] = r.apiBase;
  o["user"] = r.userId;
  o["team_id"] = r.teamId;
  o["end_user"] = r.endUser;
  o["metadata"] = object(r.metadata);
  o["request_tags"] = array(r.tags);
  // LiteLLM's spend logs keep cache_hit as the strings "True" / "False".
  o["cache_hit"] = r.cacheHit ? "True" : "False";
  o["status"] = r.errorType.empty() && r.status < 400 ? "success" : "failure";
  o["http_status"] = r.status;
  o["error_type"] = r.errorType;
  return o;
}

}  // namespace llmux::management
