#pragma once
// Portkey-style routing configs (the `x-llmux-config` / `x-portkey-config` header, or a config
// named in the config file): a pure parser into a tree of Nodes, plus the per-request decisions
// that need no I/O (conditional routing, weighted pick). The router core walks the tree and maps
// each leaf to an llmux model group.
//
// Schema (Portkey's, snake_case or camelCase keys):
//   node    := strategy-node | target
//   strategy-node: {"strategy": {"mode": "single"|"fallback"|"loadbalance"|"conditional",
//                                "on_status_codes": [int], "conditions": [{"query", "then"}],
//                                "default": name},
//                   "targets": [node, ...],  + common keys}
//   target: {"provider", "virtual_key", "override_params": {...}, "model", + common keys}
//   common: "name", "weight", "retry": {"attempts": 0..5, "on_status_codes": [int],
//           "use_retry_after_headers": bool}, "request_timeout": ms, "override_params"
// retry, request_timeout and override_params are inherited by descendants unless they set their
// own (override_params merged key by key, the child winning); "model" is llmux shorthand for
// override_params.model. A target with neither provider, virtual_key nor model means "the
// request's own model".
//
// Keys: Portkey features llmux does not implement and that cannot redirect traffic (cache,
// hooks, guardrails, strict_open_ai_compliance) are ignored. Keys that would point llmux at
// another host or credential (api_key, custom_host, forward_headers, provider credentials such
// as aws_* / azure_* / vertex_*) are rejected: a client must name an llmux model. Any other key
// is rejected as unknown, so typos do not silently change routing.
#include <simdjson.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmux::router::portkey {

// Bounds on client-supplied configs.
inline constexpr size_t kMaxConfigBytes = 64 * 1024;
inline constexpr int kMaxDepth = 8;          // levels of nested targets below the root
inline constexpr size_t kMaxTargets = 64;    // per node
inline constexpr size_t kMaxNodes = 256;     // in the whole tree, root included
inline constexpr int kMaxRetryAttempts = 5;  // Portkey's documented maximum
inline constexpr int kMaxQueryDepth = 16;    // nesting of $and / $or
inline constexpr int64_t kMaxRequestTimeoutMs = 3'600'000;
inline constexpr double kMaxWeight = 1'000'000;
// Portkey's retry statuses when `retry.on_status_codes` is absent (its gateway's
// RETRY_STATUS_CODES; the hosted docs now also list 529).
inline constexpr std::array<int, 5> kDefaultRetryStatusCodes = {429, 500, 502, 503, 504};

enum class Mode : uint8_t { Single, Fallback, LoadBalance, Conditional };

struct RetrySpec {
  int attempts = 0;                // retries after the first call (0..5)
  std::vector<int> onStatusCodes;  // resolved: the default list when the config gave none
  bool useRetryAfterHeaders = false;
};

enum class Op : uint8_t { Eq, Ne, In, Nin, Gt, Gte, Lt, Lte };
enum class Source : uint8_t { Metadata, Params };

// A scalar from a query.
struct Literal {
  enum class Type : uint8_t { Null, Bool, Int, Double, String };
  Type type = Type::Null;
  bool b = false;
  int64_t i = 0;
  double d = 0;
  std::string s;
};

struct Comparison {
  Op op = Op::Eq;
  std::vector<Literal> values;  // one value; the list for $in / $nin
};

// A parsed condition query. And / Or hold children (an empty And is true, an empty Or false);
// Field compares the value at `source`.`path` with every comparison (all must hold).
struct Query {
  enum class Kind : uint8_t { And, Or, Field };
  Kind kind = Kind::And;
  std::vector<Query> children;
  Source source = Source::Metadata;
  std::vector<std::string> path;  // keys below metadata / params, e.g. {"user", "tier"}
  std::vector<Comparison> comparisons;
};

struct Condition {
  Query query;
  std::string then;   // a target's name
  size_t target = 0;  // its index in Node::targets
};

struct OverrideParam {
  std::string key;
  std::string json;  // the value, minified
};

struct Node {
  std::string name;  // "name", referred to by conditions
  std::string path;  // where it is in the config: "" for the root, "targets[1].targets[0]"

  // Strategy node (has targets).
  Mode mode = Mode::Single;
  std::vector<int> onStatusCodes;  // strategy.on_status_codes; empty = any failure moves on
  std::vector<Condition> conditions;
  std::string defaultTarget;  // strategy.default ("" = none)
  int defaultIndex = -1;      // its index in targets, -1 = none
  std::vector<Node> targets;

  // Leaf: what to call.
  std::string provider;                  // "openai", "@openai-prod", ...
  std::string virtualKey;                // "virtual_key"
  std::string model;                     // override_params.model after inheritance ("" = none)
  std::vector<OverrideParam> overrides;  // after inheritance, model included
  std::string overrideParams;            // `overrides` as a minified JSON object ("" if none)

  double weight = 1;                        // loadbalance share
  std::optional<RetrySpec> retry;           // after inheritance
  std::optional<int64_t> requestTimeoutMs;  // after inheritance

  [[nodiscard]] bool isLeaf() const { return targets.empty(); }
};

// Parses a config. On error returns a message that starts with the JSON path of the problem,
// e.g. "targets[1].weight: must be a number from 0 to 1000000"; `root` is then unspecified.
std::optional<std::string> parse(std::string_view json, Node& root);
// The same with a caller-owned parser (reused across requests to avoid its allocation).
std::optional<std::string> parse(std::string_view json, Node& root, simdjson::dom::parser& parser);

// Parses one condition query object; `path` prefixes error messages.
std::optional<std::string> parseQuery(simdjson::dom::element e, std::string_view path, Query& out);

// What a query is evaluated against: the request's metadata object (from its metadata header)
// and its body. Absent ones match like missing fields.
struct RequestFacts {
  std::optional<simdjson::dom::element> metadata;
  std::optional<simdjson::dom::element> params;
};

// Query semantics: a missing field (or a non-object on the way) matches only $ne and $nin.
// $eq / $ne / $in / $nin compare JSON values strictly (1 == 1.0, "1" != 1; objects and arrays
// equal nothing). $gt / $gte / $lt / $lte compare numbers numerically, where a string spelling a
// number counts as that number when the other side is a number or another numeric string (Portkey
// metadata values are strings); two other strings compare bytewise; anything else is false.
bool matches(const Query& q, const RequestFacts& facts);
bool matches(const Query& q, simdjson::dom::element metadata, simdjson::dom::element params);

// The conditional node's target: the first matching condition's, else the default's; -1 when
// neither (or when `n` is not conditional).
int chooseConditional(const Node& n, const RequestFacts& facts);
int chooseConditional(const Node& n, simdjson::dom::element metadata,
                      simdjson::dom::element params);

// Weighted pick among n.targets for a uniform r in [0, 1) (clamped): target i is chosen for r in
// [sum(w < i), sum(w <= i)) / total, so zero-weight targets are never chosen. Returns 0 when no
// target has weight.
size_t chooseWeighted(const Node& n, double r);

std::string_view modeName(Mode m);

}  // namespace llmux::router::portkey
