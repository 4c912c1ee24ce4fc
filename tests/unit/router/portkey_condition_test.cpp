// Condition queries of Portkey configs (src/router/portkey_condition.cpp): parse errors, query
// semantics against metadata and body params, and the conditional pick.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>
#include <vector>

#include "router/portkey_config.hpp"

namespace llmux::router::portkey {
namespace {

std::string parseErr(std::string_view json) {
  Node n;
  const auto err = parse(json, n);
  EXPECT_TRUE(err.has_value()) << "accepted: " << json;
  return err.value_or("");
}

constexpr std::string_view kConditional = R"({
  "strategy": {
    "mode": "conditional",
    "conditions": [
      {"query": {"metadata.user_plan": {"$eq": "paid"}}, "then": "finetuned"},
      {"query": {"params.model": "fastest"}, "then": "mini"}
    ],
    "default": "base"
  },
  "targets": [
    {"name": "base", "model": "gpt-4o"},
    {"name": "finetuned", "model": "ft:gpt-4o"},
    {"name": "mini", "model": "gpt-4o-mini"}
  ]
})";

Node parseOk(std::string_view json) {
  Node n;
  const auto err = parse(json, n);
  EXPECT_FALSE(err.has_value()) << *err;
  return n;
}

// --- queries --------------------------------------------------------------------------------

std::string queryErr(std::string_view query) {
  simdjson::dom::parser p;
  simdjson::dom::element e;
  EXPECT_EQ(p.parse(simdjson::padded_string(query)).get(e), simdjson::SUCCESS) << query;
  Query q;
  const auto err = parseQuery(e, "q", q);
  EXPECT_TRUE(err.has_value()) << "accepted: " << query;
  return err.value_or("");
}

TEST(PortkeyQuery, ParseErrors) {
  EXPECT_EQ(queryErr(R"({"metadata.a":{"$regex":"^x"}})"),
            "q.metadata.a: operator '$regex' is not supported "
            "($eq, $ne, $in, $nin, $gt, $gte, $lt, $lte)");
  EXPECT_EQ(queryErr(R"({"metadata.a":{"eq":1}})"),
            "q.metadata.a: 'eq' is not an operator ($eq, $ne, $in, $nin, $gt, $gte, $lt, $lte)");
  EXPECT_EQ(queryErr(R"({"$not":[{"metadata.a":1}]})"),
            "q: operator '$not' is not supported here ($and, $or, or a field)");
  EXPECT_EQ(queryErr(R"({"user.tier":"x"})"),
            "q: field 'user.tier' must start with 'metadata.' or 'params.'");
  EXPECT_EQ(queryErr(R"({"url.pathname":"/v1/embeddings"})"),
            "q: field 'url.pathname' must start with 'metadata.' or 'params.'");
  EXPECT_EQ(queryErr(R"({"metadata.":"x"})"), "q.metadata.: field path has an empty segment");
  EXPECT_EQ(queryErr(R"({"metadata.a..b":"x"})"),
            "q.metadata.a..b: field path has an empty segment");
  EXPECT_EQ(queryErr(R"({"metadata.a":{"$in":"x"}})"),
            "q.metadata.a.$in: must be an array of values");
  EXPECT_EQ(queryErr(R"({"metadata.a":{"$nin":[1,[2]]}})"),
            "q.metadata.a.$nin: values must be strings, numbers, booleans or null");
  EXPECT_EQ(queryErr(R"({"metadata.a":{"$eq":{"x":1}}})"),
            "q.metadata.a.$eq: must be a string, number, boolean or null");
  EXPECT_EQ(queryErr(R"({"metadata.a":["x"]})"),
            "q.metadata.a: must be a string, number, boolean, null or an object of operators");
  EXPECT_EQ(queryErr(R"({"metadata.a":{}})"),
            "q.metadata.a: needs an operator ($eq, $ne, $in, $nin, $gt, $gte, $lt, $lte)");
  EXPECT_EQ(queryErr(R"({"metadata.a":{"$gt":true}})"),
            "q.metadata.a.$gt: must be a number or a string");
  EXPECT_EQ(queryErr(R"({"$or":{"metadata.a":1}})"), "q.$or: must be an array of queries");
  EXPECT_EQ(queryErr(R"({"$and":[{"metadata.a":1},2]})"), "q.$and[1]: must be an object");
  EXPECT_EQ(queryErr(R"([1])"), "q: must be an object");
  std::string deep;
  for (int i = 0; i < 17; ++i) deep += R"({"$and":[)";
  deep += R"({"metadata.a":1})";
  for (int i = 0; i < 17; ++i) deep += "]}";
  EXPECT_NE(queryErr(deep).find("$and / $or nest deeper than 16 levels"), std::string::npos);
  // The config parser reports query errors with the full path.
  EXPECT_EQ(parseErr(R"({"strategy":{"mode":"conditional",
      "conditions":[{"query":{"metadata.x":{"$regex":"a"}},"then":"a"}]},
      "targets":[{"name":"a","model":"m"}]})"),
            "strategy.conditions[0].query.metadata.x: operator '$regex' is not supported "
            "($eq, $ne, $in, $nin, $gt, $gte, $lt, $lte)");
}

