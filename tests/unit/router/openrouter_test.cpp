#include "router/openrouter.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace llmux::router::openrouter {
namespace {

namespace dom = simdjson::dom;

// Parses `json` (an object) into a Routing; returns the error, if any.
std::optional<GatewayError> parseBody(const std::string& json, Routing& out) {
  dom::parser parser;
  dom::object obj;
  EXPECT_EQ(parser.parse(json).get_object().get(obj), simdjson::SUCCESS) << json;
  return parse(obj, out);
}

Routing parseOk(const std::string& json) {
  Routing r;
  auto err = parseBody(json, r);
  EXPECT_FALSE(err.has_value()) << json << " -> " << (err ? err->toJson() : "");
  return r;
}

GatewayError parseErr(const std::string& json) {
  Routing r;
  auto err = parseBody(json, r);
  EXPECT_TRUE(err.has_value()) << json;
  return err.value_or(GatewayError{});
}

// --- parse: models ------------------------------------------------------------------------

TEST(OpenRouterParse, AbsentFieldsLeaveRoutingEmpty) {
  const Routing r = parseOk(R"({"model":"gpt-4o","messages":[]})");
  EXPECT_TRUE(r.models.empty());
  EXPECT_FALSE(r.provider.has_value());
}

TEST(OpenRouterParse, ModelsInOrder) {
  const Routing r = parseOk(R"({"models":["a/x","b/y:nitro","c"]})");
  EXPECT_EQ(r.models, (std::vector<std::string>{"a/x", "b/y:nitro", "c"}));
}

TEST(OpenRouterParse, ModelsNullOrEmptyMeansNone) {
  EXPECT_TRUE(parseOk(R"({"models":null})").models.empty());
  EXPECT_TRUE(parseOk(R"({"models":[]})").models.empty());
}

TEST(OpenRouterParse, ModelsBadTypes) {
  GatewayError e = parseErr(R"({"models":"gpt-4o"})");
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.type, "invalid_request_error");
  EXPECT_EQ(e.code, "invalid_routing");
  EXPECT_EQ(e.param, "models");
  EXPECT_EQ(e.message, "Invalid models: expected an array of strings, got a string.");

  e = parseErr(R"({"models":["a","b",7]})");
  EXPECT_EQ(e.param, "models[2]");
  EXPECT_EQ(e.message, "Invalid models[2]: expected a string, got a number.");

  e = parseErr(R"({"models":["a",""]})");
  EXPECT_EQ(e.param, "models[1]");
  EXPECT_EQ(e.message, "Invalid models[1]: must not be empty.");
}

TEST(OpenRouterParse, ModelsLimits) {
  std::string ok = R"({"models":[)";
  for (size_t i = 0; i < kMaxModels; ++i) ok += (i ? ",\"m" : "\"m") + std::to_string(i) + "\"";
  EXPECT_EQ(parseOk(ok + "]}").models.size(), kMaxModels);

  const GatewayError e = parseErr(ok + R"(,"extra"]})");
  EXPECT_EQ(e.param, "models");
  EXPECT_NE(e.message.find("at most 16 entries"), std::string::npos) << e.message;

  const std::string longName(kMaxStringBytes + 1, 'x');
  const GatewayError e2 = parseErr(R"({"models":[")" + longName + R"("]})");
  EXPECT_EQ(e2.param, "models[0]");
  EXPECT_EQ(e2.message, "Invalid models[0]: must be at most 256 bytes.");
  EXPECT_EQ(parseOk(R"({"models":[")" + std::string(kMaxStringBytes, 'x') + R"("]})").models[0],
            std::string(kMaxStringBytes, 'x'));
}

TEST(OpenRouterParse, DuplicateKeysLastWins) {
  const Routing r = parseOk(R"({"models":["a"],"models":["b","c"]})");
  EXPECT_EQ(r.models, (std::vector<std::string>{"b", "c"}));
  const Routing r2 = parseOk(R"({"provider":{"sort":"price"},"provider":null})");
  EXPECT_FALSE(r2.provider.has_value());
  const Routing r3 = parseOk(R"({"provider":{"order":["a"],"order":["b"]}})");
  EXPECT_EQ(r3.provider->order, (std::vector<std::string>{"b"}));
}

