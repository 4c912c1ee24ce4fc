#pragma once
// Who is calling: the resolved view of a virtual key with its team, team membership and user, as
// the request path needs it (allow-lists, aliases, expiry, blocks, and the limit descriptors that
// admission checks). Built on the store thread from database rows, then shared read-only by the
// I/O threads (std::shared_ptr<const Principal>) until the key cache drops it.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "governance/access.hpp"
#include "governance/limits.hpp"
#include "store/db.hpp"
#include "store/records.hpp"
#include "store/repo.hpp"

namespace llmux::auth {

struct ModelBudget {
  int64_t maxNano = 0;
  std::string duration;  // budget_duration ("" = none)
};

struct Principal {
  enum class Kind : uint8_t {
    Open,       // no master key configured: every request is accepted (LiteLLM's dev mode)
    Master,     // the master key
    VirtualKey  // a key from the database
  };
  Kind kind = Kind::Open;
  governance::Role role = governance::Role::None;
  std::string keyHash;  // "" unless VirtualKey
  std::string keyAlias;
  std::string keyName;  // "sk-...abcd"
  std::string userId, teamId, teamAlias, userEmail;
  std::vector<std::string> keyModels;   // the key's allow-list (empty = all)
  std::vector<std::string> teamModels;  // the team's (empty = all); both must allow a model
  std::unordered_map<std::string, std::string> aliases;  // key aliases, then team model_aliases
  std::optional<int64_t> expiresMs;
  bool blocked = false;
  bool teamBlocked = false;
  std::vector<std::string> tags;  // the key's tags (added to each spend row)
  std::vector<std::string> allowedRoutes;
  // Key, team, team member and user descriptors (those with at least one limit, or a budget).
  std::vector<governance::Descriptor> descriptors;
  // Per model: model_rpm_limit / model_tpm_limit (the key's, else the team's) and
  // model_max_budget; each becomes a "key_model:<hash>:<model>" descriptor for that model.
  std::unordered_map<std::string, int64_t> modelRpm, modelTpm;
  std::unordered_map<std::string, ModelBudget> modelBudget;
  double keySpend = 0;  // at load time, for x-llmux-key-spend before any settle
  // The key's spend counter (id "key:<hash>", database spend and budget period) for keys whose
  // spend no budget tracks: the gateway adds each request's cost to it.
  governance::Descriptor spendView;
  std::optional<double> keyMaxBudget;  // the key's max_budget
  int64_t loadedAtMs = 0;

  [[nodiscard]] bool isAdmin() const {
    return kind != Kind::VirtualKey || role == governance::Role::ProxyAdmin;
  }
};

// Builds the view of one key from its rows (the team, membership, user and budget rows may be
// absent). Pure: no I/O, no clock (nowMs is given).
std::shared_ptr<const Principal> buildPrincipal(const store::KeyRow& key,
                                                const std::optional<store::TeamRow>& team,
                                                const std::optional<store::TeamMembership>& member,
                                                const std::optional<store::BudgetRow>& memberBudget,
                                                const std::optional<store::UserRow>& user,
                                                const std::optional<store::BudgetRow>& keyBudget,
                                                int64_t nowMs);

// Result of a lookup on the store thread: found, not found, or the database failed.
struct LoadResult {
  std::shared_ptr<const Principal> principal;  // null when not found or on failure
  bool dbError = false;
  std::string error;
};
// Reads the key and what it links to, then buildPrincipal. Runs on the store thread.
LoadResult loadPrincipal(store::Db& db, const std::string& keyHash, int64_t nowMs);

// The end user (OpenAI `user` field) as a descriptor, when the customer has limits or a budget.
struct CustomerView {
  bool found = false;
  bool blocked = false;
  std::optional<governance::Descriptor> descriptor;
  int64_t loadedAtMs = 0;
};
struct CustomerLoad {
  std::shared_ptr<const CustomerView> view;
  bool dbError = false;
};
CustomerLoad loadCustomer(store::Db& db, const std::string& endUserId, int64_t nowMs);

}  // namespace llmux::auth
