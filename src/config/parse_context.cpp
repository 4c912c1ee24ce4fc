#include "config/parse_context.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <system_error>

namespace llmux::config::detail {
namespace {

constexpr std::string_view kEnvPrefix = "os.environ/";
constexpr size_t kMaxDescribed = 40;
constexpr std::string_view kMergeKey = "<<";
constexpr int kMaxMergeDepth = 16;

enum class ParseStatus { Ok, Invalid, OutOfRange };

// Leading '+' is accepted (YAML allows it); from_chars does not.
std::string_view stripPlus(std::string_view s) {
  if (s.size() > 1 && s[0] == '+' && s[1] != '-' && s[1] != '+') s.remove_prefix(1);
  return s;
}

ParseStatus parseInteger(std::string_view s, int64_t& out) {
  s = stripPlus(s);
  if (s.empty()) return ParseStatus::Invalid;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ptr != s.data() + s.size()) return ParseStatus::Invalid;
  if (ec == std::errc::result_out_of_range) return ParseStatus::OutOfRange;
  return ec == std::errc() ? ParseStatus::Ok : ParseStatus::Invalid;
}

ParseStatus parseDouble(std::string_view s, double& out) {
  s = stripPlus(s);
  if (s.empty()) return ParseStatus::Invalid;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ptr != s.data() + s.size()) return ParseStatus::Invalid;
  if (ec == std::errc::result_out_of_range) return ParseStatus::OutOfRange;
  if (ec != std::errc()) return ParseStatus::Invalid;
  // from_chars accepts "inf" and "nan"; neither is a usable setting.
  return std::isfinite(out) ? ParseStatus::Ok : ParseStatus::Invalid;
}

// Bounds read better as "1000000000" than "1e+09".
std::string formatBound(double v) {
  if (std::fabs(v) < 1e15 && v == std::trunc(v)) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

// What a bad value was, for messages. A value read from the environment is not echoed: it may be a
// secret put into the wrong field.
std::string gotWhat(const Entry& entry) {
  const std::string& raw = entry.value.Scalar();
  if (std::string_view(raw).starts_with(kEnvPrefix)) return "the value of " + raw;
  return describe(entry.value);
}

}  // namespace

int lineOf(const YAML::Node& node) {
  if (!node.IsDefined()) return 0;
  const int line = node.Mark().line;
  return line >= 0 ? line + 1 : 0;
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Scalar:
      break;
    default:
      return "nothing";
  }
  std::string out = "'";
  const std::string& text = node.Scalar();
  for (size_t i = 0; i < text.size() && i < kMaxDescribed; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    out.push_back(c < 0x20 || c == 0x7f ? '?' : static_cast<char>(c));  // keep terminals sane
  }
  if (text.size() > kMaxDescribed) out += "...";
  out += "'";
  return out;
}

void ParseContext::addProblem(std::string path, int line, std::string message) {
  problems_.push_back(Problem{std::move(path), line, std::move(message)});
}

void ParseContext::addWarning(std::string path, int line, std::string message) {
  warnings_.push_back(Warning{std::move(path), line, std::move(message)});
}

std::vector<Entry> ParseContext::entries(const YAML::Node& map, const std::string& path,
                                         bool strict) {
  return entries(map, path, strict, 0);
}

std::vector<Entry> ParseContext::entries(const YAML::Node& map, const std::string& path,
                                         bool strict, int mergeDepth) {
  std::vector<Entry> out;
  std::map<std::string, int> seen;  // key -> line of its first occurrence
  std::vector<Entry> merges;
  for (const auto& kv : map) {
    const YAML::Node& keyNode = kv.first;
    const int line = lineOf(keyNode);
    if (!keyNode.IsScalar()) {
      if (strict) {
        addProblem(path, line, "mapping keys must be strings, got " + describe(keyNode));
      }
      continue;
    }
    const std::string& key = keyNode.Scalar();
    std::string childPath = path.empty() ? key : fmt::format("{}.{}", path, key);
    if (key == kMergeKey && keyNode.Tag() == "?") {
      merges.push_back(Entry{key, kv.second, std::move(childPath), line});
      continue;
    }
    auto [it, inserted] = seen.emplace(key, line);
    if (!inserted) {
      // PyYAML silently keeps the last one; which value wins would be a guess, so say so.
      if (strict) {
        addProblem(childPath, line, fmt::format("duplicate key (first at line {})", it->second));
      }
      continue;
    }
    out.push_back(Entry{key, kv.second, std::move(childPath), line});
  }
  for (const Entry& merge : merges) mergeInto(merge, path, strict, mergeDepth, out, seen);
  return out;
}

// YAML merge keys ("<<: *defaults"), which PyYAML (so LiteLLM) supports and yaml-cpp does not:
// keys written in the mapping win, then earlier merged mappings win over later ones.
void ParseContext::mergeInto(const Entry& merge, const std::string& path, bool strict, int depth,
                             std::vector<Entry>& out, std::map<std::string, int>& seen) {
  std::vector<YAML::Node> sources;
  if (merge.value.IsMap()) {
    sources.push_back(merge.value);
  } else if (merge.value.IsSequence()) {
    for (const auto& item : merge.value) sources.push_back(item);
  }
  const bool valid = !sources.empty() && std::all_of(sources.begin(), sources.end(),
                                                     [](const auto& n) { return n.IsMap(); });
  if (!valid) {
    if (strict) {
      addProblem(
          merge.path, merge.line,
          "a merge key needs a mapping or a sequence of mappings, got " + describe(merge.value));
    }
    return;
  }
  // Aliases can make merges cyclic or exponentially large: bound the work, report it once.
  if (depth >= kMaxMergeDepth || mergeBudget_ <= 0) {
    if (strict && !mergeLimitReported_) {
      addProblem(merge.path, merge.line, "merge keys nested too deeply or too large");
    }
    mergeLimitReported_ = mergeLimitReported_ || strict;
    return;
  }
  for (const YAML::Node& source : sources) {
    mergeBudget_ -= static_cast<int64_t>(source.size());
    for (Entry& e : entries(source, path, strict, depth + 1)) {
      if (seen.emplace(e.key, e.line).second) out.push_back(std::move(e));
    }
  }
}

