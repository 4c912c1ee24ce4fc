// Route table, method check and the role gate in front of the handlers.
#include <fmt/format.h>

#include <array>

#include "management/internal.hpp"

namespace llmux::management {
namespace {

using governance::Role;

enum class Method { Get, Post, GetOrPost };

// Who may reach a handler (before the handler's own ownership checks):
//   Read:       any caller; the handler narrows to the caller's own data.
//   AdminRead:  proxy_admin, proxy_admin_viewer.
//   OwnWrite:   proxy_admin, internal_user (the handler checks ownership / team admin).
//   AdminWrite: proxy_admin only.
enum class Access { Read, AdminRead, OwnWrite, AdminWrite };

using Handler = Response (*)(const Env&);

struct Route {
  std::string_view path;
  Method method;
  Access access;
  Handler fn;
};

Response blockKey(const Env& e) {
  return keyBlock(e, true);
}
Response unblockKey(const Env& e) {
  return keyBlock(e, false);
}
Response blockTeam(const Env& e) {
  return teamBlock(e, true);
}
Response unblockTeam(const Env& e) {
  return teamBlock(e, false);
}
Response blockCustomer(const Env& e) {
  return customerBlock(e, true);
}
Response unblockCustomer(const Env& e) {
  return customerBlock(e, false);
}

constexpr auto kRoutes = std::to_array<Route>({
    {"/key/generate", Method::Post, Access::OwnWrite, keyGenerate},
    {"/key/update", Method::Post, Access::OwnWrite, keyUpdate},
    {"/key/delete", Method::Post, Access::OwnWrite, keyDelete},
    {"/key/info", Method::Get, Access::Read, keyInfo},
    {"/key/list", Method::Get, Access::Read, keyList},
    {"/key/regenerate", Method::Post, Access::OwnWrite, keyRegenerate},
    {"/key/block", Method::Post, Access::OwnWrite, blockKey},
    {"/key/unblock", Method::Post, Access::OwnWrite, unblockKey},
    {"/team/new", Method::Post, Access::AdminWrite, teamNew},
    {"/team/update", Method::Post, Access::AdminWrite, teamUpdate},
    {"/team/delete", Method::Post, Access::AdminWrite, teamDelete},
    {"/team/info", Method::Get, Access::Read, teamInfo},
    {"/team/list", Method::Get, Access::Read, teamList},
    {"/team/member_add", Method::Post, Access::OwnWrite, teamMemberAdd},
    {"/team/member_delete", Method::Post, Access::OwnWrite, teamMemberDelete},
    {"/team/block", Method::Post, Access::AdminWrite, blockTeam},
    {"/team/unblock", Method::Post, Access::AdminWrite, unblockTeam},
    {"/user/new", Method::Post, Access::AdminWrite, userNew},
    {"/user/update", Method::Post, Access::OwnWrite, userUpdate},
    {"/user/delete", Method::Post, Access::AdminWrite, userDelete},
    {"/user/info", Method::Get, Access::Read, userInfo},
    {"/user/list", Method::Get, Access::AdminRead, userList},
    {"/customer/new", Method::Post, Access::AdminWrite, customerNew},
    {"/customer/update", Method::Post, Access::AdminWrite, customerUpdate},
    {"/customer/delete", Method::Post, Access::AdminWrite, customerDelete},
    {"/customer/info", Method::Get, Access::AdminRead, customerInfo},
    {"/customer/list", Method::Get, Access::AdminRead, customerList},
    {"/customer/block", Method::Post, Access::AdminWrite, blockCustomer},
    {"/customer/unblock", Method::Post, Access::AdminWrite, unblockCustomer},
    {"/budget/new", Method::Post, Access::AdminWrite, budgetNew},
    {"/budget/update", Method::Post, Access::AdminWrite, budgetUpdate},
    // LiteLLM reads budgets with POST {"budgets": [...]}; GET ?budget_id= is accepted too.
    {"/budget/info", Method::GetOrPost, Access::AdminRead, budgetInfo},
    {"/budget/delete", Method::Post, Access::AdminWrite, budgetDelete},
    {"/budget/list", Method::Get, Access::AdminRead, budgetList},
    {"/spend/logs", Method::Get, Access::Read, spendLogs},
    {"/global/spend/report", Method::Get, Access::AdminRead, globalSpendReport},
});

constexpr std::string_view kRegenSuffix = "/regenerate";

// The {key} of /key/{key}/regenerate, or nullopt when `path` is not of that form.
std::optional<std::string_view> regenerateKeySegment(std::string_view path) {
  if (path.size() <= 5 + kRegenSuffix.size() || !path.starts_with("/key/") ||
      !path.ends_with(kRegenSuffix)) {
    return std::nullopt;
  }
  const std::string_view mid = path.substr(5, path.size() - 5 - kRegenSuffix.size());
  if (mid.empty() || mid.find('/') != std::string_view::npos) return std::nullopt;
  return mid;
}

// /end_user/* are LiteLLM's older names for /customer/*.
std::string canonicalPath(std::string_view path) {
  if (path.starts_with("/end_user/")) return "/customer/" + std::string(path.substr(10));
  if (regenerateKeySegment(path)) return "/key/regenerate";
  return std::string(path);
}

const Route* findRoute(std::string_view canonical) {
  for (const auto& r : kRoutes) {
    if (r.path == canonical) return &r;
  }
  return nullptr;
}

bool methodAllowed(Method m, std::string_view method) {
  switch (m) {
    case Method::Get:
      return method == "GET";
    case Method::Post:
      return method == "POST";
    case Method::GetOrPost:
      return method == "GET" || method == "POST";
  }
  return false;
}

// The handler-level gate, applied after governance::checkRoute (which knows LiteLLM's route
// families); it holds even where the gate is more permissive.
std::optional<Response> checkAccess(const Caller& c, Access access, std::string_view route) {
  if (isAdmin(c) || access == Access::Read) return std::nullopt;
  if (c.role == Role::None) {
    return errorResponse(
        401, "auth_error",
        fmt::format("Authentication Error, Only proxy admin can be used to generate, delete, "
                    "update info for new keys/users/teams. Route={}. Your role=unknown. Your "
                    "user_id={}",
                    route, callerName(c)));
  }
  const bool allowed = (access == Access::AdminRead && c.role == Role::ProxyAdminViewer) ||
                       (access == Access::OwnWrite && c.role == Role::InternalUser);
  if (allowed) return std::nullopt;
  return forbidden(
      fmt::format("user not allowed to access this route, role= {}. Trying to "
                  "access: {}",
                  governance::roleName(c.role), route));
}

}  // namespace

bool handles(std::string_view path) {
  return findRoute(canonicalPath(path)) != nullptr;
}

Response handle(const Context& ctx, const Caller& caller, const Request& req) {
  const std::string route = canonicalPath(req.path);
  const Route* r = findRoute(route);
  if (r == nullptr) {
    return notFound(fmt::format("Route not found: {}", req.path.substr(0, 200)));
  }
  if (!methodAllowed(r->method, req.method)) {
    const std::string_view allow = r->method == Method::Get    ? "GET"
                                   : r->method == Method::Post ? "POST"
                                                               : "GET, POST";
    GatewayError e{405,
                   "invalid_request_error",
                   fmt::format("Method {} is not allowed on {}; use {}.", req.method.substr(0, 16),
                               route, allow),
                   {},
                   "method_not_allowed",
                   {}};
    Response res = errorResponse(e);
    res.allow = std::string(allow);
    return res;
  }
  if (!caller.masterKey) {
    const governance::GateResult g =
        governance::checkRoute(caller.role, route, req.method == "GET");
    if (g.status != 0) return errorResponse(g.status, "auth_error", g.message);
  }
  if (auto denied = checkAccess(caller, r->access, route)) return std::move(*denied);

  Env env{ctx, caller, req, route, {}};
  if (auto seg = regenerateKeySegment(req.path))
    env.pathKey = sanitizeUtf8(percentDecode(*seg, false));
  return r->fn(env);
}

}  // namespace llmux::management
