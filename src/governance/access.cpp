// Model allow-lists and the management-route gate (access.hpp has the full table).
#include "governance/access.hpp"

#include <algorithm>
#include <array>

#include "common/text.hpp"

namespace llmux::governance {
namespace {

using namespace std::string_view_literals;

// Route families. Paths are compared after normalizePath (no query, no trailing '/').
constexpr std::array kManagementPrefixes = {
    "/key/"sv,      "/v2/key/"sv, "/team/"sv,         "/user/"sv,     "/customer/"sv,
    "/end_user/"sv, "/budget/"sv, "/model/"sv,        "/v2/model/"sv, "/model_group/"sv,
    "/spend/"sv,    "/global/"sv, "/organization/"sv,
};
constexpr std::array kInfoRoutes = {
    "/key/info"sv,  "/v2/key/info"sv, "/key/list"sv,   "/key/health"sv,    "/team/info"sv,
    "/team/list"sv, "/user/info"sv,   "/model/info"sv, "/v2/model/info"sv, "/model_group/info"sv,
};
// Reads that LiteLLM serves with POST (a viewer may call them).
constexpr std::array kPostReads = {"/budget/info"sv};
// Own-spend reads for internal users (the handler restricts rows to the caller).
constexpr std::array kOwnSpendRoutes = {"/spend/logs"sv};
// Routes an internal user may reach whose handler decides by ownership (LiteLLM's
// self_managed_routes): team admins manage members, users edit their own profile.
constexpr std::array kSelfManagedRoutes = {"/team/member_add"sv, "/team/member_delete"sv,
                                           "/user/update"sv};

template <size_t N>
bool contains(const std::array<std::string_view, N>& set, std::string_view v) {
  return std::find(set.begin(), set.end(), v) != set.end();
}

std::string_view normalizePath(std::string_view p) {
  if (const size_t q = p.find_first_of("?#"); q != std::string_view::npos) p = p.substr(0, q);
  while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
  return p;
}

// '*' matches any run of characters (also empty); everything else literally.
bool globMatch(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0, starP = std::string_view::npos, starT = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      starP = p++;
      starT = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (starP != std::string_view::npos) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool entryMatches(std::string_view entry, std::string_view model) {
  if (entry == model) return true;
  return entry.find('*') != std::string_view::npos && globMatch(entry, model);
}

GateResult refuse(int status, Role role, std::string_view route, std::string_view may) {
  GateResult g;
  g.status = status;
  g.message = "Only proxy admin can call this management route. Route=";
  g.message += utf8Prefix(route, 200);
  g.message += ". Your role=";
  g.message += roleName(role);
  g.message += may;
  return g;
}

}  // namespace

Role parseRole(std::string_view s) {
  if (s == "proxy_admin") return Role::ProxyAdmin;
  if (s == "proxy_admin_viewer") return Role::ProxyAdminViewer;
  if (s == "internal_user") return Role::InternalUser;
  if (s == "internal_user_viewer") return Role::InternalUserViewer;
  return Role::None;
}

std::string_view roleName(Role r) {
  switch (r) {
    case Role::ProxyAdmin:
      return "proxy_admin";
    case Role::ProxyAdminViewer:
      return "proxy_admin_viewer";
    case Role::InternalUser:
      return "internal_user";
    case Role::InternalUserViewer:
      return "internal_user_viewer";
    case Role::None:
      break;
  }
  return "unknown";
}

bool modelAllowed(std::span<const std::string> allowList, std::string_view model,
                  const AccessGroups& groups) {
  if (allowList.empty()) return true;
  for (const std::string& entry : allowList) {
    if (entry == "*" || entry == "all-proxy-models") return true;
    if (entryMatches(entry, model)) return true;
    if (const auto it = groups.find(entry); it != groups.end()) {
      // Access groups hold model group names, which may themselves be wildcard routes.
      for (const std::string& member : it->second) {
        if (entryMatches(member, model)) return true;
      }
    }
  }
  return false;
}

bool isManagementRoute(std::string_view path) {
  const std::string_view p = normalizePath(path);
  return std::any_of(kManagementPrefixes.begin(), kManagementPrefixes.end(),
                     [&](std::string_view prefix) { return p.starts_with(prefix); });
}

bool isInfoRoute(std::string_view path) {
  return contains(kInfoRoutes, normalizePath(path));
}

GateResult checkRoute(Role role, std::string_view route, bool isGet) {
  const std::string_view p = normalizePath(route);
  if (!isManagementRoute(p) || role == Role::ProxyAdmin || isInfoRoute(p)) return {};
  switch (role) {
    case Role::ProxyAdminViewer:
      if (isGet || contains(kPostReads, p)) return {};
      return {403, "Role proxy_admin_viewer may only read. Not allowed to call Route=" +
                       std::string(utf8Prefix(p, 200))};
    case Role::InternalUser:
      if (p.starts_with("/key/") || contains(kOwnSpendRoutes, p) ||
          contains(kSelfManagedRoutes, p)) {
        return {};
      }
      return refuse(403, role, p, " (it may manage its own keys and read its own info and spend)");
    case Role::InternalUserViewer:
      if (isGet && contains(kOwnSpendRoutes, p)) return {};
      return refuse(403, role, p, " (it may read its own info and spend)");
    case Role::ProxyAdmin:
    case Role::None:
      break;
  }
  return refuse(401, role, p,
                ". This key has no user with a role: use the master key or a key of an admin "
                "user");
}

}  // namespace llmux::governance
