#pragma once
// Helpers shared by the config unit tests.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace llmux::config::testing {

inline std::string dataPath(const std::string& name) {
  return std::string(LLMUX_TEST_DATA) + "/config/" + name;
}

// Loads without touching the process environment.
inline LoadResult load(const std::string& yaml) {
  return loadConfigText(yaml, LoadOptions{.exportEnvironment = false});
}

// Loads and expects success; returns the config (an empty one after a test failure).
inline Config loadOk(const std::string& yaml) {
  LoadResult r = load(yaml);
  for (const Problem& p : r.problems) ADD_FAILURE() << "unexpected problem: " << p.format("yaml");
  return r.config.value_or(Config{});
}

inline std::vector<const Warning*> warningsAt(const Config& c, const std::string& path) {
  std::vector<const Warning*> out;
  for (const Warning& w : c.warnings) {
    if (w.path == path) out.push_back(&w);
  }
  return out;
}

inline std::optional<Problem> problemAt(const LoadResult& r, const std::string& path) {
  for (const Problem& p : r.problems) {
    if (p.path == path) return p;
  }
  return std::nullopt;
}

// Loads `yaml` expecting exactly one problem; returns it.
inline Problem onlyProblem(const std::string& yaml) {
  LoadResult r = load(yaml);
  EXPECT_FALSE(r.config.has_value());
  EXPECT_EQ(r.problems.size(), 1u);
  for (const Problem& p : r.problems) std::cerr << "  problem: " << p.format("yaml") << "\n";
  return r.problems.empty() ? Problem{} : r.problems.front();
}

// Three model groups (gpt-4o, claude, gemini) on lines 1-4, for the routing tests: text appended
// to it starts at line 5.
inline constexpr const char* kThreeGroups = R"(model_list:
- {model_name: gpt-4o, litellm_params: {model: openai/gpt-4o}}
- {model_name: claude, litellm_params: {model: anthropic/claude}}
- {model_name: gemini, litellm_params: {model: gemini/gemini-pro}}
)";

inline Config loadWithModels(const std::string& yaml) {
  return loadOk(std::string(kThreeGroups) + yaml);
}

inline Problem problemWithModels(const std::string& yaml) {
  return onlyProblem(std::string(kThreeGroups) + yaml);
}

inline void expectContains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "'" << text << "' lacks '" << part << "'";
}

// Sets (or unsets) an environment variable for the lifetime of the guard.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::optional<std::string>& value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    if (value) {
      ::setenv(name_.c_str(), value->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

}  // namespace llmux::config::testing
