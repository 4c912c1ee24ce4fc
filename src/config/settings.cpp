// The settings sections: environment_variables, general_settings, litellm_settings,
// router_settings and llmux's own llmux_settings.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <string_view>

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
    } else {
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
      if (auto b = ParseContext::plainBool(e.value)) {
        config.dropParams = *b;
      } else if (!e.value.IsNull()) {
        ctx.addProblem(e.path, e.line, "must be true or false");
      }
    } else {
      ctx.notImplemented(e);
    }
  }
}

void parseRouterSettings(ParseContext& ctx, const Entry& section) {
  if (section.value.IsNull()) return;
  if (!section.value.IsMap()) {
    ctx.notImplemented(section);
    return;
  }
  // Nothing here is implemented yet: one warning per key, never a problem.
  for (const Entry& e : ctx.entries(section.value, section.path, /*strict=*/false)) {
    ctx.notImplemented(e);
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
    } else {
      // Our own block: an unknown key is almost certainly a typo that would silently keep a
      // default.
      ctx.addProblem(e.path, e.line,
                     "unknown llmux_settings key (see docs/config.md for the supported keys)");
    }
  }
}

}  // namespace llmux::config::detail
