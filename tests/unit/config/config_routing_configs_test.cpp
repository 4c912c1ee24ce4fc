// Top-level routing_configs: named Portkey-style routing configs written in YAML, kept as JSON
// text with YAML 1.1 scalar resolution (as PyYAML reads the rest of the file).
#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>
#include <vector>

#include "config/config.hpp"
#include "config_test_util.hpp"

namespace llmux::config {
namespace {

using testing::load;
using testing::loadOk;
using testing::onlyProblem;
using testing::warningsAt;

// JSON of the single routing config `value` (YAML written under "routing_configs:\n  c: ").
std::string json(const std::string& value) {
  Config c = loadOk("routing_configs:\n  c: " + value + "\n");
  EXPECT_EQ(c.routingConfigs.size(), 1u) << value;
  return c.routingConfigs.empty() ? std::string() : c.routingConfigs[0].second;
}

// JSON of one scalar written plainly (or however `scalar` is written) as the value of key v.
std::string scalar(const std::string& scalar) {
  return json("{v: " + scalar + "}");
}

TEST(ConfigRoutingConfigs, NestedConfigInFileOrder) {
  Config c = loadOk(R"(routing_configs:
  fallback-config:
    strategy:
      mode: fallback
      on_status_codes: [429, 500]
    targets:
      - virtual_key: openai-key
        override_params: {model: gpt-4o, temperature: 0.2}
      - provider: anthropic
        weight: 0.7
        retry: {attempts: 3}
    cache: {mode: simple}
  lb:
    strategy: {mode: loadbalance}
    targets: [{model: a, weight: 1}, {model: b, weight: 3}]
)");
  ASSERT_EQ(c.routingConfigs.size(), 2u);
  EXPECT_EQ(c.routingConfigs[0].first, "fallback-config");
  EXPECT_EQ(
      c.routingConfigs[0].second,
      R"({"strategy":{"mode":"fallback","on_status_codes":[429,500]},"targets":[)"
      R"({"virtual_key":"openai-key","override_params":{"model":"gpt-4o","temperature":0.2}},)"
      R"({"provider":"anthropic","weight":0.7,"retry":{"attempts":3}}],"cache":{"mode":"simple"}})");
  EXPECT_EQ(c.routingConfigs[1].first, "lb");
  EXPECT_EQ(c.routingConfigs[1].second,
            R"({"strategy":{"mode":"loadbalance"},"targets":[{"model":"a","weight":1},)"
            R"({"model":"b","weight":3}]})");
  // routing_configs is a known top-level key.
  EXPECT_TRUE(warningsAt(c, "routing_configs").empty());
  EXPECT_EQ(c.warnings.size(), 1u);  // the empty model_list
}

TEST(ConfigRoutingConfigs, OutputIsValidJsonWithTheSameValues) {
  Config c = loadOk(R"(routing_configs:
  c:
    s: "a \"q\" \\ \u00e9 \x01 \t"
    i: [0, -1, 0x10, 012, 1:30, 9223372036854775807]
    f: [1., .5, -2.5e-3, 1:30.5, 1e3]
    b: [yes, Off, "no"]
    n: [~, null, NULL]
    nested: {deep: [{x: {y: []}}, {}]}
)");
  ASSERT_EQ(c.routingConfigs.size(), 1u);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(c.routingConfigs[0].second).get(doc), simdjson::SUCCESS)
      << c.routingConfigs[0].second;
  std::string_view s;
  ASSERT_EQ(doc["s"].get(s), simdjson::SUCCESS);
  EXPECT_EQ(s, "a \"q\" \\ \xc3\xa9 \x01 \t");
  int64_t i = 0;
  ASSERT_EQ(doc["i"].at(4).get(i), simdjson::SUCCESS);
  EXPECT_EQ(i, 90);
  ASSERT_EQ(doc["i"].at(5).get(i), simdjson::SUCCESS);
  EXPECT_EQ(i, INT64_MAX);
  double f = 0;
  ASSERT_EQ(doc["f"].at(2).get(f), simdjson::SUCCESS);
  EXPECT_EQ(f, -0.0025);
  ASSERT_EQ(doc["f"].at(3).get(f), simdjson::SUCCESS);
  EXPECT_EQ(f, 90.5);
  ASSERT_EQ(doc["f"].at(4).get(s), simdjson::SUCCESS);  // "1e3" is text in YAML 1.1
  EXPECT_EQ(s, "1e3");
  bool b = false;
  ASSERT_EQ(doc["b"].at(0).get(b), simdjson::SUCCESS);
  EXPECT_TRUE(b);
  ASSERT_EQ(doc["b"].at(2).get(s), simdjson::SUCCESS);
  EXPECT_EQ(s, "no");
  EXPECT_TRUE(doc["n"].at(2).is_null());
}

TEST(ConfigRoutingConfigs, KeyOrderIsKept) {
  EXPECT_EQ(json("{z: 1, a: 2, m: {y: 1, b: 2}}"), R"({"z":1,"a":2,"m":{"y":1,"b":2}})");
}

TEST(ConfigRoutingConfigs, BooleansAndNullFollowYaml11) {
  for (const char* t : {"true", "True", "TRUE", "yes", "Yes", "on", "ON"}) {
    EXPECT_EQ(scalar(t), R"({"v":true})") << t;
  }
  for (const char* f : {"false", "False", "no", "NO", "off", "Off"}) {
    EXPECT_EQ(scalar(f), R"({"v":false})") << f;
  }
  for (const char* n : {"~", "null", "Null", "NULL", ""}) {
    EXPECT_EQ(scalar(n), R"({"v":null})") << n;
  }
  EXPECT_EQ(json("{v:}"), R"({"v":null})");
  EXPECT_EQ(json("{v: [~, true, no]}"), R"({"v":[null,true,false]})");
  // Not booleans in YAML 1.1 either.
  EXPECT_EQ(scalar("y"), R"({"v":"y"})");
  EXPECT_EQ(scalar("tRuE"), R"({"v":"tRuE"})");
}

TEST(ConfigRoutingConfigs, IntegersFollowYaml11) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"0", "0"},
      {"42", "42"},
      {"-17", "-17"},
      {"+5", "5"},
      {"1_000_000", "1000000"},
      {"0x1F", "31"},
      {"-0x10", "-16"},
      {"012", "10"},  // a leading zero is octal in YAML 1.1
      {"0b101", "5"},
      {"1:30", "90"},  // base 60
      {"-1:00:00", "-3600"},
      {"9223372036854775807", "9223372036854775807"},
      {"-9223372036854775808", "-9223372036854775808"},
  };
  for (const auto& [in, out] : cases) {
    EXPECT_EQ(scalar(in), R"({"v":)" + out + "}") << in;
  }
}

