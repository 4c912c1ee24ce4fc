#pragma once
#include <optional>
#include <string>

namespace llmux::app {

struct ServeArgs {
  std::string configPath;
  std::optional<std::string> host;
  std::optional<int> port;
  std::optional<int> workers;
};

// Returns the process exit code.
int serve(const ServeArgs& args);
int checkConfig(const std::string& path);

}  // namespace llmux::app
