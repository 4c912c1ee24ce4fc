// Entry points: YAML parsing, section dispatch and result assembly; routing_configs (YAML kept as
// JSON text).
#include "config/config.hpp"

#include <fmt/format.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <system_error>

#include "common/error.hpp"
#include "config/parse_context.hpp"

namespace llmux::config {
namespace detail {
namespace {

// Limits of one yamlToJson() call: aliases can make a small file describe a huge or cyclic value.
constexpr int kMaxJsonDepth = 64;
constexpr size_t kMaxJsonBytes = 1 << 20;

bool isValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and values past U+10FFFF are not UTF-8.
    static constexpr std::array<uint32_t, 5> kMin = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return false;
    i += len;
  }
  return true;
}

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

// Digits of `s` in `base` with '_' separators (YAML 1.1), accumulated into `value`.
bool accumulate(std::string_view s, int base, uint64_t& value) {
  bool any = false;
  for (char c : s) {
    if (c == '_') continue;
    int d = 0;
    if (isDigit(c)) {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    if (d >= base) return false;
    if (value > (UINT64_MAX - static_cast<uint64_t>(d)) / static_cast<uint64_t>(base)) return false;
    value = value * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
    any = true;
  }
  return any;
}

// "[1-9][0-9_]*(:[0-5]?[0-9])+" (YAML 1.1 base-60 integer) without the sign; nullopt if not one.
// The float form also allows a leading 0.
std::optional<uint64_t> sexagesimal(std::string_view s, bool leadingZero = false) {
  const size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0 || !isDigit(s[0]) ||
      (s[0] == '0' && !leadingZero)) {
    return std::nullopt;
  }
  uint64_t value = 0;
  if (!accumulate(s.substr(0, colon), 10, value)) return std::nullopt;
  std::string_view rest = s.substr(colon);
  while (!rest.empty()) {
    // Each part: ':' then one or two digits, the first of two being 0-5.
    size_t n = 1;
    while (n < rest.size() && isDigit(rest[n])) ++n;
    const std::string_view part = rest.substr(1, n - 1);
    if (part.empty() || part.size() > 2 || (part.size() == 2 && part[0] > '5')) return std::nullopt;
    if (n < rest.size() && rest[n] != ':') return std::nullopt;
    if (value > (UINT64_MAX - 59) / 60) return std::nullopt;
    uint64_t digits = 0;
    accumulate(part, 10, digits);
    value = value * 60 + digits;
    rest.remove_prefix(n);
  }
  return value;
}

enum class Resolved { NotThisType, Ok, OutOfRange };

// PyYAML's YAML 1.1 int: 0b1010, 0o-style 012 (leading zero = octal), 0x1F, 1_000, 1:30 (base 60).
Resolved resolveInt(std::string_view text, std::string& out) {
  std::string_view s = text;
  const bool negative = !s.empty() && s[0] == '-';
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  if (s.empty() || !isDigit(s[0])) return Resolved::NotThisType;
  uint64_t magnitude = 0;
  bool ok = false;
  bool overflow = false;
  auto digitsOk = [&](std::string_view digits, int base) {
    // Validate the characters first so that an overflow is told apart from "not an int".
    for (char c : digits) {
      const bool hex = (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
      if (c != '_' && !isDigit(c) && !(base == 16 && hex)) return false;
      if (base == 2 && c != '_' && c > '1') return false;
      if (base == 8 && c != '_' && c > '7') return false;
    }
    if (digits.find_first_not_of('_') == std::string_view::npos) return false;
    overflow = !accumulate(digits, base, magnitude);
    return true;
  };
  if (s.size() > 2 && s[0] == '0' && s[1] == 'b') {
    ok = digitsOk(s.substr(2), 2);
  } else if (s.size() > 2 && s[0] == '0' && s[1] == 'x') {
    ok = digitsOk(s.substr(2), 16);
  } else if (s.find(':') != std::string_view::npos) {
    if (auto v = sexagesimal(s)) {
      magnitude = *v;
      ok = true;
    }
  } else if (s.size() > 1 && s[0] == '0') {
    // "0_" is an octal zero in YAML 1.1.
    ok = s.substr(1).find_first_not_of('_') == std::string_view::npos || digitsOk(s.substr(1), 8);
  } else {
    ok = s[0] != '_' && digitsOk(s, 10);
  }
  if (!ok) return Resolved::NotThisType;
  const uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  if (overflow || magnitude > limit) return Resolved::OutOfRange;
  if (negative && magnitude != 0) out.push_back('-');
  out += fmt::format("{}", magnitude);
  return Resolved::Ok;
}

// PyYAML's YAML 1.1 float: a '.' is required and an exponent needs a sign ("1.5e+3"; "1e3" is a
// string), ".5", "1:30.5" (base 60), ".inf", ".nan".
Resolved resolveFloat(std::string_view text, std::string& out) {
  std::string_view s = text;
  const bool negative = !s.empty() && s[0] == '-';
  const bool signedText = !s.empty() && (s[0] == '-' || s[0] == '+');
  if (signedText) s.remove_prefix(1);
  if (s == ".inf" || s == ".Inf" || s == ".INF") return Resolved::OutOfRange;
  if (!signedText && (s == ".nan" || s == ".NaN" || s == ".NAN")) return Resolved::OutOfRange;
  const size_t dot = s.find('.');
  if (dot == std::string_view::npos) return Resolved::NotThisType;
  std::string_view whole = s.substr(0, dot);
  std::string_view frac = s.substr(dot + 1);
  std::string_view exponent;
  if (const size_t e = frac.find_first_of("eE"); e != std::string_view::npos) {
    exponent = frac.substr(e + 1);
    frac = frac.substr(0, e);
    if (exponent.size() < 2 || (exponent[0] != '+' && exponent[0] != '-') ||
        exponent.substr(1).find_first_not_of("0123456789") != std::string_view::npos) {
      return Resolved::NotThisType;
    }
  }
  if (frac.find_first_not_of("0123456789_") != std::string_view::npos) return Resolved::NotThisType;
  double value = 0;
  if (whole.find(':') != std::string_view::npos) {
    if (!exponent.empty()) return Resolved::NotThisType;
    auto base60 = sexagesimal(whole, /*leadingZero=*/true);
    if (!base60) return Resolved::NotThisType;
    std::string fracDigits = "0.";
    for (char c : frac) {
      if (c != '_') fracDigits.push_back(c);
    }
    // 1:30.5 is 1*60 + 30.5: the fraction belongs to the last part.
    value = static_cast<double>(*base60) + std::strtod(fracDigits.c_str(), nullptr);
  } else {
    // ".5" takes no sign in YAML 1.1; "1." and "1.e+5" are floats.
    if (whole.empty() ? (signedText || frac.find_first_not_of('_') == std::string_view::npos)
                      : (!isDigit(whole[0]) ||
                         whole.find_first_not_of("0123456789_") != std::string_view::npos)) {
      return Resolved::NotThisType;
    }
    std::string clean;
    for (char c : whole) {
      if (c != '_') clean.push_back(c);
    }
    clean.push_back('.');
    for (char c : frac) {
      if (c != '_') clean.push_back(c);
    }
    if (!exponent.empty()) clean += "e" + std::string(exponent);
    if (clean.front() == '.') clean.insert(clean.begin(), '0');
    auto [ptr, ec] = std::from_chars(clean.data(), clean.data() + clean.size(), value);
    if (ec == std::errc::result_out_of_range) return Resolved::OutOfRange;
    if (ec != std::errc() || ptr != clean.data() + clean.size()) return Resolved::NotThisType;
  }
  if (!std::isfinite(value)) return Resolved::OutOfRange;
  if (negative) value = -value;
  // Shortest text that reads back as the same double; keep it a float in JSON (1.0, not 1).
  std::string number = fmt::format("{}", value);
  if (number.find_first_of(".e") == std::string::npos) number += ".0";
  out += number;
  return Resolved::Ok;
}

bool appendJsonScalar(ParseContext& ctx, const YAML::Node& node, const std::string& path, int line,
                      std::string& out) {
  const std::string& text = node.Scalar();
  const std::string& tag = node.Tag();
  constexpr std::string_view kCoreTag = "tag:yaml.org,2002:";
  const bool plain = tag == "?";
  const std::string_view core = std::string_view(tag).starts_with(kCoreTag)
                                    ? std::string_view(tag).substr(kCoreTag.size())
                                    : std::string_view();
  if (!plain && tag != "!" && core != "str" && core != "int" && core != "float" && core != "bool" &&
      core != "null") {
    // PyYAML's safe_load refuses other tags too.
    ctx.addProblem(path, line, fmt::format("unsupported YAML tag '{}'", tag));
    return false;
  }
  if (plain || core == "null") {
    if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
      out += "null";
      return true;
    }
  }
  if (plain || core == "bool") {
    if (auto b = ParseContext::plainBool(node)) {
      out += *b ? "true" : "false";
      return true;
    }
  }
  if (plain || core == "int" || core == "float") {
    const size_t mark = out.size();
    Resolved r = core == "float" ? Resolved::NotThisType : resolveInt(text, out);
    if (r == Resolved::NotThisType && core != "int") r = resolveFloat(text, out);
    if (r == Resolved::NotThisType && core == "float") {
      // !!float 2 is 2.0 (PyYAML's constructor takes any number the tag is put on).
      r = resolveInt(text, out);
      if (r == Resolved::Ok) out += ".0";
    }
    if (r == Resolved::Ok) return true;
    out.resize(mark);
    if (r == Resolved::OutOfRange) {
      ctx.addProblem(path, line,
                     fmt::format("number {} has no JSON form (out of range, infinite or NaN)",
                                 describe(node)));
      return false;
    }
  }
  if (!plain && tag != "!" && core != "str") {
    ctx.addProblem(path, line, fmt::format("{} is not a valid !!{}", describe(node), core));
    return false;
  }
  if (!isValidUtf8(text)) {
    ctx.addProblem(path, line, "not valid UTF-8");
    return false;
  }
  appendJsonString(out, text);
  return true;
}

bool appendJson(ParseContext& ctx, const YAML::Node& node, const std::string& path, int line,
                int depth, std::string& out) {
  if (depth > kMaxJsonDepth) {
    ctx.addProblem(path, line,
                   fmt::format("nested more than {} levels deep (or cyclic)", kMaxJsonDepth));
    return false;
  }
  if (out.size() > kMaxJsonBytes) {
    ctx.addProblem(path, line, fmt::format("larger than {} bytes as JSON", kMaxJsonBytes));
    return false;
  }
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return appendJsonScalar(ctx, node, path, line, out);
    case YAML::NodeType::Sequence: {
      out.push_back('[');
      size_t i = 0;
      for (const YAML::Node& item : node) {
        if (i > 0) out.push_back(',');
        const int itemLine = lineOf(item);
        if (!appendJson(ctx, item, fmt::format("{}[{}]", path, i), itemLine > 0 ? itemLine : line,
                        depth + 1, out)) {
          return false;
        }
        ++i;
      }
      out.push_back(']');
      return true;
    }
    case YAML::NodeType::Map: {
      const size_t problemsBefore = ctx.problemCount();
      const std::vector<Entry> items = ctx.entries(node, path);
      if (ctx.problemCount() != problemsBefore) return false;  // duplicate or non-string keys
      out.push_back('{');
      bool first = true;
      for (const Entry& e : items) {
        if (!isValidUtf8(e.key)) {
          ctx.addProblem(e.path, e.line, "key is not valid UTF-8");
          return false;
        }
        if (!first) out.push_back(',');
        first = false;
        appendJsonString(out, e.key);
        out.push_back(':');
        if (!appendJson(ctx, e.value, e.path, e.line, depth + 1, out)) return false;
      }
      out.push_back('}');
      return true;
    }
    default:  // null, or an empty value
      out += "null";
      return true;
  }
}

