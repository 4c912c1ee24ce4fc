// Client-facing governance errors and x-ratelimit-* headers (errors.hpp).
#include "governance/errors.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <limits>

#include "common/text.hpp"
#include "governance/keys.hpp"

namespace llmux::governance {
namespace {

constexpr size_t kMaxNameBytes = 128;
constexpr size_t kMaxAllowedListed = 20;

// A readable entity name for a message: bounded, and never a raw key.
std::string safeName(std::string_view name) {
  if (name.starts_with("sk-")) return displayKey(name);
  return std::string(utf8Prefix(name, kMaxNameBytes));
}

// "api_key 'my-alias'" (or just the kind when there is no name).
std::string entity(const Descriptor* d) {
  if (d == nullptr) return "this request";
  std::string out = d->kind.empty() ? std::string("entity") : std::string(utf8Prefix(d->kind, 64));
  if (!d->name.empty()) {
    out += " '";
    out += safeName(d->name);
    out += '\'';
  }
  return out;
}

std::string num(int64_t v) {
  std::string s;
  appendDecimal(s, v);
  return s;
}

bool isHeaderToken(std::string_view kind) {
  return !kind.empty() && kind.size() <= 32 && std::all_of(kind.begin(), kind.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// Index of the smallest non-negative entry, or npos.
size_t tightest(std::span<const int64_t> v) {
  size_t best = std::string::npos;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] >= 0 && (best == std::string::npos || v[i] < v[best])) best = i;
  }
  return best;
}

const Descriptor* at(std::span<const Descriptor> d, size_t i) {
  return i < d.size() ? &d[i] : nullptr;
}

void addPerKind(HeaderList& out, std::string_view kind, std::string_view what, int64_t limit,
                int64_t remaining) {
  out.addNumber({"x-ratelimit-", kind, "-limit-", what}, limit);
  out.addNumber({"x-ratelimit-", kind, "-remaining-", what}, remaining);
}

// Appends the decimal digits of v (>= 0) to p; returns the end.
char* putUnsigned(char* p, int64_t v) {
  return std::to_chars(p, p + 20, v).ptr;
}

GatewayError rateLimitError(const AdmitResult& r, const Descriptor* d) {
  GatewayError e;
  e.status = 429;
  e.type = "rate_limit_exceeded";
  e.code = "rate_limit_exceeded";
  e.retryAfterSeconds = std::max<int64_t>(1, r.retryAfterS);
  std::string& m = e.message;
  m = "Rate limit exceeded for " + entity(d) + ": ";
  switch (r.kind) {
    case LimitKind::Requests:
      m += "requests per minute limit " + num(r.limit) + " reached (" + num(r.current) + " used)";
      break;
    case LimitKind::Tokens:
      m += "tokens per minute limit " + num(r.limit) +
           (r.current >= r.limit ? " reached (" : " would be exceeded by this request (") +
           num(r.current) + " used)";
      break;
    default:
      m += "max_parallel_requests limit " + num(r.limit) + " reached (" + num(r.current) +
           " in flight)";
      break;
  }
  m += ". Try again in " + num(*e.retryAfterSeconds) + " s.";
  return e;
}

GatewayError budgetError(const AdmitResult& r, const Descriptor* d) {
  GatewayError e;
  e.status = 400;
  e.type = "budget_exceeded";
  e.code = "budget_exceeded";
  std::string& m = e.message;
  m = "Budget exceeded for " + entity(d) + ": ";
  if (r.current >= r.limit) {
    m += "spend $" + formatUsd(r.current) + " of max_budget $" + formatUsd(r.limit) + ".";
  } else {
    m += "spend $" + formatUsd(r.current) +
         " (including requests in flight) plus this request's worst-case cost would exceed "
         "max_budget $" +
         formatUsd(r.limit) + ".";
  }
  if (r.windowResetMs > 0) m += " The budget resets at " + formatUtc(r.windowResetMs) + ".";
  return e;
}

}  // namespace

GatewayError admissionError(const AdmitResult& r, std::span<const Descriptor> descriptors) {
  if (r.unavailable) return limiterUnavailableError();
  const Descriptor* d = at(descriptors, r.failed);
  return r.kind == LimitKind::Budget ? budgetError(r, d) : rateLimitError(r, d);
}

GatewayError limiterUnavailableError() {
  GatewayError e = GatewayError::unavailable(
      "Rate limits and budgets cannot be checked: the shared limit store is unreachable and "
      "fail_closed is configured. Try again shortly.");
  e.code = "limiter_unavailable";
  e.retryAfterSeconds = 1;
  return e;
}