TEST(ConfigRoutingConfigs, FloatsFollowYaml11) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"1.5", "1.5"},    {"-0.25", "-0.25"}, {"+2.5", "2.5"},      {"1.0", "1.0"},
      {"1.", "1.0"},     {".5", "0.5"},      {"1.5e+3", "1500.0"}, {"2.5E-2", "0.025"},
      {"1_0.5", "10.5"}, {"1:30.5", "90.5"}, {"007.5", "7.5"},
  };
  for (const auto& [in, out] : cases) {
    EXPECT_EQ(scalar(in), R"({"v":)" + out + "}") << in;
  }
  // YAML 1.1 needs a '.' and a signed exponent: these are strings (as in PyYAML).
  for (const char* s : {"1e3", "1.5e3", "-.5", "1.2.3", "0o17", "0x", "1:60", "12abc"}) {
    EXPECT_EQ(scalar(s), std::string(R"({"v":")") + s + "\"}") << s;
  }
}

TEST(ConfigRoutingConfigs, QuotedAndTaggedScalarsStayStrings) {
  EXPECT_EQ(scalar("\"true\""), R"({"v":"true"})");
  EXPECT_EQ(scalar("'12'"), R"({"v":"12"})");
  EXPECT_EQ(scalar("\"~\""), R"({"v":"~"})");
  EXPECT_EQ(scalar("''"), R"({"v":""})");
  EXPECT_EQ(scalar("!!str 12"), R"({"v":"12"})");
  EXPECT_EQ(scalar("!!int \"12\""), R"({"v":12})");
  EXPECT_EQ(scalar("!!float \"2\""), R"({"v":2.0})");
  EXPECT_EQ(scalar("!!bool \"yes\""), R"({"v":true})");
  EXPECT_EQ(scalar("!!null \"\""), R"({"v":null})");
  // Block scalars are strings too.
  Config c = loadOk("routing_configs:\n  c:\n    v: |\n      line one\n      42\n");
  ASSERT_EQ(c.routingConfigs.size(), 1u);
  EXPECT_EQ(c.routingConfigs[0].second, R"({"v":"line one\n42\n"})");
}

