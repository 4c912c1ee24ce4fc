#pragma once
// Who may call what: model allow-lists and the management-route gate by role.
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace llmux::governance {

enum class Role {
  ProxyAdmin,        // the master key, or a key whose user has user_role proxy_admin
  ProxyAdminViewer,  // reads everything, writes nothing
  InternalUser,      // manages its own keys, reads its own spend
  InternalUserViewer,
  None,  // an LLM key with no user (or a user without a role)
};
Role parseRole(std::string_view s);  // unknown text -> None
std::string_view roleName(Role r);   // "proxy_admin", ..., "unknown" for None

// access_groups: model_info.access_groups of the deployments, group name -> model groups.
using AccessGroups = std::unordered_map<std::string, std::vector<std::string>>;

// May a caller with this allow-list use `model`? Empty list, "*" and "all-proxy-models" allow
// everything; entries match a model group exactly, as a wildcard ("openai/*" matches
// "openai/gpt-4o"; a trailing '*' matches any suffix), or through an access group.
// "all-team-models" is expanded by the caller (key list ∩ team list) before calling. '*' may
// appear anywhere in an entry ("gpt-4o*", "*/llama-3*"); an access group's members are matched the
// same way (exactly or as wildcards), groups do not nest. Any other sentinel ("no-default-models")
// matches nothing.
bool modelAllowed(std::span<const std::string> allowList, std::string_view model,
                  const AccessGroups& groups);

// The management-route gate (LiteLLM's rules, with the status codes). `route` is the
// path ("/key/generate"; a query string and trailing '/' are ignored), `isGet` the method (pass
// true for HEAD too). Returns status 0 when the role may call the route (the handler then applies
// ownership checks: own keys, own user, own teams, own spend rows), else the HTTP status to
// refuse with and a message naming the route and the role:
//
//   route family                          admin  admin_viewer  internal_user  iu_viewer  None
//   not a management route (LLM API,      ok     ok            ok             ok         ok
//     /models, /health, /utils/...)
//   info routes (isInfoRoute: /key/info,  ok     ok            ok             ok         ok
//     /v2/key/info, /key/list, /key/health,
//     /team/info, /team/list, /user/info,
//     /model/info, /v2/model/info, /model_group/info)
//   /key/* writes (generate, update,      ok     403           ok             403        401
//     delete, regenerate, block, unblock)
//   /spend/logs                           ok     ok (GET)      ok             ok (GET)   401
//   other GET (/user/list, /customer/     ok     ok            403            403        401
//     info|list, /budget/list, /global/spend/*)
//   POST /budget/info (a read)            ok     ok            403            403        401
//   other writes (/team/*, /user/*,       ok     403           403            403        401
//     /customer/*, /budget/*, /model/*)
//
// Management routes are the paths under /key/ /v2/key/ /team/ /user/ /customer/ /end_user/
// /budget/ /model/ /v2/model/ /model_group/ /spend/ /global/ /organization/. 401 ("Only proxy
// admin can call this management route. Route=R. Your role=unknown...") is for a key without a
// role, as LiteLLM answers; a known role that may not call the route gets 403. Differences from
// LiteLLM: team admins get no self-managed team routes (/team/member_add is admin-only), and
// internal users get /spend/logs only (not /spend/keys|users|tags, which list everyone's spend);
// the master key and a proxy_admin user are not distinguished (master-key-only routes are the
// caller's to check).
struct GateResult {
  int status = 0;
  std::string message;
};
GateResult checkRoute(Role role, std::string_view route, bool isGet);

// Route families.
bool isManagementRoute(std::string_view path);  // the prefixes above
bool isInfoRoute(std::string_view path);        // readable by any key (own data; see the table)

}  // namespace llmux::governance
