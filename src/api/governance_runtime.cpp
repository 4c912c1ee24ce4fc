#include "api/governance_runtime.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "auth/principal.hpp"
#include "governance/duration.hpp"
#include "governance/local_limiter.hpp"
#include "kv/redis_connection.hpp"
#include "observability/metrics.hpp"
#include "store/db.hpp"
#include "store/store.hpp"
#include "tokenizer/encoding.hpp"

namespace llmux::api {

namespace {

int64_t nextReset(const std::string& duration, int64_t nowMs) {
  return governance::nextBudgetReset(duration, nowMs);
}

// Where the database is: general_settings.database_url, else DATABASE_URL (LiteLLM reads it
// too), else the embedded SQLite file.
std::string databaseUrl(const config::GovernanceSettings& s) {
  if (!s.databaseUrl.empty()) return s.databaseUrl;
  if (const char* env = std::getenv("DATABASE_URL"); env != nullptr && *env != '\0') return env;
  return s.databasePath;
}

// What to show of a database URL in logs: no password.
std::string redactUrl(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t at = url.rfind('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) return url;
  const size_t colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

// Claims a spool directory for this process (flock on <dir>/lock, held until exit): two gateways
// started in the same directory must not append to one spool. When another live process holds
// it, this one spools to "<dir>-<pid>" (replayed only by a process that claims that name).
std::string claimSpoolDir(const std::string& dir, int& lockFd) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    const std::string d = attempt == 0 ? dir : dir + "-" + std::to_string(::getpid());
    std::error_code ec;
    std::filesystem::create_directories(d, ec);
    const int fd = ::open((d + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      lockFd = fd;
      if (attempt > 0) {
        spdlog::warn("spool directory {} is in use by another process; using {}", dir, d);
      }
      return d;
    }
    ::close(fd);
  }
  return dir;  // the spool reports what goes wrong with it
}

}  // namespace

std::unique_ptr<GovernanceRuntime> GovernanceRuntime::start(const config::Config& cfg,
                                                            size_t workers, std::string& error) {
  std::unique_ptr<GovernanceRuntime> rt(new GovernanceRuntime());
  rt->settings_ = cfg.governance;
  rt->masterKey_ = cfg.masterKey;
  for (const auto& d : cfg.deployments) {
    for (const auto& g : d.accessGroups) {
      auto& list = rt->accessGroups_[g];
      if (std::find(list.begin(), list.end(), d.modelName) == list.end()) {
        list.push_back(d.modelName);
      }
    }
  }
  // Build the BPE tables now (tens of ms; more under sanitizers) rather than in the first request
  // that needs them.
  tokenizer::Encoding::get("o200k_base");
  tokenizer::Encoding::get("cl100k_base");
  rt->local_ = std::make_unique<governance::LocalLimiter>(1);
  rt->degraded_ = std::make_unique<governance::LocalLimiter>(std::max(1, cfg.governance.instances));

  const std::string url = databaseUrl(cfg.governance);
  store::StoreOptions o;
  auto migrated = std::make_shared<std::once_flag>();
  auto migrateError = std::make_shared<std::string>();
  o.open = [url, migrated, migrateError](std::string& err) -> std::unique_ptr<store::Db> {
    auto db = store::open(url, err);
    if (!db) return nullptr;
    bool ok = true;
    // Every connection checks the schema: the first brings it up to date, the rest find it so.
    std::call_once(*migrated, [&] { ok = store::migrate(*db, *migrateError); });
    if (!ok) {
      err = "migrating the schema: " + *migrateError;
      return nullptr;
    }
    return db;
  };
  o.requireDbAtStart = true;
  o.resetInterval = cfg.governance.budgetResetInterval;
  o.nextReset = &nextReset;
  GovernanceRuntime* self = rt.get();
  o.onBudgetsReset = [self](int64_t rows) {
    spdlog::info("budgets reset: {} rows reached their budget_reset_at", rows);
    self->invalidateCaches();
  };
  o.spend.producers = workers;
  o.spend.flushInterval = cfg.governance.spendFlushInterval;
  const std::string spoolDir =
      cfg.governance.spoolDir.empty()
          ? (url.find("://") == std::string::npos && url != ":memory:" ? url + ".spool"
                                                                       : std::string("llmux-spool"))
          : cfg.governance.spoolDir;
  o.spend.spool.dir = claimSpoolDir(spoolDir, rt->spoolLockFd_);
  o.spend.spool.maxBytes = static_cast<uint64_t>(cfg.governance.spoolMaxBytes);
  rt->store_ = std::make_unique<store::Store>(std::move(o));
  if (!rt->store_->start(error)) {
    error = fmt::format("database {}: {}", redactUrl(url), error);
    return nullptr;
  }
  spdlog::info(
      "governance: database {}, {} limits{}", redactUrl(url),
      rt->redisConfigured()
          ? fmt::format("Redis {}:{} ({})", rt->settings_.redisHost, rt->settings_.redisPort,
                        rt->settings_.redisFailOpen ? "fail_open" : "fail_closed")
          : std::string("in-process"),
      cfg.governance.spendLogs ? "" : ", spend logs off");
  return rt;
}

GovernanceRuntime::~GovernanceRuntime() {
  if (store_) store_->stop(std::chrono::seconds(5));
  if (spoolLockFd_ >= 0) ::close(spoolLockFd_);
}

store::SpendWriter* GovernanceRuntime::spend() {
  return store_ && settings_.spendLogs ? &store_->spend() : nullptr;
}

void GovernanceRuntime::shutdown(std::chrono::milliseconds deadline) {
  if (!store_) return;
  store_->stop(deadline);
  const auto s = store_->spend().stats();
  spdlog::info("spend log: {} rows written, {} spooled for later, {} dropped", s.written, s.spooled,
               s.dropped);
}

void GovernanceRuntime::registerRedis(std::shared_ptr<kv::RedisConnection> conn) {
  std::lock_guard lock(redisMu_);
  redis_.push_back(std::move(conn));
}

bool GovernanceRuntime::redisUp() const {
  std::lock_guard lock(redisMu_);
  for (const auto& c : redis_) {
    if (!c->healthy()) return false;
  }
  return true;
}

void GovernanceRuntime::notePrincipal(const std::shared_ptr<const auth::Principal>& p) {
  if (!p || p->kind != auth::Principal::Kind::VirtualKey) return;
  std::lock_guard lock(gaugedMu_);
  auto it = gauged_.find(p->keyHash);
  if (it != gauged_.end()) {
    it->second = p;  // the newest view (limits, team, alias)
  } else if (gauged_.size() < kMaxGaugedKeys) {
    gauged_.emplace(p->keyHash, p);
  }
}

void GovernanceRuntime::renderMetrics(std::string& out) const {
  if (!store_) return;
  fmt::format_to(std::back_inserter(out),
                 "# HELP llmux_spend_usd_total Spend settled by this instance (USD).\n"
                 "# TYPE llmux_spend_usd_total counter\n"
                 "llmux_spend_usd_total {:.9f}\n",
                 governance::fromNano(spendNano.load(std::memory_order_relaxed)));
  {
    // Per key and team, for the keys this instance has served (at most kMaxGaugedKeys): what
    // this instance knows of their spend, and what is left of their max_budget.
    std::lock_guard lock(gaugedMu_);
    std::string keys, teams, keyLeft, teamLeft;
    std::map<std::string, std::pair<int64_t, std::optional<int64_t>>> teamSeen;
    for (const auto& [hash, p] : gauged_) {
      const auto snap = local_->peek(p->spendView.id, 0);
      const int64_t spent = std::max(snap.exists ? snap.spentNano : 0, p->spendView.dbSpendNano);
      const std::string labels = fmt::format(
          "key_alias=\"{}\",key=\"{}\",team_id=\"{}\"", observability::escapeLabel(p->keyAlias),
          observability::escapeLabel(p->keyName), observability::escapeLabel(p->teamId));
      fmt::format_to(std::back_inserter(keys), "llmux_key_spend_usd{{{}}} {:.9f}\n", labels,
                     governance::fromNano(spent));
      if (p->keyMaxBudget) {
        fmt::format_to(std::back_inserter(keyLeft), "llmux_key_remaining_budget_usd{{{}}} {:.9f}\n",
                       labels, std::max(0.0, *p->keyMaxBudget - governance::fromNano(spent)));
      }
      for (const auto& d : p->descriptors) {
        if (d.kind != "team" || teamSeen.contains(p->teamId)) continue;
        const auto t = local_->peek(d.id, 0);
        teamSeen[p->teamId] = {std::max(t.exists ? t.spentNano : 0, d.dbSpendNano),
                               d.maxBudgetNano};
      }
    }
    for (const auto& [team, v] : teamSeen) {
      const std::string labels = fmt::format("team_id=\"{}\"", observability::escapeLabel(team));
      fmt::format_to(std::back_inserter(teams), "llmux_team_spend_usd{{{}}} {:.9f}\n", labels,
                     governance::fromNano(v.first));
      if (v.second) {
        fmt::format_to(std::back_inserter(teamLeft),
                       "llmux_team_remaining_budget_usd{{{}}} {:.9f}\n", labels,
                       governance::fromNano(std::max<int64_t>(0, *v.second - v.first)));
      }
    }
    out +=
        "# HELP llmux_key_spend_usd A key's spend as this instance knows it (USD).\n"
        "# TYPE llmux_key_spend_usd gauge\n";
    out += keys;
    out +=
        "# HELP llmux_key_remaining_budget_usd What is left of a key's max_budget (USD).\n"
        "# TYPE llmux_key_remaining_budget_usd gauge\n";
    out += keyLeft;
    out +=
        "# HELP llmux_team_spend_usd A team's spend as this instance knows it (USD).\n"
        "# TYPE llmux_team_spend_usd gauge\n";
    out += teams;
    out +=
        "# HELP llmux_team_remaining_budget_usd What is left of a team's max_budget (USD).\n"
        "# TYPE llmux_team_remaining_budget_usd gauge\n";
    out += teamLeft;
  }
  const auto s = store_->spend().stats();
  const auto r = store_->readerStats();
  fmt::format_to(
      std::back_inserter(out),
      "# HELP llmux_spend_log_rows_total Spend-log rows by outcome.\n"
      "# TYPE llmux_spend_log_rows_total counter\n"
      "llmux_spend_log_rows_total{{outcome=\"enqueued\"}} {}\n"
      "llmux_spend_log_rows_total{{outcome=\"written\"}} {}\n"
      "llmux_spend_log_rows_total{{outcome=\"dropped\"}} {}\n"
      "llmux_spend_log_rows_total{{outcome=\"rejected\"}} {}\n"
      "# HELP llmux_spend_log_spooled_rows Spend-log rows waiting in the on-disk spool.\n"
      "# TYPE llmux_spend_log_spooled_rows gauge\n"
      "llmux_spend_log_spooled_rows {}\n"
      "# HELP llmux_database_up Whether the database answered its last statement.\n"
      "# TYPE llmux_database_up gauge\n"
      "llmux_database_up{{connection=\"reader\"}} {}\n"
      "llmux_database_up{{connection=\"writer\"}} {}\n",
      s.enqueued, s.written, s.dropped, s.rejected, s.spooled, r.dbHealthy ? 1 : 0,
      s.dbHealthy ? 1 : 0);
  fmt::format_to(std::back_inserter(out),
                 "# HELP llmux_auth_failures_total Requests refused for a missing, unknown, "
                 "blocked or expired key.\n"
                 "# TYPE llmux_auth_failures_total counter\n"
                 "llmux_auth_failures_total {}\n"
                 "# HELP llmux_limit_refusals_total Requests refused by a key, team, user or end "
                 "user limit.\n"
                 "# TYPE llmux_limit_refusals_total counter\n"
                 "llmux_limit_refusals_total{{limit=\"rate\"}} {}\n"
                 "llmux_limit_refusals_total{{limit=\"budget\"}} {}\n",
                 authFailures.load(), refusedLimits.load(), refusedBudget.load());
  if (redisConfigured()) {
    fmt::format_to(std::back_inserter(out),
                   "# HELP llmux_redis_up Whether every I/O thread reaches Redis.\n"
                   "# TYPE llmux_redis_up gauge\n"
                   "llmux_redis_up {}\n"
                   "# HELP llmux_redis_failures_total Admissions Redis could not answer, by what "
                   "the gateway did (redis_failure_mode).\n"
                   "# TYPE llmux_redis_failures_total counter\n"
                   "llmux_redis_failures_total{{action=\"fail_open\"}} {}\n"
                   "llmux_redis_failures_total{{action=\"fail_closed\"}} {}\n",
                   redisUp() ? 1 : 0, redisFailOpen.load(), redisFailClosed.load());
  }
}

}  // namespace llmux::api
