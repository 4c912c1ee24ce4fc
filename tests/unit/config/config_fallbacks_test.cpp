// Fallbacks (fallbacks, context_window_fallbacks, content_policy_fallbacks, default_fallbacks),
// model_group_alias, and the warnings for model groups they name that model_list lacks.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/config.hpp"
#include "config_test_util.hpp"

namespace llmux::config {
namespace {

using testing::expectContains;
using testing::loadOk;
using testing::loadWithModels;
using testing::problemWithModels;
using testing::warningsAt;

class FallbackKinds : public ::testing::TestWithParam<std::string> {
 protected:
  [[nodiscard]] static const FallbackMap& field(const Config& c, const std::string& key) {
    if (key == "fallbacks") return c.router.fallbacks;
    if (key == "context_window_fallbacks") return c.router.contextWindowFallbacks;
    return c.router.contentPolicyFallbacks;
  }
};

TEST_P(FallbackKinds, LiteLLMForms) {
  const std::string key = GetParam();
  Config c = loadWithModels("router_settings:\n  " + key + R"(:
    - gpt-4o: [claude, gemini]
    - {claude: gemini}
    - "*": [gpt-4o]
    - gemini: []
)");
  const FallbackMap expected = {
      {"gpt-4o", {"claude", "gemini"}}, {"claude", {"gemini"}}, {"*", {"gpt-4o"}}, {"gemini", {}}};
  EXPECT_EQ(field(c, key), expected);
  EXPECT_TRUE(c.warnings.empty());

  // The JSON-ish flow form of LiteLLM's docs.
  Config flow = loadWithModels("litellm_settings:\n  " + key + R"(: [{"gpt-4o": ["claude"]}])");
  EXPECT_EQ(field(flow, key), (FallbackMap{{"gpt-4o", {"claude"}}}));
}

TEST_P(FallbackKinds, ShapeProblems) {
  const std::string key = GetParam();
  const std::string base = "router_settings." + key;
  struct Case {
    std::string value;
    std::string path;
    std::string message;
  };
  const std::vector<Case> cases = {
      {" {gpt-4o: [claude]}", "",
       "must be a list of single-key mappings {model_group: [fallback groups]}, got a mapping"},
      {" gpt-4o", "", "must be a list of single-key mappings"},
      {" [[gpt-4o, claude]]", "[0]",
       "must be a mapping {model_group: [fallback groups]}, got a sequence"},
      {" [gpt-4o]", "[0]", "must be a mapping {model_group: [fallback groups]}, got 'gpt-4o'"},
      {" [{gpt-4o: [claude], claude: [gemini]}]", "[0]",
       "must have exactly one key (the model group), has 2"},
      {" [{}]", "[0]", "must have exactly one key (the model group), has 0"},
      {" [{gpt-4o: {claude: 1}}]", "[0].gpt-4o",
       "must be a model group name or a list of them, got a mapping"},
      {" [{gpt-4o: [claude, [gemini]]}]", "[0].gpt-4o[1]",
       "must be a model group name, got a sequence"},
      {" [{gpt-4o: [\"\"]}]", "[0].gpt-4o[0]", "model group name must not be empty"},
      {" [{\"\": [claude]}]", "[0].", "model group name must not be empty"},
      {" [{gpt-4o: [claude]}, {gpt-4o: [gemini]}]", "[1].gpt-4o",
       "duplicate fallbacks for model group 'gpt-4o' (first at line"},
  };
  for (const Case& c : cases) {
    Problem p = problemWithModels("router_settings:\n  " + key + ":" + c.value + "\n");
    EXPECT_EQ(p.path, base + c.path) << c.value;
    EXPECT_EQ(p.line, 6) << c.value;
    expectContains(p.message, c.message);
  }
}

INSTANTIATE_TEST_SUITE_P(ConfigFallbacks, FallbackKinds,
                         ::testing::Values("fallbacks", "context_window_fallbacks",
                                           "content_policy_fallbacks"));

TEST(ConfigFallbacks, DefaultFallbacks) {
  Config c = loadWithModels("router_settings:\n  default_fallbacks: [claude, gemini]\n");
  EXPECT_EQ(c.router.defaultFallbacks, (std::vector<std::string>{"claude", "gemini"}));
  Config one = loadWithModels("litellm_settings:\n  default_fallbacks: claude\n");
  EXPECT_EQ(one.router.defaultFallbacks, (std::vector<std::string>{"claude"}));
  Problem p = problemWithModels("router_settings:\n  default_fallbacks: {claude: 1}\n");
  EXPECT_EQ(p.path, "router_settings.default_fallbacks");
  expectContains(p.message, "must be a model group name or a list of them");
  Problem item = problemWithModels("router_settings:\n  default_fallbacks:\n  - claude\n  - ~\n");
  EXPECT_EQ(item.path, "router_settings.default_fallbacks[1]");
  EXPECT_EQ(item.line, 8);
  EXPECT_EQ(item.message, "must be a model group name, got null");
}

TEST(ConfigFallbacks, OverriddenFallbacksAreNotCheckedAgainstModelList) {
  // Only the value in use is checked: litellm_settings' unknown group is overridden.
  Config c = loadWithModels(R"(litellm_settings:
  fallbacks: [{gpt-4o: [ghost]}]
router_settings:
  fallbacks: [{gpt-4o: [claude]}]
)");
  EXPECT_TRUE(c.warnings.empty());
}

TEST(ConfigFallbacks, ModelGroupAlias) {
  Config c = loadWithModels(R"(router_settings:
  model_group_alias:
    gpt-4: gpt-4o
    claude-3: {model: claude, hidden: true}
    gem: {model: gemini}
)");
  const auto& a = c.router.modelGroupAlias;
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0].alias, "gpt-4");
  EXPECT_EQ(a[0].group, "gpt-4o");
  EXPECT_FALSE(a[0].hidden);
  EXPECT_EQ(a[1].alias, "claude-3");
  EXPECT_EQ(a[1].group, "claude");
  EXPECT_TRUE(a[1].hidden);
  EXPECT_EQ(a[2].group, "gemini");
  EXPECT_FALSE(a[2].hidden);
  EXPECT_TRUE(c.warnings.empty());