// --- parse: provider ----------------------------------------------------------------------

TEST(OpenRouterParse, ProviderDefaults) {
  const Routing r = parseOk(R"({"provider":{}})");
  ASSERT_TRUE(r.provider.has_value());
  EXPECT_TRUE(r.provider->allowFallbacks);
  EXPECT_EQ(r.provider->sort, Sort::None);
  EXPECT_TRUE(r.provider->order.empty());
  EXPECT_FALSE(r.provider->maxPrice.prompt.has_value());
}

TEST(OpenRouterParse, ProviderAllFields) {
  const Routing r = parseOk(R"({"provider":{
    "order":["OpenAI","together"],"only":["azure"],"ignore":["deepinfra"],
    "allow_fallbacks":false,"sort":"throughput",
    "max_price":{"prompt":1,"completion":"2.5","request":0.01,"image":"0","audio":3},
    "require_parameters":true,"data_collection":"deny","zdr":true,
    "enforce_distillable_text":false,"quantizations":["fp8","int4"],
    "preferred_min_throughput":{"p50":100,"p90":50},"preferred_max_latency":3}})");
  ASSERT_TRUE(r.provider.has_value());
  const ProviderPrefs& p = *r.provider;
  EXPECT_EQ(p.order, (std::vector<std::string>{"OpenAI", "together"}));
  EXPECT_EQ(p.only, (std::vector<std::string>{"azure"}));
  EXPECT_EQ(p.ignore, (std::vector<std::string>{"deepinfra"}));
  EXPECT_FALSE(p.allowFallbacks);
  EXPECT_EQ(p.sort, Sort::Throughput);
  EXPECT_EQ(p.maxPrice.prompt, 1.0);
  EXPECT_EQ(p.maxPrice.completion, 2.5);
  EXPECT_EQ(p.maxPrice.request, 0.01);
  EXPECT_EQ(p.maxPrice.image, 0.0);
  EXPECT_EQ(p.maxPrice.audio, 3.0);
  EXPECT_TRUE(p.requireParameters);
  EXPECT_TRUE(p.denyDataCollection);
  EXPECT_TRUE(p.zdr);
  EXPECT_EQ(p.quantizations, (std::vector<std::string>{"fp8", "int4"}));
}

TEST(OpenRouterParse, SortValues) {
  EXPECT_EQ(parseOk(R"({"provider":{"sort":"price"}})").provider->sort, Sort::Price);
  EXPECT_EQ(parseOk(R"({"provider":{"sort":"latency"}})").provider->sort, Sort::Latency);
  EXPECT_EQ(parseOk(R"({"provider":{"sort":null}})").provider->sort, Sort::None);
  const Routing r = parseOk(R"({"provider":{"sort":{"by":"latency","partition":"none"}}})");
  EXPECT_EQ(r.provider->sort, Sort::Latency);
  EXPECT_TRUE(r.provider->sortAcrossModels);
  const Routing r2 = parseOk(R"({"provider":{"sort":{"by":"price","partition":"model"}}})");
  EXPECT_EQ(r2.provider->sort, Sort::Price);
  EXPECT_FALSE(r2.provider->sortAcrossModels);
  EXPECT_EQ(parseOk(R"({"provider":{"sort":{}}})").provider->sort, Sort::None);
}

TEST(OpenRouterParse, SortErrors) {
  GatewayError e = parseErr(R"({"provider":{"sort":"fast"}})");
  EXPECT_EQ(e.param, "provider.sort");
  EXPECT_EQ(e.message,
            R"(Invalid provider.sort: expected "price", "throughput" or "latency", got "fast".)");
  e = parseErr(R"({"provider":{"sort":"Price"}})");  // values are lower-case
  EXPECT_EQ(e.param, "provider.sort");
  e = parseErr(R"({"provider":{"sort":1}})");
  EXPECT_EQ(e.message, "Invalid provider.sort: expected a string or an object, got a number.");
  e = parseErr(R"({"provider":{"sort":{"by":"cheap"}}})");
  EXPECT_EQ(e.param, "provider.sort.by");
  e = parseErr(R"({"provider":{"sort":{"by":"price","partition":"all"}}})");
  EXPECT_EQ(e.param, "provider.sort.partition");
  EXPECT_EQ(e.message,
            R"(Invalid provider.sort.partition: expected "model" or "none", got "all".)");
  e = parseErr(R"({"provider":{"sort":{"partition":true}}})");
  EXPECT_EQ(e.param, "provider.sort.partition");
}

