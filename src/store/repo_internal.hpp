#pragma once
// Helpers shared by the repo_*.cpp files: transactions, error mapping, JSON text columns, the
// Limits columns, and SQL text generated from fixed column lists (never from values).
#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "store/repo.hpp"

namespace llmux::store::detail {

// Copies a failed Result into `err`; true when `r` succeeded.
inline bool check(const Result& r, RepoError& err) {
  if (r.ok) return true;
  err.message = r.error;
  err.connectionLost = r.connectionLost;
  return false;
}

// Ok when a row was written, NotFound when none matched, Duplicate on a unique violation.
inline WriteResult writeResult(const Result& r, RepoError& err) {
  if (r.ok) return r.affected > 0 ? WriteResult::Ok : WriteResult::NotFound;
  check(r, err);
  return r.uniqueViolation ? WriteResult::Duplicate : WriteResult::Failed;
}

// A transaction that rolls back unless commit() succeeded.
class Tx {
 public:
  explicit Tx(Db& db) : db_(db) {}
  ~Tx() {
    if (open_) (void)db_.rollback();
  }
  Tx(const Tx&) = delete;
  Tx& operator=(const Tx&) = delete;

  bool begin(RepoError& err) {
    open_ = check(db_.begin(), err);
    return open_;
  }
  bool commit(RepoError& err) {
    Result r = db_.commit();
    if (!r.ok) return check(r, err);  // the destructor rolls back what is left
    open_ = false;
    return true;
  }

 private:
  Db& db_;
  bool open_ = false;
};

inline Value opt(const std::optional<std::string>& v) {
  return v ? Value(*v) : Value(std::monostate{});
}
inline Value opt(const std::optional<int64_t>& v) {
  return v ? Value(*v) : Value(std::monostate{});
}
inline Value opt(const std::optional<double>& v) {
  return v ? Value(*v) : Value(std::monostate{});
}
inline Value flag(bool b) {
  return int64_t{b ? 1 : 0};
}

// ---- JSON text columns

inline void appendJsonNumber(std::string& out, double v) {
  if (!std::isfinite(v)) v = 0;  // JSON has no NaN/Infinity
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

inline std::string toJsonList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    appendJsonString(out, items[i]);
  }
  out += ']';
  return out;
}

// The strings of a JSON array; anything else (bad JSON, not an array, non-string items) is
// dropped rather than failing the read of a whole row.
inline std::vector<std::string> parseJsonList(std::string_view text) {
  std::vector<std::string> out;
  simdjson::dom::parser parser;
  simdjson::dom::array arr;
  if (parser.parse(text.data(), text.size()).get_array().get(arr) != simdjson::SUCCESS) {
    return out;
  }
  for (simdjson::dom::element el : arr) {
    std::string_view s;
    if (el.get_string().get(s) == simdjson::SUCCESS) out.emplace_back(s);
  }
  return out;
}

inline std::string membersToJson(const std::vector<TeamMember>& members) {
  std::string out = "[";
  for (size_t i = 0; i < members.size(); ++i) {
    const TeamMember& m = members[i];
    if (i > 0) out += ',';
    out += "{\"user_id\":";
    if (m.userId)
      appendJsonString(out, *m.userId);
    else
      out += "null";
    out += ",\"user_email\":";
    if (m.userEmail)
      appendJsonString(out, *m.userEmail);
    else
      out += "null";
    out += ",\"role\":";
    appendJsonString(out, m.role);
    out += '}';
  }
  out += ']';
  return out;
}

inline std::vector<TeamMember> parseMembers(std::string_view text) {
  std::vector<TeamMember> out;
  simdjson::dom::parser parser;
  simdjson::dom::array arr;
  if (parser.parse(text.data(), text.size()).get_array().get(arr) != simdjson::SUCCESS) {
    return out;
  }
  for (simdjson::dom::element el : arr) {
    simdjson::dom::object obj;
    if (el.get_object().get(obj) != simdjson::SUCCESS) continue;
    TeamMember m;
    std::string_view s;
    if (obj["user_id"].get_string().get(s) == simdjson::SUCCESS) m.userId = std::string(s);
    if (obj["user_email"].get_string().get(s) == simdjson::SUCCESS) m.userEmail = std::string(s);
    if (obj["role"].get_string().get(s) == simdjson::SUCCESS) m.role = std::string(s);
    out.push_back(std::move(m));
  }
  return out;
}

// model_spend: {"model": usd}. Non-numeric members are dropped.
inline std::map<std::string, double> parseSpendMap(std::string_view text) {
  std::map<std::string, double> out;
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(text.data(), text.size()).get_object().get(obj) != simdjson::SUCCESS) {
    return out;
  }
  for (auto field : obj) {
    double v = 0;
    if (field.value.get_double().get(v) == simdjson::SUCCESS) out[std::string(field.key)] = v;
  }
  return out;
}