TEST(ConfigRoutingConfigs, StringsAreEscaped) {
  EXPECT_EQ(scalar(R"("say \"hi\"\\ \t\u00e9\u0001")"), R"({"v":"say \"hi\"\\ \t)"
                                                        "\xc3\xa9"
                                                        R"(\u0001"})");
  EXPECT_EQ(json("{\"k\\\"ey\": 1}"), R"({"k\"ey":1})");
  // Keys are strings whatever they look like.
  EXPECT_EQ(json("{1: a, true: b}"), R"({"1":"a","true":"b"})");
}

TEST(ConfigRoutingConfigs, AnchorsAliasesAndMergeKeys) {
  Config c = loadOk(R"(x-defaults: &retry
  retry: {attempts: 2, on_status_codes: [429]}
  weight: 1
routing_configs:
  a:
    strategy: {mode: loadbalance}
    targets:
      - <<: *retry
        provider: openai
        weight: 5
      - {<<: *retry, provider: anthropic}
  b:
    targets: &t [{provider: x}]
    again: *t
)");
  ASSERT_EQ(c.routingConfigs.size(), 2u);
  // The entry's own keys first (its weight wins), then the merged ones.
  EXPECT_EQ(
      c.routingConfigs[0].second,
      R"({"strategy":{"mode":"loadbalance"},"targets":[)"
      R"({"provider":"openai","weight":5,"retry":{"attempts":2,"on_status_codes":[429]}},)"
      R"({"provider":"anthropic","retry":{"attempts":2,"on_status_codes":[429]},"weight":1}]})");
  EXPECT_EQ(c.routingConfigs[1].second,
            R"({"targets":[{"provider":"x"}],"again":[{"provider":"x"}]})");
}

TEST(ConfigRoutingConfigs, EmptyOrNullSectionIsFine) {
  EXPECT_TRUE(loadOk("routing_configs:\n").routingConfigs.empty());
  EXPECT_TRUE(loadOk("routing_configs: {}\n").routingConfigs.empty());
  EXPECT_EQ(json("{}"), "{}");
  EXPECT_EQ(json("{targets: []}"), R"({"targets":[]})");
}