TEST(OpenRouterParse, ProviderTypeErrors) {
  struct Case {
    const char* body;
    const char* param;
    const char* message;
  };
  const Case cases[] = {
      {R"({"provider":[]})", "provider", "Invalid provider: expected an object, got an array."},
      {R"({"provider":"openai"})", "provider",
       "Invalid provider: expected an object, got a string."},
      {R"({"provider":{"order":"openai"}})", "provider.order",
       "Invalid provider.order: expected an array of strings, got a string."},
      {R"({"provider":{"only":[1]}})", "provider.only[0]",
       "Invalid provider.only[0]: expected a string, got a number."},
      {R"({"provider":{"ignore":["a",null]}})", "provider.ignore[1]",
       "Invalid provider.ignore[1]: expected a string, got null."},
      {R"({"provider":{"order":[""]}})", "provider.order[0]",
       "Invalid provider.order[0]: must not be empty."},
      {R"({"provider":{"allow_fallbacks":"false"}})", "provider.allow_fallbacks",
       "Invalid provider.allow_fallbacks: expected a boolean, got a string."},
      {R"({"provider":{"require_parameters":1}})", "provider.require_parameters",
       "Invalid provider.require_parameters: expected a boolean, got a number."},
      {R"({"provider":{"zdr":{}}})", "provider.zdr",
       "Invalid provider.zdr: expected a boolean, got an object."},
      {R"({"provider":{"enforce_distillable_text":[]}})", "provider.enforce_distillable_text",
       "Invalid provider.enforce_distillable_text: expected a boolean, got an array."},
      {R"({"provider":{"data_collection":"never"}})", "provider.data_collection",
       R"(Invalid provider.data_collection: expected "allow" or "deny", got "never".)"},
      {R"({"provider":{"data_collection":false}})", "provider.data_collection",
       "Invalid provider.data_collection: expected a string, got a boolean."},
      {R"({"provider":{"quantizations":"fp8"}})", "provider.quantizations",
       "Invalid provider.quantizations: expected an array of strings, got a string."},
      {R"({"provider":{"preferred_max_latency":"3"}})", "provider.preferred_max_latency",
       "Invalid provider.preferred_max_latency: expected a number or an object, got a string."},
      {R"({"provider":{"preferred_min_throughput":{"p90":"50"}}})",
       "provider.preferred_min_throughput.p90",
       "Invalid provider.preferred_min_throughput.p90: expected a number, got a string."},
      {R"({"provider":{"max_price":5}})", "provider.max_price",
       "Invalid provider.max_price: expected an object, got a number."},
      {R"({"provider":{"max_price":{"prompt":true}}})", "provider.max_price.prompt",
       "Invalid provider.max_price.prompt: expected a number, got a boolean."},
      {R"({"provider":{"max_price":{"completion":-1}}})", "provider.max_price.completion",
       "Invalid provider.max_price.completion: must be a non-negative number."},
      {R"({"provider":{"max_price":{"request":"1 dollar"}}})", "provider.max_price.request",
       R"(Invalid provider.max_price.request: expected a number, got the string "1 dollar".)"},
      {R"({"provider":{"max_price":{"image":""}}})", "provider.max_price.image",
       R"(Invalid provider.max_price.image: expected a number, got the string "".)"},
      {R"({"provider":{"max_price":{"prompt":"inf"}}})", "provider.max_price.prompt",
       "Invalid provider.max_price.prompt: must be a non-negative number."},
      {R"({"provider":{"max_price":{"prompt":"nan"}}})", "provider.max_price.prompt",
       "Invalid provider.max_price.prompt: must be a non-negative number."},
      {R"({"provider":{"max_price":{"prompt":" 1"}}})", "provider.max_price.prompt",
       R"(Invalid provider.max_price.prompt: expected a number, got the string " 1".)"},
  };
  for (const Case& c : cases) {
    const GatewayError e = parseErr(c.body);
    EXPECT_EQ(e.status, 400) << c.body;
    EXPECT_EQ(e.code, "invalid_routing") << c.body;
    EXPECT_EQ(e.param, c.param) << c.body;
    EXPECT_EQ(e.message, c.message) << c.body;
  }
}

