#include "management/json_io.hpp"

#include <fmt/format.h>
#include <openssl/rand.h>

#include <array>
#include <cmath>
#include <cstring>
#include <limits>

namespace llmux::management {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF).
size_t utf8SequenceLength(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  }
  return n;
}

void appendString(std::string& out, std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8SequenceLength(s, i);
    if (n == 0) {
      appendJsonString(out, sanitizeUtf8(s));
      return;
    }
    i += n;
  }
  appendJsonString(out, s);
}

void appendDouble(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  const size_t start = out.size();
  fmt::format_to(std::back_inserter(out), "{}", d);
  // Keep it a float for Python clients (0.0, not 0), as LiteLLM's answers are.
  if (out.find_first_of(".e", start) == std::string::npos) out += ".0";
}

// Days since 1970-01-01 <-> civil date (proleptic Gregorian; H. Hinnant's algorithms).
int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Civil {
  int64_t y;
  unsigned m, d;
};
Civil civilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

int64_t floorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string sanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8SequenceLength(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

void writeJson(std::string& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      out += "null";
      return;
    case json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      return;
    case json::kind::int64:
      fmt::format_to(std::back_inserter(out), "{}", v.get_int64());
      return;
    case json::kind::uint64:
      fmt::format_to(std::back_inserter(out), "{}", v.get_uint64());
      return;
    case json::kind::double_:
      appendDouble(out, v.get_double());
      return;
    case json::kind::string:
      appendString(out, std::string_view(v.get_string()));
      return;
    case json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        writeJson(out, e);
      }
      out.push_back(']');
      return;
    }
    case json::kind::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out.push_back(',');
        first = false;
        appendString(out, std::string_view(kv.key()));
        out.push_back(':');
        writeJson(out, kv.value());
      }
      out.push_back('}');
      return;
    }
  }
}

std::string writeJson(const json::value& v) {
  std::string out;
  writeJson(out, v);
  return out;
}

json::value parseStored(std::string_view text, json::value fallback) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return fallback;
  return v;
}

std::string isoTime(int64_t ms) {
  const int64_t days = floorDiv(ms, 86'400'000);
  const int64_t rem = ms - days * 86'400'000;
  const Civil c = civilFromDays(days);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", c.y, c.m, c.d, rem / 3'600'000,
                     rem / 60'000 % 60, rem / 1000 % 60, rem % 1000);
}

json::value isoOrNull(const std::optional<int64_t>& ms) {
  if (!ms) return nullptr;
  return json::value(isoTime(*ms));
}

std::optional<int64_t> parseDay(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  int parts[3] = {0, 0, 0};
  const std::array<std::pair<size_t, size_t>, 3> spans{{{0, 4}, {5, 2}, {8, 2}}};
  for (size_t p = 0; p < 3; ++p) {
    for (size_t i = spans[p].first; i < spans[p].first + spans[p].second; ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      parts[p] = parts[p] * 10 + (s[i] - '0');
    }
  }
  const int y = parts[0];
  const auto m = static_cast<unsigned>(parts[1]);
  const auto d = static_cast<unsigned>(parts[2]);
  if (m < 1 || m > 12 || d < 1) return std::nullopt;
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  const unsigned maxDay = m == 2 && leap ? 29 : kDays[m - 1];
  if (d > maxDay) return std::nullopt;
  return daysFromCivil(y, m, d) * 86'400'000;
}

std::string dayOf(int64_t ms) {
  const Civil c = civilFromDays(floorDiv(ms, 86'400'000));
  return fmt::format("{:04}-{:02}-{:02}", c.y, c.m, c.d);
}

// ---- Reader

std::string_view kindName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "number";
    case json::kind::string:
      return "string";
    case json::kind::array:
      return "array";
    case json::kind::object:
      return "object";
  }
  return "value";
}

std::optional<int64_t> asInteger(const json::value& v) {
  if (const auto* i = v.if_int64()) return *i;
  if (const auto* u = v.if_uint64()) {
    if (*u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return static_cast<int64_t>(*u);
    }
    return std::nullopt;
  }
  if (const auto* d = v.if_double()) {
    // 5.0 is an integer to pydantic; 5.5, NaN and values beyond int64 are not.
    if (std::isfinite(*d) && std::trunc(*d) == *d && std::fabs(*d) < 9.2e18) {
      return static_cast<int64_t>(*d);
    }
  }
  return std::nullopt;
}

std::optional<double> asNumber(const json::value& v) {
  if (const auto* i = v.if_int64()) return static_cast<double>(*i);
  if (const auto* u = v.if_uint64()) return static_cast<double>(*u);
  if (const auto* d = v.if_double()) {
    if (std::isfinite(*d)) return *d;
  }
  return std::nullopt;
}

