#include "governance/access.hpp"

#include <gtest/gtest.h>

namespace llmux::governance {
namespace {

TEST(Roles, ParseAndNameRoundTrip) {
  for (Role r :
       {Role::ProxyAdmin, Role::ProxyAdminViewer, Role::InternalUser, Role::InternalUserViewer}) {
    EXPECT_EQ(parseRole(roleName(r)), r);
  }
  EXPECT_EQ(roleName(Role::None), "unknown");
  EXPECT_EQ(parseRole("unknown"), Role::None);
  EXPECT_EQ(parseRole(""), Role::None);
  EXPECT_EQ(parseRole("PROXY_ADMIN"), Role::None);
  EXPECT_EQ(parseRole("proxy_admin "), Role::None);
  EXPECT_EQ(parseRole("org_admin"), Role::None);
}

bool allowed(std::vector<std::string> list, std::string_view model, const AccessGroups& g = {}) {
  return modelAllowed(list, model, g);
}

TEST(ModelAllowed, EmptyStarAndAllProxyModelsAllowEverything) {
  EXPECT_TRUE(allowed({}, "gpt-4o"));
  EXPECT_TRUE(allowed({"*"}, "anything/at-all"));
  EXPECT_TRUE(allowed({"gpt-3.5", "all-proxy-models"}, "claude"));
}

TEST(ModelAllowed, ExactMatchOnly) {
  EXPECT_TRUE(allowed({"gpt-4o", "claude"}, "claude"));
  EXPECT_FALSE(allowed({"gpt-4o"}, "gpt-4o-mini"));
  EXPECT_FALSE(allowed({"gpt-4o"}, "GPT-4o"));
  EXPECT_FALSE(allowed({"gpt-4o"}, ""));
  EXPECT_FALSE(allowed({"no-default-models"}, "gpt-4o"));
  EXPECT_FALSE(allowed({"all-team-models"}, "gpt-4o"));  // the caller expands it
}

TEST(ModelAllowed, Wildcards) {
  EXPECT_TRUE(allowed({"openai/*"}, "openai/gpt-4o"));
  EXPECT_TRUE(allowed({"openai/*"}, "openai/"));
  EXPECT_FALSE(allowed({"openai/*"}, "anthropic/claude"));
  EXPECT_FALSE(allowed({"openai/*"}, "openai"));
  EXPECT_TRUE(allowed({"gpt-4o*"}, "gpt-4o-mini"));
  EXPECT_TRUE(allowed({"*/llama-3*"}, "groq/llama-3.1-70b"));
  EXPECT_FALSE(allowed({"*/llama-3*"}, "groq/mixtral"));
  EXPECT_TRUE(allowed({"a*b*c"}, "a-b-b-c"));
  EXPECT_FALSE(allowed({"a*b*c"}, "a-b-b-cd"));
}

TEST(ModelAllowed, AccessGroups) {
  const AccessGroups groups = {{"beta-models", {"gpt-4o", "mistral/*"}}, {"empty-group", {}}};
  EXPECT_TRUE(allowed({"beta-models"}, "gpt-4o", groups));
  EXPECT_TRUE(allowed({"beta-models"}, "mistral/large", groups));
  EXPECT_FALSE(allowed({"beta-models"}, "claude", groups));
  EXPECT_FALSE(allowed({"empty-group"}, "gpt-4o", groups));
  EXPECT_FALSE(allowed({"other-group"}, "gpt-4o", groups));
  // Groups do not nest.
  const AccessGroups nested = {{"outer", {"inner"}}, {"inner", {"gpt-4o"}}};
  EXPECT_FALSE(allowed({"outer"}, "gpt-4o", nested));
}

TEST(RouteFamilies, ManagementAndInfo) {
  EXPECT_TRUE(isManagementRoute("/key/generate"));
  EXPECT_TRUE(isManagementRoute("/team/new"));
  EXPECT_TRUE(isManagementRoute("/customer/info?end_user_id=x"));
  EXPECT_TRUE(isManagementRoute("/budget/new/"));
  EXPECT_TRUE(isManagementRoute("/global/spend/report"));
  EXPECT_FALSE(isManagementRoute("/v1/chat/completions"));
  EXPECT_FALSE(isManagementRoute("/models"));
  EXPECT_FALSE(isManagementRoute("/health/readiness"));
  EXPECT_FALSE(isManagementRoute("/keys"));
  EXPECT_FALSE(isManagementRoute("/key"));
  EXPECT_TRUE(isInfoRoute("/key/info"));
  EXPECT_TRUE(isInfoRoute("/key/info?key=sk-123"));
  EXPECT_TRUE(isInfoRoute("/team/list/"));
  EXPECT_TRUE(isInfoRoute("/model_group/info"));
  EXPECT_FALSE(isInfoRoute("/key/information"));
  EXPECT_FALSE(isInfoRoute("/customer/info"));
  EXPECT_FALSE(isInfoRoute("/user/list"));
}

struct Case {
  std::string_view route;
  bool isGet;
  int admin, viewer, internal, internalViewer, none;
};

// The table documented in access.hpp, row by row.
TEST(CheckRoute, Table) {
  const Case cases[] = {
      {"/v1/chat/completions", false, 0, 0, 0, 0, 0},
      {"/models", true, 0, 0, 0, 0, 0},
      {"/key/info", true, 0, 0, 0, 0, 0},
      {"/key/list", true, 0, 0, 0, 0, 0},
      {"/team/info", true, 0, 0, 0, 0, 0},
      {"/team/list", true, 0, 0, 0, 0, 0},
      {"/user/info", true, 0, 0, 0, 0, 0},
      {"/model/info", true, 0, 0, 0, 0, 0},
      {"/model_group/info", true, 0, 0, 0, 0, 0},
      {"/key/generate", false, 0, 403, 0, 403, 401},
      {"/key/update", false, 0, 403, 0, 403, 401},
      {"/key/delete", false, 0, 403, 0, 403, 401},
      {"/key/regenerate", false, 0, 403, 0, 403, 401},
      {"/key/block", false, 0, 403, 0, 403, 401},
      {"/key/unblock", false, 0, 403, 0, 403, 401},
      {"/spend/logs", true, 0, 0, 0, 0, 401},
      {"/user/list", true, 0, 0, 403, 403, 401},
      {"/customer/list", true, 0, 0, 403, 403, 401},
      {"/global/spend/report", true, 0, 0, 403, 403, 401},
      {"/budget/info", false, 0, 0, 403, 403, 401},
      {"/team/new", false, 0, 403, 403, 403, 401},
      {"/team/member_add", false, 0, 403, 0, 403, 401},  // the handler checks team admin
      {"/user/new", false, 0, 403, 403, 403, 401},
      {"/user/update", false, 0, 403, 0, 403, 401},  // the handler allows only itself
      {"/customer/new", false, 0, 403, 403, 403, 401},
      {"/budget/new", false, 0, 403, 403, 403, 401},
      {"/model/new", false, 0, 403, 403, 403, 401},
      {"/spend/logs", false, 0, 403, 0, 403, 401},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(checkRoute(Role::ProxyAdmin, c.route, c.isGet).status, c.admin) << c.route;
    EXPECT_EQ(checkRoute(Role::ProxyAdminViewer, c.route, c.isGet).status, c.viewer) << c.route;
    EXPECT_EQ(checkRoute(Role::InternalUser, c.route, c.isGet).status, c.internal) << c.route;
    EXPECT_EQ(checkRoute(Role::InternalUserViewer, c.route, c.isGet).status, c.internalViewer)
        << c.route;
    EXPECT_EQ(checkRoute(Role::None, c.route, c.isGet).status, c.none) << c.route;
  }
}

TEST(CheckRoute, MessagesNameRouteAndRole) {
  const GateResult none = checkRoute(Role::None, "/key/generate", false);
  EXPECT_EQ(none.status, 401);
  EXPECT_NE(none.message.find("Only proxy admin"), std::string::npos) << none.message;
  EXPECT_NE(none.message.find("Route=/key/generate"), std::string::npos) << none.message;
  EXPECT_NE(none.message.find("Your role=unknown"), std::string::npos) << none.message;

  const GateResult internal = checkRoute(Role::InternalUser, "/team/new?x=1", false);
  EXPECT_EQ(internal.status, 403);
  EXPECT_NE(internal.message.find("Route=/team/new."), std::string::npos) << internal.message;
  EXPECT_NE(internal.message.find("Your role=internal_user"), std::string::npos);

  const GateResult viewer = checkRoute(Role::ProxyAdminViewer, "/key/delete", false);
  EXPECT_EQ(viewer.status, 403);
  EXPECT_NE(viewer.message.find("proxy_admin_viewer"), std::string::npos) << viewer.message;
  EXPECT_NE(viewer.message.find("/key/delete"), std::string::npos) << viewer.message;

  EXPECT_TRUE(checkRoute(Role::ProxyAdmin, "/team/delete", false).message.empty());
}

TEST(CheckRoute, PathNormalisation) {
  EXPECT_EQ(checkRoute(Role::None, "/key/info/", true).status, 0);
  EXPECT_EQ(checkRoute(Role::None, "/key/info?key=sk-1", true).status, 0);
  EXPECT_EQ(checkRoute(Role::None, "/key/generate/", false).status, 401);
  EXPECT_EQ(checkRoute(Role::InternalUser, "/key/sk-abc/regenerate", false).status, 0);
  EXPECT_EQ(checkRoute(Role::None, "/key/sk-abc/regenerate", false).status, 401);
  // A long hostile route is cut in the message.
  const std::string longRoute = "/team/" + std::string(5000, 'a');
  EXPECT_LT(checkRoute(Role::None, longRoute, false).message.size(), 600u);
}

}  // namespace
}  // namespace llmux::governance