class PortkeyMatch : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(mp_.parse(simdjson::padded_string(std::string_view(R"({
      "plan": "paid", "user_plan": "paid", "tier": "3", "level": 7, "ratio": 0.5, "beta": true, "none": null,
      "region": "eu-west", "user": {"org": {"id": "acme"}, "age": 42}, "tags": ["a", "b"]
    })")))
                  .get(metadata_),
              simdjson::SUCCESS);
    ASSERT_EQ(
        pp_.parse(simdjson::padded_string(std::string_view(
                      R"({"model":"fastest","temperature":0.9,"max_tokens":1000,"stream":false})")))
            .get(params_),
        simdjson::SUCCESS);
  }

  bool m(std::string_view query) {
    simdjson::dom::element e;
    EXPECT_EQ(qp_.parse(simdjson::padded_string(query)).get(e), simdjson::SUCCESS);
    Query q;
    const auto err = parseQuery(e, "", q);
    EXPECT_FALSE(err.has_value()) << *err;
    return matches(q, metadata_, params_);
  }

  simdjson::dom::parser mp_, pp_, qp_;
  simdjson::dom::element metadata_, params_;
};

TEST_F(PortkeyMatch, Equality) {
  EXPECT_TRUE(m(R"({"metadata.plan":"paid"})"));  // plain value = $eq
  EXPECT_FALSE(m(R"({"metadata.plan":"free"})"));
  EXPECT_TRUE(m(R"({"metadata.plan":{"$eq":"paid"}})"));
  EXPECT_TRUE(m(R"({"metadata.level":7.0})"));  // int vs double
  EXPECT_TRUE(m(R"({"metadata.ratio":0.5})"));
  EXPECT_FALSE(m(R"({"metadata.tier":3})"));  // strict: "3" is not 3
  EXPECT_FALSE(m(R"({"metadata.level":"7"})"));
  EXPECT_TRUE(m(R"({"metadata.beta":true})"));
  EXPECT_FALSE(m(R"({"metadata.beta":"true"})"));
  EXPECT_TRUE(m(R"({"metadata.none":null})"));
  EXPECT_FALSE(m(R"({"metadata.missing":null})"));  // missing is not null
  EXPECT_FALSE(m(R"({"metadata.tags":"a"})"));      // arrays equal nothing
  EXPECT_TRUE(m(R"({"metadata.tags":{"$ne":"a"}})"));
  EXPECT_TRUE(m(R"({"metadata.plan":{"$ne":"free"}})"));
  EXPECT_FALSE(m(R"({"metadata.plan":{"$ne":"paid"}})"));
  EXPECT_TRUE(m(R"({"params.model":"fastest"})"));
  EXPECT_TRUE(m(R"({"params.stream":false})"));
}

