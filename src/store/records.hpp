#pragma once
// The governance entities as stored (LiteLLM's tables and field names): virtual keys, teams,
// team memberships, users, customers (end users), budgets, spend-log rows. Free-form JSON fields
// are kept as JSON text ("{}" / "[]" when empty); times are unix milliseconds (0 = unset unless
// the field is optional); money is USD.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace llmux::store {

// Key/team/user/budget fields that limit traffic (LiteLLM's GenerateRequestBase subset).
struct Limits {
  std::optional<double> maxBudget;
  std::optional<double> softBudget;
  std::optional<std::string> budgetDuration;  // "30s", "1h", "1d", "7d", "1mo", ...
  std::optional<int64_t> budgetResetAt;       // when spend goes back to 0 (unix ms)
  std::optional<int64_t> rpmLimit;
  std::optional<int64_t> tpmLimit;
  std::optional<int64_t> maxParallelRequests;
  std::string modelMaxBudget = "{}";  // {"model": {"max_budget": x, "budget_duration": "1d"}}
  std::string modelRpmLimit = "{}";   // {"model": n}
  std::string modelTpmLimit = "{}";   // {"model": n}
};

struct KeyRow {
  std::string token;    // SHA-256 hex of the raw key (primary key); the raw key is never stored
  std::string keyName;  // "sk-...abcd" (last four characters), for display
  std::optional<std::string> keyAlias;  // unique among keys when set
  std::optional<std::string> userId;
  std::optional<std::string> teamId;
  std::optional<std::string> budgetId;
  std::vector<std::string> models;  // allow-list (groups, wildcards, access groups); empty = all
  std::string aliases = "{}";       // {"alias": "model group"}
  std::string metadata = "{}";
  std::vector<std::string> tags;
  std::vector<std::string> allowedRoutes;
  std::string keyType = "default";  // default | llm_api | management | read_only
  std::string permissions = "{}";
  Limits limits;
  double spend = 0;
  std::string modelSpend = "{}";   // {"model": usd} since the last reset
  std::optional<int64_t> expires;  // unix ms; unset = never
  bool blocked = false;
  std::optional<std::string> createdBy;
  std::optional<std::string> updatedBy;
  int64_t createdAt = 0;
  int64_t updatedAt = 0;
  std::optional<int64_t> lastActive;
};

struct TeamMember {
  std::optional<std::string> userId;
  std::optional<std::string> userEmail;
  std::string role = "user";  // admin | user
};

struct TeamRow {
  std::string teamId;
  std::optional<std::string> teamAlias;
  std::optional<std::string> organizationId;
  std::vector<TeamMember> members;  // members_with_roles
  std::vector<std::string> models;
  std::string modelAliases = "{}";
  std::string metadata = "{}";
  std::vector<std::string> tags;
  Limits limits;
  double spend = 0;
  std::string modelSpend = "{}";
  bool blocked = false;
  std::optional<std::string> createdBy;
  std::optional<std::string> updatedBy;
  int64_t createdAt = 0;
  int64_t updatedAt = 0;
};

// A user's place in a team, with an optional per-member budget (max_budget_in_team).
struct TeamMembership {
  std::string teamId;
  std::string userId;
  double spend = 0;
  std::optional<std::string> budgetId;
};

struct UserRow {
  std::string userId;
  std::optional<std::string> userEmail;
  std::optional<std::string> userAlias;
  std::string userRole = "internal_user";  // proxy_admin | proxy_admin_viewer | internal_user |
                                           // internal_user_viewer
  std::vector<std::string> teams;
  std::vector<std::string> models;
  std::string metadata = "{}";
  Limits limits;
  double spend = 0;
  std::string modelSpend = "{}";
  int64_t createdAt = 0;
  int64_t updatedAt = 0;
};

// An end user: the OpenAI `user` field (LiteLLM_EndUserTable).
struct CustomerRow {
  std::string userId;
  std::optional<std::string> alias;
  std::optional<std::string> budgetId;
  std::optional<std::string> allowedModelRegion;  // eu | us
  std::optional<std::string> defaultModel;
  double spend = 0;
  bool blocked = false;
  int64_t createdAt = 0;
  int64_t updatedAt = 0;
};

struct BudgetRow {
  std::string budgetId;
  Limits limits;
  std::optional<std::string> createdBy;
  std::optional<std::string> updatedBy;
  int64_t createdAt = 0;
  int64_t updatedAt = 0;
};

// One row per request (LiteLLM_SpendLogs plus llmux's columns).
struct SpendRow {
  std::string requestId;  // primary key: the gateway's request id
  std::string callType;   // chat_completion, embedding, text_completion, messages, ...
  std::string apiKey;     // key hash ("" for the master key or no auth)
  std::string keyAlias;
  std::string teamId;
  std::string userId;   // the key's owner
  std::string endUser;  // the OpenAI `user` field
  std::string model;    // what the client asked for
  std::string modelGroup;
  std::string deployment;  // model_info.id
  std::string provider;    // custom_llm_provider
  std::string apiBase;
  int64_t promptTokens = 0;
  int64_t completionTokens = 0;
  int64_t cachedTokens = 0;      // cache_read_input_tokens
  int64_t cacheWriteTokens = 0;  // cache_creation_input_tokens
  int64_t reasoningTokens = 0;
  bool tokensEstimated = false;  // counted by llmux (no usage from the provider)
  double spend = 0;
  int status = 0;         // HTTP status the client got
  std::string errorType;  // "" on success
  int64_t startTime = 0;  // unix ms
  int64_t endTime = 0;
  std::optional<int64_t> completionStartTime;  // first token (unix ms)
  bool cacheHit = false;
  std::string tags = "[]";      // JSON list: request tags
  std::string metadata = "{}";  // JSON object: request metadata
};

// A batch of spend rows as the writer hands it on: pointers to the nodes the rows travelled in
// (see store/spend_writer.hpp), so a batch is written or spooled without copying a row.
using SpendBatch = std::span<const SpendRow* const>;

// Points `out` (cleared first) at each of `rows`: a SpendBatch over rows held by value.
inline void pointTo(std::span<const SpendRow> rows, std::vector<const SpendRow*>& out) {
  out.clear();
  out.reserve(rows.size());
  for (const SpendRow& r : rows) out.push_back(&r);
}

}  // namespace llmux::store
