// Conditional routing queries (Portkey's MongoDB-like subset): parsing with errors that name the
// offending operator, and evaluation against the request's metadata and body.
#include <fmt/format.h>
#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/text.hpp"
#include "router/portkey_config.hpp"
#include "router/portkey_internal.hpp"

namespace llmux::router::portkey {
namespace {

namespace dom = simdjson::dom;
using Err = std::optional<std::string>;

constexpr std::string_view kOperators = "$eq, $ne, $in, $nin, $gt, $gte, $lt, $lte";

std::string fail(std::string_view path, std::string_view message) {
  return fmt::format("{}: {}", path.empty() ? std::string_view("query") : path, message);
}

std::string quoteText(std::string_view s) {
  constexpr size_t kMax = 64;
  return fmt::format("'{}{}'", utf8Prefix(s, kMax), s.size() > kMax ? "..." : "");
}

using detail::join;

bool readLiteral(dom::element e, Literal& out) {
  switch (e.type()) {
    case dom::element_type::STRING: {
      std::string_view s;
      if (e.get_string().get(s) != simdjson::SUCCESS) return false;
      out.type = Literal::Type::String;
      out.s.assign(s);
      return true;
    }
    case dom::element_type::INT64:
      out.type = Literal::Type::Int;
      return e.get_int64().get(out.i) == simdjson::SUCCESS;
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
      out.type = Literal::Type::Double;
      return e.get_double().get(out.d) == simdjson::SUCCESS;
    case dom::element_type::BOOL:
      out.type = Literal::Type::Bool;
      return e.get_bool().get(out.b) == simdjson::SUCCESS;
    case dom::element_type::NULL_VALUE:
      out.type = Literal::Type::Null;
      return true;
    default:
      return false;  // arrays and objects
  }
}

std::optional<Op> opFor(std::string_view name) {
  if (name == "$eq") return Op::Eq;
  if (name == "$ne") return Op::Ne;
  if (name == "$in") return Op::In;
  if (name == "$nin") return Op::Nin;
  if (name == "$gt") return Op::Gt;
  if (name == "$gte") return Op::Gte;
  if (name == "$lt") return Op::Lt;
  if (name == "$lte") return Op::Lte;
  return std::nullopt;
}

Err parseComparisons(dom::element e, const std::string& path, Query& q) {
  dom::object ops;
  if (e.get_object().get(ops) != simdjson::SUCCESS) {
    Comparison c;  // a plain value means $eq
    c.values.emplace_back();
    if (!readLiteral(e, c.values.back())) {
      return fail(path, "must be a string, number, boolean, null or an object of operators");
    }
    q.comparisons.push_back(std::move(c));
    return std::nullopt;
  }
  for (auto field : ops) {
    const std::string_view name = field.key;
    const auto op = opFor(name);
    if (!op) {
      if (name.starts_with("$")) {
        return fail(path,
                    fmt::format("operator {} is not supported ({})", quoteText(name), kOperators));
      }
      return fail(path, fmt::format("{} is not an operator ({})", quoteText(name), kOperators));
    }
    const std::string opath = join(path, name);
    Comparison c;
    c.op = *op;
    if (c.op == Op::In || c.op == Op::Nin) {
      dom::array arr;
      if (field.value.get_array().get(arr) != simdjson::SUCCESS) {
        return fail(opath, "must be an array of values");
      }
      for (dom::element v : arr) {
        c.values.emplace_back();
        if (!readLiteral(v, c.values.back())) {
          return fail(opath, "values must be strings, numbers, booleans or null");
        }
      }
    } else {
      c.values.emplace_back();
      Literal& v = c.values.back();
      if (!readLiteral(field.value, v)) {
        return fail(opath, "must be a string, number, boolean or null");
      }
      const bool ordered = c.op == Op::Gt || c.op == Op::Gte || c.op == Op::Lt || c.op == Op::Lte;
      if (ordered && (v.type == Literal::Type::Null || v.type == Literal::Type::Bool)) {
        return fail(opath, "must be a number or a string");
      }
    }
    q.comparisons.push_back(std::move(c));
  }
  if (q.comparisons.empty()) return fail(path, fmt::format("needs an operator ({})", kOperators));
  return std::nullopt;
}

Err parseField(std::string_view key, dom::element value, const std::string& path, Query& q) {
  q.kind = Query::Kind::Field;
  std::string_view rest;
  if (key.starts_with("metadata.")) {
    q.source = Source::Metadata;
    rest = key.substr(9);
  } else if (key.starts_with("params.")) {
    q.source = Source::Params;
    rest = key.substr(7);
  } else {
    return fail(path,
                fmt::format("field {} must start with 'metadata.' or 'params.'", quoteText(key)));
  }
  const std::string fpath = join(path, key);
  while (true) {
    const size_t dot = rest.find('.');
    const std::string_view seg = rest.substr(0, dot);
    if (seg.empty()) return fail(fpath, "field path has an empty segment");
    q.path.emplace_back(seg);
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  return parseComparisons(value, fpath, q);
}

Err parseAt(dom::element e, const std::string& path, Query& out, int depth) {
  if (depth > kMaxQueryDepth) {
    return fail(path, fmt::format("$and / $or nest deeper than {} levels", kMaxQueryDepth));
  }
  dom::object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS) return fail(path, "must be an object");
  out = Query{};  // an implicit $and of its keys
  for (auto field : obj) {
    const std::string_view key = field.key;
    Query child;
    if (key == "$and" || key == "$or") {
      const std::string lpath = join(path, key);
      dom::array arr;
      if (field.value.get_array().get(arr) != simdjson::SUCCESS) {
        return fail(lpath, "must be an array of queries");
      }
      child.kind = key == "$and" ? Query::Kind::And : Query::Kind::Or;
      size_t i = 0;
      for (dom::element sub : arr) {
        Query q;
        if (auto err = parseAt(sub, fmt::format("{}[{}]", lpath, i++), q, depth + 1)) return err;
        child.children.push_back(std::move(q));
      }
    } else if (key.starts_with("$")) {
      return fail(path, fmt::format("operator {} is not supported here ($and, $or, or a field)",
                                    quoteText(key)));
    } else if (auto err = parseField(key, field.value, path, child)) {
      return err;
    }
    out.children.push_back(std::move(child));
  }
  if (out.children.size() == 1) {
    Query only = std::move(out.children.front());
    out = std::move(only);
  }
  return std::nullopt;
}

// A number from a JSON value or from a string that spells one exactly.
struct Num {
  bool isInt = false;
  int64_t i = 0;
  double d = 0;
};

std::optional<Num> parseNumeric(std::string_view s) {
  if (s.empty()) return std::nullopt;
  const char* end = s.data() + s.size();
  Num n;
  auto ri = std::from_chars(s.data(), end, n.i);
  if (ri.ec == std::errc() && ri.ptr == end) {
    n.isInt = true;
    return n;
  }
  auto rd = std::from_chars(s.data(), end, n.d);
  if (rd.ec == std::errc() && rd.ptr == end && std::isfinite(n.d)) return n;
  return std::nullopt;
}

std::optional<Num> elementNumber(dom::element v) {
  Num n;
  switch (v.type()) {
    case dom::element_type::INT64:
      n.isInt = true;
      if (v.get_int64().get(n.i) != simdjson::SUCCESS) return std::nullopt;
      return n;
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
      if (v.get_double().get(n.d) != simdjson::SUCCESS) return std::nullopt;
      return n;
    default:
      return std::nullopt;
  }
}

std::optional<Num> literalNumber(const Literal& l) {
  Num n;
  if (l.type == Literal::Type::Int) {
    n.isInt = true;
    n.i = l.i;
    return n;
  }
  if (l.type == Literal::Type::Double) {
    n.d = l.d;
    return n;
  }
  return std::nullopt;
}

// <0, 0, >0.
int compareNum(const Num& a, const Num& b) {
  if (a.isInt && b.isInt) return a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
  const double x = a.isInt ? static_cast<double>(a.i) : a.d;
  const double y = b.isInt ? static_cast<double>(b.i) : b.d;
  return x < y ? -1 : (x > y ? 1 : 0);
}

bool jsonEquals(dom::element v, const Literal& l) {
  switch (v.type()) {
    case dom::element_type::STRING: {
      std::string_view s;
      return l.type == Literal::Type::String && v.get_string().get(s) == simdjson::SUCCESS &&
             s == l.s;
    }
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE: {
      const auto a = elementNumber(v);
      const auto b = literalNumber(l);
      return a && b && compareNum(*a, *b) == 0;
    }
    case dom::element_type::BOOL: {
      bool b = false;
      return l.type == Literal::Type::Bool && v.get_bool().get(b) == simdjson::SUCCESS && b == l.b;
    }
    case dom::element_type::NULL_VALUE:
      return l.type == Literal::Type::Null;
    default:
      return false;
  }
}

// The order of `v` against `l` when they are comparable.
std::optional<int> order(dom::element v, const Literal& l) {
  std::string_view vs;
  const bool vStr = v.get_string().get(vs) == simdjson::SUCCESS;
  const bool lStr = l.type == Literal::Type::String;
  std::optional<Num> a = vStr ? std::nullopt : elementNumber(v);
  std::optional<Num> b = lStr ? std::nullopt : literalNumber(l);
  if (vStr && lStr) {
    a = parseNumeric(vs);
    b = parseNumeric(l.s);
    if (!a || !b) {
      const int c = vs.compare(l.s);
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
  } else if (vStr && b) {
    a = parseNumeric(vs);
  } else if (lStr && a) {
    b = parseNumeric(l.s);
  }
  if (!a || !b) return std::nullopt;
  return compareNum(*a, *b);
}

bool compare(const Comparison& c, const std::optional<dom::element>& v) {
  switch (c.op) {
    case Op::Eq:
      return v && jsonEquals(*v, c.values.front());
    case Op::Ne:
      return !v || !jsonEquals(*v, c.values.front());
    case Op::In:
    case Op::Nin: {
      bool in = false;
      if (v) {
        for (const auto& l : c.values) {
          if (jsonEquals(*v, l)) {
            in = true;
            break;
          }
        }
      }
      return c.op == Op::In ? in : !in;
    }
    case Op::Gt:
    case Op::Gte:
    case Op::Lt:
    case Op::Lte: {
      if (!v) return false;
      const auto o = order(*v, c.values.front());
      if (!o) return false;
      if (c.op == Op::Gt) return *o > 0;
      if (c.op == Op::Gte) return *o >= 0;
      if (c.op == Op::Lt) return *o < 0;
      return *o <= 0;
    }
  }
  return false;
}

std::optional<dom::element> lookup(const Query& q, const RequestFacts& facts) {
  const auto& root = q.source == Source::Metadata ? facts.metadata : facts.params;
  if (!root) return std::nullopt;
  dom::element cur = *root;
  for (const auto& seg : q.path) {
    dom::object obj;
    if (cur.get_object().get(obj) != simdjson::SUCCESS) return std::nullopt;
    if (obj.at_key(seg).get(cur) != simdjson::SUCCESS) return std::nullopt;
  }
  return cur;
}

}  // namespace

std::optional<std::string> parseQuery(dom::element e, std::string_view path, Query& out) {
  return parseAt(e, std::string(path), out, 0);
}

bool matches(const Query& q, const RequestFacts& facts) {
  switch (q.kind) {
    case Query::Kind::And:
      for (const auto& c : q.children) {
        if (!matches(c, facts)) return false;
      }
      return true;
    case Query::Kind::Or:
      for (const auto& c : q.children) {
        if (matches(c, facts)) return true;
      }
      return false;
    case Query::Kind::Field: {
      const auto v = lookup(q, facts);
      for (const auto& c : q.comparisons) {
        if (!compare(c, v)) return false;
      }
      return true;
    }
  }
  return false;
}

bool matches(const Query& q, dom::element metadata, dom::element params) {
  return matches(q, RequestFacts{metadata, params});
}

int chooseConditional(const Node& n, const RequestFacts& facts) {
  if (n.mode != Mode::Conditional) return -1;
  for (const auto& c : n.conditions) {
    if (matches(c.query, facts)) return static_cast<int>(c.target);
  }
  return n.defaultIndex;
}

int chooseConditional(const Node& n, dom::element metadata, dom::element params) {
  return chooseConditional(n, RequestFacts{metadata, params});
}

}  // namespace llmux::router::portkey