  struct Case {
    std::string value;
    std::string path;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"[gpt-4o]", "", "must be a mapping"},
      {"{gpt-4: [gpt-4o]}", ".gpt-4",
       "must be a model group name or {model: <group>, hidden: <bool>}, got a sequence"},
      {"{gpt-4: {hidden: true}}", ".gpt-4.model", "required field is missing"},
      {"{gpt-4: {model: gpt-4o, hide: true}}", ".gpt-4.hide",
       "unknown key (an alias takes model and hidden)"},
      {"{gpt-4: {model: gpt-4o, hidden: sometimes}}", ".gpt-4.hidden", "must be true or false"},
      {"{gpt-4: {model: [gpt-4o]}}", ".gpt-4.model", "got a sequence"},
      {"{gpt-4: \"\"}", ".gpt-4", "model group name must not be empty"},
      {"{\"\": gpt-4o}", ".", "alias must not be empty"},
  };
  for (const Case& k : cases) {
    Problem p = problemWithModels("router_settings:\n  model_group_alias: " + k.value + "\n");
    EXPECT_EQ(p.path, "router_settings.model_group_alias" + k.path) << k.value;
    EXPECT_EQ(p.line, 6) << k.value;
    expectContains(p.message, k.message);
  }
}

TEST(ConfigFallbacks, UnknownModelGroupsWarnWithOrWithoutAWildcard) {
  Config c = loadOk(R"(model_list:
- {model_name: gpt-4o, litellm_params: {model: openai/gpt-4o}}
- {model_name: "anthropic/*", litellm_params: {model: "anthropic/*"}}
router_settings:
  fallbacks:
  - gpt-4o: [anthropic/claude-3, ghost, gpt4]
  - phantom: [gpt-4o]
  default_fallbacks: [ghost2]
  model_group_alias:
    gpt4: gpt-4o
    sonnet: anthropic/claude-3-5-sonnet
    bad: nowhere
    gpt-4o: gpt-4o
)");
  auto message = [&](const std::string& path) {
    auto w = warningsAt(c, path);
    EXPECT_EQ(w.size(), 1u) << path;
    return w.empty() ? std::string() : w[0]->message;
  };
  EXPECT_EQ(message("router_settings.fallbacks[0].gpt-4o[0]"),
            "'anthropic/claude-3' is not a model_name in model_list; only the wildcard model "
            "group 'anthropic/*' matches it");
  EXPECT_EQ(message("router_settings.fallbacks[0].gpt-4o[1]"),
            "'ghost' is not a model group in model_list and matches no wildcard model_name; "
            "requests routed to it will fail");
  EXPECT_EQ(warningsAt(c, "router_settings.fallbacks[0].gpt-4o[1]")[0]->line, 6);
  // A fallback may name an alias.
  EXPECT_TRUE(warningsAt(c, "router_settings.fallbacks[0].gpt-4o[2]").empty());
  expectContains(message("router_settings.fallbacks[1].phantom"), "'phantom'");
  expectContains(message("router_settings.default_fallbacks[0]"), "'ghost2'");
  expectContains(message("router_settings.model_group_alias.sonnet"), "wildcard model group");
  expectContains(message("router_settings.model_group_alias.bad"), "matches no wildcard");
  EXPECT_TRUE(warningsAt(c, "router_settings.model_group_alias.gpt4").empty());
  EXPECT_EQ(c.warnings.size(), 6u);

  // Without deployments every name would be unknown: only the empty model_list warns.
  Config empty = loadOk("router_settings:\n  fallbacks: [{a: [b]}]\n");
  EXPECT_EQ(empty.warnings.size(), 1u);
  EXPECT_EQ(empty.warnings[0].path, "model_list");
}

TEST(ConfigFallbacks, AliasHidingAModelGroupWarns) {
  Config c = loadWithModels(R"(router_settings:
  model_group_alias: {claude: gpt-4o, gemini: gemini}
)");
  ASSERT_EQ(warningsAt(c, "router_settings.model_group_alias.claude").size(), 1u);
  EXPECT_EQ(warningsAt(c, "router_settings.model_group_alias.claude")[0]->message,
            "alias 'claude' hides the model group of the same name; requests for it go to "
            "'gpt-4o'");
  EXPECT_EQ(c.warnings.size(), 1u);  // an alias to itself changes nothing
}

TEST(ConfigFallbacks, AliasesAreNotTargetsOfAliases) {
  // LiteLLM resolves an alias once: an alias naming another alias reaches no group.
  Config c = loadWithModels(R"(router_settings:
  model_group_alias: {a: gpt-4o, b: a}
)");
  ASSERT_EQ(warningsAt(c, "router_settings.model_group_alias.b").size(), 1u);
  EXPECT_TRUE(warningsAt(c, "router_settings.model_group_alias.a").empty());
}

}  // namespace
}  // namespace llmux::config
