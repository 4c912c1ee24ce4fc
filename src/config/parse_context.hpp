#pragma once
// Internal to the config module: the state of one load (problems, warnings, the environment
// overlay) and typed readers for YAML values that report problems with their YAML path and line.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace llmux::config::detail {

inline constexpr const char* kNotImplemented = "accepted but not implemented yet";

// One key/value pair of a YAML mapping.
struct Entry {
  std::string key;
  YAML::Node value;
  std::string path;  // YAML path of the value, e.g. "model_list[0].litellm_params.rpm"
  int line = 0;      // 1-based line of the key
};

// 1-based line of a node; 0 when yaml-cpp has no position for it.
int lineOf(const YAML::Node& node);

// Short description of a value for messages: 'abc', "a sequence", "a mapping".
std::string describe(const YAML::Node& node);

// A model group named by a setting (a fallback, an alias target...). They are checked against
// model_list once the whole file is read, since the settings may come before model_list.
struct GroupRef {
  std::string name;
  std::string path;
  int line = 0;
  bool aliasAllowed = true;  // a model_group_alias name is fine here (not for alias targets)
};

class ParseContext {
 public:
  explicit ParseContext(const LoadOptions& options) : options_(options) {}

  void addProblem(std::string path, int line, std::string message);
  void addWarning(std::string path, int line, std::string message);
  void notImplemented(const Entry& entry) { addWarning(entry.path, entry.line, kNotImplemented); }

  std::vector<Problem> takeProblems() { return std::move(problems_); }
  [[nodiscard]] size_t problemCount() const { return problems_.size(); }
  std::vector<Warning> takeWarnings() { return std::move(warnings_); }

  // The pairs of `map` in file order, then those brought in by "<<" merge keys. strict: duplicate
  // or non-string keys are problems (the values are used); otherwise such keys are skipped
  // (pass-through sections).
  std::vector<Entry> entries(const YAML::Node& map, const std::string& path, bool strict = true);

  // Reports a problem unless `entry.value` is a mapping (or null, which reads as empty).
  bool expectMapOrNull(const Entry& entry);

  // Typed readers: nullopt when the value is null (absent) or invalid (a problem is recorded).
  // Strings go through os.environ/ resolution; numbers may be given as clean numeric strings.
  std::optional<std::string> readString(const Entry& entry, bool unsetVarIsProblem = false);
  std::optional<int64_t> readInteger(const Entry& entry, int64_t min, int64_t max);
  // A finite number in [min, max]; `minExclusive` makes the lower bound strict.
  std::optional<double> readNumber(const Entry& entry, double min, double max,
                                   bool minExclusive = false);
  // YAML 1.1 booleans (what LiteLLM's PyYAML accepts) when written plain; quoted text is a string.
  static std::optional<bool> plainBool(const YAML::Node& node);
  // plainBool, with a problem for anything else than a boolean or null.
  std::optional<bool> readBool(const Entry& entry);

  // Replaces the model groups `setting` refers to (so router_settings overrides litellm_settings).
  void setGroupRefs(const std::string& setting, std::vector<GroupRef> refs) {
    groupRefs_[setting] = std::move(refs);
  }
  [[nodiscard]] const std::map<std::string, std::vector<GroupRef>>& groupRefs() const {
    return groupRefs_;
  }

  // Exports (or only records, see LoadOptions) one environment_variables entry.
  void setVariable(const std::string& name, const std::string& value);

 private:
  // Replaces an "os.environ/VAR" reference by the variable's value.
  std::string resolve(const std::string& text, const Entry& entry, bool unsetVarIsProblem);
  [[nodiscard]] std::optional<std::string> lookup(const std::string& name) const;
  std::optional<std::string> scalarText(const Entry& entry, const char* expected);
  std::vector<Entry> entries(const YAML::Node& map, const std::string& path, bool strict,
                             int mergeDepth);
  void mergeInto(const Entry& merge, const std::string& path, bool strict, int depth,
                 std::vector<Entry>& out, std::map<std::string, int>& seen);

  LoadOptions options_;
  std::map<std::string, std::string> overlay_;  // environment_variables of this load
  std::vector<Problem> problems_;
  std::vector<Warning> warnings_;
  int64_t mergeBudget_ = 50000;  // mapping entries "<<" may still pull in during this load
  bool mergeLimitReported_ = false;
  std::map<std::string, std::vector<GroupRef>> groupRefs_;  // setting -> groups it names
};

// Section parsers (one per top-level key); each records its problems in the context.
void parseEnvironmentVariables(ParseContext& ctx, const Entry& section);
void parseModelList(ParseContext& ctx, const Entry* section, Config& config);
void parseGeneralSettings(ParseContext& ctx, const Entry& section, Config& config);
void parseLitellmSettings(ParseContext& ctx, const Entry& section, Config& config);
void parseRouterSettings(ParseContext& ctx, const Entry& section, Config& config);
void parseLlmuxSettings(ParseContext& ctx, const Entry& section, Config& config);
void parseRoutingConfigs(ParseContext& ctx, const Entry& section, Config& config);
// Governance keys (governance_settings.cpp); each returns false when the key is not one of its.
bool parseGovernanceGeneralKey(ParseContext& ctx, const Entry& e, Config& config);
bool parseRedisRouterKey(ParseContext& ctx, const Entry& e, Config& config);
bool parseCacheParams(ParseContext& ctx, const Entry& section, Config& config);
bool parseGovernanceLlmuxKey(ParseContext& ctx, const Entry& e, Config& config);
// Warns about fallbacks, aliases and retry policies naming no model group of model_list.
void checkGroupRefs(ParseContext& ctx, const Config& config);

}  // namespace llmux::config::detail