const json::value* Reader::raw(std::string_view name) const {
  return obj_.if_contains(name);
}

void Reader::fail(std::string_view name, std::string message) {
  if (error_) return;
  GatewayError e;
  e.status = 400;
  e.type = "bad_request_error";
  e.message = sanitizeUtf8(message);
  e.param = sanitizeUtf8(name);
  e.code = "400";
  error_ = std::move(e);
}

void Reader::typeError(std::string_view name, std::string_view expected, const json::value& got) {
  fail(name,
       fmt::format("Invalid value for '{}': expected {}, got {}", name, expected, kindName(got)));
}

Field<std::string> Reader::string(std::string_view name) {
  Field<std::string> f;
  const json::value* v = raw(name);
  if (v == nullptr) return f;
  if (v->is_null()) {
    f.clear();
  } else if (const auto* s = v->if_string()) {
    // SQL text and C APIs stop at NUL; no identifier or setting needs one.
    if (s->find('\0') != json::string::npos) {
      fail(name, fmt::format("Invalid value for '{}': must not contain NUL characters", name));
    } else {
      f.set(std::string(*s));
    }
  } else {
    typeError(name, "a string", *v);
  }
  return f;
}

Field<double> Reader::number(std::string_view name) {
  Field<double> f;
  const json::value* v = raw(name);
  if (v == nullptr) return f;
  if (v->is_null()) {
    f.clear();
  } else if (auto d = asNumber(*v)) {
    f.set(*d);
  } else if (v->is_number()) {
    fail(name, fmt::format("Invalid value for '{}': must be a finite number", name));
  } else {
    typeError(name, "a number", *v);
  }
  return f;
}

Field<int64_t> Reader::integer(std::string_view name) {
  Field<int64_t> f;
  const json::value* v = raw(name);
  if (v == nullptr) return f;
  if (v->is_null()) {
    f.clear();
  } else if (auto i = asInteger(*v)) {
    f.set(*i);
  } else {
    typeError(name, "an integer", *v);
  }
  return f;
}

Field<bool> Reader::boolean(std::string_view name) {
  Field<bool> f;
  const json::value* v = raw(name);
  if (v == nullptr) return f;
  if (v->is_null()) {
    f.clear();
  } else if (const auto* b = v->if_bool()) {
    f.set(*b);
  } else {
    typeError(name, "a boolean", *v);
  }
  return f;
}

Field<std::vector<std::string>> Reader::strings(std::string_view name) {
  Field<std::vector<std::string>> f;
  const json::value* v = raw(name);
  if (v == nullptr) return f;
  if (v->is_null()) {
    f.clear();
    return f;
  }
  const auto* arr = v->if_array();
  if (arr == nullptr) {
    typeError(name, "a list of strings", *v);
    return f;
  }
  std::vector<std::string> out;
  out.reserve(arr->size());
  for (const auto& e : *arr) {
    const auto* s = e.if_string();
    if (s == nullptr || s->find('\0') != json::string::npos) {
      typeError(name, "a list of strings", e);
      return f;
    }
    out.emplace_back(*s);
  }
  f.set(std::move(out));
  return f;
}

Field<json::object> Reader::object(std::string_view name) {
  Field<json::object> f;
  const json::value* v = raw(name);
  if (v == nullptr) return f;
  if (v->is_null()) {
    f.clear();
  } else if (const auto* o = v->if_object()) {
    f.set(*o);
  } else {
    typeError(name, "an object", *v);
  }
  return f;
}

// ---- Query

std::string percentDecode(std::string_view s, bool plusIsSpace) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      const int hi = hexValue(s[i + 1]);
      const int lo = hexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plusIsSpace && c == '+' ? ' ' : c);
  }
  return out;
}

Query::Query(std::string_view raw) {
  while (!raw.empty()) {
    const size_t amp = raw.find('&');
    const std::string_view part = raw.substr(0, amp);
    raw = amp == std::string_view::npos ? std::string_view{} : raw.substr(amp + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    std::string name = sanitizeUtf8(percentDecode(part.substr(0, eq), true));
    std::string value = eq == std::string_view::npos
                            ? std::string()
                            : sanitizeUtf8(percentDecode(part.substr(eq + 1), true));
    // NUL cannot be meant in an identifier; dropping it keeps SQL text and messages clean.
    std::erase(value, '\0');
    params_.emplace_back(std::move(name), std::move(value));
  }
}

std::optional<std::string> Query::get(std::string_view name) const {
  for (const auto& [k, v] : params_) {
    if (k == name) {
      if (v.empty()) return std::nullopt;
      return v;
    }
  }
  return std::nullopt;
}

std::string newUuid() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) return {};
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    fmt::format_to(std::back_inserter(out), "{:02x}", b[i]);
  }
  return out;
}

}  // namespace llmux::management
