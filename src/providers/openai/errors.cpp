// Upstream failures as client errors, and the Retry-After family of headers.
#include <simdjson.h>

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "providers/openai/openai.hpp"

namespace llmux::providers::openai {
namespace {

namespace od = simdjson::ondemand;

constexpr size_t kBodyQuoteBytes = 200;
// RFC 9111 §1.2.2: an unrepresentably large delta-seconds counts as 2^31.
constexpr int64_t kMaxDeltaSeconds = int64_t{1} << 31;
constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

std::string_view trimSpace(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Appends at most the first `maxBytes` bytes of `s`, never splitting a character, with invalid
// UTF-8 replaced by U+FFFD so the message is always valid in a JSON string.
void appendUtf8Prefix(std::string& out, std::string_view s, size_t maxBytes) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = 0;
    uint32_t cp = 0;
    uint32_t minCp = 0;
    if (c < 0x80) {
      len = 1;
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
      minCp = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
      minCp = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
      minCp = 0x10000;
    }
    bool valid = len != 0 && i + len <= s.size();
    for (size_t k = 1; valid && k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      valid = (b & 0xC0) == 0x80;
      cp = (cp << 6) | (b & 0x3F);
    }
    valid = valid && cp >= minCp && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (!valid) len = 1;
    if (i + len > maxBytes) break;
    if (valid) {
      out.append(s.substr(i, len));
    } else {
      out += kReplacementChar;
    }
    i += len;
  }
}

struct ErrorFields {
  std::optional<std::string> message;
  std::optional<std::string> type;
  std::optional<std::string> param;
  std::optional<std::string> code;
};

// A string field as is; a number as its literal (vLLM sends "code":400); anything else absent.
// Returns false on a parse error.
bool readStringish(od::value& v, std::optional<std::string>& out, bool allowNumber) {
  od::json_type type;
  if (v.type().get(type) != simdjson::SUCCESS) return false;
  if (type == od::json_type::string) {
    std::string_view s;
    if (v.get_string().get(s) != simdjson::SUCCESS) return false;
    out = std::string(s);
  } else if (type == od::json_type::number && allowNumber) {
    // Consume the number first so the iterator stays consistent, then quote its literal.
    od::number n;
    if (v.get_number().get(n) != simdjson::SUCCESS) return false;
    out = std::string(trimSpace(v.raw_json_token()));
  } else {
    out.reset();
  }
  return true;
}

// Reads message/type/param/code from an object's members; returns false on a parse error.
bool readErrorObject(od::object obj, ErrorFields& f) {
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return false;
    od::value v;
    if (field.value().get(v) != simdjson::SUCCESS) return false;
    bool ok = true;
    if (key == "message") {
      ok = readStringish(v, f.message, false);
    } else if (key == "type") {
      ok = readStringish(v, f.type, false);
    } else if (key == "param") {
      ok = readStringish(v, f.param, true);
    } else if (key == "code") {
      ok = readStringish(v, f.code, true);
    }
    if (!ok) return false;
  }
  return true;
}

enum class BodyShape { Unknown, Envelope, ErrorString, Flat };

// Classifies the body and extracts its fields. Unknown covers non-JSON and unrecognised JSON.
BodyShape readErrorBody(std::string_view body, ErrorFields& f) {
  std::string padded;
  padded.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  padded.assign(body);
  od::parser parser;
  od::document doc;
  if (parser.iterate(padded.data(), padded.size(), padded.capacity()).get(doc) !=
      simdjson::SUCCESS) {
    return BodyShape::Unknown;
  }
  od::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) return BodyShape::Unknown;
  ErrorFields envelope;
  ErrorFields flat;
  std::optional<std::string> errorString;
  std::optional<std::string> detail;  // FastAPI-style {"detail": "..."}
  bool haveEnvelope = false;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return BodyShape::Unknown;
    od::value v;
    if (field.value().get(v) != simdjson::SUCCESS) return BodyShape::Unknown;
    bool ok = true;
    if (key == "error") {
      od::json_type type;
      if (v.type().get(type) != simdjson::SUCCESS) return BodyShape::Unknown;
      if (type == od::json_type::object) {
        od::object inner;
        ok = v.get_object().get(inner) == simdjson::SUCCESS && readErrorObject(inner, envelope);
        haveEnvelope = ok;
      } else {
        ok = readStringish(v, errorString, false);
      }
    } else if (key == "message") {
      ok = readStringish(v, flat.message, false);
    } else if (key == "type") {
      ok = readStringish(v, flat.type, false);
    } else if (key == "param") {
      ok = readStringish(v, flat.param, true);
    } else if (key == "code") {
      ok = readStringish(v, flat.code, true);
    } else if (key == "detail") {
      ok = readStringish(v, detail, false);
    }
    if (!ok) return BodyShape::Unknown;
  }
  if (haveEnvelope) {
    f = std::move(envelope);
    return BodyShape::Envelope;
  }
  if (errorString) {
    f.message = std::move(errorString);
    return BodyShape::ErrorString;
  }
  if (flat.message) {
    f = std::move(flat);
    return BodyShape::Flat;
  }
  if (detail) {
    f.message = std::move(detail);
    return BodyShape::Flat;
  }
  return BodyShape::Unknown;
}