TEST(ConfigRoutingConfigs, Problems) {
  struct Case {
    std::string yaml;
    std::string path;
    int line;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"routing_configs: [a]\n", "routing_configs", 1, "must be a mapping, got a sequence"},
      {"routing_configs:\n  c: fallback\n", "routing_configs.c", 2,
       "must be a mapping (a routing config: strategy, targets, ...), got 'fallback'"},
      {"routing_configs:\n  c: [1]\n", "routing_configs.c", 2, "must be a mapping"},
      {"routing_configs:\n  c:\n", "routing_configs.c", 2, "must be a mapping"},
      {"routing_configs:\n  \"\": {a: 1}\n", "routing_configs.", 2, "config id must not be empty"},
      {"routing_configs:\n  c: {a: 1, a: 2}\n", "routing_configs.c.a", 2, "duplicate key"},
      {"routing_configs:\n  c:\n    targets:\n    - {w: .inf}\n", "routing_configs.c.targets[0].w",
       4, "has no JSON form"},
      {"routing_configs:\n  c: {w: .nan}\n", "routing_configs.c.w", 2, "has no JSON form"},
      {"routing_configs:\n  c: {w: 9223372036854775808}\n", "routing_configs.c.w", 2,
       "has no JSON form"},
      {"routing_configs:\n  c: {w: 1.0e+999}\n", "routing_configs.c.w", 2, "has no JSON form"},
      {"routing_configs:\n  c: {w: !custom x}\n", "routing_configs.c.w", 2,
       "unsupported YAML tag '!custom'"},
      {"routing_configs:\n  c: {w: !!int abc}\n", "routing_configs.c.w", 2,
       "'abc' is not a valid !!int"},
      {"routing_configs:\n  c: {[a]: 1}\n", "routing_configs.c", 2, "mapping keys must be strings"},
      {"routing_configs:\n  c: {w: \"a\xff\"}\n", "routing_configs.c.w", 2, "not valid UTF-8"},
      {"routing_configs:\n  c: {w: a\xc3\x28}\n", "routing_configs.c.w", 2, "not valid UTF-8"},
      {"routing_configs:\n  c: {\"\xed\xa0\x80\": 1}\n", "routing_configs.c.\xed\xa0\x80", 2,
       "key is not valid UTF-8"},
  };
  for (const Case& k : cases) {
    Problem p = onlyProblem(k.yaml);
    EXPECT_EQ(p.path, k.path) << k.yaml;
    EXPECT_EQ(p.line, k.line) << k.yaml;
    EXPECT_NE(p.message.find(k.message), std::string::npos) << k.yaml << " -> " << p.message;
  }
}

TEST(ConfigRoutingConfigs, ExponentialAliasesAreBounded) {
  // Each level repeats the one below ten times: 10^8 leaves without a bound.
  std::string yaml = "x0: &a0 [aaaaaaaaaaaaaaaa]\n";
  for (int i = 1; i <= 8; ++i) {
    yaml += "x" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) yaml += (j ? ", *a" : "*a") + std::to_string(i - 1);
    yaml += "]\n";
  }
  yaml += "routing_configs:\n  c: {big: *a8}\n";
  LoadResult r = load(yaml);
  EXPECT_FALSE(r.config);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].message.find("bytes as JSON"), std::string::npos)
      << r.problems[0].message;
}

TEST(ConfigRoutingConfigs, CyclicAliasIsAProblemNotAHang) {
  Problem p = onlyProblem("routing_configs:\n  c: &a {v: *a}\n");
  EXPECT_TRUE(p.path.starts_with("routing_configs.c.v.v.v")) << p.path;
  EXPECT_EQ(p.line, 2);
  EXPECT_NE(p.message.find("(or cyclic)"), std::string::npos) << p.message;
}

TEST(ConfigRoutingConfigs, DeepNestingIsBounded) {
  std::string deep = "routing_configs:\n  c: {v: ";
  for (int i = 0; i < 80; ++i) deep += "[";
  for (int i = 0; i < 80; ++i) deep += "]";
  deep += "}\n";
  LoadResult r = load(deep);
  EXPECT_FALSE(r.config);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].message.find("nested more than"), std::string::npos);
}

TEST(ConfigRoutingConfigs, EnvironmentReferencesAreKeptAsText) {
  // Resolved by nobody: routing_configs is llmux's own block, and a config may be logged.
  EXPECT_EQ(scalar("os.environ/LLMUX_T_ROUTING_UNSET"),
            R"({"v":"os.environ/LLMUX_T_ROUTING_UNSET"})");
}

}  // namespace
}  // namespace llmux::config