TEST(OpenRouterParse, ListLimits) {
  std::string list = "[";
  for (size_t i = 0; i < kMaxListEntries; ++i)
    list += (i ? ",\"p" : "\"p") + std::to_string(i) + "\"";
  EXPECT_EQ(parseOk(R"({"provider":{"only":)" + list + "]}}").provider->only.size(),
            kMaxListEntries);
  const GatewayError e = parseErr(R"({"provider":{"ignore":)" + list + R"(,"x"]}})");
  EXPECT_EQ(e.param, "provider.ignore");
  EXPECT_EQ(e.message, "Invalid provider.ignore: at most 64 entries are allowed, got 65.");
  const GatewayError e2 =
      parseErr(R"({"provider":{"order":[")" + std::string(300, 'a') + R"("]}})");
  EXPECT_EQ(e2.param, "provider.order[0]");
}

TEST(OpenRouterParse, NullsAreAbsentAndUnknownKeysIgnored) {
  const Routing r = parseOk(R"({"provider":{"order":null,"allow_fallbacks":null,"max_price":null,
    "data_collection":null,"zdr":null,"future_field":{"x":[1,2]},"max_price":{"prompt":null,
    "video":"abc"},"service_tier":"flex"}})");
  ASSERT_TRUE(r.provider.has_value());
  EXPECT_TRUE(r.provider->order.empty());
  EXPECT_TRUE(r.provider->allowFallbacks);
  EXPECT_FALSE(r.provider->maxPrice.prompt.has_value());
  EXPECT_FALSE(r.provider->denyDataCollection);
}

TEST(OpenRouterParse, ErrorMessagesQuoteSafely) {
  // A long, quote-laden value is cut and escaped: the message stays short, valid JSON text.
  const std::string value = std::string(200, '"');
  std::string escaped;
  for (char c : value) escaped += c == '"' ? "\\\"" : std::string(1, c);
  const GatewayError e = parseErr(R"({"provider":{"sort":")" + escaped + R"("}})");
  EXPECT_LT(e.message.size(), 250u);
  dom::parser p;
  dom::element el;
  EXPECT_EQ(p.parse(e.toJson()).get(el), simdjson::SUCCESS);
}

// --- modelChain / splitSuffix ---------------------------------------------------------------

TEST(OpenRouterModels, ChainTriesModelThenModelsWithoutRepeats) {
  Routing r;
  r.models = {"b", "a", "c", "b"};
  const auto chain = modelChain("a", r);
  EXPECT_EQ(chain, (std::vector<std::string_view>{"a", "b", "c"}));
  EXPECT_EQ(modelChain("", r), (std::vector<std::string_view>{"b", "a", "c"}));
  EXPECT_EQ(modelChain("solo", Routing{}), (std::vector<std::string_view>{"solo"}));
  EXPECT_TRUE(modelChain("", Routing{}).empty());
}