std::string typeForStatus(int status) {
  switch (status) {
    case 400:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 429:
      return "rate_limit_error";
    default:
      break;
  }
  return status >= 400 && status < 500 ? "invalid_request_error" : "api_error";
}

std::string quoteBody(int status, std::string_view body) {
  std::string message = fmt::format("Upstream returned HTTP {}", status);
  const std::string_view trimmed = trimSpace(body);
  if (!trimmed.empty()) {
    message += ": ";
    appendUtf8Prefix(message, trimmed, kBodyQuoteBytes);
  }
  return message;
}

// Parses `digits [ "." digits ]` from the start of `s`; returns the whole part (saturated at `cap`)
// and whether a non-zero fraction followed. nullopt unless the entire input matches.
struct Decimal {
  int64_t whole = 0;
  bool fraction = false;
};
std::optional<Decimal> parseDecimal(std::string_view s, int64_t cap) {
  if (s.empty() || !isDigit(s[0])) return std::nullopt;
  Decimal d;
  size_t i = 0;
  for (; i < s.size() && isDigit(s[i]); ++i) {
    d.whole = d.whole * 10 + (s[i] - '0');
    if (d.whole > cap) d.whole = cap;
  }
  if (i < s.size() && s[i] == '.') {
    for (++i; i < s.size() && isDigit(s[i]); ++i) {
      if (s[i] != '0') d.fraction = true;
    }
  }
  if (i != s.size()) return std::nullopt;
  return d;
}

// Case-insensitive match of a three-letter name at s[i]; returns its index in `names` or -1.
template <size_t N>
int matchName(std::string_view s, size_t i, const std::array<std::string_view, N>& names) {
  if (s.size() - i < 3) return -1;
  for (size_t n = 0; n < N; ++n) {
    bool same = true;
    for (size_t k = 0; k < 3 && same; ++k) {
      same = (s[i + k] | 0x20) == (names[n][k] | 0x20);
    }
    if (same) return static_cast<int>(n);
  }
  return -1;
}

// Reads exactly `width` digits at s[i] (advancing i); -1 if not there.
int readDigits(std::string_view s, size_t& i, size_t width) {
  if (s.size() - i < width) return -1;
  int v = 0;
  for (size_t k = 0; k < width; ++k) {
    if (!isDigit(s[i + k])) return -1;
    v = v * 10 + (s[i + k] - '0');
  }
  i += width;
  return v;
}

