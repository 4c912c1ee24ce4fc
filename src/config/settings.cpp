// The settings sections: environment_variables, general_settings, litellm_settings,
// router_settings and llmux's own llmux_settings.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/parse_context.hpp"

namespace llmux::config::detail {
namespace {

constexpr int64_t kMaxMillis = 1'000'000'000'000;  // ~31 years: far from chrono overflow
constexpr double kMaxSeconds = 1e9;
constexpr double kMaxRequestSizeMb = 1024.0 * 1024.0;  // 1 TiB
constexpr int64_t kMaxWorkers = 1024;

std::chrono::milliseconds secondsToMillis(double seconds) {
  return std::chrono::milliseconds(std::max<int64_t>(1, std::llround(seconds * 1000.0)));
}

// Accepted spellings, lower-cased; "warning" and "err" are aliases.
std::optional<std::string> normalizeLogLevel(std::string level) {
  for (char& c : level) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (level == "warning") return "warn";
  if (level == "err") return "error";
  static constexpr std::array<std::string_view, 7> kLevels = {"trace", "debug",    "info", "warn",
                                                              "error", "critical", "off"};
  for (std::string_view l : kLevels) {
    if (level == l) return level;
  }
  return std::nullopt;
}

void readMillis(ParseContext& ctx, const Entry& e, std::chrono::milliseconds& out,
                int64_t min = 1) {
  if (auto v = ctx.readInteger(e, min, kMaxMillis)) out = std::chrono::milliseconds(*v);
}

constexpr int64_t kMaxRetries = 100;
constexpr int64_t kMaxFallbacks = 100;
constexpr double kMaxLatencyBuffer = 1e6;
constexpr double kLitellmDefaultCooldownSeconds = 5;  // LiteLLM's DEFAULT_COOLDOWN_TIME_SECONDS

std::chrono::milliseconds secondsToMillisOrZero(double seconds) {
  return std::chrono::milliseconds(std::llround(seconds * 1000.0));
}

// routing_strategy values (LiteLLM's names).
constexpr std::array<std::pair<std::string_view, RoutingStrategy>, 6> kStrategies = {{
    {"simple-shuffle", RoutingStrategy::SimpleShuffle},
    {"least-busy", RoutingStrategy::LeastBusy},
    {"latency-based-routing", RoutingStrategy::LatencyBased},
    {"usage-based-routing-v2", RoutingStrategy::UsageBased},
    {"usage-based-routing", RoutingStrategy::UsageBased},
    {"cost-based-routing", RoutingStrategy::CostBased},
}};

void parseStrategy(ParseContext& ctx, const Entry& e, RouterSettings& r) {
  std::optional<std::string> name = ctx.readString(e);
  if (!name) return;
  for (const auto& [text, strategy] : kStrategies) {
    if (*name != text) continue;
    r.strategy = strategy;
    if (text == "usage-based-routing") {
      ctx.addWarning(e.path, e.line,
                     "usage-based-routing is LiteLLM's older variant; llmux routes it as "
                     "usage-based-routing-v2");
    }
    return;
  }
  std::string valid;
  for (const auto& kv : kStrategies) valid += (valid.empty() ? "" : ", ") + std::string(kv.first);
  ctx.addProblem(e.path, e.line,
                 fmt::format("must be one of {}; got {}", valid, describe(e.value)));
}

void parseStrategyArgs(ParseContext& ctx, const Entry& section, RouterSettings& r) {
  if (!ctx.expectMapOrNull(section) || section.value.IsNull()) return;
  for (const Entry& e : ctx.entries(section.value, section.path)) {
    if (e.key == "lowest_latency_buffer") {
      if (auto v = ctx.readNumber(e, 0, kMaxLatencyBuffer)) r.lowestLatencyBuffer = *v;
    } else {
      ctx.notImplemented(e);  // ttl, max_latency_list_size, ...
    }
  }
}

// retry_policy / allowed_fails_policy: LiteLLM's "<ErrorClass><suffix>: count" keys.
void parseErrorClassCounts(ParseContext& ctx, const Entry& section, std::string_view suffix,
                           int64_t max, ErrorClassCounts& out) {
  if (section.value.IsNull()) return;
  if (!section.value.IsMap()) {
    ctx.addProblem(section.path, section.line,
                   "must be a mapping of error class to count, got " + describe(section.value));
    return;
  }
  const std::array<std::pair<std::string_view, std::optional<int>*>, 6> classes = {{
      {"BadRequestError", &out.badRequest},
      {"AuthenticationError", &out.authentication},
      {"TimeoutError", &out.timeout},
      {"RateLimitError", &out.rateLimit},
      {"ContentPolicyViolationError", &out.contentPolicy},
      {"InternalServerError", &out.internalServer},
  }};
  for (const Entry& e : ctx.entries(section.value, section.path)) {
    std::optional<int>* field = nullptr;
    for (const auto& [name, member] : classes) {
      if (e.key.size() == name.size() + suffix.size() && e.key.starts_with(name) &&
          e.key.ends_with(suffix)) {
        field = member;
      }
    }
    if (field == nullptr) {
      std::string valid;
      for (const auto& kv : classes) {
        valid += fmt::format("{}{}{}", valid.empty() ? "" : ", ", kv.first, suffix);
      }
      ctx.addProblem(e.path, e.line, "unknown error class; valid keys: " + valid);
    } else if (auto v = ctx.readInteger(e, 0, max)) {
      *field = static_cast<int>(*v);
    }
  }
}

void parseGroupRetryPolicy(ParseContext& ctx, const Entry& section, RouterSettings& r) {
  if (!ctx.expectMapOrNull(section) || section.value.IsNull()) return;
  std::vector<GroupRef> refs;
  for (const Entry& e : ctx.entries(section.value, section.path)) {
    if (!e.value.IsMap() && !e.value.IsNull()) {
      ctx.addProblem(e.path, e.line,
                     "must be a retry policy mapping (BadRequestErrorRetries: n, ...), got " +
                         describe(e.value));
      continue;
    }
    ErrorClassCounts counts;
    parseErrorClassCounts(ctx, e, "Retries", kMaxRetries, counts);
    r.groupRetryPolicy.emplace_back(e.key, counts);
    refs.push_back(GroupRef{e.key, e.path, e.line});
  }
  ctx.setGroupRefs("model_group_retry_policy", std::move(refs));
}

// One model group name: a non-empty string.
std::optional<std::string> readGroupName(ParseContext& ctx, const Entry& e) {
  if (!e.value.IsScalar()) {
    ctx.addProblem(e.path, e.line, "must be a model group name, got " + describe(e.value));
    return std::nullopt;
  }
  std::optional<std::string> name = ctx.readString(e);
  if (name && name->empty()) {
    ctx.addProblem(e.path, e.line, "model group name must not be empty");
    return std::nullopt;
  }
  return name;
}

// A model group name or a list of them (LiteLLM takes both as a fallback value); false after a
// problem.
bool readGroupNames(ParseContext& ctx, const Entry& e, std::vector<std::string>& out,
                    std::vector<GroupRef>& refs) {
  if (!e.value.IsSequence()) {
    if (!e.value.IsScalar()) {
      ctx.addProblem(e.path, e.line,
                     "must be a model group name or a list of them, got " + describe(e.value));
      return false;
    }
    std::optional<std::string> name = readGroupName(ctx, e);
    if (!name) return false;
    refs.push_back(GroupRef{*name, e.path, e.line});
    out.push_back(std::move(*name));
    return true;
  }
  bool ok = true;
  size_t i = 0;
  for (const YAML::Node& item : e.value) {
    const int line = lineOf(item);
    Entry itemEntry{e.key, item, fmt::format("{}[{}]", e.path, i++), line > 0 ? line : e.line};
    std::optional<std::string> name = readGroupName(ctx, itemEntry);
    if (!name) {
      ok = false;
      continue;
    }
    refs.push_back(GroupRef{*name, itemEntry.path, itemEntry.line});
    out.push_back(std::move(*name));
  }
  return ok;
}

// LiteLLM's fallback form: a list of single-key mappings [{group: [fallback, ...]}, ...]. nullopt
// when null or after a problem.
std::optional<FallbackMap> readFallbacks(ParseContext& ctx, const Entry& e,
                                         std::vector<GroupRef>& refs) {
  if (e.value.IsNull()) return std::nullopt;
  if (!e.value.IsSequence()) {
    ctx.addProblem(e.path, e.line,
                   "must be a list of single-key mappings {model_group: [fallback groups]}, got " +
                       describe(e.value));
    return std::nullopt;
  }
  FallbackMap map;
  std::map<std::string, int> seen;  // group -> line of its first entry
  bool ok = true;
  size_t i = 0;
  for (const YAML::Node& item : e.value) {
    const std::string path = fmt::format("{}[{}]", e.path, i++);
    const int line = lineOf(item) > 0 ? lineOf(item) : e.line;
    if (!item.IsMap()) {
      ctx.addProblem(path, line,
                     "must be a mapping {model_group: [fallback groups]}, got " + describe(item));
      ok = false;
      continue;
    }
    const std::vector<Entry> entries = ctx.entries(item, path);
    if (entries.size() != 1) {
      ctx.addProblem(
          path, line,
          fmt::format("must have exactly one key (the model group), has {}", entries.size()));
      ok = false;
      continue;
    }
    const Entry& group = entries.front();
    if (group.key.empty()) {
      ctx.addProblem(group.path, group.line, "model group name must not be empty");
      ok = false;
      continue;
    }
    if (auto [it, inserted] = seen.emplace(group.key, group.line); !inserted) {
      ctx.addProblem(group.path, group.line,
                     fmt::format("duplicate fallbacks for model group '{}' (first at line {})",
                                 group.key, it->second));
      ok = false;
      continue;
    }
    std::vector<std::string> targets;
    if (!group.value.IsNull() && !readGroupNames(ctx, group, targets, refs)) {
      ok = false;
      continue;
    }
    if (group.key != "*") refs.push_back(GroupRef{group.key, group.path, group.line});
    map.emplace_back(group.key, std::move(targets));
  }
  if (!ok) return std::nullopt;
  return map;
}

void parseModelGroupAlias(ParseContext& ctx, const Entry& section, Config& config) {
  if (!ctx.expectMapOrNull(section) || section.value.IsNull()) return;
  RouterSettings& r = config.router;
  const std::vector<std::string> groups = config.modelGroups();  // model_list is read first
  std::vector<GroupRef> refs;
  for (const Entry& e : ctx.entries(section.value, section.path)) {
    if (e.key.empty()) {
      ctx.addProblem(e.path, e.line, "alias must not be empty");
      continue;
    }
    RouterSettings::Alias alias{e.key, "", false};
    const Entry* target = &e;
    std::vector<Entry> fields;
    if (e.value.IsMap()) {  // {model: group, hidden: true}
      fields = ctx.entries(e.value, e.path);
      target = nullptr;
      for (const Entry& f : fields) {
        if (f.key == "model") {
          target = &f;
        } else if (f.key == "hidden") {
          if (auto b = ctx.readBool(f)) alias.hidden = *b;
        } else {
          ctx.addProblem(f.path, f.line, "unknown key (an alias takes model and hidden)");
        }
      }
      if (target == nullptr) {
        ctx.addProblem(e.path + ".model", e.line, "required field is missing");
        continue;
      }
    }
    if (!target->value.IsScalar()) {
      ctx.addProblem(target->path, target->line,
                     "must be a model group name or {model: <group>, hidden: <bool>}, got " +
                         describe(target->value));
      continue;
    }
    std::optional<std::string> group = readGroupName(ctx, *target);
    if (!group) continue;
    refs.push_back(GroupRef{*group, target->path, target->line, /*aliasAllowed=*/false});
    if (*group != e.key && std::find(groups.begin(), groups.end(), e.key) != groups.end()) {
      // LiteLLM looks aliases up first: the group's own deployments lose this name.
      ctx.addWarning(e.path, e.line,
                     fmt::format("alias '{}' hides the model group of the same name; requests "
                                 "for it go to '{}'",
                                 e.key, *group));
    }
    alias.group = std::move(*group);
    r.modelGroupAlias.push_back(std::move(alias));
  }
  ctx.setGroupRefs("model_group_alias", std::move(refs));
}

// The router keys LiteLLM also reads from litellm_settings (module globals). Both sections go
// through here; router_settings is read second, so its values win. Returns false for other keys.
bool parseSharedRouterKey(ParseContext& ctx, const Entry& e, RouterSettings& r) {
  const std::string& k = e.key;
  if (k == "num_retries") {
    if (auto v = ctx.readInteger(e, 0, kMaxRetries)) r.numRetries = static_cast<int>(*v);
  } else if (k == "max_fallbacks") {
    if (auto v = ctx.readInteger(e, 0, kMaxFallbacks)) r.maxFallbacks = static_cast<int>(*v);
  } else if (k == "allowed_fails") {
    if (auto v = ctx.readInteger(e, 0, INT32_MAX)) r.allowedFails = static_cast<int>(*v);
  } else if (k == "cooldown_time") {
    if (auto v = ctx.readNumber(e, 0, kMaxSeconds)) {
      if (*v == 0) {
        // LiteLLM reads it as `cooldown_time or DEFAULT_COOLDOWN_TIME_SECONDS`.
        ctx.addWarning(e.path, e.line,
                       "0 means the default (5 s), as in LiteLLM; use "
                       "router_settings.disable_cooldowns: true to turn cooldowns off");
        *v = kLitellmDefaultCooldownSeconds;
      }
      r.cooldownTime = secondsToMillisOrZero(*v);
    }
  } else if (k == "fallbacks" || k == "context_window_fallbacks" ||
             k == "content_policy_fallbacks") {
    std::vector<GroupRef> refs;
    std::optional<FallbackMap> map = readFallbacks(ctx, e, refs);
    // LiteLLM takes `router value or litellm value`: an empty list does not override.
    if (!map || map->empty()) return true;
    FallbackMap& field = k == "fallbacks"                  ? r.fallbacks
                         : k == "context_window_fallbacks" ? r.contextWindowFallbacks
                                                           : r.contentPolicyFallbacks;
    field = std::move(*map);
    ctx.setGroupRefs(k, std::move(refs));
  } else if (k == "default_fallbacks") {
    std::vector<std::string> names;
    std::vector<GroupRef> refs;
    if (e.value.IsNull() || !readGroupNames(ctx, e, names, refs) || names.empty()) return true;
    r.defaultFallbacks = std::move(names);
    ctx.setGroupRefs(k, std::move(refs));
  } else {
    return false;
  }
  return true;
}

// LiteLLM's wildcard model_name: '*' matches any run of characters (its pattern router turns
// each '*' into "(.*)" and matches the whole name).
bool wildcardMatch(std::string_view pattern, std::string_view text) {
  size_t p = 0;
  size_t t = 0;
  size_t star = std::string_view::npos;
  size_t resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] != '*' && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace

void parseEnvironmentVariables(ParseContext& ctx, const Entry& section) {
  if (!ctx.expectMapOrNull(section) || section.value.IsNull()) return;
  for (const Entry& e : ctx.entries(section.value, section.path)) {
    if (e.key.empty() || e.key.find_first_of(std::string_view("=\0", 2)) != std::string::npos) {
      ctx.addProblem(e.path, e.line, "not a valid environment variable name");
      continue;
    }
    // Values may themselves be os.environ/ references (to the process or to earlier entries).
    std::optional<std::string> value = ctx.readString(e);
    if (!value && !e.value.IsNull()) continue;  // wrong type, already reported
    if (value && value->find('\0') != std::string::npos) {
      ctx.addProblem(e.path, e.line, "must not contain NUL");
      continue;
    }
    ctx.setVariable(e.key, value.value_or(""));
  }
}

void parseGeneralSettings(ParseContext& ctx, const Entry& section, Config& config) {
  if (!ctx.expectMapOrNull(section) || section.value.IsNull()) return;
  for (const Entry& e : ctx.entries(section.value, section.path)) {
    if (e.key == "master_key") {
      if (auto v = ctx.readString(e, /*unsetVarIsProblem=*/true)) config.masterKey = std::move(*v);
    } else if (e.key == "max_request_size_mb") {
      if (auto mb = ctx.readNumber(e, 0, kMaxRequestSizeMb, true)) {
        config.server.maxBodyBytes =
            std::max<uint64_t>(1, static_cast<uint64_t>(std::llround(*mb * 1024.0 * 1024.0)));
      }
    } else if (e.key == "background_health_checks") {
      if (auto b = ctx.readBool(e)) config.router.backgroundHealthChecks = *b;
    } else if (e.key == "health_check_interval") {
      if (auto s = ctx.readNumber(e, 0, kMaxSeconds, true)) {
        config.router.healthCheckInterval = secondsToMillis(*s);
      }
    } else if (!parseGovernanceGeneralKey(ctx, e, config)) {
      ctx.notImplemented(e);
    }
  }
}

void parseLitellmSettings(ParseContext& ctx, const Entry& section, Config& config) {
  if (!ctx.expectMapOrNull(section) || section.value.IsNull()) return;
  for (const Entry& e : ctx.entries(section.value, section.path)) {
    if (e.key == "request_timeout") {
      if (auto s = ctx.readNumber(e, 0, kMaxSeconds, true)) {
        config.server.defaultTimeout = secondsToMillis(*s);
      }
    } else if (e.key == "drop_params") {
      if (auto b = ctx.readBool(e)) config.dropParams = *b;
    } else if (!parseSharedRouterKey(ctx, e, config.router) && !parseCacheParams(ctx, e, config)) {
      ctx.notImplemented(e);
    }
  }
}

void parseRouterSettings(ParseContext& ctx, const Entry& section, Config& config) {
  if (!ctx.expectMapOrNull(section) || section.value.IsNull()) return;
  RouterSettings& r = config.router;
  for (const Entry& e : ctx.entries(section.value, section.path)) {
    const std::string& k = e.key;
    if (parseSharedRouterKey(ctx, e, r)) continue;
    if (k == "routing_strategy") {
      parseStrategy(ctx, e, r);
    } else if (k == "routing_strategy_args") {
      parseStrategyArgs(ctx, e, r);
    } else if (k == "retry_policy") {
      parseErrorClassCounts(ctx, e, "Retries", kMaxRetries, r.retryPolicy);
    } else if (k == "model_group_retry_policy") {
      parseGroupRetryPolicy(ctx, e, r);
    } else if (k == "allowed_fails_policy") {
      parseErrorClassCounts(ctx, e, "AllowedFails", INT32_MAX, r.allowedFailsPolicy);
    } else if (k == "retry_after") {
      if (auto v = ctx.readNumber(e, 0, kMaxSeconds)) r.retryAfter = secondsToMillisOrZero(*v);
    } else if (k == "disable_cooldowns") {
      if (auto b = ctx.readBool(e)) r.disableCooldowns = *b;
    } else if (k == "timeout") {
      if (auto v = ctx.readNumber(e, 0, kMaxSeconds, true)) r.timeoutSeconds = v;
    } else if (k == "stream_timeout") {
      if (auto v = ctx.readNumber(e, 0, kMaxSeconds, true)) r.streamTimeoutSeconds = v;
    } else if (k == "model_group_alias") {
      parseModelGroupAlias(ctx, e, config);
    } else if (k == "enable_pre_call_checks") {
      if (auto b = ctx.readBool(e)) r.enablePreCallChecks = *b;
    } else if (parseRedisRouterKey(ctx, e, config)) {
      continue;
    } else {
      // cache_*, enable_tag_filtering, ... (LiteLLM has many more).
      ctx.notImplemented(e);
    }
  }
}

void parseLlmuxSettings(ParseContext& ctx, const Entry& section, Config& config) {
  if (!ctx.expectMapOrNull(section) || section.value.IsNull()) return;
  ServerSettings& s = config.server;
  for (const Entry& e : ctx.entries(section.value, section.path)) {
    const std::string& k = e.key;
    if (k == "host") {
      if (auto v = ctx.readString(e)) {
        if (v->empty()) {
          ctx.addProblem(e.path, e.line, "must not be empty");
        } else {
          s.host = std::move(*v);
        }
      }
    } else if (k == "port") {
      if (auto v = ctx.readInteger(e, 1, 65535)) s.port = static_cast<uint16_t>(*v);
    } else if (k == "workers") {
      if (auto v = ctx.readInteger(e, 0, kMaxWorkers)) s.workers = static_cast<int>(*v);
    } else if (k == "max_body_bytes") {
      if (auto v = ctx.readInteger(e, 1, INT64_MAX)) s.maxBodyBytes = static_cast<uint64_t>(*v);
    } else if (k == "max_header_bytes") {
      if (auto v = ctx.readInteger(e, 1, UINT32_MAX)) s.maxHeaderBytes = static_cast<uint32_t>(*v);
    } else if (k == "header_timeout_ms") {
      readMillis(ctx, e, s.headerTimeout);
    } else if (k == "body_timeout_ms") {
      readMillis(ctx, e, s.bodyTimeout);
    } else if (k == "idle_timeout_ms") {
      readMillis(ctx, e, s.idleTimeout);
    } else if (k == "shutdown_grace_ms") {
      readMillis(ctx, e, s.shutdownGrace, 0);  // 0: close everything at once
    } else if (k == "connect_timeout_ms") {
      readMillis(ctx, e, s.connectTimeout);
    } else if (k == "request_timeout_ms") {
      readMillis(ctx, e, s.defaultTimeout);
    } else if (k == "stream_idle_timeout_ms") {
      readMillis(ctx, e, s.streamIdleTimeout);
    } else if (k == "image_fetch_max_bytes") {
      if (auto v = ctx.readInteger(e, 1, int64_t{1} << 30)) s.imageFetchMaxBytes = *v;
    } else if (k == "image_fetch_timeout_ms") {
      readMillis(ctx, e, s.imageFetchTimeout);
    } else if (k == "image_fetch_allow_private") {
      if (auto b = ParseContext::plainBool(e.value)) {
        s.imageFetchAllowPrivate = *b;
      } else {
        ctx.addProblem(e.path, e.line, "must be true or false");
      }
    } else if (k == "access_log") {
      if (auto b = ParseContext::plainBool(e.value)) {
        s.accessLog = *b ? "-" : "";  // `access_log: false` reads naturally as "off"
      } else if (auto v = ctx.readString(e)) {
        s.accessLog = std::move(*v);
      }
    } else if (k == "log_level") {
      if (auto v = ctx.readString(e)) {
        if (auto level = normalizeLogLevel(*v)) {
          s.logLevel = std::move(*level);
        } else {
          ctx.addProblem(e.path, e.line,
                         "must be one of trace, debug, info, warn, error, critical, off; got " +
                             describe(e.value));
        }
      }
    } else if (parseGovernanceLlmuxKey(ctx, e, config)) {
      continue;
    } else {
      // Our own block: an unknown key is almost certainly a typo that would silently keep a
      // default.
      ctx.addProblem(e.path, e.line,
                     "unknown llmux_settings key (see docs/config.md for the supported keys)");
    }
  }
}

void checkGroupRefs(ParseContext& ctx, const Config& config) {
  if (config.deployments.empty()) return;  // already warned: every name would be unknown
  const std::vector<std::string> groups = config.modelGroups();
  const std::set<std::string> known(groups.begin(), groups.end());
  std::vector<std::string> wildcards;
  for (const std::string& g : groups) {
    if (g.find('*') != std::string::npos) wildcards.push_back(g);
  }
  std::set<std::string> aliases;
  for (const RouterSettings::Alias& a : config.router.modelGroupAlias) aliases.insert(a.alias);
  for (const auto& [setting, refs] : ctx.groupRefs()) {
    for (const GroupRef& ref : refs) {
      if (known.contains(ref.name) || (ref.aliasAllowed && aliases.contains(ref.name))) continue;
      auto match = std::find_if(wildcards.begin(), wildcards.end(),
                                [&](const std::string& w) { return wildcardMatch(w, ref.name); });
      ctx.addWarning(
          ref.path, ref.line,
          match != wildcards.end()
              ? fmt::format("'{}' is not a model_name in model_list; only the wildcard model "
                            "group '{}' matches it",
                            ref.name, *match)
              : fmt::format("'{}' is not a model group in model_list and matches no wildcard "
                            "model_name; requests routed to it will fail",
                            ref.name));
    }
  }
}

}  // namespace llmux::config::detail
