// Entry points: YAML parsing, section dispatch and result assembly.
#include "config/config.hpp"

#include <fmt/format.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <system_error>

#include "config/parse_context.hpp"

namespace llmux::config {
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
  if (const auto* e = find("router_settings")) detail::parseRouterSettings(ctx, *e);
  if (const auto* e = find("llmux_settings")) detail::parseLlmuxSettings(ctx, *e, config);

  static const std::set<std::string> kKnown = {"environment_variables", "model_list",
                                               "general_settings",      "litellm_settings",
                                               "router_settings",       "llmux_settings"};
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
