#pragma once
// JSON in and out for the management handlers: Boost.JSON parses bodies (error codes, never the
// throwing accessors); a small writer renders values (shortest round-trip doubles, non-finite as
// null, invalid UTF-8 repaired) because Boost's serializer writes 1.5 as "1.5E0". Plus the typed
// body-field reader, the query-string reader and time formatting.
#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"

namespace llmux::management {

namespace json = boost::json;

// ---- text
// `s` with every invalid UTF-8 sequence replaced by U+FFFD (client text echoed in messages).
std::string sanitizeUtf8(std::string_view s);
std::string writeJson(const json::value& v);
void writeJson(std::string& out, const json::value& v);
// A stored JSON column (metadata, aliases, ...); `fallback` when it does not parse.
json::value parseStored(std::string_view text, json::value fallback);
// "2025-01-31T12:00:00.000Z" (UTC).
std::string isoTime(int64_t ms);
json::value isoOrNull(const std::optional<int64_t>& ms);
// "YYYY-MM-DD" -> unix ms of that day's UTC midnight; nullopt unless a real calendar date.
std::optional<int64_t> parseDay(std::string_view s);
std::string dayOf(int64_t ms);  // "YYYY-MM-DD"

// A body member: absent, explicitly null (clear it), or a value.
template <class T>
struct Field {
  bool present = false;
  std::optional<T> value;
  [[nodiscard]] bool has() const { return value.has_value(); }
  [[nodiscard]] bool cleared() const { return present && !value; }
  void set(T v) {
    present = true;
    value = std::move(v);
  }
  void clear() {
    present = true;
    value.reset();
  }
};

// Reads typed members of a request object; the first type error is kept (400 naming the field).
// Unknown members are ignored, like LiteLLM's pydantic models.
class Reader {
 public:
  explicit Reader(const json::object& o) : obj_(o) {}
  [[nodiscard]] const json::value* raw(std::string_view name) const;
  Field<std::string> string(std::string_view name);
  Field<double> number(std::string_view name);    // finite
  Field<int64_t> integer(std::string_view name);  // integral numbers (5.0 too)
  Field<bool> boolean(std::string_view name);
  Field<std::vector<std::string>> strings(std::string_view name);
  Field<json::object> object(std::string_view name);
  // Records an error about `name` unless one is already recorded.
  void fail(std::string_view name, std::string message);
  [[nodiscard]] bool ok() const { return !error_; }
  [[nodiscard]] const std::optional<GatewayError>& error() const { return error_; }

 private:
  void typeError(std::string_view name, std::string_view expected, const json::value& got);
  const json::object& obj_;
  std::optional<GatewayError> error_;
};

// Typed reads of a JSON value (shared by Reader and nested maps).
std::optional<int64_t> asInteger(const json::value& v);
std::optional<double> asNumber(const json::value& v);
std::string_view kindName(const json::value& v);

// A parsed query string: percent-decoded, '+' as space, invalid UTF-8 repaired; an empty value is
// treated as absent.
class Query {
 public:
  explicit Query(std::string_view raw);
  [[nodiscard]] std::optional<std::string> get(std::string_view name) const;

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};
std::string percentDecode(std::string_view s, bool plusIsSpace);

// A random RFC 4122 version-4 UUID (OpenSSL RAND_bytes); "" if the random source fails.
std::string newUuid();

}  // namespace llmux::management