TEST(OpenRouterModels, Suffixes) {
  ModelSuffix s = splitSuffix("meta-llama/llama-3.3-70b-instruct:nitro");
  EXPECT_EQ(s.base, "meta-llama/llama-3.3-70b-instruct");
  EXPECT_EQ(s.sort, Sort::Throughput);
  s = splitSuffix("gpt-4o:floor");
  EXPECT_EQ(s.base, "gpt-4o");
  EXPECT_EQ(s.sort, Sort::Price);
  for (std::string_view m : {"gpt-4o", "llama3:8b", "x:free", "x:FLOOR", ":floor", ":nitro",
                             "x:floor:free", "anthropic.claude-v2:1", "x:nitrous", ""}) {
    s = splitSuffix(m);
    EXPECT_EQ(s.base, m);
    EXPECT_EQ(s.sort, Sort::None) << m;
  }
  // Only the last suffix is split.
  s = splitSuffix("x:nitro:floor");
  EXPECT_EQ(s.base, "x:nitro");
  EXPECT_EQ(s.sort, Sort::Price);
}

TEST(OpenRouterModels, SortNames) {
  EXPECT_EQ(sortName(Sort::Price), "price");
  EXPECT_EQ(sortName(Sort::Throughput), "throughput");
  EXPECT_EQ(sortName(Sort::Latency), "latency");
  EXPECT_EQ(sortName(Sort::None), "");
}

// --- providerMatches ------------------------------------------------------------------------

Candidate cand(std::string_view provider, std::string_view id = "id") {
  Candidate c;
  c.provider = provider;
  c.deploymentId = id;
  return c;
}

TEST(OpenRouterSlugs, MapsOpenRouterNamesToProviders) {
  struct Case {
    std::string_view slug, provider;
  };
  // clang-format off
  const Case yes[] = {
      {"openai", "openai"}, {"OpenAI", "openai"}, {"openai", "text-completion-openai"},
      {"azure", "azure"}, {"Azure", "azure"}, {"anthropic", "anthropic"},
      {"amazon-bedrock", "bedrock"}, {"Amazon Bedrock", "bedrock"}, {"bedrock", "bedrock"},
      {"google-vertex", "vertex_ai"}, {"Google", "vertex_ai"}, {"vertex_ai", "vertex_ai"},
      {"vertex-ai", "vertex_ai"}, {"google-ai-studio", "gemini"}, {"Google AI Studio", "gemini"},
      {"together", "together_ai"}, {"Together", "together_ai"}, {"together_ai", "together_ai"},
      {"fireworks", "fireworks_ai"}, {"x-ai", "xai"}, {"xAI", "xai"}, {"mistral", "mistral"},
      {"groq", "groq"}, {"DeepSeek", "deepseek"}, {"DeepInfra", "deepinfra"},
      {"cohere", "cohere_chat"}, {"Cerebras", "cerebras"},
  };
  // clang-format on
  for (const Case& c : yes) EXPECT_TRUE(providerMatches(c.slug, cand(c.provider))) << c.slug;
  // clang-format off
  const Case no[] = {
      {"openai", "azure"}, {"azure", "openai"}, {"google-vertex", "gemini"},
      {"google-ai-studio", "vertex_ai"}, {"google", "gemini"}, {"together", "fireworks_ai"},
      {"bedrock", "anthropic"}, {"amazon", "bedrock"}, {"open", "openai"}, {"openai2", "openai"},
      {"", "openai"}, {"x-ai", "mistral"}, {"text-completion-openai", "openai"},
  };
  // clang-format on
  for (const Case& c : no) EXPECT_FALSE(providerMatches(c.slug, cand(c.provider))) << c.slug;
}

TEST(OpenRouterSlugs, DeploymentIdAndEndpointSlugs) {
  EXPECT_TRUE(providerMatches("my-deploy-1", cand("openai", "my-deploy-1")));
  EXPECT_FALSE(providerMatches("MY-DEPLOY-1", cand("openai", "my-deploy-1")));  // ids are exact
  // An endpoint slug names one endpoint: only a deployment with that id.
  EXPECT_FALSE(providerMatches("google-vertex/us-east5", cand("vertex_ai", "v1")));
  EXPECT_TRUE(
      providerMatches("google-vertex/us-east5", cand("vertex_ai", "google-vertex/us-east5")));
  EXPECT_FALSE(providerMatches("deepinfra/turbo", cand("deepinfra")));
  EXPECT_FALSE(providerMatches("", cand("openai", "")));
}

// --- arrange ----------------------------------------------------------------------------------

