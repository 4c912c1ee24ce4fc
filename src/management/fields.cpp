#include "management/fields.hpp"

#include <fmt/format.h>

#include "governance/duration.hpp"

namespace llmux::management {
namespace {

bool isUnsetDuration(std::string_view s) {
  return s.empty() || s == "none" || s == "null" || s == "None" || s == "-1";
}

bool checkCount(Reader& r, std::string_view name, const Field<int64_t>& f) {
  if (f.has() && *f.value < 0) {
    r.fail(name, fmt::format("{} cannot be negative. Received: {}", name, *f.value));
    return false;
  }
  return true;
}

// {"model": n} with n a non-negative integer.
Field<std::string> readModelCounts(Reader& r, std::string_view name) {
  Field<std::string> out;
  Field<json::object> f = r.object(name);
  if (!f.present) return out;
  if (!f.has()) {
    out.clear();
    return out;
  }
  json::object norm;
  for (const auto& kv : *f.value) {
    const auto n = asInteger(kv.value());
    if (!n || *n < 0) {
      r.fail(name, fmt::format("Invalid value for '{}': model '{}' needs a non-negative integer",
                               name, std::string_view(kv.key())));
      return out;
    }
    norm[kv.key()] = *n;
  }
  out.set(writeJson(norm));
  return out;
}

// {"model": {"max_budget"|"budget_limit": x, "budget_duration"|"time_period": "1d",
//            "tpm_limit": n, "rpm_limit": n}} -> the max_budget/budget_duration spelling.
Field<std::string> readModelMaxBudget(Reader& r) {
  constexpr std::string_view kName = "model_max_budget";
  Field<std::string> out;
  Field<json::object> f = r.object(kName);
  if (!f.present) return out;
  if (!f.has()) {
    out.clear();
    return out;
  }
  json::object norm;
  for (const auto& kv : *f.value) {
    const std::string model(kv.key());
    const auto* cfg = kv.value().if_object();
    if (cfg == nullptr) {
      r.fail(kName, fmt::format("Invalid value for 'model_max_budget': model '{}' needs an "
                                "object like {{\"max_budget\": 10, \"budget_duration\": \"1d\"}}",
                                model));
      return out;
    }
    Reader inner(*cfg);
    Field<double> budget = inner.number("max_budget");
    if (!budget.present) budget = inner.number("budget_limit");
    Field<std::string> period = inner.string("budget_duration");
    if (!period.present) period = inner.string("time_period");
    const Field<int64_t> tpm = inner.integer("tpm_limit");
    const Field<int64_t> rpm = inner.integer("rpm_limit");
    if (inner.ok()) (void)checkMoney(inner, "max_budget", budget);
    if (inner.ok() && period.has() && !governance::parseDuration(*period.value)) {
      inner.fail("budget_duration", fmt::format("invalid budget_duration '{}'", *period.value));
    }
    if (inner.ok()) (void)checkCount(inner, "tpm_limit", tpm);
    if (inner.ok()) (void)checkCount(inner, "rpm_limit", rpm);
    if (!inner.ok()) {
      r.fail(kName, fmt::format("Invalid value for 'model_max_budget' (model '{}'): {}", model,
                                inner.error()->message));
      return out;
    }
    json::object m;
    if (budget.has()) m["max_budget"] = *budget.value;
    if (period.has()) m["budget_duration"] = *period.value;
    if (tpm.has()) m["tpm_limit"] = *tpm.value;
    if (rpm.has()) m["rpm_limit"] = *rpm.value;
    norm[model] = std::move(m);
  }
  out.set(writeJson(norm));
  return out;
}

template <class T>
void assign(const Field<T>& f, std::optional<T>& dst) {
  if (f.present) dst = f.value;
}

void assignText(const Field<std::string>& f, std::string& dst, std::string_view empty) {
  if (f.present) dst = f.value ? *f.value : std::string(empty);
}

}  // namespace

Field<std::string> readObjectText(Reader& r, std::string_view name) {
  Field<std::string> out;
  const Field<json::object> f = r.object(name);
  if (f.has()) {
    out.set(writeJson(*f.value));
  } else if (f.present) {
    out.clear();
  }
  return out;
}

bool LimitsPatch::any() const {
  return maxBudget.present || softBudget.present || budgetDuration.present || rpmLimit.present ||
         tpmLimit.present || maxParallelRequests.present || modelMaxBudget.present ||
         modelRpmLimit.present || modelTpmLimit.present;
}

bool checkMoney(Reader& r, std::string_view name, const Field<double>& f) {
  if (!f.has()) return true;
  if (*f.value < 0) {
    r.fail(name, fmt::format("{} cannot be negative. Received: {}", name, *f.value));
    return false;
  }
  if (*f.value > kMaxBudgetUsd) {
    r.fail(name, fmt::format("{} is too large. Received: {}, maximum: {}", name, *f.value,
                             kMaxBudgetUsd));
    return false;
  }
  return true;
}

Field<std::string> readDuration(Reader& r, std::string_view name) {
  Field<std::string> f = r.string(name);
  if (!f.has()) return f;
  if (isUnsetDuration(*f.value)) {
    f.clear();
  } else if (!governance::parseDuration(*f.value)) {
    r.fail(name, fmt::format("Invalid {} '{}'. Use a count and a unit: 30s, 5m, 1h, 1d, 1w or "
                             "1mo.",
                             name, *f.value));
  }
  return f;
}

void readLimits(Reader& r, LimitsPatch& p) {
  p.maxBudget = r.number("max_budget");
  // LiteLLM's UI sends "" for "no budget".
  if (const auto* v = r.raw("max_budget");
      v != nullptr && v->is_string() && v->get_string().empty()) {
    p.maxBudget = {};
    p.maxBudget.clear();
  }
  p.softBudget = r.number("soft_budget");
  p.budgetDuration = readDuration(r, "budget_duration");
  p.rpmLimit = r.integer("rpm_limit");
  p.tpmLimit = r.integer("tpm_limit");
  p.maxParallelRequests = r.integer("max_parallel_requests");
  p.modelMaxBudget = readModelMaxBudget(r);
  p.modelRpmLimit = readModelCounts(r, "model_rpm_limit");
  p.modelTpmLimit = readModelCounts(r, "model_tpm_limit");
  (void)checkMoney(r, "max_budget", p.maxBudget);
  (void)checkMoney(r, "soft_budget", p.softBudget);
  (void)checkCount(r, "rpm_limit", p.rpmLimit);
  (void)checkCount(r, "tpm_limit", p.tpmLimit);
  (void)checkCount(r, "max_parallel_requests", p.maxParallelRequests);
}

void applyLimits(const LimitsPatch& p, store::Limits& l, int64_t nowMs) {
  assign(p.maxBudget, l.maxBudget);
  assign(p.softBudget, l.softBudget);
  assign(p.rpmLimit, l.rpmLimit);
  assign(p.tpmLimit, l.tpmLimit);
  assign(p.maxParallelRequests, l.maxParallelRequests);
  assignText(p.modelMaxBudget, l.modelMaxBudget, "{}");
  assignText(p.modelRpmLimit, l.modelRpmLimit, "{}");
  assignText(p.modelTpmLimit, l.modelTpmLimit, "{}");
  if (p.budgetDuration.has()) {
    l.budgetDuration = *p.budgetDuration.value;
    l.budgetResetAt = governance::nextBudgetReset(*p.budgetDuration.value, nowMs);
  } else if (p.budgetDuration.cleared()) {
    l.budgetDuration.reset();
    l.budgetResetAt.reset();
  }
}

void readKeyPatch(Reader& r, KeyPatch& p) {
  p.key = r.string("key");
  p.keyAlias = r.string("key_alias");
  // "" is how forms say "no alias"; as an alias it would collide across keys.
  if (p.keyAlias.has() && p.keyAlias.value->empty()) p.keyAlias.clear();
  p.userId = r.string("user_id");
  p.teamId = r.string("team_id");
  p.budgetId = r.string("budget_id");
  p.keyType = r.string("key_type");
  p.duration = readDuration(r, "duration");
  p.models = r.strings("models");
  p.tags = r.strings("tags");
  p.allowedRoutes = r.strings("allowed_routes");
  p.aliases = readObjectText(r, "aliases");
  p.permissions = readObjectText(r, "permissions");
  p.blocked = r.boolean("blocked");
  p.spend = r.number("spend");
  readLimits(r, p.limits);
  (void)checkMoney(r, "spend", p.spend);

  if (p.keyType.has()) {
    const std::string& t = *p.keyType.value;
    if (t != "default" && t != "llm_api" && t != "management" && t != "read_only") {
      r.fail("key_type", fmt::format("Invalid key_type '{}'. Use one of: default, llm_api, "
                                     "management, read_only",
                                     t));
    }
  }
  if (const auto* a = r.raw("aliases"); a != nullptr && a->is_object()) {
    // aliases map an alias to a model group name.
    for (const auto& kv : a->get_object()) {
      if (!kv.value().is_string()) {
        r.fail("aliases", "Invalid value for 'aliases': every alias must map to a model name");
        break;
      }
    }
  }

  // metadata: free JSON, minus the members LiteLLM reserves for key settings.
  Field<json::object> meta = r.object("metadata");
  if (meta.has()) {
    json::object& m = *meta.value;
    Reader inner(m);
    if (!p.tags.present && m.contains("tags")) p.tags = inner.strings("tags");
    if (!p.limits.modelRpmLimit.present && m.contains("model_rpm_limit")) {
      p.limits.modelRpmLimit = readModelCounts(inner, "model_rpm_limit");
    }
    if (!p.limits.modelTpmLimit.present && m.contains("model_tpm_limit")) {
      p.limits.modelTpmLimit = readModelCounts(inner, "model_tpm_limit");
    }
    if (!inner.ok()) {
      r.fail("metadata", fmt::format("Invalid value in 'metadata': {}", inner.error()->message));
    }
    m.erase("tags");
    m.erase("model_rpm_limit");
    m.erase("model_tpm_limit");
    p.metadata.set(writeJson(m));
  } else if (meta.present) {
    p.metadata.clear();
  }
}

void applyKeyPatch(const KeyPatch& p, store::KeyRow& k, int64_t nowMs) {
  assign(p.keyAlias, k.keyAlias);
  assign(p.userId, k.userId);
  assign(p.teamId, k.teamId);
  assign(p.budgetId, k.budgetId);
  if (p.models.present) k.models = p.models.value.value_or(std::vector<std::string>{});
  if (p.tags.present) k.tags = p.tags.value.value_or(std::vector<std::string>{});
  if (p.allowedRoutes.present) {
    k.allowedRoutes = p.allowedRoutes.value.value_or(std::vector<std::string>{});
  }
  assignText(p.metadata, k.metadata, "{}");
  assignText(p.aliases, k.aliases, "{}");
  assignText(p.permissions, k.permissions, "{}");
  if (p.blocked.present) k.blocked = p.blocked.value.value_or(false);
  if (p.spend.has()) k.spend = *p.spend.value;
  if (p.keyType.present) {
    k.keyType = p.keyType.value.value_or("default");
    // LiteLLM's key types are route allow-lists; explicit allowed_routes win.
    if (!p.allowedRoutes.present) {
      if (k.keyType == "llm_api") {
        k.allowedRoutes = {"llm_api_routes"};
      } else if (k.keyType == "management") {
        k.allowedRoutes = {"management_routes"};
      } else if (k.keyType == "read_only") {
        k.allowedRoutes = {"info_routes"};
      } else {
        k.allowedRoutes.clear();
      }
    }
  }
  if (p.duration.has()) {
    if (auto d = governance::parseDuration(*p.duration.value)) {
      k.expires = governance::addDuration(*d, nowMs);
    }
  } else if (p.duration.cleared()) {
    k.expires.reset();
  }
  applyLimits(p.limits, k.limits, nowMs);
}

}  // namespace llmux::management