void appendRateLimitHeaders(const AdmitResult& r, std::span<const Descriptor> descriptors,
                            int64_t nowMs, HeaderList& out) {
  if (r.unavailable) return;
  if (!r.ok) {
    const Descriptor* d = at(descriptors, r.failed);
    if (r.kind == LimitKind::Budget || d == nullptr) return;
    const int64_t left = std::max<int64_t>(0, r.limit - r.current);
    const bool kindOk = isHeaderToken(d->kind);
    if (r.kind == LimitKind::Parallel) {
      if (kindOk) addPerKind(out, d->kind, "max_parallel_requests", r.limit, 0);
      return;
    }
    const std::string_view what = r.kind == LimitKind::Requests ? "requests" : "tokens";
    out.addNumber({"x-ratelimit-limit-", what}, r.limit);
    out.addNumber({"x-ratelimit-remaining-", what}, left);
    if (r.windowResetMs > 0) out.addReset({"x-ratelimit-reset-", what}, r.windowResetMs - nowMs);
    if (kindOk) addPerKind(out, d->kind, what, r.limit, left);
    return;
  }

  const Remaining& rem = r.remaining;
  const size_t req = tightest(rem.requests);
  const size_t tok = tightest(rem.tokens);
  if (const Descriptor* d = at(descriptors, req); d != nullptr && d->rpm) {
    out.addNumber({"x-ratelimit-limit-requests"}, *d->rpm);
    out.addNumber({"x-ratelimit-remaining-requests"}, rem.requests[req]);
  }
  if (const Descriptor* d = at(descriptors, tok); d != nullptr && d->tpm) {
    out.addNumber({"x-ratelimit-limit-tokens"}, *d->tpm);
    out.addNumber({"x-ratelimit-remaining-tokens"}, rem.tokens[tok]);
  }
  if (r.windowResetMs > 0 && (req != std::string::npos || tok != std::string::npos)) {
    out.addReset(
        {req != std::string::npos ? "x-ratelimit-reset-requests" : "x-ratelimit-reset-tokens"},
        r.windowResetMs - nowMs);
  }

  for (size_t i = 0; i < descriptors.size(); ++i) {
    const Descriptor& d = descriptors[i];
    // The first descriptor of each kind speaks for it.
    bool seen = false;
    for (size_t j = 0; j < i && !seen; ++j) seen = descriptors[j].kind == d.kind;
    if (seen || !isHeaderToken(d.kind)) continue;
    if (d.rpm && i < rem.requests.size() && rem.requests[i] >= 0) {
      addPerKind(out, d.kind, "requests", *d.rpm, rem.requests[i]);
    }
    if (d.tpm && i < rem.tokens.size() && rem.tokens[i] >= 0) {
      addPerKind(out, d.kind, "tokens", *d.tpm, rem.tokens[i]);
    }
    if (d.parallel && i < rem.parallel.size() && rem.parallel[i] >= 0) {
      addPerKind(out, d.kind, "max_parallel_requests", *d.parallel, rem.parallel[i]);
    }
  }
}

GatewayError missingKeyError() {
  GatewayError e = GatewayError::authentication(
      "No API key passed in. Send a virtual key as 'Authorization: Bearer sk-...'.");
  e.code = "invalid_api_key";  // as before virtual keys (and for any bad key)
  return e;
}

GatewayError unknownKeyError(std::string_view presented) {
  if (!presented.starts_with("sk-")) {
    return GatewayError::authentication(
        "Invalid API key: expected a virtual key starting with 'sk-', received " +
        maskKey(presented) + ".");
  }
  return GatewayError::authentication("Invalid API key: " + displayKey(presented) +
                                      " is not a known virtual key.");
}

GatewayError expiredKeyError(std::string_view keyName, int64_t expiresMs, int64_t nowMs) {
  GatewayError e = GatewayError::authentication(
      "API key '" + safeName(keyName) + "' expired at " + formatUtc(expiresMs) + " (now " +
      formatUtc(nowMs) + "). An admin can extend it via /key/update or /key/regenerate.");
  e.type = "expired_key";
  e.code = "expired_key";
  return e;
}

GatewayError blockedKeyError(std::string_view keyName) {
  GatewayError e = GatewayError::authentication(
      "API key '" + safeName(keyName) + "' is blocked. An admin can unblock it via /key/unblock.");
  e.code = "key_blocked";
  return e;
}

GatewayError blockedTeamError(std::string_view teamName) {
  GatewayError e = GatewayError::authentication(
      "Team '" + safeName(teamName) + "' is blocked. An admin can unblock it via /team/unblock.");
  e.code = "team_blocked";
  return e;
}

GatewayError modelNotAllowedError(ModelScope scope, std::string_view name, std::string_view model,
                                  std::span<const std::string> allowed) {
  std::string_view who = "API key";
  std::string_view type = "key_model_access_denied";
  if (scope == ModelScope::Team) {
    who = "Team";
    type = "team_model_access_denied";
  } else if (scope == ModelScope::User) {
    who = "User";
    type = "user_model_access_denied";
  }
  GatewayError e;
  e.status = 403;
  e.type = std::string(type);
  e.code = std::string(type);
  e.param = "model";
  std::string& m = e.message;
  m = std::string(who);
  if (!name.empty()) m += " '" + safeName(name) + "'";
  m += " is not allowed to access model '";
  m += utf8Prefix(model, 256);
  m += "'. Allowed models: [";
  for (size_t i = 0; i < allowed.size() && i < kMaxAllowedListed; ++i) {
    if (i > 0) m += ", ";
    m += '\'';
    m += utf8Prefix(allowed[i], 256);
    m += '\'';
  }
  if (allowed.size() > kMaxAllowedListed) {
    m += ", ... (" + num(static_cast<int64_t>(allowed.size() - kMaxAllowedListed)) + " more)";
  }
  m += "]";
  return e;
}