TEST_F(PortkeyMatch, MissingFields) {
  EXPECT_FALSE(m(R"({"metadata.nope":"x"})"));
  EXPECT_TRUE(m(R"({"metadata.nope":{"$ne":"x"}})"));
  EXPECT_FALSE(m(R"({"metadata.nope":{"$in":["x"]}})"));
  EXPECT_TRUE(m(R"({"metadata.nope":{"$nin":["x"]}})"));
  EXPECT_FALSE(m(R"({"metadata.nope":{"$gt":0}})"));
  EXPECT_FALSE(m(R"({"metadata.nope":{"$lte":0}})"));
  // A non-object on the way is missing too.
  EXPECT_FALSE(m(R"({"metadata.plan.x":"paid"})"));
  EXPECT_TRUE(m(R"({"metadata.plan.x":{"$ne":"paid"}})"));
  EXPECT_FALSE(m(R"({"params.messages.role":"user"})"));
}

TEST_F(PortkeyMatch, InAndNin) {
  EXPECT_TRUE(m(R"({"metadata.region":{"$in":["us-east","eu-west"]}})"));
  EXPECT_FALSE(m(R"({"metadata.region":{"$in":["us-east"]}})"));
  EXPECT_FALSE(m(R"({"metadata.region":{"$in":[]}})"));
  EXPECT_TRUE(m(R"({"metadata.level":{"$in":[1,7.0]}})"));
  EXPECT_FALSE(m(R"({"metadata.level":{"$in":["7"]}})"));
  EXPECT_TRUE(m(R"({"metadata.region":{"$nin":["us-east"]}})"));
  EXPECT_FALSE(m(R"({"metadata.region":{"$nin":["eu-west"]}})"));
  EXPECT_TRUE(m(R"({"metadata.none":{"$in":[null]}})"));
}

TEST_F(PortkeyMatch, Ordering) {
  EXPECT_TRUE(m(R"({"metadata.level":{"$gt":6}})"));
  EXPECT_FALSE(m(R"({"metadata.level":{"$gt":7}})"));
  EXPECT_TRUE(m(R"({"metadata.level":{"$gte":7}})"));
  EXPECT_TRUE(m(R"({"metadata.level":{"$lt":7.5}})"));
  EXPECT_TRUE(m(R"({"metadata.level":{"$lte":7.0}})"));
  EXPECT_FALSE(m(R"({"metadata.level":{"$lt":7}})"));
  EXPECT_TRUE(m(R"({"params.temperature":{"$gt":0.7}})"));
  EXPECT_TRUE(m(R"({"params.max_tokens":{"$gte":1000,"$lt":4096}})"));
  EXPECT_FALSE(m(R"({"params.max_tokens":{"$gte":1000,"$lt":1000}})"));
  // Portkey metadata values are strings: a numeric string compares as its number.
  EXPECT_TRUE(m(R"({"metadata.tier":{"$gt":2}})"));
  EXPECT_FALSE(m(R"({"metadata.tier":{"$gt":3}})"));
  EXPECT_FALSE(m(R"({"metadata.level":{"$gt":"10"}})"));
  EXPECT_TRUE(m(R"({"metadata.tier":{"$lt":"10"}})"));  // 3 < 10 numerically, not bytewise
  // Other strings compare bytewise; mixed kinds never match.
  EXPECT_TRUE(m(R"({"metadata.region":{"$gt":"eu"}})"));
  EXPECT_FALSE(m(R"({"metadata.region":{"$lt":"eu"}})"));
  EXPECT_FALSE(m(R"({"metadata.region":{"$gt":1}})"));
  EXPECT_FALSE(m(R"({"metadata.region":{"$lt":1}})"));
  EXPECT_FALSE(m(R"({"metadata.beta":{"$gt":0}})"));
  EXPECT_FALSE(m(R"({"metadata.tags":{"$gt":"a"}})"));
  EXPECT_FALSE(m(R"({"metadata.none":{"$lt":1}})"));
}