bool isLeapYear(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

// Leap years in [1, y), for y >= 1.
int64_t leapYearsBefore(int64_t y) {
  const int64_t p = y - 1;
  return p / 4 - p / 100 + p / 400;
}

// Days since 1970-01-01 of a valid proleptic Gregorian date (year >= 1).
int64_t daysSinceEpoch(int64_t year, int month, int day) {
  static constexpr std::array<int, 12> kDaysBeforeMonth = {0,   31,  59,  90,  120, 151,
                                                           181, 212, 243, 273, 304, 334};
  int64_t days = (year - 1970) * 365 + (leapYearsBefore(year) - leapYearsBefore(1970));
  days +=
      kDaysBeforeMonth[static_cast<size_t>(month - 1)] + (month > 2 && isLeapYear(year) ? 1 : 0);
  return days + day - 1;
}

// IMF-fixdate (RFC 9110 §5.6.7), e.g. "Sun, 06 Nov 1994 08:49:37 GMT", as Unix seconds. Tolerates a
// one-digit day, repeated spaces, lowercase names and "UTC".
std::optional<int64_t> parseImfFixdate(std::string_view s) {
  static constexpr std::array<std::string_view, 7> kDays = {"Mon", "Tue", "Wed", "Thu",
                                                            "Fri", "Sat", "Sun"};
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  static constexpr std::array<int, 12> kMonthDays = {31, 29, 31, 30, 31, 30,
                                                     31, 31, 30, 31, 30, 31};
  auto skipSpaces = [&](size_t& i) {
    const size_t start = i;
    while (i < s.size() && s[i] == ' ') ++i;
    return i > start;
  };
  size_t i = 0;
  if (matchName(s, i, kDays) < 0) return std::nullopt;
  i += 3;
  if (i >= s.size() || s[i] != ',') return std::nullopt;
  ++i;
  if (!skipSpaces(i)) return std::nullopt;
  int day = readDigits(s, i, 2);
  if (day < 0) {
    day = readDigits(s, i, 1);
    if (day < 0) return std::nullopt;
  }
  if (!skipSpaces(i)) return std::nullopt;
  const int month = matchName(s, i, kMonths) + 1;
  if (month == 0) return std::nullopt;
  i += 3;
  if (!skipSpaces(i)) return std::nullopt;
  const int year = readDigits(s, i, 4);
  if (year < 1) return std::nullopt;
  if (!skipSpaces(i)) return std::nullopt;
  const int hour = readDigits(s, i, 2);
  if (hour < 0 || i >= s.size() || s[i++] != ':') return std::nullopt;
  const int minute = readDigits(s, i, 2);
  if (minute < 0 || i >= s.size() || s[i++] != ':') return std::nullopt;
  const int second = readDigits(s, i, 2);
  if (second < 0) return std::nullopt;
  if (!skipSpaces(i)) return std::nullopt;
  const std::string_view zone = s.substr(i);
  if (zone != "GMT" && zone != "gmt" && zone != "UTC" && zone != "utc") return std::nullopt;
  const int maxDay =
      month == 2 && !isLeapYear(year) ? 28 : kMonthDays[static_cast<size_t>(month - 1)];
  if (day < 1 || day > maxDay || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  return daysSinceEpoch(year, month, day) * 86400 + int64_t{hour} * 3600 + int64_t{minute} * 60 +
         second;
}

}  // namespace

GatewayError mapUpstreamError(int status, std::string_view body,
                              std::optional<int64_t> retryAfterSeconds) {
  GatewayError err;
  // Only error statuses are meaningful to relay; anything else reaching here is a protocol oddity.
  err.status = status >= 400 && status <= 599 ? status : 502;
  ErrorFields f;
  const BodyShape shape = readErrorBody(body, f);
  if (shape != BodyShape::Unknown) {
    err.param = std::move(f.param);
    err.code = std::move(f.code);
  }
  // An empty message tells the client nothing; the body itself is more useful then.
  err.message = f.message && !f.message->empty() && shape != BodyShape::Unknown
                    ? std::move(*f.message)
                    : quoteBody(status, body);
  err.type = f.type && !f.type->empty() && shape != BodyShape::Unknown ? std::move(*f.type)
                                                                       : typeForStatus(err.status);
  err.retryAfterSeconds = retryAfterSeconds;
  // Clients branch on OpenAI's codes: hosts that put the HTTP status in "code" (Azure's 429s, vLLM)
  // or name things their own way get the OpenAI code for what happened.
  const bool numericCode = err.code && !err.code->empty() &&
                           err.code->find_first_not_of("0123456789") == std::string::npos;
  if (err.status == 429 && numericCode) err.code = "rate_limit_exceeded";
  if (err.code && *err.code == "DeploymentNotFound") err.code = "model_not_found";
  return err;
}

std::optional<int64_t> parseRetryAfter(std::string_view value, int64_t nowUnixSeconds) {
  value = trimSpace(value);
  if (value.empty()) return std::nullopt;
  if (isDigit(value[0])) {
    const auto d = parseDecimal(value, kMaxDeltaSeconds);
    if (!d) return std::nullopt;
    return d->fraction && d->whole < kMaxDeltaSeconds ? d->whole + 1 : d->whole;
  }
  const auto date = parseImfFixdate(value);
  if (!date) return std::nullopt;
  // Capped like delta-seconds; the comparison is arranged so no subtraction can overflow.
  if (nowUnixSeconds < *date - kMaxDeltaSeconds) return kMaxDeltaSeconds;
  return *date > nowUnixSeconds ? *date - nowUnixSeconds : 0;
}

std::optional<int64_t> parseRetryAfterMs(std::string_view value) {
  value = trimSpace(value);
  const auto d = parseDecimal(value, kMaxDeltaSeconds * 1000);
  if (!d) return std::nullopt;
  const bool partial = d->whole % 1000 != 0 || d->fraction;
  return d->whole / 1000 + (partial ? 1 : 0);
}

}  // namespace llmux::providers::openai
