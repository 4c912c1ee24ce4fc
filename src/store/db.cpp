// Row accessors shared by both backends, and open(), which picks a backend from the URL.
#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>

#include "store/db.hpp"

namespace llmux::store {
namespace {

// Whole-text number parses: PostgreSQL hands NUMERIC and anything we did not type back as text.
std::optional<int64_t> parseI64(std::string_view s) {
  int64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<double> parseF64(std::string_view s) {
  double v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// A real that holds an integer exactly (SQLite may store 5.0 in an INTEGER-affinity column).
std::optional<int64_t> integralDouble(double d) {
  constexpr double kLimit = 9.2233720368547748e18;  // 2^63
  if (!std::isfinite(d) || d != std::trunc(d) || d >= kLimit || d < -kLimit) return std::nullopt;
  return static_cast<int64_t>(d);
}

bool startsWith(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

}  // namespace

bool Row::isNull(size_t i) const {
  return i >= cols.size() || std::holds_alternative<std::monostate>(cols[i]);
}

std::optional<int64_t> Row::optI64(size_t i) const {
  if (i >= cols.size()) return std::nullopt;
  const Value& v = cols[i];
  if (const auto* p = std::get_if<int64_t>(&v)) return *p;
  if (const auto* p = std::get_if<double>(&v)) return integralDouble(*p);
  if (const auto* p = std::get_if<std::string>(&v)) {
    if (auto n = parseI64(*p)) return n;
    if (auto d = parseF64(*p)) return integralDouble(*d);
  }
  return std::nullopt;
}

std::optional<double> Row::optF64(size_t i) const {
  if (i >= cols.size()) return std::nullopt;
  const Value& v = cols[i];
  if (const auto* p = std::get_if<double>(&v)) return *p;
  if (const auto* p = std::get_if<int64_t>(&v)) return static_cast<double>(*p);
  if (const auto* p = std::get_if<std::string>(&v)) return parseF64(*p);
  return std::nullopt;
}

std::optional<std::string> Row::optStr(size_t i) const {
  if (i >= cols.size()) return std::nullopt;
  const Value& v = cols[i];
  if (const auto* p = std::get_if<std::string>(&v)) return *p;
  if (const auto* p = std::get_if<TextRef>(&v)) return std::string(p->text);
  if (const auto* p = std::get_if<int64_t>(&v)) return std::to_string(*p);
  if (const auto* p = std::get_if<double>(&v)) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, *p);
    return std::string(buf, r.ptr);
  }
  return std::nullopt;
}

int64_t Row::i64(size_t i, int64_t fallback) const {
  return optI64(i).value_or(fallback);
}
double Row::f64(size_t i, double fallback) const {
  return optF64(i).value_or(fallback);
}
std::string Row::str(size_t i) const {
  return optStr(i).value_or(std::string());
}

std::unique_ptr<Db> open(std::string_view url, std::string& error) {
  if (startsWith(url, "postgresql://") || startsWith(url, "postgres://")) {
    return openPostgres(std::string(url), error);
  }
  if (url == ":memory:" || url == "sqlite://:memory:" || url == "sqlite:///:memory:") {
    return openSqlite(":memory:", error);
  }
  std::string_view path = url;
  // sqlite:///abs/path keeps its leading '/', sqlite://rel/path is relative to the cwd.
  if (startsWith(path, "sqlite://")) {
    path.remove_prefix(9);
  } else if (startsWith(path, "sqlite:")) {
    path.remove_prefix(7);
  } else if (path.find("://") != std::string_view::npos) {
    error = "unsupported database_url scheme (expected postgresql://, sqlite:// or a file path)";
    return nullptr;
  }
  if (path.empty()) {
    error = "database_url names no SQLite file";
    return nullptr;
  }
  return openSqlite(std::string(path), error);
}

}  // namespace llmux::store