GatewayError routeDeniedError(const GateResult& gate) {
  GatewayError e;
  e.status = gate.status != 0 ? gate.status : 403;
  e.type = "auth_error";
  e.code = num(e.status);
  e.message = gate.message;
  return e;
}

std::string formatUsd(int64_t nano) {
  std::string out;
  // Work on the magnitude in unsigned so INT64_MIN has one.
  uint64_t mag = nano < 0 ? 0 - static_cast<uint64_t>(nano) : static_cast<uint64_t>(nano);
  mag = (mag + 500) / 1000;  // round to micro-USD (6 decimals)
  if (nano < 0 && mag != 0) out += '-';
  out += std::to_string(mag / 1'000'000);
  char frac[8];
  std::snprintf(frac, sizeof frac, "%06llu", static_cast<unsigned long long>(mag % 1'000'000));
  size_t len = 6;
  while (len > 2 && frac[len - 1] == '0') --len;
  out += '.';
  out.append(frac, len);
  return out;
}

bool HeaderList::reserve(std::initializer_list<std::string_view> nameParts, size_t valueRoom,
                         Slot& s) {
  size_t nameLen = 0;
  for (std::string_view part : nameParts) nameLen += part.size();
  if (n_ >= kMaxHeaders || used_ + nameLen + valueRoom > kMaxBytes) return false;
  s.name = static_cast<uint16_t>(used_);
  s.nameLen = static_cast<uint16_t>(nameLen);
  for (std::string_view part : nameParts) {
    std::copy(part.begin(), part.end(), buf_.data() + used_);
    used_ += part.size();
  }
  s.value = static_cast<uint16_t>(used_);
  return true;
}

bool HeaderList::add(std::initializer_list<std::string_view> nameParts, std::string_view value) {
  Slot s{};
  if (!reserve(nameParts, value.size(), s)) return false;
  std::copy(value.begin(), value.end(), buf_.data() + used_);
  used_ += value.size();
  s.valueLen = static_cast<uint16_t>(value.size());
  slots_[n_++] = s;
  return true;
}

bool HeaderList::addNumber(std::initializer_list<std::string_view> nameParts, int64_t value) {
  char digits[24];
  const auto r = std::to_chars(digits, digits + sizeof digits, value);
  return add(nameParts, {digits, static_cast<size_t>(r.ptr - digits)});
}

bool HeaderList::addReset(std::initializer_list<std::string_view> nameParts, int64_t ms) {
  char text[64];
  char* p = text;
  if (ms <= 0) {
    *p++ = '0';
    *p++ = 's';
  } else if (ms < 1000) {
    p = putUnsigned(p, ms);
    *p++ = 'm';
    *p++ = 's';
  } else {
    const int64_t s = ms / 1000 + (ms % 1000 != 0);
    if (s >= 3600) {
      p = putUnsigned(p, s / 3600);
      *p++ = 'h';
    }
    if (s >= 60) {
      p = putUnsigned(p, s % 3600 / 60);
      *p++ = 'm';
    }
    p = putUnsigned(p, s % 60);
    *p++ = 's';
  }
  return add(nameParts, {text, static_cast<size_t>(p - text)});
}

std::string formatReset(int64_t ms) {
  if (ms <= 0) return "0s";
  if (ms < 1000) return num(ms) + "ms";
  const int64_t s = ms / 1000 + (ms % 1000 != 0);
  std::string out;
  if (s >= 3600) out += num(s / 3600) + "h";
  if (s >= 60) out += num(s % 3600 / 60) + "m";
  out += num(s % 60) + "s";
  return out;
}

std::string formatUtc(int64_t ms) {
  using namespace std::chrono;
  constexpr int64_t kMin = -62'135'596'800'000LL;  // 0001-01-01T00:00:00Z
  constexpr int64_t kMax = 253'402'300'799'999LL;  // 9999-12-31T23:59:59.999Z
  ms = std::clamp(ms, kMin, kMax);
  const sys_time<milliseconds> tp{milliseconds{ms}};
  const auto day = floor<days>(tp);
  const year_month_day ymd{day};
  const hh_mm_ss<milliseconds> tod{tp - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(tod.hours().count()), static_cast<int>(tod.minutes().count()),
                static_cast<int>(tod.seconds().count()));
  return buf;
}

}  // namespace llmux::governance