// A group of five deployments with varied data.
struct Group {
  std::vector<Candidate> c;
  Group() {
    c.push_back({"openai", "oa", 5e-6, 15e-6, 900, 60});                    // 0: $20/M total
    c.push_back({"azure", "az", 2.5e-6, 10e-6, 400, 90});                   // 1: $12.5/M
    c.push_back({"together_ai", "tg", 0.9e-6, 0.9e-6, std::nullopt, 150});  // 2: $1.8/M
    c.push_back({"bedrock", "br", std::nullopt, std::nullopt, 300, std::nullopt});  // 3: unknown
    c.push_back({"openai", "oa2", 1e-6, 2e-6, 200, 40});                            // 4: $3/M
  }
  Plan run(const ProviderPrefs& p, Sort suffix = Sort::None) const { return arrange(p, c, suffix); }
};

using Idx = std::vector<size_t>;

TEST(OpenRouterArrange, NoPrefsLeavesEverythingToTheStrategy) {
  const Plan plan = Group().run(ProviderPrefs{});
  EXPECT_EQ(plan.candidates, (Idx{0, 1, 2, 3, 4}));
  EXPECT_EQ(plan.fixed, 0u);
  EXPECT_TRUE(plan.failover);
}

TEST(OpenRouterArrange, SortPrice) {
  ProviderPrefs p;
  p.sort = Sort::Price;
  const Plan plan = Group().run(p);
  EXPECT_EQ(plan.candidates, (Idx{2, 4, 1, 0, 3}));  // unknown price last
  EXPECT_EQ(plan.fixed, 5u);
}

TEST(OpenRouterArrange, SortThroughput) {
  ProviderPrefs p;
  p.sort = Sort::Throughput;
  EXPECT_EQ(Group().run(p).candidates, (Idx{2, 1, 0, 4, 3}));
}

TEST(OpenRouterArrange, SortLatency) {
  ProviderPrefs p;
  p.sort = Sort::Latency;
  EXPECT_EQ(Group().run(p).candidates, (Idx{4, 3, 1, 0, 2}));
}

TEST(OpenRouterArrange, SuffixSortAppliesOnlyWithoutExplicitSort) {
  Group g;
  const Plan nitro = g.run(ProviderPrefs{}, Sort::Throughput);
  EXPECT_EQ(nitro.candidates, (Idx{2, 1, 0, 4, 3}));
  EXPECT_EQ(nitro.fixed, 5u);
  ProviderPrefs p;
  p.sort = Sort::Latency;
  EXPECT_EQ(g.run(p, Sort::Price).candidates, (Idx{4, 3, 1, 0, 2}));
}

TEST(OpenRouterArrange, TiesKeepInputOrderAndHalfPricesCount) {
  std::vector<Candidate> c = {
      {"a", "1", 1e-6, 1e-6, 10, 5},
      {"b", "2", std::nullopt, 2e-6, 10, 5},  // input unknown: counts as 0 -> $2/M, tie with 0
      {"c", "3", 2e-6, std::nullopt, 10, 5},
      {"d", "4", std::nullopt, std::nullopt, 10, 5},
  };
  for (Sort s : {Sort::Throughput, Sort::Latency}) {
    ProviderPrefs p;
    p.sort = s;
    EXPECT_EQ(arrange(p, c).candidates, (Idx{0, 1, 2, 3}));
  }
  ProviderPrefs p;
  p.sort = Sort::Price;
  EXPECT_EQ(arrange(p, c).candidates, (Idx{0, 1, 2, 3}));
  c[0].inputCostPerToken = 1.5e-6;  // now $2.5/M: after the two $2/M ones
  EXPECT_EQ(arrange(p, c).candidates, (Idx{1, 2, 0, 3}));
}

