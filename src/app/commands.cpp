#include "app/commands.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <thread>

#include "api/api.hpp"
#include "api/governance_runtime.hpp"
#include "config/config.hpp"
#include "engine/gateway.hpp"
#include "engine/health.hpp"
#include "server/server.hpp"

namespace llmux::app {

namespace {

void printWarnings(const std::string& file, const config::Config& cfg, bool toLog) {
  for (const auto& w : cfg.warnings) {
    if (toLog) {
      spdlog::warn("{}", w.format(file));
    } else {
      std::printf("warning: %s\n", w.format(file).c_str());
    }
  }
}

bool printProblems(const std::string& file, const config::LoadResult& r) {
  if (r.config) return false;
  for (const auto& p : r.problems) std::fprintf(stderr, "%s\n", p.format(file).c_str());
  if (r.problems.empty()) std::fprintf(stderr, "%s: invalid config\n", file.c_str());
  return true;
}

void setupLogging(const std::string& level) {
  // Diagnostics go to stderr; stdout carries the access log.
  auto logger = spdlog::stderr_logger_mt("llmux");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace

int checkConfig(const std::string& path) {
  auto r = config::loadConfigFile(path);
  if (printProblems(path, r)) return 1;
  config::Config cfg = *r.config;
  printWarnings(path, cfg, false);
  cfg.server.accessLog.clear();  // checking must not open log files
  try {
    engine::Gateway gw(cfg, 1);
    for (const auto& w : gw.warnings) std::printf("warning: %s: %s\n", path.c_str(), w.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", path.c_str(), e.what());
    return 1;
  }
  std::printf("OK: %zu deployments in %zu model groups\n", cfg.deployments.size(),
              cfg.modelGroups().size());
  return 0;
}

int serve(const ServeArgs& args) {
  auto r = config::loadConfigFile(args.configPath);
  if (printProblems(args.configPath, r)) return 1;
  config::Config cfg = std::move(*r.config);
  if (args.host) cfg.server.host = *args.host;
  if (args.port) cfg.server.port = static_cast<uint16_t>(*args.port);
  if (args.workers) cfg.server.workers = *args.workers;
  setupLogging(cfg.server.logLevel);
  printWarnings(args.configPath, cfg, true);
  std::signal(SIGPIPE, SIG_IGN);

  size_t workers = cfg.server.workers > 0 ? static_cast<size_t>(cfg.server.workers)
                                          : std::max(1u, std::thread::hardware_concurrency());
  std::unique_ptr<engine::Gateway> gw;
  try {
    gw = std::make_unique<engine::Gateway>(cfg, workers);
    for (const auto& w : gw->warnings) spdlog::warn("{}", w);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }

  std::string govError;
  std::unique_ptr<api::GovernanceRuntime> gov =
      api::GovernanceRuntime::start(cfg, workers, govError);
  if (!gov) {
    spdlog::error("{}", govError);
    return 1;
  }

  server::Options o;
  o.host = cfg.server.host;
  o.port = cfg.server.port;
  o.workers = workers;
  o.maxBodyBytes = cfg.server.maxBodyBytes;
  o.maxHeaderBytes = cfg.server.maxHeaderBytes;
  o.headerTimeout = cfg.server.headerTimeout;
  o.bodyTimeout = cfg.server.bodyTimeout;
  o.idleTimeout = cfg.server.idleTimeout;
  o.writeTimeout = cfg.server.idleTimeout;
  o.shutdownGrace = cfg.server.shutdownGrace;
  o.onDrain = [g = gw.get()] { g->draining.store(true); };

  server::Server srv(o, [g = gw.get(), gv = gov.get()](const server::WorkerContext& w) {
    return std::make_unique<api::Api>(*g, *gv, w.executor, w.index, *w.sweep);
  });
  try {
    srv.listen();
  } catch (const std::exception& e) {
    spdlog::error("cannot listen on {}:{}: {}", o.host, o.port, e.what());
    return 1;
  }
  std::unique_ptr<engine::HealthChecker> health;
  if (cfg.router.backgroundHealthChecks) health = std::make_unique<engine::HealthChecker>(*gw);
  srv.run();
  health.reset();
  // The server has drained: every finished request's spend row is queued; write them all (or
  // spool them when the database is down) before exiting.
  gov->shutdown(std::chrono::seconds(10));
  gov.reset();
  gw->accessLog->stop();
  if (auto d = gw->accessLog->dropped())
    spdlog::warn("access log dropped {} records (ring full)", d);
  spdlog::info("llmux stopped");
  return 0;
}

}  // namespace llmux::app
