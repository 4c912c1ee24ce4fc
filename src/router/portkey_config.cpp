// Portkey config parsing: the node tree, strategies, retry / timeout / override_params with
// inheritance, and the weighted pick. Queries are parsed and evaluated in portkey_condition.cpp.
#include <fmt/format.h>
#include <simdjson.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "common/text.hpp"
#include "router/portkey_config.hpp"
#include "router/portkey_internal.hpp"

namespace llmux::router::portkey {
namespace {

namespace dom = simdjson::dom;
using Err = std::optional<std::string>;

constexpr size_t kMaxOverrideKeys = 64;
constexpr size_t kMaxStatusCodes = 64;
constexpr size_t kMaxNameBytes = 256;

using detail::join;

std::string fail(std::string_view path, std::string_view message) {
  return fmt::format("{}: {}", path.empty() ? std::string_view("config") : path, message);
}

// Client text quoted in an error message: short, and still valid UTF-8.
std::string quoteText(std::string_view s) {
  constexpr size_t kMax = 64;
  return fmt::format("'{}{}'", utf8Prefix(s, kMax), s.size() > kMax ? "..." : "");
}

// Portkey accepts both spellings of every key ("virtualKey" is "virtual_key").
std::string snakeCase(std::string_view key) {
  std::string out;
  out.reserve(key.size() + 4);
  for (char c : key) {
    if (c >= 'A' && c <= 'Z') {
      out.push_back('_');
      out.push_back(static_cast<char>(c - 'A' + 'a'));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Keys that would make llmux call another host or use another credential than its own
// deployments': a client-supplied config may not carry them.
bool isForbiddenKey(std::string_view k) {
  static constexpr std::string_view kExact[] = {
      "api_key",        "custom_host",         "forward_headers",       "url_to_fetch",
      "resource_name",  "deployment_id",       "api_version",           "ad_auth",
      "openai_project", "openai_organization", "workers_ai_account_id", "huggingface_base_url",
      "authorization",  "snowflake_account",   "fireworks_account_id",  "base_url",
      "api_base",       "extra_headers",
  };
  static constexpr std::string_view kPrefixes[] = {"aws_",  "azure_",           "vertex_",
                                                   "amzn_", "stability_client", "oracle_"};
  for (auto e : kExact) {
    if (k == e) return true;
  }
  for (auto p : kPrefixes) {
    if (k.starts_with(p)) return true;
  }
  return false;
}

// Portkey features llmux does not implement and that cannot redirect a request.
bool isIgnoredKey(std::string_view k) {
  static constexpr std::string_view kIgnored[] = {
      "cache",
      "before_request_hooks",
      "after_request_hooks",
      "input_guardrails",
      "output_guardrails",
      "input_mutators",
      "output_mutators",
      "default_input_guardrails",
      "default_output_guardrails",
      "strict_open_ai_compliance",
  };
  for (auto e : kIgnored) {
    if (k == e) return true;
  }
  return false;
}

std::string forbidden(std::string_view path, std::string_view key) {
  return fail(join(path, key), "not supported by llmux: name an llmux model instead");
}

// A whole number: an int64, or an integral double within +-2^53.
std::optional<int64_t> readInt(dom::element e) {
  int64_t i = 0;
  if (e.get_int64().get(i) == simdjson::SUCCESS) return i;
  double d = 0;
  if (e.is_double() && e.get_double().get(d) == simdjson::SUCCESS && std::floor(d) == d &&
      std::fabs(d) <= 9007199254740992.0) {
    return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

std::optional<double> readNumber(dom::element e) {
  double d = 0;
  if (!e.is_number() || e.get_double().get(d) != simdjson::SUCCESS) return std::nullopt;
  return d;
}

Err readName(dom::element e, std::string_view path, std::string& out) {
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS || s.empty() || s.size() > kMaxNameBytes) {
    return fail(path, fmt::format("must be a non-empty string of at most {} bytes", kMaxNameBytes));
  }
  out.assign(s);
  return std::nullopt;
}

Err readStatusCodes(dom::element e, std::string_view path, std::vector<int>& out) {
  dom::array arr;
  if (e.get_array().get(arr) != simdjson::SUCCESS) {
    return fail(path, "must be an array of HTTP status codes");
  }
  if (arr.size() > kMaxStatusCodes) {
    return fail(path, fmt::format("more than {} status codes", kMaxStatusCodes));
  }
  out.clear();
  size_t i = 0;
  for (dom::element v : arr) {
    const auto code = readInt(v);
    if (!code || *code < 100 || *code > 599) {
      return fail(fmt::format("{}[{}]", path, i), "must be an HTTP status code (100-599)");
    }
    out.push_back(static_cast<int>(*code));
    ++i;
  }
  return std::nullopt;
}

Err parseRetry(dom::element e, const std::string& path, RetrySpec& out) {
  dom::object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS) return fail(path, "must be an object");
  std::optional<dom::element> attempts, codes, useHeaders;
  for (auto field : obj) {
    const std::string key = snakeCase(field.key);
    std::optional<dom::element>* slot = nullptr;
    if (key == "attempts") {
      slot = &attempts;
    } else if (key == "on_status_codes") {
      slot = &codes;
    } else if (key == "use_retry_after_headers" || key == "use_retry_after_header") {
      slot = &useHeaders;
    } else {
      return fail(join(path, field.key),
                  "unknown key (attempts, on_status_codes, use_retry_after_headers)");
    }
    if (slot->has_value()) return fail(join(path, key), "duplicate key");
    *slot = field.value;
  }
  if (!attempts) return fail(join(path, "attempts"), "required");
  const auto n = readInt(*attempts);
  if (!n || *n < 0 || *n > kMaxRetryAttempts) {
    return fail(join(path, "attempts"),
                fmt::format("must be a whole number from 0 to {}", kMaxRetryAttempts));
  }
  out.attempts = static_cast<int>(*n);
  if (codes) {
    if (auto err = readStatusCodes(*codes, join(path, "on_status_codes"), out.onStatusCodes)) {
      return err;
    }
    if (out.onStatusCodes.empty()) {
      return fail(join(path, "on_status_codes"),
                  "must not be empty (leave it out for the default list)");
    }
  } else {
    out.onStatusCodes.assign(kDefaultRetryStatusCodes.begin(), kDefaultRetryStatusCodes.end());
  }
  if (useHeaders && useHeaders->get_bool().get(out.useRetryAfterHeaders) != simdjson::SUCCESS) {
    return fail(join(path, "use_retry_after_headers"), "must be a boolean");
  }
  return std::nullopt;
}

// What a node passes down to its targets.
struct Inherited {
  std::optional<RetrySpec> retry;
  std::optional<int64_t> requestTimeoutMs;
  std::vector<OverrideParam> overrides;
  std::string model;
};

void setOverride(std::vector<OverrideParam>& list, std::string key, std::string json) {
  for (auto& p : list) {
    if (p.key == key) {
      p.json = std::move(json);
      return;
    }
  }
  list.push_back({std::move(key), std::move(json)});
}

// Applies the node's own override_params (and its "model" shorthand) over the inherited ones.
Err applyOverrides(std::optional<dom::element> params, std::optional<dom::element> model,
                   const std::string& path, Inherited& inh) {
  std::vector<OverrideParam> own;
  std::optional<std::string> ownModel;
  if (params) {
    const std::string ppath = join(path, "override_params");
    dom::object obj;
    if (params->get_object().get(obj) != simdjson::SUCCESS) return fail(ppath, "must be an object");
    if (obj.size() > kMaxOverrideKeys) {
      return fail(ppath, fmt::format("more than {} keys", kMaxOverrideKeys));
    }
    for (auto field : obj) {
      const std::string_view key = field.key;
      if (isForbiddenKey(key)) return forbidden(ppath, key);
      for (const auto& p : own) {
        if (p.key == key) return fail(join(ppath, key), "duplicate key");
      }
      if (key == "model") {
        std::string m;
        if (auto err = readName(field.value, join(ppath, "model"), m)) return err;
        ownModel = std::move(m);
      }
      own.push_back({std::string(key), simdjson::minify(field.value)});
    }
  }
  if (model) {
    if (ownModel) return fail(join(path, "model"), "conflicts with override_params.model");
    std::string m;
    if (auto err = readName(*model, join(path, "model"), m)) return err;
    std::string json;
    appendJsonString(json, m);
    own.push_back({"model", std::move(json)});
    ownModel = std::move(m);
  }
  for (auto& p : own) setOverride(inh.overrides, std::move(p.key), std::move(p.json));
  if (ownModel) inh.model = std::move(*ownModel);
  return std::nullopt;
}

std::string renderOverrides(const std::vector<OverrideParam>& list) {
  if (list.empty()) return {};
  std::string out = "{";
  for (const auto& p : list) {
    if (out.size() > 1) out.push_back(',');
    appendJsonString(out, p.key);
    out.push_back(':');
    out += p.json;
  }
  out.push_back('}');
  return out;
}

struct Ctx {
  size_t nodes = 0;
};

struct NodeFields {
  std::optional<dom::element> strategy, targets, name, provider, virtualKey, overrideParams, model,
      weight, retry, requestTimeout;
};

// Sorts a node object's keys into `f`; rejects duplicates, credentials and unknown keys.
Err collectFields(dom::object obj, const std::string& path, NodeFields& f) {
  for (auto field : obj) {
    const std::string key = snakeCase(field.key);
    std::optional<dom::element>* slot = nullptr;
    if (key == "strategy") {
      slot = &f.strategy;
    } else if (key == "targets") {
      slot = &f.targets;
    } else if (key == "name") {
      slot = &f.name;
    } else if (key == "provider") {
      slot = &f.provider;
    } else if (key == "virtual_key") {
      slot = &f.virtualKey;
    } else if (key == "override_params") {
      slot = &f.overrideParams;
    } else if (key == "model") {
      slot = &f.model;
    } else if (key == "weight") {
      slot = &f.weight;
    } else if (key == "retry") {
      slot = &f.retry;
    } else if (key == "request_timeout") {
      slot = &f.requestTimeout;
    } else if (isIgnoredKey(key)) {
      continue;
    } else if (isForbiddenKey(key)) {
      return forbidden(path, field.key);
    } else {
      return fail(join(path, field.key), "unknown key");
    }
    if (slot->has_value()) return fail(join(path, key), "duplicate key");
    *slot = field.value;
  }
  return std::nullopt;
}

Err parseNode(dom::element e, const std::string& path, int depth, Inherited inh, Node& out,
              Ctx& ctx);

Err parseStrategy(dom::element e, const std::string& path, Node& out,
                  std::optional<dom::element>& conditions) {
  const std::string spath = join(path, "strategy");
  dom::object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS) return fail(spath, "must be an object");
  std::optional<dom::element> mode, codes, deflt;
  for (auto field : obj) {
    const std::string key = snakeCase(field.key);
    std::optional<dom::element>* slot = nullptr;
    if (key == "mode") {
      slot = &mode;
    } else if (key == "on_status_codes") {
      slot = &codes;
    } else if (key == "conditions") {
      slot = &conditions;
    } else if (key == "default") {
      slot = &deflt;
    } else {
      return fail(join(spath, field.key),
                  "unknown key (mode, on_status_codes, conditions, default)");
    }
    if (slot->has_value()) return fail(join(spath, key), "duplicate key");
    *slot = field.value;
  }
  if (!mode) return fail(join(spath, "mode"), "required");
  std::string_view m;
  if (mode->get_string().get(m) != simdjson::SUCCESS) {
    return fail(join(spath, "mode"), "must be a string");
  }
  if (m == "single") {
    out.mode = Mode::Single;
  } else if (m == "fallback") {
    out.mode = Mode::Fallback;
  } else if (m == "loadbalance") {
    out.mode = Mode::LoadBalance;
  } else if (m == "conditional") {
    out.mode = Mode::Conditional;
  } else {
    return fail(
        join(spath, "mode"),
        fmt::format("unknown mode {} (single, fallback, loadbalance, conditional)", quoteText(m)));
  }
  if (codes) {
    if (auto err = readStatusCodes(*codes, join(spath, "on_status_codes"), out.onStatusCodes)) {
      return err;
    }
  }
  if (out.mode != Mode::Conditional) {
    if (conditions) return fail(join(spath, "conditions"), "only for mode conditional");
    if (deflt) return fail(join(spath, "default"), "only for mode conditional");
    return std::nullopt;
  }
  if (!conditions) return fail(join(spath, "conditions"), "required for mode conditional");
  if (deflt) {
    if (auto err = readName(*deflt, join(spath, "default"), out.defaultTarget)) return err;
  }
  return std::nullopt;
}

int findTarget(const Node& n, std::string_view name) {
  for (size_t i = 0; i < n.targets.size(); ++i) {
    if (n.targets[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

Err parseConditions(dom::element e, const std::string& path, Node& out) {
  const std::string cpath = join(path, "strategy.conditions");
  dom::array arr;
  if (e.get_array().get(arr) != simdjson::SUCCESS) return fail(cpath, "must be an array");
  size_t i = 0;
  for (dom::element c : arr) {
    const std::string ipath = fmt::format("{}[{}]", cpath, i++);
    dom::object obj;
    if (c.get_object().get(obj) != simdjson::SUCCESS) return fail(ipath, "must be an object");
    std::optional<dom::element> query, then;
    for (auto field : obj) {
      std::optional<dom::element>* slot = nullptr;
      if (field.key == "query") {
        slot = &query;
      } else if (field.key == "then") {
        slot = &then;
      } else {
        return fail(join(ipath, field.key), "unknown key (query, then)");
      }
      if (slot->has_value()) return fail(join(ipath, field.key), "duplicate key");
      *slot = field.value;
    }
    if (!query) return fail(join(ipath, "query"), "required");
    if (!then) return fail(join(ipath, "then"), "required");
    Condition cond;
    if (auto err = parseQuery(*query, join(ipath, "query"), cond.query)) return err;
    if (auto err = readName(*then, join(ipath, "then"), cond.then)) return err;
    const int idx = findTarget(out, cond.then);
    if (idx < 0)
      return fail(join(ipath, "then"), fmt::format("no target named {}", quoteText(cond.then)));
    cond.target = static_cast<size_t>(idx);
    out.conditions.push_back(std::move(cond));
  }
  if (!out.defaultTarget.empty()) {
    out.defaultIndex = findTarget(out, out.defaultTarget);
    if (out.defaultIndex < 0) {
      return fail(join(path, "strategy.default"),
                  fmt::format("no target named {}", quoteText(out.defaultTarget)));
    }
  } else if (out.conditions.empty()) {
    return fail(cpath, "empty, and there is no default");
  }
  return std::nullopt;
}

Err parseTargets(dom::element e, const std::string& path, int depth, const Inherited& inh,
                 Node& out, Ctx& ctx) {
  const std::string tpath = join(path, "targets");
  dom::array arr;
  if (e.get_array().get(arr) != simdjson::SUCCESS) return fail(tpath, "must be an array");
  if (arr.size() == 0) return fail(tpath, "must not be empty");
  if (arr.size() > kMaxTargets)
    return fail(tpath, fmt::format("more than {} targets", kMaxTargets));
  if (depth >= kMaxDepth) {
    return fail(tpath, fmt::format("targets nest deeper than {} levels", kMaxDepth));
  }
  out.targets.reserve(arr.size());
  size_t i = 0;
  for (dom::element t : arr) {
    Node child;
    if (auto err = parseNode(t, fmt::format("{}[{}]", tpath, i), depth + 1, inh, child, ctx)) {
      return err;
    }
    if (!child.name.empty() && findTarget(out, child.name) >= 0) {
      return fail(fmt::format("{}[{}].name", tpath, i),
                  fmt::format("duplicate target name {}", quoteText(child.name)));
    }
    out.targets.push_back(std::move(child));
    ++i;
  }
  if (out.mode == Mode::LoadBalance) {
    double total = 0;
    for (const auto& t : out.targets) total += t.weight;
    if (!(total > 0)) return fail(tpath, "weights sum to zero");
  }
  return std::nullopt;
}

Err parseNode(dom::element e, const std::string& path, int depth, Inherited inh, Node& out,
              Ctx& ctx) {
  dom::object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS) return fail(path, "must be an object");
  if (++ctx.nodes > kMaxNodes) {
    return fail("", fmt::format("more than {} targets in total", kMaxNodes));
  }
  out.path = path;
  NodeFields f;
  if (auto err = collectFields(obj, path, f)) return err;

  if (f.name) {
    if (auto err = readName(*f.name, join(path, "name"), out.name)) return err;
  }
  if (f.weight) {
    const auto w = readNumber(*f.weight);
    if (!w || !(*w >= 0 && *w <= kMaxWeight)) {
      return fail(join(path, "weight"), fmt::format("must be a number from 0 to {}", kMaxWeight));
    }
    out.weight = *w;
  }
  if (f.retry) {
    RetrySpec r;
    if (auto err = parseRetry(*f.retry, join(path, "retry"), r)) return err;
    inh.retry = std::move(r);
  }
  if (f.requestTimeout) {
    const auto ms = readInt(*f.requestTimeout);
    if (!ms || *ms < 1 || *ms > kMaxRequestTimeoutMs) {
      return fail(
          join(path, "request_timeout"),
          fmt::format("must be a whole number of milliseconds from 1 to {}", kMaxRequestTimeoutMs));
    }
    inh.requestTimeoutMs = *ms;
  }
  if (auto err = applyOverrides(f.overrideParams, f.model, path, inh)) return err;
  out.retry = inh.retry;
  out.requestTimeoutMs = inh.requestTimeoutMs;
  out.model = inh.model;
  out.overrideParams = renderOverrides(inh.overrides);
  out.overrides = inh.overrides;

  if (f.provider) {
    if (auto err = readName(*f.provider, join(path, "provider"), out.provider)) return err;
  }
  if (f.virtualKey) {
    if (auto err = readName(*f.virtualKey, join(path, "virtual_key"), out.virtualKey)) return err;
  }

  if (!f.strategy) {
    if (f.targets) return fail(join(path, "targets"), "needs a strategy (strategy.mode)");
    return std::nullopt;
  }
  if (!f.targets) return fail(join(path, "targets"), "required with a strategy");
  if (f.provider || f.virtualKey) {
    return fail(join(path, f.provider ? "provider" : "virtual_key"),
                "belongs on a target, not on a node with targets");
  }
  std::optional<dom::element> conditions;
  if (auto err = parseStrategy(*f.strategy, path, out, conditions)) return err;
  if (auto err = parseTargets(*f.targets, path, depth, inh, out, ctx)) return err;
  if (conditions) return parseConditions(*conditions, path, out);
  return std::nullopt;
}

}  // namespace

std::string_view modeName(Mode m) {
  switch (m) {
    case Mode::Single:
      return "single";
    case Mode::Fallback:
      return "fallback";
    case Mode::LoadBalance:
      return "loadbalance";
    case Mode::Conditional:
      return "conditional";
  }
  return "single";
}

std::optional<std::string> parse(std::string_view json, Node& root, dom::parser& parser) {
  root = Node{};
  if (json.size() > kMaxConfigBytes) {
    return fmt::format("config: larger than {} bytes", kMaxConfigBytes);
  }
  const simdjson::padded_string padded(json);
  dom::element doc;
  if (auto err = parser.parse(padded).get(doc); err != simdjson::SUCCESS) {
    return fmt::format("config: invalid JSON ({})", simdjson::error_message(err));
  }
  Ctx ctx;
  return parseNode(doc, "", 0, Inherited{}, root, ctx);
}

std::optional<std::string> parse(std::string_view json, Node& root) {
  dom::parser parser;
  return parse(json, root, parser);
}

size_t chooseWeighted(const Node& n, double r) {
  double total = 0;
  for (const auto& t : n.targets) total += t.weight;
  if (!(total > 0)) return 0;
  if (!(r >= 0)) r = 0;  // also NaN
  if (r > 1) r = 1;
  const double x = r * total;
  double acc = 0;
  size_t last = 0;
  for (size_t i = 0; i < n.targets.size(); ++i) {
    const double w = n.targets[i].weight;
    if (!(w > 0)) continue;
    acc += w;
    last = i;
    if (x < acc) return i;
  }
  return last;  // r == 1 or rounding at the top end
}

}  // namespace llmux::router::portkey