TEST(OpenRouterArrange, NonFiniteMeasurementsCountAsUnknown) {
  std::vector<Candidate> c = {
      {"a", "1", std::nullopt, std::nullopt, std::numeric_limits<double>::quiet_NaN(),
       std::numeric_limits<double>::infinity()},
      {"b", "2", std::nullopt, std::nullopt, 50, 10},
  };
  ProviderPrefs p;
  p.sort = Sort::Latency;
  EXPECT_EQ(arrange(p, c).candidates, (Idx{1, 0}));
  p.sort = Sort::Throughput;
  EXPECT_EQ(arrange(p, c).candidates, (Idx{1, 0}));
}

TEST(OpenRouterArrange, OrderFirstThenTheRestForTheStrategy) {
  ProviderPrefs p;
  p.order = {"together", "openai"};
  const Plan plan = Group().run(p);
  EXPECT_EQ(plan.candidates, (Idx{2, 0, 4, 1, 3}));
  EXPECT_EQ(plan.fixed, 3u);  // azure and bedrock are left to the group's strategy
  EXPECT_TRUE(plan.failover);
}

TEST(OpenRouterArrange, OrderWithSortSortsEachSlotAndTheRest) {
  ProviderPrefs p;
  p.order = {"openai", "bedrock"};
  p.sort = Sort::Price;
  const Plan plan = Group().run(p);
  // openai slot by price (oa2 $3 < oa $20), bedrock, then the rest by price.
  EXPECT_EQ(plan.candidates, (Idx{4, 0, 3, 2, 1}));
  EXPECT_EQ(plan.fixed, 5u);
}

TEST(OpenRouterArrange, OrderWithoutFallbacksIsTheWholeList) {
  ProviderPrefs p;
  p.order = {"azure", "nobody", "openai"};
  p.allowFallbacks = false;
  const Plan plan = Group().run(p);
  EXPECT_EQ(plan.candidates, (Idx{1, 0, 4}));
  EXPECT_EQ(plan.fixed, 3u);
  EXPECT_TRUE(plan.failover);  // each ordered provider is tried in turn
}

TEST(OpenRouterArrange, OrderMatchingNothingWithoutFallbacksIsEmpty) {
  ProviderPrefs p;
  p.order = {"groq"};
  p.allowFallbacks = false;
  const Plan plan = Group().run(p);
  EXPECT_TRUE(plan.candidates.empty());
  EXPECT_EQ(plan.fixed, 0u);
}

TEST(OpenRouterArrange, OrderByDeploymentIdAndNoDuplicates) {
  ProviderPrefs p;
  p.order = {"oa2", "openai", "oa2", "OpenAI"};
  const Plan plan = Group().run(p);
  EXPECT_EQ(plan.candidates, (Idx{4, 0, 1, 2, 3}));
  EXPECT_EQ(plan.fixed, 2u);
}

TEST(OpenRouterArrange, NoFallbacksWithoutOrderMeansOneAttempt) {
  ProviderPrefs p;
  p.allowFallbacks = false;
  Plan plan = Group().run(p);
  EXPECT_EQ(plan.candidates, (Idx{0, 1, 2, 3, 4}));
  EXPECT_EQ(plan.fixed, 0u);
  EXPECT_FALSE(plan.failover);
  p.sort = Sort::Price;
  plan = Group().run(p);
  EXPECT_EQ(plan.candidates.front(), 2u);  // the one attempt goes to the cheapest
  EXPECT_FALSE(plan.failover);
}

TEST(OpenRouterArrange, OnlyFilters) {
  ProviderPrefs p;
  p.only = {"openai", "amazon-bedrock"};
  Plan plan = Group().run(p);
  EXPECT_EQ(plan.candidates, (Idx{0, 3, 4}));
  EXPECT_EQ(plan.fixed, 0u);
  p.only = {"nobody"};
  EXPECT_TRUE(Group().run(p).candidates.empty());
}

TEST(OpenRouterArrange, IgnoreFiltersAndBeatsOnlyAndOrder) {
  ProviderPrefs p;
  p.ignore = {"openai"};
  EXPECT_EQ(Group().run(p).candidates, (Idx{1, 2, 3}));
  p.only = {"openai", "azure"};
  p.order = {"openai", "azure"};
  const Plan plan = Group().run(p);
  EXPECT_EQ(plan.candidates, (Idx{1}));
  EXPECT_EQ(plan.fixed, 1u);
  p.ignore = {"oa"};  // by deployment id: the other openai deployment stays
  EXPECT_EQ(Group().run(p).candidates, (Idx{4, 1}));
}