bool ParseContext::expectMapOrNull(const Entry& entry) {
  if (entry.value.IsMap() || entry.value.IsNull()) return true;
  addProblem(entry.path, entry.line, "must be a mapping, got " + describe(entry.value));
  return false;
}

std::optional<std::string> ParseContext::lookup(const std::string& name) const {
  if (auto it = overlay_.find(name); it != overlay_.end()) return it->second;
  if (name.empty() || name.find('\0') != std::string::npos) return std::nullopt;
  const char* value = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe): startup only
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

void ParseContext::setVariable(const std::string& name, const std::string& value) {
  overlay_[name] = value;
  if (options_.exportEnvironment) {
    ::setenv(name.c_str(), value.c_str(), 1);  // NOLINT(concurrency-mt-unsafe): startup only
  }
}

std::string ParseContext::resolve(const std::string& text, const Entry& entry,
                                  bool unsetVarIsProblem) {
  if (!std::string_view(text).starts_with(kEnvPrefix)) return text;
  const std::string name = text.substr(kEnvPrefix.size());
  std::optional<std::string> value = lookup(name);
  if (unsetVarIsProblem && (!value || value->empty())) {
    // Falling back to "" would silently turn authentication off.
    addProblem(entry.path, entry.line,
               fmt::format("environment variable {} is {}; refusing to start without it", name,
                           value ? "empty" : "not set"));
    return {};
  }
  if (!value) {
    addWarning(entry.path, entry.line,
               fmt::format("environment variable {} is not set; using an empty string", name));
    return {};
  }
  return *value;
}

std::optional<std::string> ParseContext::scalarText(const Entry& entry, const char* expected) {
  if (entry.value.IsNull()) return std::nullopt;
  if (!entry.value.IsScalar()) {
    addProblem(entry.path, entry.line,
               fmt::format("must be {}, got {}", expected, describe(entry.value)));
    return std::nullopt;
  }
  return resolve(entry.value.Scalar(), entry, false);
}

std::optional<std::string> ParseContext::readString(const Entry& entry, bool unsetVarIsProblem) {
  if (entry.value.IsNull()) return std::nullopt;
  if (!entry.value.IsScalar()) {
    addProblem(entry.path, entry.line, "must be a string, got " + describe(entry.value));
    return std::nullopt;
  }
  return resolve(entry.value.Scalar(), entry, unsetVarIsProblem);
}

std::optional<int64_t> ParseContext::readInteger(const Entry& entry, int64_t min, int64_t max) {
  std::optional<std::string> text = scalarText(entry, "an integer");
  if (!text) return std::nullopt;
  int64_t value = 0;
  const ParseStatus status = parseInteger(*text, value);
  if (status == ParseStatus::Invalid) {
    addProblem(entry.path, entry.line, "must be an integer, got " + gotWhat(entry));
    return std::nullopt;
  }
  if (status == ParseStatus::OutOfRange || value < min || value > max) {
    addProblem(entry.path, entry.line,
               max == INT64_MAX
                   ? fmt::format("must be an integer >= {}, got {}", min, gotWhat(entry))
                   : fmt::format("must be an integer between {} and {}, got {}", min, max,
                                 gotWhat(entry)));
    return std::nullopt;
  }
  return value;
}

std::optional<double> ParseContext::readNumber(const Entry& entry, double min, double max,
                                               bool minExclusive) {
  std::optional<std::string> text = scalarText(entry, "a number");
  if (!text) return std::nullopt;
  double value = 0;
  const ParseStatus status = parseDouble(*text, value);
  if (status == ParseStatus::Invalid) {
    addProblem(entry.path, entry.line, "must be a number, got " + gotWhat(entry));
    return std::nullopt;
  }
  const bool belowMin = minExclusive ? value <= min : value < min;
  if (status == ParseStatus::OutOfRange || belowMin || value > max) {
    addProblem(entry.path, entry.line,
               fmt::format("must be a number {} {} and <= {}, got {}", minExclusive ? ">" : ">=",
                           formatBound(min), formatBound(max), gotWhat(entry)));
    return std::nullopt;
  }
  return value;
}

std::optional<bool> ParseContext::plainBool(const YAML::Node& node) {
  if (!node.IsScalar()) return std::nullopt;
  if (node.Tag() != "?" && node.Tag() != "tag:yaml.org,2002:bool") return std::nullopt;
  static constexpr std::array<std::string_view, 9> kTrue = {"true", "True", "TRUE", "yes", "Yes",
                                                            "YES",  "on",   "On",   "ON"};
  static constexpr std::array<std::string_view, 9> kFalse = {"false", "False", "FALSE", "no", "No",
                                                             "NO",    "off",   "Off",   "OFF"};
  const std::string& text = node.Scalar();
  for (std::string_view t : kTrue) {
    if (text == t) return true;
  }
  for (std::string_view f : kFalse) {
    if (text == f) return false;
  }
  return std::nullopt;
}

std::optional<bool> ParseContext::readBool(const Entry& entry) {
  if (entry.value.IsNull()) return std::nullopt;
  std::optional<bool> b = plainBool(entry.value);
  if (!b) addProblem(entry.path, entry.line, "must be true or false, got " + describe(entry.value));
  return b;
}

}  // namespace llmux::config::detail