inline std::string spendMapToJson(const std::map<std::string, double>& m) {
  std::string out = "{";
  bool first = true;
  for (const auto& [model, usd] : m) {
    if (!first) out += ',';
    first = false;
    appendJsonString(out, model);
    out += ':';
    appendJsonNumber(out, usd);
  }
  out += '}';
  return out;
}

// ---- Limits as ten columns, in this order everywhere
inline constexpr std::string_view kLimitColumns =
    "max_budget, soft_budget, budget_duration, budget_reset_at, rpm_limit, tpm_limit, "
    "max_parallel_requests, model_max_budget, model_rpm_limit, model_tpm_limit";
inline constexpr size_t kLimitColumnCount = 10;

inline void pushLimits(std::vector<Value>& v, const Limits& l) {
  v.push_back(opt(l.maxBudget));
  v.push_back(opt(l.softBudget));
  v.push_back(opt(l.budgetDuration));
  v.push_back(opt(l.budgetResetAt));
  v.push_back(opt(l.rpmLimit));
  v.push_back(opt(l.tpmLimit));
  v.push_back(opt(l.maxParallelRequests));
  v.emplace_back(l.modelMaxBudget);
  v.emplace_back(l.modelRpmLimit);
  v.emplace_back(l.modelTpmLimit);
}

inline std::string jsonOr(const Row& r, size_t i, const char* empty) {
  auto s = r.optStr(i);
  return s && !s->empty() ? *s : std::string(empty);
}

inline Limits readLimits(const Row& r, size_t at) {
  Limits l;
  l.maxBudget = r.optF64(at);
  l.softBudget = r.optF64(at + 1);
  l.budgetDuration = r.optStr(at + 2);
  l.budgetResetAt = r.optI64(at + 3);
  l.rpmLimit = r.optI64(at + 4);
  l.tpmLimit = r.optI64(at + 5);
  l.maxParallelRequests = r.optI64(at + 6);
  l.modelMaxBudget = jsonOr(r, at + 7, "{}");
  l.modelRpmLimit = jsonOr(r, at + 8, "{}");
  l.modelTpmLimit = jsonOr(r, at + 9, "{}");
  return l;
}

// ---- SQL text from fixed column lists

inline std::vector<std::string_view> splitColumns(std::string_view cols) {
  std::vector<std::string_view> out;
  while (!cols.empty()) {
    size_t comma = cols.find(',');
    std::string_view c = cols.substr(0, comma);
    while (!c.empty() && c.front() == ' ') c.remove_prefix(1);
    while (!c.empty() && c.back() == ' ') c.remove_suffix(1);
    if (!c.empty()) out.push_back(c);
    if (comma == std::string_view::npos) break;
    cols.remove_prefix(comma + 1);
  }
  return out;
}

inline std::string param(size_t n) {
  return "$" + std::to_string(n);
}

inline std::string insertSql(std::string_view table, std::string_view cols) {
  std::string sql = "INSERT INTO " + std::string(table) + " (" + std::string(cols) + ") VALUES (";
  const size_t n = splitColumns(cols).size();
  for (size_t i = 1; i <= n; ++i) sql += (i > 1 ? ", " : "") + param(i);
  return sql + ")";
}

// "UPDATE table SET c = $k, ... WHERE key = $m" over every column of `cols` except the key and
// `skip`; `params` lists, in $ order, the positions in `cols` whose values to bind.
struct UpdateStatement {
  std::string sql;
  std::vector<size_t> params;
};

inline UpdateStatement updateSql(std::string_view table, std::string_view cols,
                                 std::string_view key, const std::vector<std::string_view>& skip) {
  UpdateStatement st;
  const auto names = splitColumns(cols);
  st.sql = "UPDATE " + std::string(table) + " SET ";
  size_t keyPos = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == key) {
      keyPos = i;
      continue;
    }
    bool skipped = false;
    for (auto s : skip) skipped = skipped || s == names[i];
    if (skipped) continue;
    st.params.push_back(i);
    if (st.params.size() > 1) st.sql += ", ";
    st.sql += std::string(names[i]) + " = " + param(st.params.size());
  }
  st.params.push_back(keyPos);
  st.sql += " WHERE " + std::string(key) + " = " + param(st.params.size());
  return st;
}

inline std::vector<Value> pick(const std::vector<Value>& all, const std::vector<size_t>& idx) {
  std::vector<Value> out;
  out.reserve(idx.size());
  for (size_t i : idx) out.push_back(all[i]);
  return out;
}

// Clamped paging: page >= 1, 1 <= size <= maxSize.
inline int64_t clampSize(int64_t size, int64_t maxSize) {
  return size < 1 ? 1 : (size > maxSize ? maxSize : size);
}
inline int64_t offsetOf(int64_t page, int64_t size) {
  if (page < 1) page = 1;
  constexpr int64_t kMaxPage = int64_t{1} << 40;  // no overflow in page * size
  if (page > kMaxPage) page = kMaxPage;
  return (page - 1) * size;
}

}  // namespace llmux::store::detail
