#pragma once
// LiteLLM's management API (/key/*, /team/*, /user/*, /customer/* and /end_user/*, /budget/*,
// /spend/logs, /global/spend/report) as synchronous handlers. They run on the store's thread with
// its Db; the gateway hands them an authenticated caller and the raw request, and drops from its
// key cache whatever the response's `invalidate` names. Every answer is JSON: the route's result,
// or an OpenAI error envelope {"error":{"message","type","param","code"}} with `code` the status
// as a string (LiteLLM's ProxyException shape). Nothing here throws on a request path.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "governance/access.hpp"
#include "store/db.hpp"

namespace llmux::management {

// Who is calling: the master key (role ProxyAdmin, masterKey true, no keyHash) or a virtual key
// (its hash, its user's role, its user and team).
struct Caller {
  governance::Role role = governance::Role::None;
  bool masterKey = false;
  std::optional<std::string> userId;
  std::optional<std::string> teamId;
  std::string keyHash;
};

struct Request {
  std::string_view method;  // "GET", "POST"
  std::string_view path;    // "/key/generate"
  std::string_view query;   // raw, without '?'
  std::string_view body;
};

// What the gateway's caches must drop after a write (key hashes, and the team/user/customer/
// budget views cached keys carry); `all` drops everything.
struct Invalidation {
  std::vector<std::string> keyHashes, teamIds, userIds, customerIds, budgetIds;
  bool all = false;
  [[nodiscard]] bool empty() const {
    return !all && keyHashes.empty() && teamIds.empty() && userIds.empty() && customerIds.empty() &&
           budgetIds.empty();
  }
};

struct Response {
  int status = 200;
  std::string body;   // JSON
  std::string allow;  // the Allow header of a 405
  Invalidation invalidate;
};

struct Context {
  store::Db& db;
  int64_t nowMs = 0;
  const governance::AccessGroups& accessGroups;
  // Is this a model group the router serves (customer default_model checks)? Unset: any name.
  std::function<bool(std::string_view)> modelExists;
};

// True for every management path handled here (including /key/{key}/regenerate and /end_user/*).
bool handles(std::string_view path);

// Runs one management request: the role gate (governance::checkRoute), the method, the body and
// query, ownership, then the store. Never throws; a store failure is a 500 (503 when the
// connection is lost).
Response handle(const Context& ctx, const Caller& caller, const Request& req);

}  // namespace llmux::management
