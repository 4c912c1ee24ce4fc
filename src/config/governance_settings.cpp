// The config keys of virtual keys, budgets, rate limits and spend tracking (GovernanceSettings):
// LiteLLM's names where LiteLLM has one, llmux_settings for the rest.
#include <charconv>

#include "config/parse_context.hpp"

namespace llmux::config::detail {

namespace {

std::chrono::milliseconds millisFromSeconds(double s) {
  return std::chrono::milliseconds(static_cast<int64_t>(s * 1000.0 + 0.5));
}

// redis://[user][:password@]host[:port][/db] (rediss:// is refused: no TLS client yet).
bool readRedisUrl(ParseContext& ctx, const Entry& e, GovernanceSettings& g) {
  std::optional<std::string> v = ctx.readString(e);
  if (!v) return true;
  std::string_view u = *v;
  constexpr std::string_view kScheme = "redis://";
  if (u.substr(0, kScheme.size()) != kScheme) {
    ctx.addProblem(e.path, e.line, "must be a redis://[:password@]host[:port][/db] URL");
    return true;
  }
  u.remove_prefix(kScheme.size());
  std::string password;
  if (auto at = u.rfind('@'); at != std::string_view::npos) {
    std::string_view cred = u.substr(0, at);
    if (auto colon = cred.find(':'); colon != std::string_view::npos) {
      password = std::string(cred.substr(colon + 1));
    }
    u.remove_prefix(at + 1);
  }
  int db = 0;
  if (auto slash = u.find('/'); slash != std::string_view::npos) {
    std::string_view d = u.substr(slash + 1);
    if (!d.empty()) {
      auto [p, ec] = std::from_chars(d.data(), d.data() + d.size(), db);
      if (ec != std::errc() || p != d.data() + d.size() || db < 0) {
        ctx.addProblem(e.path, e.line, "the database number after '/' must be an integer >= 0");
        return true;
      }
    }
    u = u.substr(0, slash);
  }
  int port = 6379;
  if (auto colon = u.rfind(':'); colon != std::string_view::npos && u.find(']') == u.npos) {
    std::string_view p = u.substr(colon + 1);
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
    if (ec != std::errc() || end != p.data() + p.size() || port < 1 || port > 65535) {
      ctx.addProblem(e.path, e.line, "the port must be an integer in 1..65535");
      return true;
    }
    u = u.substr(0, colon);
  }
  if (u.empty()) {
    ctx.addProblem(e.path, e.line, "the URL names no host");
    return true;
  }
  g.redisHost = std::string(u);
  g.redisPort = static_cast<uint16_t>(port);
  g.redisDb = db;
  if (!password.empty()) g.redisPassword = std::move(password);
  return true;
}

}  // namespace

bool parseGovernanceGeneralKey(ParseContext& ctx, const Entry& e, Config& config) {
  GovernanceSettings& g = config.governance;
  const std::string& k = e.key;
  if (k == "database_url") {
    if (auto v = ctx.readString(e)) g.databaseUrl = std::move(*v);
  } else if (k == "disable_spend_logs") {
    if (auto b = ctx.readBool(e)) g.spendLogs = !*b;
  } else if (k == "proxy_batch_write_at") {
    if (auto s = ctx.readNumber(e, 0, 3600, true)) g.spendFlushInterval = millisFromSeconds(*s);
  } else if (k == "allow_requests_on_db_unavailable") {
    if (auto b = ctx.readBool(e)) g.allowRequestsOnDbUnavailable = *b;
  } else {
    return false;
  }
  return true;
}

bool parseRedisRouterKey(ParseContext& ctx, const Entry& e, Config& config) {
  GovernanceSettings& g = config.governance;
  const std::string& k = e.key;
  if (k == "redis_host") {
    if (auto v = ctx.readString(e)) g.redisHost = std::move(*v);
  } else if (k == "redis_port") {
    if (auto v = ctx.readInteger(e, 1, 65535)) g.redisPort = static_cast<uint16_t>(*v);
  } else if (k == "redis_password") {
    if (auto v = ctx.readString(e)) g.redisPassword = std::move(*v);
  } else if (k == "redis_url") {
    return readRedisUrl(ctx, e, g);
  } else {
    return false;
  }
  return true;
}

// litellm_settings.cache_params {type: redis, host, port, password, url}: LiteLLM's response
// cache; llmux takes its Redis for the shared counters (the response cache is another issue).
bool parseCacheParams(ParseContext& ctx, const Entry& section, Config& config) {
  if (section.key != "cache_params") return false;
  if (!ctx.expectMapOrNull(section) || section.value.IsNull()) return true;
  GovernanceSettings candidate = config.governance;
  bool redis = false;
  for (const Entry& e : ctx.entries(section.value, section.path, /*strict=*/false)) {
    if (e.key == "type") {
      if (auto v = ctx.readString(e)) redis = *v == "redis";
    } else if (e.key == "host") {
      if (auto v = ctx.readString(e)) candidate.redisHost = std::move(*v);
    } else if (e.key == "port") {
      if (auto v = ctx.readInteger(e, 1, 65535)) candidate.redisPort = static_cast<uint16_t>(*v);
    } else if (e.key == "password") {
      if (auto v = ctx.readString(e)) candidate.redisPassword = std::move(*v);
    } else if (e.key == "url" || e.key == "redis_url") {
      readRedisUrl(ctx, e, candidate);
    }
  }
  // router_settings' redis_* win (they are read after, or were read before: keep them).
  if (redis && config.governance.redisHost.empty()) config.governance = std::move(candidate);
  return true;
}

bool parseGovernanceLlmuxKey(ParseContext& ctx, const Entry& e, Config& config) {
  GovernanceSettings& g = config.governance;
  const std::string& k = e.key;
  if (k == "database_path") {
    if (auto v = ctx.readString(e)) {
      if (v->empty()) {
        ctx.addProblem(e.path, e.line, "must not be empty");
      } else {
        g.databasePath = std::move(*v);
      }
    }
  } else if (k == "redis_failure_mode") {
    if (auto v = ctx.readString(e)) {
      if (*v == "fail_open") {
        g.redisFailOpen = true;
      } else if (*v == "fail_closed") {
        g.redisFailOpen = false;
      } else {
        ctx.addProblem(e.path, e.line,
                       "must be fail_open or fail_closed; got " + describe(e.value));
      }
    }
  } else if (k == "instances") {
    if (auto v = ctx.readInteger(e, 1, 10000)) g.instances = static_cast<int>(*v);
  } else if (k == "budget_reservation") {
    if (auto b = ctx.readBool(e)) g.reserveBudget = *b;
  } else if (k == "key_cache_ttl_ms") {
    if (auto v = ctx.readInteger(e, 0, 3'600'000)) g.keyCacheTtl = std::chrono::milliseconds(*v);
  } else if (k == "spool_dir") {
    if (auto v = ctx.readString(e)) g.spoolDir = std::move(*v);
  } else if (k == "spool_max_bytes") {
    if (auto v = ctx.readInteger(e, 4096, INT64_MAX)) g.spoolMaxBytes = *v;
  } else if (k == "budget_reset_interval_ms") {
    if (auto v = ctx.readInteger(e, 10, 86'400'000)) {
      g.budgetResetInterval = std::chrono::milliseconds(*v);
    }
  } else {
    return false;
  }
  return true;
}

}  // namespace llmux::config::detail
