#pragma once
// Shared by the management handlers (not part of the module's API): the handler environment,
// error answers, role predicates, row -> JSON renderers and the per-route handlers.
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "management/json_io.hpp"
#include "management/management.hpp"
#include "store/records.hpp"
#include "store/repo.hpp"

namespace llmux::management {

struct Env {
  const Context& ctx;
  const Caller& caller;
  const Request& req;
  std::string_view route;  // canonical path (/key/regenerate for /key/{key}/regenerate)
  std::string pathKey;     // the {key} of /key/{key}/regenerate, decoded
  [[nodiscard]] store::Db& db() const { return ctx.db; }
};

// ---- answers
// A LiteLLM-style error: {"error":{"message","type","param","code":"<status>"}}.
Response errorResponse(int status, std::string_view type, std::string_view message,
                       std::optional<std::string> param = std::nullopt);
Response errorResponse(const GatewayError& e);
Response badRequest(std::string_view message, std::optional<std::string> param = std::nullopt);
Response notFound(std::string_view message, std::optional<std::string> param = std::nullopt);
Response forbidden(std::string_view message);
// A store failure: 503 when the connection is gone, else 500.
Response dbFailure(const store::RepoError& err);
Response okJson(const json::value& v);
// Parses a POST body into an object (an empty body is {}); false with `err` set otherwise.
bool parseBody(std::string_view body, json::object& out, Response& err);

// A write transaction over several repository calls: rolled back unless committed.
class Transaction {
 public:
  explicit Transaction(store::Db& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  [[nodiscard]] bool started() const { return started_; }
  [[nodiscard]] const store::RepoError& error() const { return err_; }
  bool commit();  // false with error() set

 private:
  store::Db& db_;
  bool started_ = false;
  bool done_ = false;
  store::RepoError err_;
};

// ---- roles
bool isAdmin(const Caller& c);                        // master key or proxy_admin
bool canReadAll(const Caller& c);                     // admin or proxy_admin_viewer
std::string callerName(const Caller& c);              // user id, or "unknown" (messages)
std::optional<std::string> actorId(const Caller& c);  // created_by / updated_by

// ---- teams
bool isMember(const store::TeamRow& t, const std::string& userId);
bool isTeamAdmin(const store::TeamRow& t, const std::string& userId);

// ---- keys
// A management route accepts a raw key or its hash (governance::looksLikeHash); this is the hash.
std::string keyHashOf(std::string_view keyOrHash);
// The budget row a key or customer points at, as litellm_budget_table (null when unset or gone).
json::value budgetTable(store::Db& db, const std::optional<std::string>& budgetId);

struct KeyPatch;
// Permissions and references of a key patch against the key it changes (`current` null when
// creating): ownership for non-admins, user/team/budget existence, alias uniqueness. On success
// p.userId holds the owner a non-admin is forced to.
std::optional<Response> checkKeyPatch(const Env& e, KeyPatch& p, const store::KeyRow* current);
// GenerateKeyResponse: the row plus the raw key (shown this once) and token_id.
json::object createdKeyJson(store::Db& db, const store::KeyRow& k, const std::string& raw);

// ---- team members (team_members.cpp)
// Reads one member object {"role": "admin"|"user", "user_id"?, "user_email"?}.
std::optional<Response> readMember(const json::value& v, std::string_view field,
                                   store::TeamMember& out);
// Gives every member a user id: an unknown user_id or user_email gets a user row (internal_user),
// like LiteLLM's /team/member_add; an email-only member takes the id of the user with that email.
// Returns the ids of created users in `created`.
std::optional<Response> resolveMembers(const Env& e, std::vector<store::TeamMember>& members,
                                       std::vector<std::string>& created);
// Adds `teamId` to each member's user row and upserts the membership rows (budgetId optional).
std::optional<Response> linkMembers(const Env& e, const std::string& teamId,
                                    const std::vector<store::TeamMember>& members,
                                    const std::optional<std::string>& budgetId);

// ---- row JSON (LiteLLM's field names; times as ISO 8601 UTC)
json::object keyJson(const store::KeyRow& k, bool withToken);
json::object teamJson(const store::TeamRow& t);
json::object userJson(const store::UserRow& u);
json::object customerJson(const store::CustomerRow& c, const std::optional<store::BudgetRow>& b);
json::object budgetJson(const store::BudgetRow& b);
json::object membershipJson(const store::TeamMembership& m);
json::object spendJson(const store::SpendRow& r);
json::array stringArray(const std::vector<std::string>& v);

// ---- handlers
Response keyGenerate(const Env& e);
Response keyUpdate(const Env& e);
Response keyRegenerate(const Env& e);
Response keyDelete(const Env& e);
Response keyInfo(const Env& e);
Response keyList(const Env& e);
Response keyBlock(const Env& e, bool block);

Response teamNew(const Env& e);
Response teamUpdate(const Env& e);
Response teamDelete(const Env& e);
Response teamInfo(const Env& e);
Response teamList(const Env& e);
Response teamBlock(const Env& e, bool block);
Response teamMemberAdd(const Env& e);
Response teamMemberDelete(const Env& e);

Response userNew(const Env& e);
Response userUpdate(const Env& e);
Response userDelete(const Env& e);
Response userInfo(const Env& e);
Response userList(const Env& e);

Response customerNew(const Env& e);
Response customerUpdate(const Env& e);
Response customerDelete(const Env& e);
Response customerInfo(const Env& e);
Response customerList(const Env& e);
Response customerBlock(const Env& e, bool block);

Response budgetNew(const Env& e);
Response budgetUpdate(const Env& e);
Response budgetInfo(const Env& e);
Response budgetDelete(const Env& e);
Response budgetList(const Env& e);

Response spendLogs(const Env& e);
Response globalSpendReport(const Env& e);

}  // namespace llmux::management