TEST_F(PortkeyMatch, LogicalOperators) {
  EXPECT_TRUE(m(R"({})"));  // an empty query matches everything
  EXPECT_TRUE(m(R"({"metadata.plan":"paid","params.model":"fastest"})"));  // implicit AND
  EXPECT_FALSE(m(R"({"metadata.plan":"paid","params.model":"smartest"})"));
  EXPECT_TRUE(m(R"({"$or":[{"metadata.plan":"free"},{"metadata.level":7}]})"));
  EXPECT_FALSE(m(R"({"$or":[{"metadata.plan":"free"},{"metadata.level":8}]})"));
  EXPECT_FALSE(m(R"({"$or":[]})"));
  EXPECT_TRUE(m(R"({"$and":[]})"));
  EXPECT_TRUE(m(R"({"$and":[{"metadata.plan":"paid"},{"metadata.level":{"$gte":5}}]})"));
  EXPECT_FALSE(m(R"({"$and":[{"metadata.plan":"paid"},{"metadata.level":{"$gte":8}}]})"));
  // Nested: paid AND (eu OR beta) AND NOT in the blocked list.
  EXPECT_TRUE(m(R"({"$and":[{"metadata.plan":"paid"},
                            {"$or":[{"metadata.region":"us"},{"metadata.beta":true}]},
                            {"metadata.user.org.id":{"$nin":["evil"]}}]})"));
  EXPECT_FALSE(m(R"({"$and":[{"metadata.plan":"paid"},
                             {"$or":[{"metadata.region":"us"},{"metadata.beta":false}]}]})"));
  // A logical key next to a field: both must hold (unlike Portkey, which stops at $or).
  EXPECT_FALSE(m(R"({"$or":[{"metadata.plan":"paid"}],"metadata.level":1})"));
  EXPECT_TRUE(m(R"({"$or":[{"metadata.plan":"paid"}],"metadata.level":7})"));
  EXPECT_TRUE(m(R"({"metadata.user.age":{"$gt":40},"metadata.user.org.id":"acme"})"));
}

TEST_F(PortkeyMatch, AbsentDocuments) {
  simdjson::dom::element e;
  ASSERT_EQ(
      qp_.parse(simdjson::padded_string(std::string_view(R"({"metadata.plan":"paid"})"))).get(e),
      simdjson::SUCCESS);
  Query q;
  ASSERT_FALSE(parseQuery(e, "", q).has_value());
  EXPECT_FALSE(matches(q, RequestFacts{}));
  EXPECT_TRUE(matches(q, RequestFacts{metadata_, std::nullopt}));
  // A metadata value that is not an object has no fields.
  EXPECT_FALSE(matches(q, RequestFacts{params_["model"].value_unsafe(), std::nullopt}));
}

TEST_F(PortkeyMatch, ChooseConditional) {
  Node n = parseOk(kConditional);
  EXPECT_EQ(chooseConditional(n, metadata_, params_), 1);  // plan paid → finetuned (first wins)
  RequestFacts noMeta{std::nullopt, params_};
  EXPECT_EQ(chooseConditional(n, noMeta), 2);          // params.model fastest → mini
  EXPECT_EQ(chooseConditional(n, RequestFacts{}), 0);  // default base
  n.defaultIndex = -1;
  EXPECT_EQ(chooseConditional(n, RequestFacts{}), -1);
  const Node fb = parseOk(R"({"strategy":{"mode":"fallback"},"targets":[{"model":"a"}]})");
  EXPECT_EQ(chooseConditional(fb, metadata_, params_), -1);
}

}  // namespace
}  // namespace llmux::router::portkey