// The value as compact JSON, scalars resolved as PyYAML does (YAML 1.1: plain true/no/~/12/1.5
// become JSON booleans, null and numbers; quoted text stays a string); mapping keys keep their
// file order, then merged keys. nullopt after a problem (recorded).
std::optional<std::string> yamlToJson(ParseContext& ctx, const Entry& entry) {
  std::string out;
  if (!appendJson(ctx, entry.value, entry.path, entry.line, 0, out)) return std::nullopt;
  return out;
}

}  // namespace

void parseRoutingConfigs(ParseContext& ctx, const Entry& section, Config& config) {
  if (!ctx.expectMapOrNull(section) || section.value.IsNull()) return;
  for (const Entry& e : ctx.entries(section.value, section.path)) {
    if (e.key.empty()) {
      ctx.addProblem(e.path, e.line, "config id must not be empty");
      continue;
    }
    // Only the shape is checked here; the router validates the config itself at startup.
    if (!e.value.IsMap()) {
      ctx.addProblem(
          e.path, e.line,
          "must be a mapping (a routing config: strategy, targets, ...), got " + describe(e.value));
      continue;
    }
    if (auto json = yamlToJson(ctx, e)) config.routingConfigs.emplace_back(e.key, std::move(*json));
  }
}

}  // namespace detail