TEST(OpenRouterArrange, OnlyAndOrderCombine) {
  ProviderPrefs p;
  p.only = {"openai", "together"};
  p.order = {"together"};
  const Plan plan = Group().run(p);
  EXPECT_EQ(plan.candidates, (Idx{2, 0, 4}));  // order inside the allowed set, rest after
  EXPECT_EQ(plan.fixed, 1u);
}

TEST(OpenRouterArrange, MaxPriceFiltersKnownPricesOnly) {
  ProviderPrefs p;
  p.maxPrice.prompt = 2.5;                                  // USD per million prompt tokens
  EXPECT_EQ(Group().run(p).candidates, (Idx{1, 2, 3, 4}));  // openai $5/M input is out
  p.maxPrice.completion = 2;
  EXPECT_EQ(Group().run(p).candidates, (Idx{2, 3, 4}));  // azure $10/M output is out
  p.maxPrice.prompt = 0;
  p.maxPrice.completion.reset();
  EXPECT_EQ(Group().run(p).candidates, (Idx{3}));  // only the unknown price survives
}

TEST(OpenRouterArrange, MaxPriceBoundaryIsInclusive) {
  // $1/M written as per-token 0.000001 is not exactly representable; the limit must still hold.
  std::vector<Candidate> c = {{"a", "1", 0.000001, 0.000002, {}, {}},
                              {"b", "2", 0.0000010001, 0.000002, {}, {}}};
  ProviderPrefs p;
  p.maxPrice.prompt = 1;
  p.maxPrice.completion = 2;
  EXPECT_EQ(arrange(p, c).candidates, (Idx{0}));
  // 9.7e-7 * 1e6 and 3.85e-6 * 1e6 come out just above 0.97 and 3.85 in binary.
  c = {{"a", "1", 9.7e-7, 3.85e-6, {}, {}}};
  p.maxPrice.prompt = 0.97;
  p.maxPrice.completion = 3.85;
  EXPECT_EQ(arrange(p, c).candidates, (Idx{0}));
  p.maxPrice.prompt = 0.969;  // a real difference still excludes
  EXPECT_TRUE(arrange(p, c).candidates.empty());
}

TEST(OpenRouterArrange, MaxPriceRequestAndImageAreNotEnforced) {
  ProviderPrefs p;
  p.maxPrice.request = 0;
  p.maxPrice.image = 0;
  p.maxPrice.audio = 0;
  EXPECT_EQ(Group().run(p).candidates.size(), 5u);
}

TEST(OpenRouterArrange, MaxPriceWithSortThroughput) {
  // "the highest throughput, as long as it costs at most $x/M"
  ProviderPrefs p;
  p.sort = Sort::Throughput;
  p.maxPrice.completion = 12;
  EXPECT_EQ(Group().run(p).candidates, (Idx{2, 1, 4, 3}));
}

TEST(OpenRouterArrange, EmptyGroup) {
  ProviderPrefs p;
  p.order = {"openai"};
  p.sort = Sort::Price;
  const Plan plan = arrange(p, std::span<const Candidate>{});
  EXPECT_TRUE(plan.candidates.empty());
  EXPECT_EQ(plan.fixed, 0u);
}

TEST(OpenRouterArrange, ParsedPrefsEndToEnd) {
  const Routing r = parseOk(R"({"model":"gpt-4o:floor","provider":{"order":["Azure"],
    "ignore":["together"],"max_price":{"prompt":"6"}}})");
  const ModelSuffix s = splitSuffix("gpt-4o:floor");
  const Plan plan = Group().run(*r.provider, s.sort);
  // azure first (ordered), then the rest by price (the suffix), together ignored.
  EXPECT_EQ(plan.candidates, (Idx{1, 4, 0, 3}));
  EXPECT_EQ(plan.fixed, 4u);
}

}  // namespace
}  // namespace llmux::router::openrouter
