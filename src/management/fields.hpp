#pragma once
// The request fields several routes share: limits (keys, teams, users, budgets, customers) and
// key fields (/key/generate, /key/update, /key/regenerate, /user/new). Reading validates types and
// values; applying copies the present members onto a row (an explicit null clears).
#include <cstdint>
#include <string>
#include <vector>

#include "management/json_io.hpp"
#include "store/records.hpp"

namespace llmux::management {

// Budgets above this are refused: spend is counted in int64 nano-USD downstream.
constexpr double kMaxBudgetUsd = 1e9;

struct LimitsPatch {
  Field<double> maxBudget, softBudget;
  Field<std::string> budgetDuration;  // validated
  Field<int64_t> rpmLimit, tpmLimit, maxParallelRequests;
  Field<std::string> modelMaxBudget, modelRpmLimit, modelTpmLimit;  // normalized JSON text
  [[nodiscard]] bool any() const;
};

// Reads max_budget, soft_budget, budget_duration, rpm_limit, tpm_limit, max_parallel_requests,
// model_max_budget, model_rpm_limit, model_tpm_limit. Negative or too large budgets, negative
// limits and durations parseDuration rejects are errors.
void readLimits(Reader& r, LimitsPatch& p);
// A budget_duration set here moves budget_reset_at to governance::nextBudgetReset; cleared, both
// go. Returns true when something changed.
void applyLimits(const LimitsPatch& p, store::Limits& l, int64_t nowMs);

// Validates a money value (>= 0, <= kMaxBudgetUsd); records the error on `r`.
bool checkMoney(Reader& r, std::string_view name, const Field<double>& f);
// "duration"/"budget_duration": null, "", "none", "null" and "-1" mean unset (cleared); anything
// else must parse. Returns the field with those forms turned into an explicit clear.
Field<std::string> readDuration(Reader& r, std::string_view name);

// An object member as JSON text (explicit null clears).
Field<std::string> readObjectText(Reader& r, std::string_view name);

struct KeyPatch {
  Field<std::string> key;  // custom raw key (must start with sk-)
  Field<std::string> keyAlias, userId, teamId, budgetId, keyType, duration;
  Field<std::vector<std::string>> models, tags, allowedRoutes;
  Field<std::string> metadata, aliases, permissions;  // JSON object text
  Field<bool> blocked;
  Field<double> spend;
  LimitsPatch limits;
};

// Reads every key field. LiteLLM clients may put model_rpm_limit, model_tpm_limit and tags inside
// metadata; they are lifted out when the top-level field is absent.
void readKeyPatch(Reader& r, KeyPatch& p);
// Applies the present fields (not key, user_id/team_id checks are the caller's); `duration` sets
// expires = now + duration, cleared -> never expires.
void applyKeyPatch(const KeyPatch& p, store::KeyRow& k, int64_t nowMs);

}  // namespace llmux::management