namespace {

std::string formatLocated(const std::string& file, int line, const std::string& path,
                          const std::string& message) {
  std::string out = file;
  if (line > 0) out += fmt::format(":{}", line);
  out += ": ";
  if (!path.empty()) out += path + ": ";
  out += message;
  return out;
}

// Problems and warnings come from several passes; report them in file order.
template <typename T>
void sortByLine(std::vector<T>& items) {
  std::stable_sort(items.begin(), items.end(),
                   [](const T& a, const T& b) { return a.line < b.line; });
}

void parseRoot(detail::ParseContext& ctx, const YAML::Node& root, Config& config) {
  if (!root.IsMap() && !root.IsNull()) {
    ctx.addProblem("", detail::lineOf(root),
                   "the config must be a YAML mapping (model_list, general_settings, ...), got " +
                       detail::describe(root));
    return;
  }
  std::vector<detail::Entry> entries;
  if (root.IsMap()) entries = ctx.entries(root, "");
  auto find = [&](const char* key) -> const detail::Entry* {
    for (const detail::Entry& e : entries) {
      if (e.key == key) return &e;
    }
    return nullptr;
  };

  // environment_variables first so that every os.environ/ reference can see them; llmux_settings
  // last so that it overrides the LiteLLM keys that map onto the same limits.
  if (const auto* e = find("environment_variables")) detail::parseEnvironmentVariables(ctx, *e);
  detail::parseModelList(ctx, find("model_list"), config);
  if (const auto* e = find("general_settings")) detail::parseGeneralSettings(ctx, *e, config);
  if (const auto* e = find("litellm_settings")) detail::parseLitellmSettings(ctx, *e, config);
  // router_settings after litellm_settings: where both give a router key, router_settings wins.
  if (const auto* e = find("router_settings")) detail::parseRouterSettings(ctx, *e, config);
  if (const auto* e = find("llmux_settings")) detail::parseLlmuxSettings(ctx, *e, config);
  if (const auto* e = find("routing_configs")) detail::parseRoutingConfigs(ctx, *e, config);
  detail::checkGroupRefs(ctx, config);

  static const std::set<std::string> kKnown = {
      "environment_variables", "model_list",     "general_settings", "litellm_settings",
      "router_settings",       "llmux_settings", "routing_configs"};
  for (const detail::Entry& e : entries) {
    if (!kKnown.contains(e.key)) ctx.notImplemented(e);
  }
}

// Records where documents start; ignores everything else.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> marks;
  void OnDocumentStart(const YAML::Mark& mark) override { marks.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

int lineOfMark(const YAML::Mark& mark) {
  return mark.line >= 0 ? mark.line + 1 : 0;
}

// YAML::LoadAll never returns on a stray ',' at document level (yaml-cpp 0.7 keeps starting empty
// documents at the same position), so documents are counted here with a bounded loop. PyYAML's
// safe_load refuses several documents too; using only the first would hide the rest.
std::optional<Problem> checkSingleDocument(const std::string& yamlText) {
  std::istringstream in(yamlText);
  YAML::Parser parser(in);
  DocumentStarts starts;
  for (int i = 0; i < 3 && parser.HandleNextDocument(starts); ++i) {
    const std::vector<YAML::Mark>& m = starts.marks;
    if (m.size() >= 2 && m[m.size() - 1].pos == m[m.size() - 2].pos) {
      return Problem{"", lineOfMark(m.back()), "invalid YAML: unexpected text after the document"};
    }
  }
  if (starts.marks.size() >= 2) {
    return Problem{"", lineOfMark(starts.marks[1]), "expected one YAML document, found several"};
  }
  return std::nullopt;
}

LoadResult loadUnchecked(const std::string& yamlText, const LoadOptions& options) {
  LoadResult result;
  YAML::Node root;
  try {
    root = YAML::Load(yamlText);
    if (auto problem = checkSingleDocument(yamlText)) {
      result.problems.push_back(std::move(*problem));
      return result;
    }
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's own message for this is "bad file".
    result.problems.push_back(Problem{"", lineOfMark(e.mark), "invalid YAML: nested too deeply"});
    return result;
  } catch (const YAML::Exception& e) {
    result.problems.push_back(Problem{"", lineOfMark(e.mark), "invalid YAML: " + e.msg});
    return result;
  }

  detail::ParseContext ctx(options);
  Config config;
  parseRoot(ctx, root, config);
  result.problems = ctx.takeProblems();
  if (result.problems.empty()) {
    config.warnings = ctx.takeWarnings();
    sortByLine(config.warnings);
    result.config = std::move(config);
  }
  sortByLine(result.problems);
  return result;
}

}  // namespace

std::string Problem::format(const std::string& file) const {
  return formatLocated(file, line, path, message);
}

std::string Warning::format(const std::string& file) const {
  return formatLocated(file, line, path, message);
}

std::vector<std::string> Config::modelGroups() const {
  std::vector<std::string> groups;
  std::set<std::string> seen;
  for (const Deployment& d : deployments) {
    if (seen.insert(d.modelName).second) groups.push_back(d.modelName);
  }
  return groups;
}

LoadResult loadConfigText(const std::string& yamlText) {
  return loadConfigText(yamlText, {});
}

LoadResult loadConfigText(const std::string& yamlText, const LoadOptions& options) {
  try {
    return loadUnchecked(yamlText, options);
  } catch (const std::exception& e) {
    // Not expected (yaml-cpp errors are handled above), but the contract is "never throws".
    LoadResult result;
    result.problems.push_back(Problem{"", 0, std::string("internal error: ") + e.what()});
    return result;
  }
}

LoadResult loadConfigFile(const std::string& path) {
  return loadConfigFile(path, {});
}

LoadResult loadConfigFile(const std::string& path, const LoadOptions& options) {
  LoadResult result;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    result.problems.push_back(Problem{"", 0, "cannot read config file: it is a directory"});
    return result;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    result.problems.push_back(
        Problem{"", 0, std::string("cannot open config file: ") + std::strerror(errno)});
    return result;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    result.problems.push_back(Problem{"", 0, "cannot read config file"});
    return result;
  }
  return loadConfigText(text.str(), options);
}

}  // namespace llmux::config
